"""Learned priors (``vae_edu.models.learned_priors``): the mixture log-density against
torch.distributions, samples' moments, the VampPrior against its definition, the Monte Carlo KL
and the ELBO against quadrature on a 2-D latent, training with ``fit``, and the shared encoder."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from vae_edu.data import load_digits_split
from vae_edu.distributions import log_normal_diag
from vae_edu.estimators import log_likelihood
from vae_edu.models import (
    VAE,
    Decoder,
    Encoder,
    MixturePrior,
    VAEConfig,
    VampPrior,
    StandardNormalPrior,
    log_mixture_normal_diag,
)
from vae_edu.metrics import elbo_surgery, hole_fraction
from vae_edu.metrics import prior_elbo_surgery, prior_hole_fraction
from vae_edu.training import fit

N_SE = 4.0
TINY = VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3, decoder_dropout=0.0)


def torch_mixture(log_pi: Tensor, mu: Tensor, log_var: Tensor) -> MixtureSameFamily:
    components = Independent(Normal(mu, torch.exp(0.5 * log_var)), 1)
    return MixtureSameFamily(Categorical(logits=log_pi), components)


def set_mixture(prior: MixturePrior, logits: list[float], mu: list[list[float]], var: list[list[float]]) -> None:
    with torch.no_grad():
        prior.logits_p.copy_(torch.tensor(logits))
        prior.mu_p.copy_(torch.tensor(mu))
        prior.log_var_p.copy_(torch.tensor(var).log())


def mixture_2d() -> MixturePrior:
    prior = MixturePrior(z_dim=2, num_components=3)
    set_mixture(prior, [0.2, -0.3, 0.5], [[-1.5, 0.5], [1.0, -1.0], [0.3, 1.2]], [[0.3, 0.5], [0.8, 0.2], [0.4, 0.4]])
    return prior


def vamp_2d(encoder: nn.Module, num_pseudo_inputs: int = 6) -> VampPrior:
    return VampPrior(encoder, num_pseudo_inputs, TINY.x_dim, x_max=TINY.num_levels - 1.0)


# ------------------------------------------------------------------------------- the log-density
def test_mixture_log_prob_matches_torch(batch_shape: tuple[int, ...], dtype: torch.dtype) -> None:
    prior = MixturePrior(z_dim=3, num_components=5).to(dtype)
    with torch.no_grad():
        prior.logits_p.copy_(torch.randn(5))
    z = 2 * torch.randn(*batch_shape, 3, dtype=dtype)
    p64 = torch_mixture(prior.log_pi.double(), prior.mu_p.double(), prior.log_var_p.double())
    got = prior.log_prob(z)
    assert got.shape == batch_shape and got.dtype == dtype
    tol = {"rtol": 1e-10, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-6, "atol": 1e-5}
    torch.testing.assert_close(got.double(), p64.log_prob(z.double()).detach(), **tol)


@pytest.mark.parametrize("sigma_min", [1.0, 0.1, 0.03])
def test_mixture_log_prob_float32_near_narrow_components(sigma_min: float) -> None:
    """Expanded squares cancel near a narrow component; summed in float64 they stay accurate in
    float32 (summed in float32 the error was 3e-4 nats at sigma >= 0.1, 2e-3 at sigma >= 0.03)."""
    k, d = 500, 16
    mu = torch.randn(k, d)
    log_var = torch.empty(k, d).uniform_(2 * math.log(sigma_min), 0.0)
    log_pi = torch.full((k,), -math.log(k))
    near = mu[torch.randint(k, (2000,))] + sigma_min * torch.randn(2000, d)  # codes at the components
    z = torch.cat([near, torch.randn(2000, d)])
    exact = torch_mixture(log_pi.double(), mu.double(), log_var.double()).log_prob(z.double())
    got = log_mixture_normal_diag(z, log_pi, mu, log_var)
    torch.testing.assert_close(got.double(), exact, rtol=1e-6, atol=5e-5)


@pytest.mark.parametrize(("scale", "log_var"), [(50.0, 0.0), (3.0, -8.0), (1.0, 8.0)])
def test_mixture_log_prob_extremes_float64(scale: float, log_var: float) -> None:
    """Far from every component, narrow components, wide ones: finite and equal to torch's."""
    mu = torch.randn(4, 2, dtype=torch.float64)
    lv = torch.full((4, 2), log_var, dtype=torch.float64) + 0.1 * torch.randn(4, 2, dtype=torch.float64)
    log_pi = torch.log_softmax(torch.randn(4, dtype=torch.float64), dim=-1)
    z = scale * torch.randn(100, 2, dtype=torch.float64)
    got = log_mixture_normal_diag(z, log_pi, mu, lv)
    assert bool(got.isfinite().all())
    torch.testing.assert_close(got, torch_mixture(log_pi, mu, lv).log_prob(z), rtol=1e-10, atol=1e-8)


