"""Validation of layer hyperparameters and shapes, with errors that name the layer."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import numbers
from typing import Any


Shape = tuple[int, ...]
"""A per-sample shape, without the batch dimension."""

ACTIVATIONS = ("relu", "relu6", "none")
PADDINGS = ("same", "valid")

_RANK_NAMES = {1: "a vector (features,)", 2: "a sequence (time, features)",
               3: "a feature map (channels, height, width)"}


class SpecError(ValueError):
    """An invalid layer, input or network specification."""


Check = Callable[[str, str, Any], Any]
"""``check(owner, name, value)``: the value normalised, or :class:`SpecError`."""


def set_field(obj: Any, name: str, value: Any) -> None:
    """Normalise a field of a frozen dataclass in its ``__post_init__``."""
    object.__setattr__(obj, name, value)


def positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise SpecError(f"{owner}: {name} must be a positive integer, got {value!r}.")
    return int(value)


def pair(owner: str, name: str, value: Any) -> tuple[int, int]:
    """Accept ``k`` or ``(h, w)``; kernels and strides are stored as ``(h, w)``."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise SpecError(
                f"{owner}: {name} must be an integer or a pair (height, width), got {value!r}."
            )
        return (positive_int(owner, name, value[0]), positive_int(owner, name, value[1]))
    v = positive_int(owner, name, value)
    return (v, v)


def odd_pair(owner: str, name: str, value: Any) -> tuple[int, int]:
    """A kernel whose "same" padding is symmetric, as a residual sum needs."""
    kernel = pair(owner, name, value)
    if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
        raise SpecError(f"{owner}: {name} must be odd so the block keeps its size, got "
                        f"{value!r}.")
    return kernel


def choice(owner: str, name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise SpecError(f"{owner}: {name} must be one of {list(choices)}, got {value!r}.")
    return str(value)


def one_of(choices: Sequence[str]) -> Check:
    """The check that a value is one of ``choices``."""
    return lambda owner, name, value: choice(owner, name, value, choices)


def probability(owner: str, name: str, value: Any) -> float:
    """A number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise SpecError(f"{owner}: {name} must be a number in [0, 1), got {value!r}.")
    return float(value)


def flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{owner}: {name} must be true or false, got {value!r}.")
    return value


def require_rank(where: str, shape: Shape, rank: int, hint: str) -> None:
    if len(shape) != rank:
        raise SpecError(
            f"{where} expects {_RANK_NAMES[rank]} but receives shape {shape} "
            f"({_RANK_NAMES[len(shape)]}); {hint}"
        )


def spatial_out(
    where: str, shape: Shape, kernel: tuple[int, int], stride: tuple[int, int], same: bool
) -> tuple[int, int]:
    """Height and width after a window of ``kernel`` and ``stride`` (no dilation)."""
    padding = (kernel[0] // 2, kernel[1] // 2) if same else (0, 0)
    out = tuple((shape[1 + i] + 2 * padding[i] - kernel[i]) // stride[i] + 1 for i in range(2))
    if out[0] < 1 or out[1] < 1:
        raise SpecError(
            f"{where}: the spatial size would shrink below 1 (input {shape}, kernel {kernel}, "
            f"stride {stride}, padding {'same' if same else 'valid'}, output {out})."
        )
    return (out[0], out[1])
