"""Tests of :mod:`vae_edu.training.loop`: the loss goes down, early stopping restores the best epoch,
checkpoints are atomic, and a resumed run ends with exactly the parameters of an uninterrupted one."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
from bad_inputs import assert_rejected, reject
from torch import Tensor, nn

from vae_edu.estimators import iwae_bound, log_likelihood
from vae_edu.models import VAE, VAEConfig
from vae_edu.training import History, fit, free_bits_kl, kl_weight, mean_negative_elbo

X_DIM, L = 8, 3


def _data(n: int, seed: int) -> Tensor:
    """Levels 0..2 drawn around two prototypes, so there is structure to learn."""
    gen = torch.Generator().manual_seed(seed)
    prototypes = torch.tensor([[0, 0, 1, 2, 2, 1, 0, 0], [2, 2, 1, 0, 0, 1, 2, 2]], dtype=torch.float32)
    x = prototypes[torch.randint(0, 2, (n,), generator=gen)]
    noise = torch.randint(-1, 2, (n, X_DIM), generator=gen) * (torch.rand(n, X_DIM, generator=gen) < 0.2)
    return (x + noise).clamp(0, L - 1)


TRAIN, VAL = _data(96, 0), _data(40, 1)


def _model(seed: int = 0, dropout: float = 0.0) -> VAE:
    torch.manual_seed(seed)
    return VAE.from_config(VAEConfig(x_dim=X_DIM, z_dim=2, hidden=16, num_levels=L, decoder_dropout=dropout))


def _fit(model: nn.Module, **kwargs) -> History:
    return fit(model, TRAIN, VAL, **({"epochs": 5, "batch_size": 32, "progress": False, "lr": 3e-3} | kwargs))


# ---------------------------------------------------------------------------- schedules
def test_kl_weight_ramps_linearly() -> None:
    assert [kl_weight(e, 1.0, 4) for e in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [kl_weight(e, 2.0, 0) for e in range(3)] == [2.0, 2.0, 2.0]
    assert kl_weight(0, 0.5, 2) == 0.25


def test_free_bits_kl_floors_each_dimension_mean() -> None:
    kl = torch.tensor([[0.1, 2.0, 0.0], [0.3, 4.0, 0.2]])  # (B=2, z_dim=3): means 0.2, 3.0, 0.1
    assert free_bits_kl(kl, 0.0).item() == pytest.approx(3.3)
    assert free_bits_kl(kl, 0.5).item() == pytest.approx(0.5 + 3.0 + 0.5)
    assert free_bits_kl(kl, 5.0).item() == pytest.approx(15.0)
    grad_in = kl.clone().requires_grad_(True)
    free_bits_kl(grad_in, 0.5).backward()
    # below the floor a dimension gets no gradient: nothing pushes its KL further down
    torch.testing.assert_close(grad_in.grad, torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.5, 0.0]]))
    with pytest.raises(ValueError, match="free_bits"):
        free_bits_kl(kl, -1.0)
    with pytest.raises(ValueError, match="kl_per_dim"):
        free_bits_kl(kl[0], 0.1)


def test_fit_decreases_the_loss() -> None:
    model = _model()
    before = mean_negative_elbo(model, VAL, num_samples=20, generator=torch.Generator().manual_seed(0))
    history = _fit(model, epochs=25, patience=None)
    after = mean_negative_elbo(model, VAL, num_samples=20, generator=torch.Generator().manual_seed(0))
    assert history.epochs == 25 and history.stop_reason == "epochs"
    assert len(history.val_loss) == len(history.beta) == 25
    assert history.train_loss[-1] < history.train_loss[0] - 2.0
    assert after < before - 2.0, (before, after)
    assert history.best_val_loss == min(history.val_loss)
    assert history.seconds > 0 and history.cpu_seconds > 0


def test_early_stopping_restores_the_best_epoch() -> None:
    model = _model()
    history = _fit(model, epochs=300, patience=3, lr=3e-2)
    assert history.stop_reason == "patience"
    assert history.epochs == history.best_epoch + 1 + 3
    assert history.best_val_loss == min(history.val_loss) == history.val_loss[history.best_epoch]
    assert history.val_loss[-1] > history.best_val_loss
    # the model holds the best epoch's parameters: re-validating with the same noise gives its loss
    again = mean_negative_elbo(model, VAL, generator=torch.Generator().manual_seed(0 + 1))
    assert again == history.best_val_loss


def test_iwae_objective_validates_the_iwae_bound() -> None:
    model = _model()
    history = _fit(model, objective="iwae", num_samples=4, epochs=4)
    with torch.no_grad():
        again = -iwae_bound(model, VAL, 4, generator=torch.Generator().manual_seed(1)).mean().item()
    assert again == pytest.approx(history.best_val_loss, rel=1e-6)
    assert math.isfinite(log_likelihood(model, VAL, 50).mean().item())


def test_warmup_is_applied() -> None:
    history = _fit(_model(), warmup_epochs=4, beta=2.0, epochs=6)
    assert history.beta == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]


def test_free_bits_are_applied() -> None:
    """With a floor of 50 nats on each of the 2 latent dimensions the minimised loss is at least
    100 nats per example (the reconstruction term of a categorical decoder is >= 0); without it
    the same model's loss is far below: the test fails if fit ignores free_bits."""
    with_floor = _fit(_model(), free_bits=50.0, epochs=2)
    without = _fit(_model(), epochs=2)
    assert min(with_floor.train_loss) >= 100.0
    assert max(without.train_loss) < 50.0


