r"""MADE: a masked autoencoder for distribution estimation (Germain et al., 2015).

An MLP whose weight matrices are multiplied by binary masks so that output $d$ depends only on
the inputs that come *before* $d$ in a chosen order (and on an optional context, such as a
latent code $z$). One forward pass then gives the parameters of every conditional of an
autoregressive factorisation,

$$p(x) = \prod_{d=1}^{D} p\big(x_d \mid x_{<d}\big),\qquad
  \frac{\partial\,\text{output}_d}{\partial x_e} = 0 \text{ unless } e \text{ comes before } d,$$

so the Jacobian of the outputs with respect to the inputs is strictly triangular in that order.
The same network serves as the strong decoder of *Posterior collapse and the rate–distortion
trade-off* (:mod:`vae_edu.models.autoregressive`) and as the shift-and-scale network of an
inverse autoregressive flow (IAF, Kingma et al., 2016), which passes the encoder's hidden state
as the context and alternates ``order`` between steps.

Degrees (Germain et al., section 4): input $d$ has degree $m(d)$, its 1-based position in
``order``; each hidden unit gets a degree in $\{1, \dots, D-1\}$ (assigned cyclically, so the
masks are deterministic); a connection from a unit of degree $m$ to a hidden unit of degree
$m'$ exists iff $m \le m'$, and to output $d$ iff $m < m(d)$.

Book: *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_int, check_tensor
from .config import ACTIVATIONS
from .layers import ACTIVATION_MODULES

__all__ = ["MaskedLinear", "made_degrees", "made_masks", "MADE", "check_hidden_sizes"]


def _check_order(order: object, x_dim: int) -> Tensor:
    """``order`` as an ``int64`` tensor, checked to be a permutation of ``0..x_dim-1``."""
    if isinstance(order, Tensor):
        if order.dtype.is_floating_point or order.dtype == torch.bool or order.dtype.is_complex:
            raise TypeError(f"order must hold integers, got dtype {order.dtype}")
        order_t = order.detach().to(torch.int64).cpu()
    elif isinstance(order, Sequence) and not isinstance(order, str):
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in order):
            raise TypeError("order must be a sequence of ints (a permutation of 0..x_dim-1)")
        order_t = torch.tensor(list(order), dtype=torch.int64)
    else:
        raise TypeError(f"order must be a sequence of ints or an integer tensor, got {type(order).__name__}")
    if order_t.dim() != 1 or order_t.numel() != x_dim:
        raise ValueError(f"order must have shape (x_dim,) = ({x_dim},), got {tuple(order_t.shape)}")
    if not torch.equal(order_t.sort().values, torch.arange(x_dim)):
        raise ValueError(f"order must be a permutation of 0..{x_dim - 1}, got {order_t.tolist()}")
    return order_t


def made_degrees(order: Sequence[int] | Tensor, hidden_sizes: Sequence[int]) -> list[Tensor]:
    r"""The degrees of MADE's units: the inputs' positions in ``order``, then each hidden layer's.

    Input $d$ gets $m(d) = 1 + $ (its position in ``order``), so ``order[0]`` has degree 1.
    Hidden unit $k$ of every layer gets $m(k) = 1 + (k \bmod (D-1))$, cycling through
    $1, \dots, D-1$ (all 1 when $D = 1$): every degree is used when the layer has at least
    $D-1$ units, and a unit of degree $D$ would feed no output.

    Args:
        order: a permutation of ``0..D-1``: the dimensions in the order they are generated.
        hidden_sizes: the widths of the hidden layers (may be empty).

    Returns:
        ``[m_in, m_1, ..., m_L]``: integer tensors of shapes ``(D,)``, ``(H_1,)``, ..., ``(H_L,)``.

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """
    if not isinstance(order, Tensor) and not (isinstance(order, Sequence) and not isinstance(order, str)):
        raise TypeError(f"order must be a sequence of ints or an integer tensor, got {type(order).__name__}")
    x_dim = len(order)
    check_int("x_dim (the length of order)", x_dim, 1)
    order_t = _check_order(order, x_dim)
    sizes = check_hidden_sizes(hidden_sizes)
    degrees_in = torch.empty(x_dim, dtype=torch.int64)
    degrees_in[order_t] = torch.arange(1, x_dim + 1)  # m(order[i]) = i + 1
    cycle = max(x_dim - 1, 1)
    return [degrees_in] + [1 + torch.arange(size) % cycle for size in sizes]


def check_hidden_sizes(hidden_sizes: object) -> list[int]:
    """Check the widths of a MADE's (or an IAF step's) hidden layers: a sequence of ints >= 1.

    Returns:
        the widths as a list (empty: no hidden layer).

    Raises:
        TypeError, ValueError: naming ``hidden_sizes``.

    Book: *Posterior collapse and the rate–distortion trade-off* and *Inverse autoregressive flow*.
    """
    if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, Sequence):
        raise TypeError(f"hidden_sizes must be a sequence of ints, got {type(hidden_sizes).__name__}")
    for size in hidden_sizes:
        check_int("hidden_sizes (each entry)", size, 1)
    return list(hidden_sizes)


def made_masks(degrees: Sequence[Tensor], num_params: int = 1) -> tuple[list[Tensor], Tensor]:
    r"""MADE's masks from the units' degrees: hidden connections $m \le m'$, output connections $m < m(d)$.

    $$M^{(l)}_{k',k} = \mathbb 1\big[m_{l-1}(k) \le m_l(k')\big],\qquad
      M^{\text{out}}_{(d,p),k} = \mathbb 1\big[m_L(k) < m_{\text{in}}(d)\big]$$

    Each output dimension $d$ has ``num_params`` units $(d, p)$, all of degree $m_{\text{in}}(d)$,
    laid out as ``d * num_params + p``. The *direct* mask, from the inputs straight to the outputs,
    is $\mathbb 1\big[m_{\text{in}}(e) < m_{\text{in}}(d)\big]$ (strictly triangular in the order).

    Args:
        degrees: ``[m_in, m_1, ..., m_L]`` as from :func:`made_degrees`.
        num_params: parameters per output dimension ($P \ge 1$).

    Returns:
        ``(hidden_masks, output_mask)``: ``hidden_masks[l]`` has shape ``(H_{l+1}, H_l)`` (with
        $H_0 = D$), as ``nn.Linear`` weights do; ``output_mask`` has shape ``(D * P, H_L)``.

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """
    check_int("num_params", num_params, 1)
    if not isinstance(degrees, Sequence) or not degrees or not all(isinstance(m, Tensor) for m in degrees):
        raise TypeError("degrees must be a non-empty list of integer tensors (from made_degrees)")
    degrees_in = degrees[0]
    hidden = [(later[:, None] >= earlier[None, :]).float() for earlier, later in zip(degrees[:-1], degrees[1:])]
    out_degrees = degrees_in.repeat_interleave(num_params)  # m of output unit (d, p) = m_in(d), (D P,)
    output = (out_degrees[:, None] > degrees[-1][None, :]).float()  # (D P, H_L)
    return hidden, output


class MaskedLinear(nn.Linear):
    r"""A linear layer whose weight is multiplied elementwise by a fixed binary mask: $y = (M \odot W)\,x + b$.

    Args:
        in_features, out_features: as for :class:`torch.nn.Linear`.
        mask: 0/1 tensor of shape ``(out_features, in_features)`` (stored as a buffer, so it moves
            with the module's dtype and device and is saved in its ``state_dict``).
        bias: whether the layer has a bias.

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """

    mask: Tensor

    def __init__(self, in_features: int, out_features: int, mask: Tensor, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        if not isinstance(mask, Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(f"mask must have shape (out_features, in_features) = {(out_features, in_features)}, got {tuple(mask.shape)}")
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must hold only 0s and 1s")
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_features)`` → ``(..., out_features)``."""
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    r"""A masked MLP with the autoregressive property: output $d$ sees only $x_{<d}$ (in ``order``) and the context.

    $$h_1 = g\big((M_1\odot W_1)\,x + V c + b_1\big),\quad h_l = g\big((M_l\odot W_l)\,h_{l-1} + b_l\big),\quad
      a = (M_{\text{out}}\odot W_{\text{out}})\,h_L + (M_{\text{dir}}\odot A)\,x + U c + b_{\text{out}}$$

    with the masks of :func:`made_masks`, an activation $g$ and a context $c$ (optional: an
    unmasked input that every output may depend on, e.g. a latent code $z$ or an IAF's encoder
    state). The direct term $(M_{\text{dir}}\odot A)\,x$ (``direct=True``) is a strictly
    triangular linear map, an autoregressive "skip connection". With no hidden layers
    (``hidden_sizes=()``) the network is just the direct and context terms.

    The first dimension in ``order`` depends on no input at all: its parameters are a function
    of the context alone (a constant without one).

    Args:
        x_dim: $D$, the number of autoregressive dimensions.
        hidden_sizes: widths of the hidden layers, e.g. ``(256, 256)``; may be empty.
        num_params: $P$, outputs per dimension (e.g. $L$ logits of a categorical; 2 for an IAF's
            shift and scale).
        order: a permutation of ``0..D-1``, the dimensions in the order they are generated;
            default ``0, 1, ..., D-1``. Reverse it between IAF steps.
        context_dim: width of the context $c$ (0: no context).
        activation: a key of :data:`vae_edu.models.config.ACTIVATIONS`.
        direct: include the masked direct connection from $x$ to the outputs.

    Example:
        >>> import torch
        >>> made = MADE(3, (8,), num_params=2)
        >>> made(torch.zeros(5, 3)).shape
        torch.Size([5, 3, 2])

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """

    order: Tensor
    degrees: Tensor

    def __init__(
        self,
        x_dim: int,
        hidden_sizes: Sequence[int] = (),
        num_params: int = 1,
        *,
        order: Sequence[int] | Tensor | None = None,
        context_dim: int = 0,
        activation: str = "relu",
        direct: bool = False,
    ) -> None:
        super().__init__()
        check_int("x_dim", x_dim, 1)
        check_int("num_params", num_params, 1)
        check_int("context_dim", context_dim, 0)
        sizes = check_hidden_sizes(hidden_sizes)
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if not isinstance(direct, bool):
            raise TypeError(f"direct must be a bool, got {type(direct).__name__}")
        if not sizes and not direct and not context_dim:
            raise ValueError("a MADE needs hidden_sizes, direct=True or a context: otherwise its output is a constant")
        order_t = torch.arange(x_dim) if order is None else _check_order(order, x_dim)
        self.x_dim, self.num_params, self.context_dim = x_dim, num_params, context_dim
        self.hidden_sizes = tuple(sizes)
        degrees = made_degrees(order_t, sizes)
        hidden_masks, output_mask = made_masks(degrees, num_params)
        self.register_buffer("order", order_t)
        self.register_buffer("degrees", degrees[0])

        widths = [x_dim, *sizes]
        self.hidden = nn.ModuleList(MaskedLinear(a, b, m) for a, b, m in zip(widths[:-1], widths[1:], hidden_masks))
        self.activation = ACTIVATION_MODULES[activation]()
        out_width = x_dim * num_params
        self.output = MaskedLinear(widths[-1], out_width, output_mask) if sizes else None
        direct_mask = (degrees[0].repeat_interleave(num_params)[:, None] > degrees[0][None, :]).float()  # (D P, D)
        self.direct = MaskedLinear(x_dim, out_width, direct_mask, bias=not sizes) if direct else None
        self.context_hidden = nn.Linear(context_dim, sizes[0], bias=False) if context_dim and sizes else None
        self.context_output = nn.Linear(context_dim, out_width, bias=not sizes and not direct) if context_dim else None

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        r"""The parameters of every conditional $p(x_d \mid x_{<d}, c)$, in one pass.

        Args:
            x: inputs, shape ``(..., x_dim)``.
            context: shape ``(..., context_dim)``, required iff ``context_dim > 0``; its batch
                shape broadcasts with that of ``x`` (e.g. ``x`` of shape ``(B, D)`` and $K$
                latent codes per example of shape ``(K, B, z_dim)``).

        Returns:
            shape ``(..., x_dim, num_params)`` (the broadcast batch shape); entry ``[..., d, :]``
            depends only on ``x[..., e]`` for the $e$ before $d$ in ``order``, and on the context.
        """
        check_tensor("x", x, min_dim=1)
        dtype = next(self.parameters()).dtype
        if x.shape[-1] != self.x_dim:
            raise ValueError(f"x must have last dimension x_dim={self.x_dim}, got shape {tuple(x.shape)}")
        if x.dtype != dtype:
            raise TypeError(f"x has dtype {x.dtype} but the MADE has dtype {dtype}")
        if self.context_dim:
            if context is None:
                raise ValueError(f"context is required (context_dim={self.context_dim})")
            check_tensor("context", context, min_dim=1)
            if context.shape[-1] != self.context_dim:
                raise ValueError(f"context must have last dimension context_dim={self.context_dim}, got shape {tuple(context.shape)}")
            if context.dtype != dtype:
                raise TypeError(f"context has dtype {context.dtype} but the MADE has dtype {dtype}")
            try:
                torch.broadcast_shapes(x.shape[:-1], context.shape[:-1])
            except RuntimeError:
                raise ValueError(
                    f"the batch shapes of x {tuple(x.shape)} and context {tuple(context.shape)} do not broadcast"
                ) from None
        elif context is not None:
            raise ValueError("context must be None for a MADE built with context_dim=0")

        out: Tensor | float = 0.0
        if self.hidden_sizes:
            h = self.hidden[0](x)  # (..., H_1)
            if self.context_hidden is not None:
                h = h + self.context_hidden(context)  # broadcast batch shapes, (..., H_1)
            h = self.activation(h)
            for layer in self.hidden[1:]:
                h = self.activation(layer(h))  # (..., H_l)
            assert self.output is not None
            out = self.output(h)  # (..., D P)
        if self.direct is not None:
            out = out + self.direct(x)
        if self.context_output is not None:
            out = out + self.context_output(context)
        assert isinstance(out, Tensor)
        return out.view(*out.shape[:-1], self.x_dim, self.num_params)  # (..., D, P)
