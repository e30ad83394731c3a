"""The layer types, each one class that holds every fact about its type.

A layer type is a frozen dataclass of hyperparameters. Its class says, in one place:

* how its hyperparameters are validated and normalised (``checks``);
* its shape rule (:meth:`Layer.output_shape`) and the ``torch.nn`` module it builds;
* its cost (:meth:`Layer.cost`): parameters, multiply-adds and activations moved, which
  the resource model turns into RENA's metrics;
* how an :class:`~optuna_rena.ArchitectureSpace` may insert it (``insert_rank``,
  ``insert_choices``, ``insert_fixed``) and which hyperparameter sets its width
  (``width``).

:data:`LAYER_TYPES` is the registry, by type name, that the network spec, the resource
model and the architecture space all read.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass
import math
from types import MappingProxyType
from typing import Any
from typing import ClassVar

from torch import nn

from optuna_rena._spec.checks import ACTIVATIONS
from optuna_rena._spec.checks import Check
from optuna_rena._spec.checks import flag
from optuna_rena._spec.checks import odd_pair
from optuna_rena._spec.checks import one_of
from optuna_rena._spec.checks import PADDINGS
from optuna_rena._spec.checks import pair
from optuna_rena._spec.checks import positive_int
from optuna_rena._spec.checks import probability
from optuna_rena._spec.checks import require_rank
from optuna_rena._spec.checks import set_field
from optuna_rena._spec.checks import Shape
from optuna_rena._spec.checks import spatial_out
from optuna_rena._spec.checks import SpecError
from optuna_rena._spec.modules import activation
from optuna_rena._spec.modules import MapToSequence
from optuna_rena._spec.modules import Recurrent
from optuna_rena._spec.modules import Residual


@dataclass
class LayerCost:
    """What one layer costs per sample: trainable parameters, multiply-adds, and the
    elements of the activations that its primitive operations read and write."""

    params: int = 0
    macs: int = 0
    activations: int = 0

    def conv(self, c_in: int, c_out: int, kernel: tuple[int, int], groups: int,
             in_hw: tuple[int, int], out_hw: tuple[int, int], norm: bool = True) -> None:
        """Add a convolution fused with its batch norm (or its bias, without one)."""
        k = kernel[0] * kernel[1]
        self.params += c_out * (c_in // groups) * k + (2 * c_out if norm else c_out)
        self.macs += c_out * (c_in // groups) * k * out_hw[0] * out_hw[1]
        self.activations += c_in * in_hw[0] * in_hw[1] + c_out * out_hw[0] * out_hw[1]


def _hw(shape: Shape) -> tuple[int, int]:
    return (shape[1], shape[2])


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


_WIDTHS = (0.5, 1.0, 2.0)  # an inserted layer's width, as a factor of its input's


@dataclass(frozen=True)
class Layer:
    """Base class of all layer types. Subclasses are frozen dataclasses of hyperparameters.

    Class attributes (facts about the type):

    * ``type``: the name in specs and JSON;
    * ``width``: the hyperparameter that sets the output width (``filters``, ``units``);
    * ``convolutional``, ``recurrent``: the family, for a space's default insert types;
    * ``insert_rank``: the rank of the tensor the type may be inserted into, ``None``
      when a space never inserts it;
    * ``insert_choices``: default choices of an inserted layer's hyperparameters (widths
      as factors of the input's width); ``insert_fixed``: values it is inserted with;
    * ``checks``: per hyperparameter, the check that validates and normalises it.
    """

    type: ClassVar[str] = ""
    width: ClassVar[str | None] = None
    convolutional: ClassVar[bool] = False
    recurrent: ClassVar[bool] = False
    insert_rank: ClassVar[int | None] = None
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen({})
    insert_fixed: ClassVar[Mapping[str, Any]] = _frozen({})
    checks: ClassVar[Mapping[str, Check]] = _frozen({})

    def __post_init__(self) -> None:
        for name, check in self.checks.items():
            set_field(self, name, check(self.type, name, getattr(self, name)))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        """The per-sample output shape for a per-sample input ``shape``.

        Raises:
            SpecError: The layer cannot take ``shape``; the message starts with ``where``.
        """
        raise NotImplementedError

    def build(self, shape: Shape) -> nn.Module:
        """A fresh ``torch.nn.Module`` for a per-sample input ``shape``."""
        raise NotImplementedError

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        """Parameters, multiply-adds and activations moved, per sample, for input ``inp``
        and output ``out`` (conventions in :mod:`optuna_rena._resources`)."""
        return LayerCost()

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters by name, in declaration order (tuples for pairs)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"type": ..., hyperparameter: value, ...}``."""
        out: dict[str, Any] = {"type": self.type}
        for name, value in self.hyperparameters().items():
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def replace(self, **changes: Any) -> Layer:
        """A copy with some hyperparameters changed, validated like a new layer."""
        return dataclasses.replace(self, **changes)

    def _where(self, where: str) -> str:
        return where or self.type


