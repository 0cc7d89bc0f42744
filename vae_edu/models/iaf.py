r"""Inverse autoregressive flow (IAF, Kingma et al., 2016): steps, a flow of $T$ steps, and its log-density.

One IAF step maps $z_{t-1}$ to $z_t$ with a MADE (:class:`~vae_edu.models.made.MADE`) that
reads $z_{t-1}$ in an autoregressive order and a context $h$ (the encoder's hidden state):

$$[m_t, s_t] = \mathrm{MADE}_t(z_{t-1}, h),\qquad \sigma_t = \operatorname{sigmoid}(s_t + b),\qquad
  z_t = \sigma_t \odot z_{t-1} + (1 - \sigma_t) \odot m_t .$$

Output $d$ of the MADE depends only on the coordinates before $d$ in the order, so the
Jacobian $\partial z_t / \partial z_{t-1}$ is triangular in that order with diagonal
$\sigma_t$, and

$$\log\left|\det \frac{\partial z_t}{\partial z_{t-1}}\right| = \sum_d \log \sigma_{t,d},
  \qquad \log q(z_T|x) = \log \mathcal N(z_0;\ \mu, \operatorname{diag}\sigma^2)
  - \sum_{t=1}^T \sum_d \log \sigma_{t,d}.$$

The gated form keeps $\sigma_t \in (0, 1)$ (a convex combination), which is the numerically
stable version of $z_t = \mu_t + \sigma_t \odot z_{t-1}$ in the paper; the forget bias $b$ starts
$\sigma_t$ close to 1. The order is reversed
between steps, so every coordinate gets to depend on every other one.

Book: *Inverse autoregressive flow*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_int, check_tensor
from .made import MADE, check_hidden_sizes

__all__ = ["IAFStep", "IAFFlow"]


class IAFStep(nn.Module):
    r"""One gated IAF step, $z_t = \sigma_t \odot z_{t-1} + (1 - \sigma_t)\odot m_t$ with $(m_t, s_t)$ from a MADE.

    $\sigma_t = \operatorname{sigmoid}(s_t + b)$, where $b$ = ``forget_bias`` starts $\sigma_t$
    close to 1 (the step starts close to the identity; the paper uses $b = 1$ or $2$).

    Args:
        z_dim: dimension $d$ of $z$.
        hidden_sizes: widths of the MADE's hidden layers (may be empty with a context).
        order: the autoregressive order, a permutation of ``0..z_dim-1`` (default ``0, 1, ...``).
        context_dim: width of the context $h$ (0: none).
        forget_bias: $b$, added to $s_t$ before the sigmoid.
        activation: the MADE's hidden activation.

    Book: *Inverse autoregressive flow*.
    """

    def __init__(
        self,
        z_dim: int,
        hidden_sizes: Sequence[int] = (64,),
        *,
        order: Sequence[int] | Tensor | None = None,
        context_dim: int = 0,
        forget_bias: float = 1.0,
        activation: str = "elu",
    ) -> None:
        super().__init__()
        check_int("z_dim", z_dim, 1)
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float)):
            raise TypeError(f"forget_bias must be a number, got {type(forget_bias).__name__} {forget_bias!r}")
        if not math.isfinite(forget_bias):
            raise ValueError(f"forget_bias must be a finite number, got {forget_bias!r}")
        self.z_dim, self.forget_bias = z_dim, float(forget_bias)
        self.made = MADE(
            z_dim, hidden_sizes, num_params=2, order=order, context_dim=context_dim, activation=activation,
            direct=True,
        )

    @property
    def order(self) -> Tensor:
        """The autoregressive order of this step, shape ``(z_dim,)``."""
        return self.made.order

    def forward(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""$z_t = \sigma_t \odot z_{t-1} + (1 - \sigma_t)\odot m_t$ and its log-determinant.

        Args:
            z: $z_{t-1}$, shape ``(..., z_dim)``.
            context: $h$, shape ``(..., context_dim)`` (broadcasting with ``z``), iff the step has one.

        Returns:
            ``(z_t, log_det)``: $z_t$ of shape ``(..., z_dim)`` and
            $\log\left|\det \partial z_t / \partial z_{t-1}\right| = \sum_d \log\sigma_{t,d}$ of shape ``(...)``.
        """
        out = self.made(z, context)  # (..., z_dim, 2)
        m, s = out[..., 0], out[..., 1] + self.forget_bias  # (..., z_dim) each
        sigma = torch.sigmoid(s)
        return sigma * z + (1.0 - sigma) * m, F.logsigmoid(s).sum(dim=-1)  # logsigmoid: stable

    def inverse(self, z_t: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""$z_{t-1}$ from $z_t$, by $d$ sequential passes of the MADE, and the forward log-determinant.

        $$z_{t-1,i} = \frac{z_{t,i} - (1 - \sigma_{t,i})\,m_{t,i}}{\sigma_{t,i}}$$

        where $m_{t,i}, \sigma_{t,i}$ depend only on the coordinates of $z_{t-1}$ before $i$ in the
        order: pass $j$ solves for the $j$-th coordinate in the order from the ones before it, so
        $d$ passes invert the step (the slow direction of an IAF; sampling needs none of it).

        Args:
            z_t: shape ``(..., z_dim)``.
            context: $h$, as in :meth:`forward`.

        Returns:
            ``(z_prev, log_det)``: $z_{t-1}$ of shape ``(..., z_dim)`` and the log-determinant of
            the forward step at $z_{t-1}$, $\sum_i \log\sigma_{t,i}$, shape ``(...)``; both NaN
            where the inverse overflows the dtype (a $\sigma_{t,i}$ that underflows, far out).
        """
        z, s = z_t, z_t  # s is set by the first pass (z_dim >= 1)
        overflow = torch.zeros(z_t.shape[:-1], dtype=torch.bool, device=z_t.device)  # (...)
        for i in self.order.tolist():  # coordinate i is exact once those before it are
            out = self.made(z, context)  # (..., z_dim, 2)
            m, s = out[..., 0], out[..., 1] + self.forget_bias  # (..., z_dim) each
            z_i = (z_t[..., i] - torch.sigmoid(-s[..., i]) * m[..., i]) / torch.sigmoid(s[..., i])  # 1 - sigmoid(s)
            overflow = overflow | ~torch.isfinite(z_i)
            z_i = torch.where(overflow, 0.0, z_i)  # a placeholder, so the next pass stays finite
            z = torch.cat([z[..., :i], z_i.unsqueeze(-1), z[..., i + 1 :]], dim=-1)
        log_det = F.logsigmoid(s).sum(dim=-1)
        nan = torch.full((), math.nan, dtype=z.dtype, device=z.device)
        return torch.where(overflow.unsqueeze(-1), nan, z), torch.where(overflow, nan, log_det)


class IAFFlow(nn.Module):
    r"""$T$ IAF steps with the order reversed between steps: $z_T = f_T \circ \dots \circ f_1(z_0)$.

    $$\log q(z_T) = \log q_0(z_0) - \sum_{t=1}^T \log\left|\det \frac{\partial z_t}{\partial z_{t-1}}\right|$$

    Step $t$ (from 0) uses the order ``0, 1, ..., d-1`` when $t$ is even and its reverse when odd.

    Args:
        z_dim: dimension $d$.
        num_steps: $T \ge 1$.
        hidden_sizes: widths of each step's MADE hidden layers.
        context_dim: width of the context $h$ shared by every step (0: an unconditional flow).
        forget_bias: see :class:`IAFStep`.
        activation: the MADEs' hidden activation.

    Example:
        >>> import torch
        >>> flow = IAFFlow(3, num_steps=2, hidden_sizes=(8,))
        >>> z_T, log_det = flow(torch.zeros(5, 3))
        >>> z_T.shape, log_det.shape
        (torch.Size([5, 3]), torch.Size([5]))

    Book: *Inverse autoregressive flow*.
    """

    def __init__(
        self,
        z_dim: int,
        num_steps: int = 2,
        hidden_sizes: Sequence[int] = (64,),
        *,
        context_dim: int = 0,
        forget_bias: float = 1.0,
        activation: str = "elu",
    ) -> None:
        super().__init__()
        check_int("z_dim", z_dim, 1)
        check_int("num_steps", num_steps, 1)
        check_int("context_dim", context_dim, 0)
        sizes = check_hidden_sizes(hidden_sizes)
        self.z_dim, self.context_dim = z_dim, context_dim
        forward_order = torch.arange(z_dim)
        self.steps = nn.ModuleList(
            IAFStep(
                z_dim, sizes, order=forward_order if t % 2 == 0 else forward_order.flip(0),
                context_dim=context_dim, forget_bias=forget_bias, activation=activation,
            )
            for t in range(num_steps)
        )

    def forward(self, z_0: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""Push $z_0$ through the $T$ steps.

        Args:
            z_0: shape ``(..., z_dim)``.
            context: $h$, shape ``(..., context_dim)``, iff ``context_dim > 0``.

        Returns:
            ``(z_T, log_det)``: $z_T$ of shape ``(..., z_dim)`` and
            $\sum_t \log|\det \partial z_t/\partial z_{t-1}|$ of shape ``(...)``.
        """
        check_tensor("z_0", z_0, min_dim=1)
        if z_0.shape[-1] != self.z_dim:
            raise ValueError(f"z_0 must have last dimension z_dim={self.z_dim}, got shape {tuple(z_0.shape)}")
        dtype = next(self.parameters()).dtype
        if z_0.dtype != dtype:
            raise TypeError(f"z_0 has dtype {z_0.dtype} but the flow has dtype {dtype}")
        z, log_det = z_0, torch.zeros((), dtype=z_0.dtype, device=z_0.device)
        for step in self.steps:
            z, step_log_det = step(z, context)  # (..., z_dim), (...)
            log_det = log_det + step_log_det
        return z, log_det.expand(z.shape[:-1])

    def inverse(self, z_T: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""$z_0$ from $z_T$, the steps inverted in reverse ($d$ sequential passes each), and the
        forward log-determinant $\sum_t \log|\det \partial z_t/\partial z_{t-1}|$ at $z_0$.

        $$\log q(z_T) = \log q_0\big(f^{-1}(z_T)\big) - \sum_{t=1}^T \log\left|\det \frac{\partial z_t}{\partial z_{t-1}}\right|$$

        Args:
            z_T: shape ``(..., z_dim)``.
            context: $h$, as in :meth:`forward`.

        Returns:
            ``(z_0, log_det)``: shapes ``(..., z_dim)`` and ``(...)``; ``self(z_0, context)``
            gives back ``(z_T, log_det)`` (to rounding). Both are NaN where a step's inverse
            overflows the dtype (see :meth:`IAFStep.inverse`).
        """
        check_tensor("z_T", z_T, min_dim=1)
        if z_T.shape[-1] != self.z_dim:
            raise ValueError(f"z_T must have last dimension z_dim={self.z_dim}, got shape {tuple(z_T.shape)}")
        dtype = next(self.parameters()).dtype
        if z_T.dtype != dtype:
            raise TypeError(f"z_T has dtype {z_T.dtype} but the flow has dtype {dtype}")
        z, log_det = z_T, torch.zeros((), dtype=z_T.dtype, device=z_T.device)
        overflow = torch.zeros(z_T.shape[:-1], dtype=torch.bool, device=z_T.device)  # (...)
        for step in reversed(self.steps):
            z, step_log_det = step.inverse(torch.where(overflow.unsqueeze(-1), 0.0, z), context)
            overflow = overflow | torch.isnan(step_log_det)  # (...)
            log_det = log_det + step_log_det
        nan = torch.full((), math.nan, dtype=z.dtype, device=z.device)
        return torch.where(overflow.unsqueeze(-1), nan, z), torch.where(overflow, nan, log_det.expand(z.shape[:-1]))
