r"""Training a GAN: alternate a discriminator step on $-V(D, G)$ and a generator step on the non-saturating loss.

Book: *VAE vs GAN on the same data*.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..models.gan import GAN, check_gan_data
from ..models.gan_losses import discriminator_loss, generator_loss_non_saturating

__all__ = ["GANHistory", "fit_gan"]


@dataclass
class GANHistory:
    r"""What :func:`fit_gan` did, epoch by epoch (each value averaged over the epoch's minibatches).

    The discriminator's figures come from the last of its ``d_steps`` steps on each minibatch,
    computed before that step's update.

    Attributes:
        d_loss: the discriminator's loss $-V(D, G)$ (:func:`~vae_edu.models.gan_losses.discriminator_loss`),
            nats; $2\log 2$ when it cannot tell real from generated.
        g_loss: the non-saturating generator loss $-\mathbb E[\log D(G(z))]$, nats.
        d_real: the mean of $D(x)$ on real data.
        d_fake: the mean of $D(G(z))$ on generated samples.
        seconds: wall-clock training time.
        cpu_seconds: process CPU time.
        stop_reason: ``"epochs"`` or ``"max_seconds"``.
    """

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)
    d_fake: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    stop_reason: str = ""

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.d_loss)


def _check_number(name: str, value: object, *, minimum: float, integer: bool = False, strict: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kinds) and math.isfinite(value)  # type: ignore[arg-type]
    ok = ok and (value > minimum if strict else value >= minimum)  # type: ignore[operator]
    if not ok:
        kind = "an int" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind} {'>' if strict else '>='} {minimum}, got {value!r}")


def fit_gan(
    gan: GAN,
    x_train: Tensor,
    *,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    d_steps: int = 1,
    seed: int = 0,
    max_seconds: float | None = None,
    progress: bool = False,
) -> GANHistory:
    r"""Train a :class:`~vae_edu.models.gan.GAN` with alternating Adam steps (Goodfellow et al., 2014).

    Each epoch shuffles ``x_train``; for each minibatch of $B$ real images:

    1. ``d_steps`` discriminator steps on
       $\mathcal L_D = \frac1B\sum_b\operatorname{softplus}(-\ell(x_b)) + \frac1B\sum_b\operatorname{softplus}(\ell(G(z_b)))$
       (the generator held fixed; fresh $z$ each step);
    2. one generator step on the non-saturating loss
       $\mathcal L_G = \frac1B\sum_b\operatorname{softplus}(-\ell(G(z_b)))$ (fresh $z$).

    There is no validation loss and no early stopping: a GAN has no likelihood to validate,
    and its losses do not measure sample quality. The model ends with its last parameters.
    Everything random (shuffling, $z$) comes from a generator seeded by ``seed``; the initial
    weights come from torch's global seed when ``gan`` is built.

    Args:
        gan: the model, trained in place.
        x_train: real data, shape ``(N, x_dim)``, in the model's dtype (in $[0, 1]$ for a
            sigmoid generator).
        epochs: passes over ``x_train``.
        batch_size: real examples (and generated samples) per minibatch.
        lr: Adam's learning rate, for both networks.
        betas: Adam's $(\beta_1, \beta_2)$; $\beta_1 = 0.5$ is the usual choice for GANs.
        d_steps: discriminator steps per generator step.
        seed: seeds the shuffling and the noise $z$.
        max_seconds: a wall-clock budget, checked after each epoch.
        progress: show a progress bar (``tqdm.auto``).

    Returns:
        A :class:`GANHistory`.

    Raises:
        TypeError, ValueError: naming the argument.
        FloatingPointError: if a loss becomes NaN or infinite.

    Book: *VAE vs GAN on the same data*.
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"gan must be a vae_edu.models.gan.GAN, got {type(gan).__name__}")
    check_gan_data("x_train", x_train, gan.config, gan.dtype)
    _check_number("epochs", epochs, minimum=1, integer=True)
    _check_number("batch_size", batch_size, minimum=1, integer=True)
    _check_number("lr", lr, minimum=0, strict=True)
    _check_number("d_steps", d_steps, minimum=1, integer=True)
    _check_number("seed", seed, minimum=0, integer=True)
    if max_seconds is not None:
        _check_number("max_seconds", max_seconds, minimum=0)
    if (
        not isinstance(betas, tuple)
        or len(betas) != 2
        or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
    ):
        raise ValueError(f"betas must be a tuple of two numbers in [0, 1), got {betas!r}")
    if progress:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm

    gen = torch.Generator().manual_seed(seed)
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr, betas=betas)
    history = GANHistory()
    num_train = x_train.shape[0]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    gan.train()
    bar = tqdm(total=epochs, disable=not progress, desc="fit_gan", unit="epoch")
    try:
        for _ in range(epochs):
            sums = torch.zeros(4, dtype=torch.float64)  # d_loss, g_loss, d_real, d_fake, weighted by batch size
            order = torch.randperm(num_train, generator=gen)  # (N,)
            for start in range(0, num_train, batch_size):
                x = x_train[order[start : start + batch_size]]  # (B, x_dim)
                b = x.shape[0]
                for _ in range(d_steps):
                    with torch.no_grad():
                        x_fake = gan.generator(gan.sample_z(b, gen))  # (B, x_dim), the generator held fixed
                    logits_real, logits_fake = gan.discriminator(x), gan.discriminator(x_fake)  # (B,), (B,)
                    loss_d = discriminator_loss(logits_real, logits_fake)
                    opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    opt_d.step()
                logits_gen = gan.discriminator(gan.generator(gan.sample_z(b, gen)))  # (B,)
                loss_g = generator_loss_non_saturating(logits_gen)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()  # also fills the discriminator's gradients; zeroed before its next step
                opt_g.step()
                if not (math.isfinite(loss_d.item()) and math.isfinite(loss_g.item())):
                    raise FloatingPointError(f"a GAN loss became non-finite (d_loss {loss_d.item()}, g_loss {loss_g.item()})")
                with torch.no_grad():
                    d_real, d_fake = torch.sigmoid(logits_real).mean(), torch.sigmoid(logits_fake).mean()
                sums += b * torch.tensor([loss_d.item(), loss_g.item(), d_real.item(), d_fake.item()], dtype=torch.float64)
            means = (sums / num_train).tolist()
            history.d_loss.append(means[0])
            history.g_loss.append(means[1])
            history.d_real.append(means[2])
            history.d_fake.append(means[3])
            history.seconds = time.perf_counter() - wall0
            history.cpu_seconds = time.process_time() - cpu0
            bar.update(1)
            bar.set_postfix(d_loss=f"{means[0]:.3f}", g_loss=f"{means[1]:.3f}")
            if max_seconds is not None and history.seconds >= max_seconds:
                history.stop_reason = "max_seconds"
                break
        else:
            history.stop_reason = "epochs"
    finally:
        bar.close()
        gan.eval()
    return history