def test_a_diverging_run_says_to_lower_lr() -> None:
    with pytest.raises(FloatingPointError, match="smaller lr"):
        _fit(_model(), lr=10.0, epochs=50, patience=None)


def test_max_seconds_stops_training() -> None:
    history = _fit(_model(), max_seconds=0.0, epochs=50)
    assert history.epochs == 1 and history.stop_reason == "max_seconds"


def test_progress_bar_is_shown_and_can_be_silenced(capsys) -> None:
    _fit(_model(), epochs=2, progress=True)
    assert "fit" in capsys.readouterr().err
    _fit(_model(), epochs=2, progress=False)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------- checkpoints and resume
def test_checkpoint_is_written_atomically(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "run.pt"
    model = _model()
    _fit(model, epochs=2, checkpoint=path)
    assert sorted(os.listdir(tmp_path)) == ["run.pt"]  # no temporary file left behind
    state = torch.load(path, weights_only=True)
    assert state["history"]["train_loss"] and len(state["history"]["train_loss"]) == 2
    good = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):  # writes half a file, then fails (a full disk, a kill)
        f.write(b"partial checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        _fit(_model(), epochs=2, checkpoint=path)
    assert path.read_bytes() == good  # the previous checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["run.pt"]


SETTINGS = {
    "elbo": {},
    "dropout": {"dropout": 0.3},
    "annealed": {"warmup_epochs": 3, "free_bits": 0.05, "num_samples": 2},
    "iwae-adam": {"objective": "iwae", "num_samples": 3, "optimizer": "adam"},
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_resume_gives_the_same_parameters(name: str, tmp_path: Path) -> None:
    settings = SETTINGS[name] | {"epochs": 6, "patience": None}
    dropout = settings.pop("dropout", 0.0)
    uninterrupted = _model(dropout=dropout)
    full = _fit(uninterrupted, checkpoint=tmp_path / "full.pt", **settings)
    interrupted = _model(dropout=dropout)
    _fit(interrupted, checkpoint=tmp_path / "part.pt", **(settings | {"epochs": 3}))  # a finished run of 3 epochs
    torch.manual_seed(12345)  # the caller's global generator is in another state: it must not matter
    resumed = _model(seed=99, dropout=dropout)  # another initialisation: everything must come from the checkpoint
    history = _fit(resumed, resume=tmp_path / "part.pt", checkpoint=tmp_path / "part.pt", **settings)
    for key, value in uninterrupted.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert history.train_loss == full.train_loss and history.val_loss == full.val_loss
    assert history.best_epoch == full.best_epoch and history.epochs == 6
    # the final checkpoints agree too, so a second resume would continue identically
    a, b = (torch.load(tmp_path / f, weights_only=True) for f in ("full.pt", "part.pt"))
    assert torch.equal(a["generator"], b["generator"])
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key])