def test_one_component_is_the_gaussian(dtype: torch.dtype, tol: dict[str, float]) -> None:
    mu, log_var = torch.randn(1, 3, dtype=dtype), torch.randn(1, 3, dtype=dtype)
    z = torch.randn(7, 3, dtype=dtype)
    got = log_mixture_normal_diag(z, torch.zeros(1, dtype=dtype), mu, log_var)
    torch.testing.assert_close(got, log_normal_diag(z, mu[0], log_var[0]), **tol)


def test_vamp_log_prob_is_the_mean_of_the_encoder_densities() -> None:
    """p(z) = (1/K) sum_k q(z|u_k), each q(z|u_k) from its own encoder call, summed as densities."""
    encoder = Encoder(TINY).double()
    prior = vamp_2d(encoder, num_pseudo_inputs=7)
    z = torch.randn(5, 3, 2, dtype=torch.float64)
    densities = []
    for u in prior.pseudo_inputs:  # one pseudo-input at a time
        mu, log_var = encoder(u[None])
        densities.append(Normal(mu[0], torch.exp(0.5 * log_var[0])).log_prob(z).sum(-1).exp())
    brute = torch.stack(densities).mean(dim=0).log()  # (5, 3)
    torch.testing.assert_close(prior.log_prob(z), brute, rtol=1e-10, atol=1e-10)


def test_vamp_log_prob_differentiates_into_pseudo_inputs_and_encoder() -> None:
    encoder = Encoder(TINY)
    prior = vamp_2d(encoder)
    prior.log_prob(torch.randn(10, 2)).sum().backward()
    assert prior.pseudo_inputs_raw.grad is not None and bool((prior.pseudo_inputs_raw.grad != 0).any())
    assert all(p.grad is not None and bool((p.grad != 0).any()) for p in encoder.parameters())


# ------------------------------------------------------------------------------------- samples
def check_moments(z: Tensor, mean: Tensor, var: Tensor) -> None:
    """Sample mean and variance per dimension within N_SE standard errors of the exact ones."""
    n = z.shape[0]
    err_mean = (z.mean(0) - mean).abs()
    assert bool((err_mean <= N_SE * (var / n).sqrt()).all()), (err_mean, (var / n).sqrt())
    centred = z - z.mean(0)
    m4 = (centred**4).mean(0)
    err_var = (z.var(0) - var).abs()
    assert bool((err_var <= N_SE * ((m4 - var**2) / n).sqrt()).all()), err_var


def test_mixture_samples_moments() -> None:
    prior = mixture_2d().double()
    z = prior.sample(100_000, generator=torch.Generator().manual_seed(0)).detach()
    assert z.shape == (100_000, 2) and z.dtype == torch.float64
    pi, mu, var = prior.log_pi.exp()[:, None], prior.mu_p, prior.log_var_p.exp()
    mean = (pi * mu).sum(0)
    check_moments(z, mean.detach(), ((pi * (var + mu**2)).sum(0) - mean**2).detach())


