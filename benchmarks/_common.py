"""What every benchmark of ``benchmarks/`` shares: the summary of a figure over seeds or runs, and
the record of the machine a run was measured on.

The benchmarks run as scripts (``python benchmarks/<name>.py``), so this directory is on
``sys.path`` and they import it as ``from _common import summary, machine``.
"""

from __future__ import annotations

import platform
import statistics

import torch


def summary(values: list[float], digits: int = 3, *, per: str = "per_seed", extremes: bool = False) -> dict[str, object]:
    """Mean and standard deviation of ``values`` (0 for one value), and the values themselves.

    Args:
        values: one figure per seed or run, in order.
        digits: decimals every number is rounded to.
        per: the key of the list of values, ``"per_seed"`` or ``"per_run"``.
        extremes: also give ``"min"`` and ``"max"``.
    """
    if not values:
        raise ValueError("values is empty: a summary needs at least one seed or run")
    if per not in ("per_seed", "per_run"):
        raise ValueError(f"per must be 'per_seed' or 'per_run', got {per!r}")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    entry: dict[str, object] = {"mean": round(statistics.fmean(values), digits), "std": round(std, digits)}
    if extremes:
        entry |= {"min": round(min(values), digits), "max": round(max(values), digits)}
    return entry | {per: [round(v, digits) for v in values]}


def machine() -> dict[str, object]:
    """torch's version, its thread count and the processor: where the figures of a run were measured."""
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
    }