def test_resume_after_early_stopping_does_nothing_more(tmp_path: Path) -> None:
    model = _model()
    history = _fit(model, epochs=300, patience=2, lr=3e-2, checkpoint=tmp_path / "c.pt")
    assert history.stop_reason == "patience"
    again = _model(seed=5)
    history2 = _fit(again, epochs=300, patience=2, lr=3e-2, resume=tmp_path / "c.pt")
    assert history2.epochs == history.epochs and history2.stop_reason == "patience"
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])


def test_resume_rejects_other_settings_and_other_files(tmp_path: Path) -> None:
    _fit(_model(), checkpoint=tmp_path / "c.pt", epochs=2)
    with pytest.raises(ValueError, match=r"resume.*lr"):
        _fit(_model(), resume=tmp_path / "c.pt", epochs=2, lr=1e-2)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="resume"):
        _fit(_model(), resume=tmp_path / "other.pt")


class _Shift(nn.Module):
    """A toy conditional model, $x = \\theta y + \\varepsilon$: ``elbo(x, y, ...)`` takes ``y`` positionally."""

    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(1))

    def log_importance_weights(self, x: Tensor, y: Tensor, num_samples: int, generator=None) -> Tensor:
        log_p = -0.5 * ((x - self.theta * y) ** 2).sum(-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
        return log_p.expand(num_samples, -1)

    def elbo(self, x: Tensor, y: Tensor, num_samples: int = 1, beta: float = 1.0, generator=None) -> Tensor:
        return self.log_importance_weights(x, y, num_samples, generator)[0]


def test_fit_passes_extra_inputs_to_conditional_models() -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(200, 1, generator=gen)
    x = 3.0 * y + torch.randn(200, 2, generator=gen)
    model = _Shift()
    with pytest.raises(TypeError, match="free_bits"):
        fit(model, (x, y), (x, y), free_bits=0.1, progress=False)
    fit(model, (x[:150], y[:150]), (x[150:], y[150:]), epochs=200, lr=0.1, progress=False, patience=None)
    assert model.theta.item() == pytest.approx(3.0, abs=0.2)
    exact = model.log_importance_weights(x[150:], y[150:], 1)[0]
    torch.testing.assert_close(log_likelihood(model, (x[150:], y[150:]), 3), exact.detach())


def test_fit_stops_on_a_nan_loss() -> None:
    class Broken(_Shift):
        def elbo(self, x, y, num_samples=1, beta=1.0, generator=None):
            return super().elbo(x, y) * float("nan")

    x = torch.randn(10, 2)
    with pytest.raises(FloatingPointError, match="lr"):
        fit(Broken(), (x, x[:, :1]), (x, x[:, :1]), epochs=2, progress=False)


def test_mean_negative_elbo_is_minus_the_mean_elbo() -> None:
    model = _model()
    got = mean_negative_elbo(model, VAL, num_samples=3, batch_size=1000, generator=torch.Generator().manual_seed(2))
    ref = -model.elbo(VAL, num_samples=3, generator=torch.Generator().manual_seed(2)).mean().item()
    assert got == pytest.approx(ref, rel=1e-6)


def test_train_module_exports() -> None:
    import vae_edu.training

    assert set(vae_edu.training.__all__) >= {"fit", "History", "kl_weight", "free_bits_kl", "mean_negative_elbo"}


def test_dropout_is_on_only_inside_fit_and_fit_owns_its_randomness() -> None:
    model = _model(dropout=0.5)
    assert not model.training  # created in evaluation mode: deterministic given the generator
    assert any(isinstance(m, nn.Dropout) for m in model.decoder.net)
    a = model.elbo(VAL, generator=torch.Generator().manual_seed(0))
    b = model.elbo(VAL, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    model.train()
    c = model.elbo(VAL, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(a, c)  # dropout masks differ
    # two fits with the same seed agree whatever the caller's global RNG state, and leave it alone
    results = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        state = torch.get_rng_state()
        m = _model(dropout=0.5)
        torch.manual_seed(global_seed)
        history = _fit(m, epochs=3)
        assert torch.equal(torch.get_rng_state(), state)
        assert not m.training
        results.append((history.train_loss, [p.clone() for p in m.parameters()]))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(p, q) for p, q in zip(results[0][1], results[1][1]))


def test_val_num_samples_makes_early_stopping_watch_the_iwae_bound() -> None:
    model = _model()
    history = _fit(model, epochs=4, val_num_samples=6)  # trains on the ELBO, validates on -L_6
    with torch.no_grad():
        again = -iwae_bound(model, VAL, 6, generator=torch.Generator().manual_seed(1)).mean().item()
    assert again == pytest.approx(history.best_val_loss, rel=1e-6)
    # the training itself is the ELBO's: the same steps as without the option
    plain = _model()
    _fit(plain, epochs=1, patience=None)
    watched = _model()
    _fit(watched, epochs=1, patience=None, val_num_samples=6)
    for p, q in zip(plain.parameters(), watched.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match=r"\bval_num_samples\b"):
        _fit(_model(), val_num_samples=0)


@pytest.mark.parametrize("validate_args", [True, False])
def test_fit_gives_back_the_model_checks_and_eval_mode_even_on_error(validate_args: bool) -> None:
    seen: list[bool] = []

    class Spy(VAE):
        def elbo(self, *args, **kwargs):
            seen.append(self.validate_args)  # fit checks the data once, then switches the checks off
            return super().elbo(*args, **kwargs)

    torch.manual_seed(0)
    model = Spy.from_config(VAEConfig(x_dim=X_DIM, z_dim=2, hidden=16, num_levels=L, decoder_dropout=0.0))
    model.validate_args = validate_args
    _fit(model, epochs=2)
    assert seen and not any(seen)
    assert model.validate_args is validate_args and not model.training
    with pytest.raises(FloatingPointError, match=r"at epoch \d+; try a smaller lr \(now 10\)"):
        _fit(model, lr=10.0, epochs=50, patience=None)
    assert model.validate_args is validate_args and not model.training


# ------------------------------------------------------------------------------ bad inputs
BAD_INPUTS = [
    *[reject(f"fit-{name}-{i}", lambda kwargs=kwargs: _fit(_model(), **kwargs), error, name)
      for i, (kwargs, error, name) in enumerate([
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.0}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"patience": 0}, ValueError, "patience"),
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"beta": -1.0}, ValueError, "beta"),
        ({"warmup_epochs": -1}, ValueError, "warmup_epochs"),
        ({"free_bits": -0.5}, ValueError, "free_bits"),
        ({"seed": -1}, ValueError, "seed"),
        ({"max_seconds": -1.0}, ValueError, "max_seconds"),
        ({"optimizer": "sgd"}, ValueError, "optimizer"),
        ({"objective": "vamp"}, ValueError, "objective"),
        ({"objective": "iwae", "beta": 0.5}, ValueError, "iwae"),
      ])],
    *[reject(f"fit-data-{name}-{i}", lambda train=train, val=val: fit(_model(), train, val, epochs=1, progress=False),
             error, name)
      for i, (train, val, error, name) in enumerate([
        ([[0.0] * X_DIM], VAL, TypeError, "train"),
        (TRAIN, torch.zeros(0, X_DIM), ValueError, "val"),
        (TRAIN[:, :4], VAL, ValueError, "train"),  # checked once, named by fit
        (TRAIN + 0.5, VAL, ValueError, "train"),  # not levels
        (TRAIN.double(), VAL, TypeError, "train"),
        ((TRAIN, torch.zeros(3)), VAL, ValueError, "train"),
        (TRAIN, torch.full((4, X_DIM), float("nan")), ValueError, "val"),
      ])],
    reject("fit-model", lambda: fit(nn.Linear(X_DIM, 1), TRAIN, VAL, epochs=1, progress=False), TypeError, "model"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