def test_mixture_samples_pick_components_by_weight() -> None:
    prior = MixturePrior(z_dim=2, num_components=3).double()
    set_mixture(prior, [0.0, 1.0, -1.0], [[0.0, 0.0], [20.0, 0.0], [40.0, 0.0]], [[1.0, 1.0]] * 3)
    n = 50_000
    z = prior.sample(n, generator=torch.Generator().manual_seed(1)).detach()
    k = torch.cdist(z, prior.mu_p.detach()).argmin(dim=1)  # components 20 sd apart: exact labels
    freq, pi = torch.bincount(k, minlength=3).double() / n, prior.log_pi.exp().detach()
    assert bool(((freq - pi).abs() <= N_SE * (pi * (1 - pi) / n).sqrt()).all()), (freq, pi)


def test_vamp_samples_moments() -> None:
    encoder = Encoder(TINY).double()
    prior = vamp_2d(encoder)
    z = prior.sample(100_000, generator=torch.Generator().manual_seed(2)).detach()
    with torch.no_grad():
        mu, log_var = prior.components()
    mean = mu.mean(0)
    check_moments(z, mean, (log_var.exp() + mu**2).mean(0) - mean**2)


@pytest.mark.parametrize("kind", ["mixture", "vamp"])
def test_samples_follow_the_generator(kind: str) -> None:
    prior = mixture_2d() if kind == "mixture" else vamp_2d(Encoder(TINY))
    a = prior.sample(5, generator=torch.Generator().manual_seed(3))
    b = prior.sample(5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


# --------------------------------------------------------------------------------- pseudo-inputs
def test_pseudo_inputs_start_in_the_data_range() -> None:
    prior = VampPrior(Encoder(VAEConfig()), 500, 64, x_max=16.0)
    u = prior.pseudo_inputs
    assert u.shape == (500, 64) and bool(((u > 0) & (u < 16)).all())
    assert abs(u.mean().item() - 8.0) < 0.1  # uniform on (0, 16), as in intro_dgm: mean 8, se 0.02


def test_pseudo_inputs_from_data() -> None:
    x = torch.tensor([[0.0, 1.0, 2.0, 0.5], [2.0, 2.0, 1.5, 0.0]])
    prior = VampPrior(Encoder(TINY), 2, 4, x_max=2.0, init=x)
    expected = x.clamp(0.01 * 2, 0.99 * 2)  # moved inside (0, x_max), where the sigmoid inverts
    torch.testing.assert_close(prior.pseudo_inputs.detach(), expected, rtol=1e-5, atol=1e-5)
    free = VampPrior(Encoder(TINY), 2, 4, init=x)  # x_max=None: unconstrained, kept as given
    torch.testing.assert_close(free.pseudo_inputs.detach(), x, rtol=0, atol=0)


# --------------------------------------------------------------------- the shared encoder
def test_vamp_encoder_is_not_duplicated() -> None:
    encoder, decoder = Encoder(VAEConfig()), Decoder(VAEConfig())
    prior = VampPrior(encoder, 50, 64, x_max=16.0)
    model = VAE(encoder, decoder, prior)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(model) == count(encoder) + count(decoder) + 50 * 64
    assert [name for name, _ in prior.named_parameters()] == ["pseudo_inputs_raw"]
    assert not any(key.startswith("prior.encoder") for key in model.state_dict())
    assert len(model.state_dict()) == len(encoder.state_dict()) + len(decoder.state_dict()) + 1
    twin = copy.deepcopy(model)
    assert twin.prior.encoder is twin.encoder and twin.encoder is not encoder
    model.double()
    assert prior.encoder is encoder and prior.log_prob(torch.zeros(3, 16, dtype=torch.float64)).dtype == torch.float64


# ----------------------------------------------- the KL and the ELBO against 2-D quadrature
def tiny_model(kind: str) -> VAE:
    """A float64 VAE with a 2-D latent whose decoder depends on z strongly: at initialisation its
    ELBO lies 0.7-3 nats below log p(x) (a random decoder's ELBO would be within 0.01 nats)."""
    encoder, decoder = Encoder(TINY), Decoder(TINY)
    with torch.no_grad():
        for p in decoder.parameters():
            p.mul_(3.0)
    prior = mixture_2d() if kind == "mixture" else vamp_2d(encoder)
    return VAE(encoder, decoder, prior).double()


def grid(half_width: float = 12.0, n: int = 801) -> tuple[Tensor, float]:
    """A square grid of latent points ``(n*n, 2)`` and the area of one cell."""
    t = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    z = torch.stack(torch.meshgrid(t, t, indexing="ij"), dim=-1).reshape(-1, 2)
    return z, float(t[1] - t[0]) ** 2


X_TINY = torch.tensor([[0.0, 1.0, 2.0, 1.0], [2.0, 2.0, 0.0, 0.0], [1.0, 0.0, 1.0, 2.0]], dtype=torch.float64)


@pytest.mark.parametrize("kind", ["mixture", "vamp"])
def test_monte_carlo_kl_matches_quadrature(kind: str) -> None:
    model = tiny_model(kind)
    num_samples = 20_000
    with torch.no_grad():
        terms = model.elbo_terms(X_TINY, num_samples=num_samples, generator=torch.Generator().manual_seed(4))
        assert terms.kl_per_dim is None  # no closed form: the Monte Carlo KL
        q = model.encoder(X_TINY)
        z, log_q = q.rsample_with_log_prob(num_samples, torch.Generator().manual_seed(4))  # the same draws
        values = log_q - model.prior.log_prob(z)  # (K, B)
        torch.testing.assert_close(terms.kl, values.mean(0), rtol=1e-12, atol=1e-12)
        stderr = values.std(0) / math.sqrt(num_samples)
        zg, cell = grid()
        log_q_grid = q.log_prob(zg[:, None, :])  # (G, B)
        mass = log_q_grid.exp().sum(0) * cell
        torch.testing.assert_close(mass, torch.ones_like(mass), rtol=0, atol=1e-6)  # the grid holds q
        kl_quad = (log_q_grid.exp() * (log_q_grid - model.prior.log_prob(zg)[:, None])).sum(0) * cell
    assert bool(((terms.kl - kl_quad).abs() <= N_SE * stderr).all()), (terms.kl, kl_quad, stderr)
    assert bool((kl_quad > 0).all())


@pytest.mark.parametrize("kind", ["mixture", "vamp"])
def test_elbo_is_below_log_likelihood(kind: str) -> None:
    model = tiny_model(kind)
    num_samples = 20_000
    with torch.no_grad():
        zg, cell = grid()
        log_joint = model.decoder.log_prob(X_TINY, zg[:, None, :].expand(-1, 3, -1)) + model.prior.log_prob(zg)[:, None]
        log_p_quad = torch.logsumexp(log_joint, dim=0) + math.log(cell)  # (B,) exact to quadrature
        log_w = model.log_importance_weights(X_TINY, num_samples=num_samples, generator=torch.Generator().manual_seed(5))
        elbo, elbo_se = log_w.mean(0), log_w.std(0) / math.sqrt(num_samples)
        log_p_hat, log_p_se = log_likelihood(
            model, X_TINY, num_samples, generator=torch.Generator().manual_seed(6), return_stderr=True
        )
    assert bool(((log_p_hat - log_p_quad).abs() <= N_SE * log_p_se + 1e-3).all()), (log_p_hat, log_p_quad)
    assert bool((elbo + N_SE * elbo_se < log_p_quad).all()), (elbo, elbo_se, log_p_quad)
    assert bool((elbo + N_SE * elbo_se < log_p_hat - N_SE * log_p_se).all()), (elbo, log_p_hat)


# ------------------------------------------------------------------------------------ training
@pytest.mark.parametrize("kind", ["mixture", "vamp"])
def test_fit_trains_the_prior(kind: str) -> None:
    config = VAEConfig(z_dim=2, hidden=32)
    data = load_digits_split()
    encoder = Encoder(config)
    prior = MixturePrior(2, 10) if kind == "mixture" else VampPrior(encoder, 20, 64, x_max=16.0)
    model = VAE(encoder, Decoder(config), prior)
    before = {name: p.detach().clone() for name, p in prior.named_parameters()}
    history = fit(model, data.train.x[:256], data.val.x[:128], epochs=8, patience=None, progress=False)
    assert history.train_loss[-1] < history.train_loss[0] - 1.0
    assert history.best_val_loss < history.val_loss[0]
    for name, p in prior.named_parameters():
        assert (p.detach() - before[name]).abs().max().item() > 1e-3, name
    assert model.sample(4).shape == (4, 64)


def test_no_closed_form_kl_per_dim() -> None:
    model = tiny_model("mixture")
    with pytest.raises(TypeError, match="closed form"):
        model.kl_per_dim(X_TINY)


# ------------------------------------------ ELBO surgery and holes against any prior
def codes(n: int = 40, z_dim: int = 3, seed: int = 7) -> tuple[Tensor, Tensor, Tensor]:
    """Posterior parameters of n data points and 5 draws from each: (mu_q, log_var_q, z (5, n, d))."""
    gen = torch.Generator().manual_seed(seed)
    mu_q = torch.randn(n, z_dim, generator=gen, dtype=torch.float64)
    log_var_q = -1.0 + 0.3 * torch.randn(n, z_dim, generator=gen, dtype=torch.float64)
    z = mu_q + torch.exp(0.5 * log_var_q) * torch.randn(5, n, z_dim, generator=gen, dtype=torch.float64)
    return mu_q, log_var_q, z


def test_surgery_and_holes_with_the_standard_normal_are_chapter_07s() -> None:
    mu_q, log_var_q, z = codes()
    prior = StandardNormalPrior(3)
    for got, expected in zip(prior_elbo_surgery(prior, z, mu_q, log_var_q), elbo_surgery(z, mu_q, log_var_q)):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    z_prior = torch.randn(3000, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    log_var_q = log_var_q - 3.0  # narrow posteriors: q(z) has holes
    for ratio in (0.1, 0.01):
        got = prior_hole_fraction(prior, z_prior, mu_q, log_var_q, ratio)
        assert got == hole_fraction(z_prior, mu_q, log_var_q, ratio)
    assert 0.0 < got[0].item() < 1.0  # the check compares a non-trivial fraction


def test_the_aggregate_posterior_as_prior_has_no_marginal_kl_and_no_holes() -> None:
    """p(z) = q(z): a mixture with one component per data point (equal weights), or a VampPrior whose
    pseudo-inputs are the data themselves. KL(q(z) || p(z)) vanishes at every z; the KL term is I."""
    mu_q, log_var_q, z = codes()
    mixture = MixturePrior(3, 40).double()
    with torch.no_grad():
        mixture.logits_p.zero_()
        mixture.mu_p.copy_(mu_q)
        mixture.log_var_p.copy_(log_var_q)
    information, marginal = prior_elbo_surgery(mixture, z, mu_q, log_var_q)
    torch.testing.assert_close(marginal, torch.zeros_like(marginal), rtol=0, atol=1e-10)
    kl_integrand = log_normal_diag(z, mu_q, log_var_q) - mixture.log_prob(z)
    torch.testing.assert_close(information, kl_integrand, rtol=0, atol=1e-10)
    z_prior = mixture.sample(2000, generator=torch.Generator().manual_seed(9)).detach()
    assert prior_hole_fraction(mixture, z_prior, mu_q, log_var_q, 0.999)[0].item() == 0.0

    encoder = Encoder(TINY).double()
    x = X_TINY.repeat(4, 1)[:10] + torch.rand(10, 4, dtype=torch.float64)  # 10 data points
    vamp = VampPrior(encoder, 10, 4, init=x)  # x_max=None: the pseudo-inputs are the data, exactly
    with torch.no_grad():
        mu_x, log_var_x = encoder(x)
        z_x = mu_x + torch.exp(0.5 * log_var_x) * torch.randn(3, 10, 2, dtype=torch.float64)
        _, marginal = prior_elbo_surgery(vamp, z_x, mu_x, log_var_x)
    torch.testing.assert_close(marginal, torch.zeros_like(marginal), rtol=0, atol=1e-10)


def test_holes_fraction_counts_the_points_where_q_is_thin() -> None:
    """A prior far wider than q(z): its draws outside q's bulk are holes; counted one by one."""
    mu_q, log_var_q, _ = codes()
    wide = MixturePrior(3, 1).double()
    with torch.no_grad():
        wide.log_var_p.fill_(math.log(25.0))  # N(mu, 25 I): mostly outside q(z)
    z_prior = wide.sample(2000, generator=torch.Generator().manual_seed(10)).detach()
    h, se = prior_hole_fraction(wide, z_prior, mu_q, log_var_q, 0.1)
    log_q = torch.stack([log_normal_diag(z_prior, m, lv) for m, lv in zip(mu_q, log_var_q)]).logsumexp(0) - math.log(40)
    brute = (log_q - wide.log_prob(z_prior) < math.log(0.1)).double().mean()
    assert h.item() == brute.item() and 0.5 < h.item() < 1.0
    torch.testing.assert_close(se, (brute * (1 - brute) / 1999).sqrt(), rtol=1e-10, atol=0)


# ----------------------------------------------------------------------------------- bad inputs
def _returns_a_tuple() -> nn.Module:
    class TupleEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 4)

        def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
            return self.net(x).chunk(2, dim=-1)

    return TupleEncoder()


BAD = [
    ("z_dim 0", lambda: MixturePrior(0, 3), ValueError),
    ("z_dim float", lambda: MixturePrior(2.0, 3), TypeError),
    ("num_components 0", lambda: MixturePrior(2, 0), ValueError),
    ("encoder not a module", lambda: VampPrior("encoder", 5, 4), TypeError),
    ("num_pseudo_inputs 0", lambda: VampPrior(Encoder(TINY), 0, 4), ValueError),
    ("x_dim mismatch", lambda: VampPrior(Encoder(TINY), 5, 3), ValueError),
    ("x_max 0", lambda: VampPrior(Encoder(TINY), 5, 4, x_max=0.0), ValueError),
    ("x_max inf", lambda: VampPrior(Encoder(TINY), 5, 4, x_max=math.inf), ValueError),
    ("x_max bool", lambda: VampPrior(Encoder(TINY), 5, 4, x_max=True), TypeError),
    ("x_max str", lambda: VampPrior(Encoder(TINY), 5, 4, x_max="16"), TypeError),
    ("init shape", lambda: VampPrior(Encoder(TINY), 5, 4, init=torch.zeros(4, 4)), ValueError),
    ("init range", lambda: VampPrior(Encoder(TINY), 2, 4, x_max=2.0, init=torch.full((2, 4), 3.0)), ValueError),
    ("init nan", lambda: VampPrior(Encoder(TINY), 1, 4, init=torch.tensor([[0.0, math.nan, 0.0, 0.0]])), ValueError),
    ("init int", lambda: VampPrior(Encoder(TINY), 2, 4, init=torch.zeros(2, 4, dtype=torch.int64)), TypeError),
    ("encoder returns a tuple", lambda: VampPrior(_returns_a_tuple(), 5, 4), TypeError),
    ("sample n 0", lambda: MixturePrior(2, 3).sample(0), ValueError),
    ("holes ratio 0", lambda: prior_hole_fraction(MixturePrior(2, 3), torch.zeros(4, 2), torch.zeros(3, 2), torch.zeros(3, 2), 0.0), ValueError),
    ("surgery z 2-D", lambda: prior_elbo_surgery(MixturePrior(2, 3), torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 2)), ValueError),
    ("surgery z shape", lambda: prior_elbo_surgery(MixturePrior(2, 3), torch.zeros(1, 4, 2), torch.zeros(3, 2), torch.zeros(3, 2)), ValueError),
]


@pytest.mark.parametrize(("case", "make", "error"), BAD, ids=[case for case, _, _ in BAD])
def test_bad_input(case: str, make, error: type[Exception]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        make()