_CONVOLUTION_CHECKS: dict[str, Check] = {
    "filters": positive_int, "kernel": pair, "stride": pair, "activation": one_of(ACTIVATIONS)}


@dataclass(frozen=True)
class _ConvolutionLayer(Layer):
    """A convolutional layer on a feature map with "same" padding."""

    width: ClassVar[str | None] = "filters"
    convolutional: ClassVar[bool] = True
    insert_rank: ClassVar[int | None] = 3

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        where = self._where(where)
        require_rank(where, shape, 3, "convolutions need a feature map.")
        h, w = spatial_out(where, shape, self.kernel, self.stride,  # type: ignore[attr-defined]
                           getattr(self, "padding", "same") == "same")
        return (self.filters, h, w)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Conv2d(_ConvolutionLayer):
    """2-D convolution, then batch norm and an activation.

    ``padding="same"`` pads ``kernel // 2`` on each side, so a stride-1 odd kernel keeps
    the size. Without batch norm the convolution has a bias.
    """

    type: ClassVar[str] = "conv2d"
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen(
        {"filters": _WIDTHS, "kernel": (1, 3, 5)})
    filters: int
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)
    padding: str = "same"
    batch_norm: bool = True
    activation: str = "relu"

    checks: ClassVar[Mapping[str, Check]] = _frozen({
        **_CONVOLUTION_CHECKS, "padding": one_of(PADDINGS), "batch_norm": flag})

    def build(self, shape: Shape) -> nn.Module:
        kernel: tuple[int, int] = self.kernel  # type: ignore[assignment]
        padding = (kernel[0] // 2, kernel[1] // 2) if self.padding == "same" else (0, 0)
        conv = nn.Conv2d(shape[0], self.filters, kernel, self.stride, padding,
                         bias=not self.batch_norm)
        norm = nn.BatchNorm2d(self.filters) if self.batch_norm else nn.Identity()
        return nn.Sequential(conv, norm, activation(self.activation))

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        c = LayerCost()
        c.conv(inp[0], out[0], self.kernel, 1, _hw(inp), _hw(out),  # type: ignore[arg-type]
               norm=self.batch_norm)
        return c


def _depthwise_pointwise(c: int, filters: int, kernel: tuple[int, int],
                         stride: tuple[int, int], activation_name: str) -> list[nn.Module]:
    """A depthwise ``kernel`` convolution with batch norm and the activation, then a 1x1
    convolution to ``filters`` with batch norm (its activation is the caller's)."""
    return [nn.Conv2d(c, c, kernel, stride, (kernel[0] // 2, kernel[1] // 2), groups=c,
                      bias=False),
            nn.BatchNorm2d(c), activation(activation_name),
            nn.Conv2d(c, filters, 1, bias=False), nn.BatchNorm2d(filters)]


@dataclass(frozen=True)
class SeparableConv2d(_ConvolutionLayer):
    """Depthwise-separable convolution (MobileNet, DS-CNN): a depthwise ``kernel``
    convolution, then a pointwise 1x1 convolution to ``filters``; each followed by
    batch norm and the activation. Padding is ``same``."""

    type: ClassVar[str] = "separable_conv2d"
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen(
        {"filters": _WIDTHS, "kernel": (3, 5)})
    filters: int
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)
    activation: str = "relu"

    checks: ClassVar[Mapping[str, Check]] = _frozen(_CONVOLUTION_CHECKS)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Sequential(*_depthwise_pointwise(
            shape[0], self.filters, self.kernel, self.stride,  # type: ignore[arg-type]
            self.activation), activation(self.activation))

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        c, cost = inp[0], LayerCost()
        cost.conv(c, c, self.kernel, c, _hw(inp), _hw(out))  # type: ignore[arg-type]
        cost.conv(c, out[0], (1, 1), 1, _hw(out), _hw(out))
        return cost


@dataclass(frozen=True)
class InvertedResidual(_ConvolutionLayer):
    """MobileNetV2 inverted residual block (MBConv).

    A 1x1 expansion to ``expansion * in_channels`` (skipped when ``expansion == 1``), a
    depthwise ``kernel`` convolution (odd sizes) with ``stride``, and a linear 1x1
    projection to ``filters``; batch norm after each. The input is added back when the
    stride is 1 and the channel count is unchanged, the only case where the shapes allow it.
    """

    type: ClassVar[str] = "inverted_residual"
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen(
        {"filters": _WIDTHS, "expansion": (1, 3, 6), "kernel": (3, 5)})
    filters: int
    expansion: int = 6
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)
    activation: str = "relu"

    checks: ClassVar[Mapping[str, Check]] = _frozen({
        **_CONVOLUTION_CHECKS, "expansion": positive_int, "kernel": odd_pair})

    def has_residual(self, shape: Shape) -> bool:
        return self.stride == (1, 1) and shape[0] == self.filters

    def build(self, shape: Shape) -> nn.Module:
        c = shape[0]
        hidden = c * self.expansion
        kernel: tuple[int, int] = self.kernel  # type: ignore[assignment]
        layers: list[nn.Module] = []
        if self.expansion != 1:
            layers += [nn.Conv2d(c, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                       activation(self.activation)]
        # The projection is linear: no activation after it.
        layers += _depthwise_pointwise(hidden, self.filters, kernel, self.stride,  # type: ignore[arg-type]
                                       self.activation)
        body = nn.Sequential(*layers)
        if self.has_residual(shape):
            return Residual(body, None, nn.Identity())
        return body

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        c, cost = inp[0], LayerCost()
        hidden = c * self.expansion
        if self.expansion != 1:
            cost.conv(c, hidden, (1, 1), 1, _hw(inp), _hw(inp))
        cost.conv(hidden, hidden, self.kernel, hidden, _hw(inp), _hw(out))  # type: ignore[arg-type]
        cost.conv(hidden, out[0], (1, 1), 1, _hw(out), _hw(out))
        return cost


@dataclass(frozen=True)
class BasicBlock(_ConvolutionLayer):
    """ResNet basic block: two ``kernel`` convolutions (odd sizes) with batch norm, the
    first with ``stride``; a 1x1 projection shortcut when the shape changes; ReLU after the
    sum."""

    type: ClassVar[str] = "basic_block"
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen(
        {"filters": _WIDTHS, "kernel": (3,)})
    filters: int
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)

    checks: ClassVar[Mapping[str, Check]] = _frozen(
        {"filters": positive_int, "kernel": odd_pair, "stride": pair})

    def has_projection(self, shape: Shape) -> bool:
        return self.stride != (1, 1) or shape[0] != self.filters

    def build(self, shape: Shape) -> nn.Module:
        c = shape[0]
        kernel: tuple[int, int] = self.kernel  # type: ignore[assignment]
        pad = (kernel[0] // 2, kernel[1] // 2)
        body = nn.Sequential(
            nn.Conv2d(c, self.filters, kernel, self.stride, pad, bias=False),
            nn.BatchNorm2d(self.filters),
            nn.ReLU(inplace=True),
            nn.Conv2d(self.filters, self.filters, kernel, 1, pad, bias=False),
            nn.BatchNorm2d(self.filters),
        )
        shortcut = None
        if self.has_projection(shape):
            shortcut = nn.Sequential(
                nn.Conv2d(c, self.filters, 1, self.stride, bias=False),
                nn.BatchNorm2d(self.filters),
            )
        return Residual(body, shortcut, nn.ReLU(inplace=True))

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        cost = LayerCost()
        cost.conv(inp[0], out[0], self.kernel, 1, _hw(inp), _hw(out))  # type: ignore[arg-type]
        cost.conv(out[0], out[0], self.kernel, 1, _hw(out), _hw(out))  # type: ignore[arg-type]
        if self.has_projection(inp):
            cost.conv(inp[0], out[0], (1, 1), 1, _hw(inp), _hw(out))
        return cost


def _moves_input_and_output(inp: Shape, out: Shape) -> LayerCost:
    """A layer without weights that reads its input and writes its output once."""
    return LayerCost(activations=math.prod(inp) + math.prod(out))


@dataclass(frozen=True)
class _Pool2d(Layer):
    insert_rank: ClassVar[int | None] = 3
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen({"kernel": (2,)})
    kernel: tuple[int, int] | int = (2, 2)
    stride: tuple[int, int] | int | None = None

    checks: ClassVar[Mapping[str, Check]] = _frozen({"kernel": pair})

    def __post_init__(self) -> None:
        super().__post_init__()
        # Like torch, the stride defaults to the kernel: non-overlapping windows.
        stride = self.kernel if self.stride is None else self.stride
        set_field(self, "stride", pair(self.type, "stride", stride))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        where = self._where(where)
        require_rank(where, shape, 3, "pooling needs a feature map.")
        h, w = spatial_out(where, shape, self.kernel, self.stride, False)  # type: ignore[arg-type]
        return (shape[0], h, w)

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        return _moves_input_and_output(inp, out)


@dataclass(frozen=True)
class MaxPool2d(_Pool2d):
    """Max pooling without padding; ``stride`` defaults to ``kernel``."""

    type: ClassVar[str] = "max_pool2d"

    def build(self, shape: Shape) -> nn.Module:
        return nn.MaxPool2d(self.kernel, self.stride)


@dataclass(frozen=True)
class AvgPool2d(_Pool2d):
    """Average pooling without padding; ``stride`` defaults to ``kernel``."""

    type: ClassVar[str] = "avg_pool2d"

    def build(self, shape: Shape) -> nn.Module:
        return nn.AvgPool2d(self.kernel, self.stride)


@dataclass(frozen=True)
class GlobalAvgPool(Layer):
    """Average over height and width: ``(C, H, W) -> (C,)``."""

    type: ClassVar[str] = "global_avg_pool"

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        require_rank(self._where(where), shape, 3, "pooling needs a feature map.")
        return (shape[0],)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        return _moves_input_and_output(inp, out)


@dataclass(frozen=True)
class ToSequence(Layer):
    """Read a feature map as a sequence over its width (time for audio):
    ``(C, H, W) -> (W, C * H)``. Put it between convolutions and recurrent layers.
    A view: it moves nothing."""

    type: ClassVar[str] = "to_sequence"

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        require_rank(self._where(where), shape, 3, "to_sequence reads a feature map.")
        return (shape[2], shape[0] * shape[1])

    def build(self, shape: Shape) -> nn.Module:
        return MapToSequence()


@dataclass(frozen=True)
class Flatten(Layer):
    """Flatten a feature map or a sequence into a vector. A view: it moves nothing."""

    type: ClassVar[str] = "flatten"

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        return (math.prod(shape),)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Flatten()


@dataclass(frozen=True)
class _RecurrentLayer(Layer):
    width: ClassVar[str | None] = "units"
    recurrent: ClassVar[bool] = True
    insert_rank: ClassVar[int | None] = 2
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen(
        {"units": _WIDTHS, "bidirectional": (False, True)})
    # Inserted layers keep the rank, so the rest of the network still fits.
    insert_fixed: ClassVar[Mapping[str, Any]] = _frozen({"return_sequences": True})
    gates: ClassVar[int] = 0
    module: ClassVar[type[nn.GRU] | type[nn.LSTM]]
    units: int
    bidirectional: bool = False
    return_sequences: bool = False

    checks: ClassVar[Mapping[str, Check]] = _frozen(
        {"units": positive_int, "bidirectional": flag, "return_sequences": flag})

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        require_rank(self._where(where), shape, 2,
                     "insert a to_sequence layer after the convolutions.")
        width = self.units * self.directions
        return (shape[0], width) if self.return_sequences else (width,)

    def build(self, shape: Shape) -> nn.Module:
        rnn = self.module(shape[1], self.units, batch_first=True,
                          bidirectional=self.bidirectional)
        return Recurrent(rnn, self.return_sequences)

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        steps, features = inp
        h, g, d = self.units, self.gates, self.directions
        return LayerCost(params=d * g * (features * h + h * h + 2 * h),
                         macs=d * steps * g * (features * h + h * h),
                         activations=math.prod(inp) + math.prod(out))


@dataclass(frozen=True)
class GRU(_RecurrentLayer):
    """Gated recurrent unit over a sequence. Without ``return_sequences`` the output is
    the final state of each direction, concatenated."""

    type: ClassVar[str] = "gru"
    gates: ClassVar[int] = 3
    module: ClassVar[type[nn.GRU] | type[nn.LSTM]] = nn.GRU


@dataclass(frozen=True)
class LSTM(_RecurrentLayer):
    """Long short-term memory over a sequence. Without ``return_sequences`` the output is
    the final hidden state of each direction, concatenated."""

    type: ClassVar[str] = "lstm"
    gates: ClassVar[int] = 4
    module: ClassVar[type[nn.GRU] | type[nn.LSTM]] = nn.LSTM


@dataclass(frozen=True)
class Linear(Layer):
    """Fully connected layer (with bias) on a vector, then the activation. Use
    ``activation="none"`` for the classifier that emits logits."""

    type: ClassVar[str] = "linear"
    width: ClassVar[str | None] = "units"
    insert_rank: ClassVar[int | None] = 1
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen({"units": _WIDTHS})
    units: int
    activation: str = "relu"

    checks: ClassVar[Mapping[str, Check]] = _frozen(
        {"units": positive_int, "activation": one_of(ACTIVATIONS)})

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        require_rank(self._where(where), shape, 1,
                     "insert global_avg_pool or flatten before a linear layer.")
        return (self.units,)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Sequential(nn.Linear(shape[0], self.units), activation(self.activation))

    def cost(self, inp: Shape, out: Shape) -> LayerCost:
        return LayerCost(params=inp[0] * self.units + self.units, macs=inp[0] * self.units,
                         activations=inp[0] + self.units)


@dataclass(frozen=True)
class Dropout(Layer):
    """Dropout with probability ``rate`` during training; the identity at inference, so
    it moves nothing."""

    type: ClassVar[str] = "dropout"
    insert_rank: ClassVar[int | None] = 1
    insert_choices: ClassVar[Mapping[str, tuple[Any, ...]]] = _frozen(
        {"rate": (0.1, 0.3, 0.5)})
    rate: float = 0.5

    checks: ClassVar[Mapping[str, Check]] = _frozen({"rate": probability})

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        return shape

    def build(self, shape: Shape) -> nn.Module:
        return nn.Dropout(self.rate)


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type: cls
    for cls in (Conv2d, SeparableConv2d, InvertedResidual, BasicBlock, MaxPool2d, AvgPool2d,
                GlobalAvgPool, ToSequence, Flatten, GRU, LSTM, Linear, Dropout)
}
"""Every layer type by name: the registry that specs, the resource model and the
architecture space read."""


def required_hyperparameters(cls: type[Layer]) -> list[str]:
    """The hyperparameters of a layer type that have no default."""
    return [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]


def layer_from_dict(data: Mapping[str, Any]) -> Layer:
    """The layer that :meth:`Layer.to_dict` wrote.

    Raises:
        SpecError: Unknown type, unknown or missing hyperparameter, or a bad value.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"a layer must be an object with a 'type', got {data!r}.")
    kind = data.get("type")
    if kind not in LAYER_TYPES:
        raise SpecError(f"unknown layer type {kind!r}; expected one of {sorted(LAYER_TYPES)}.")
    cls = LAYER_TYPES[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names - {"type"})
    if unknown:
        raise SpecError(
            f"{kind}: unknown hyperparameter(s) {unknown}; expected some of {sorted(names)}."
        )
    kwargs = {k: v for k, v in data.items() if k != "type"}
    missing = sorted(set(required_hyperparameters(cls)) - set(kwargs))
    if missing:
        raise SpecError(f"{kind}: missing hyperparameter(s) {missing}.")
    return cls(**kwargs)
