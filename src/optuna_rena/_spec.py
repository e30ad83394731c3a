"""The network specification: an ordered list of layers that builds a real PyTorch model.

A :class:`NetworkSpec` is declarative data. It validates every hyperparameter when a layer
is made and propagates shapes through the whole network when the spec is made, so an
impossible network (a feature map shrinking below one pixel, a recurrent layer fed a
feature map) is rejected with an error naming the layer before any tensor exists. Every
spec that exists can therefore be built, counted and embedded by the policy.

Shapes are per sample, without the batch dimension:

* rank 3, ``(channels, height, width)``: images and feature maps. Audio features
  ``(frequency, time)`` enter as ``(1, frequency, time)``, so time is the width;
* rank 2, ``(time, features)``: sequences, produced by :class:`ToSequence`;
* rank 1, ``(features,)``: vectors, produced by pooling, flattening or a recurrent layer
  that returns only its final state.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
from dataclasses import field
import json
import numbers
from typing import Any
from typing import ClassVar

import torch
from torch import nn


Shape = tuple[int, ...]

ACTIVATIONS = ("relu", "relu6", "none")
PADDINGS = ("same", "valid")


class SpecError(ValueError):
    """An invalid layer, input or network specification."""


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise SpecError(f"{owner}: {name} must be a positive integer, got {value!r}.")
    return int(value)


def _pair(owner: str, name: str, value: Any) -> tuple[int, int]:
    """Accept ``k`` or ``(h, w)``; kernels and strides are stored as ``(h, w)``."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise SpecError(
                f"{owner}: {name} must be an integer or a pair (height, width), got {value!r}."
            )
        return (_positive_int(owner, name, value[0]), _positive_int(owner, name, value[1]))
    v = _positive_int(owner, name, value)
    return (v, v)


def _odd_pair(owner: str, name: str, value: Any) -> tuple[int, int]:
    """A kernel whose "same" padding is symmetric, as a residual sum needs."""
    pair = _pair(owner, name, value)
    if pair[0] % 2 == 0 or pair[1] % 2 == 0:
        raise SpecError(f"{owner}: {name} must be odd so the block keeps its size, got "
                        f"{value!r}.")
    return pair


def _choice(owner: str, name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise SpecError(f"{owner}: {name} must be one of {list(choices)}, got {value!r}.")
    return str(value)


def _flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{owner}: {name} must be true or false, got {value!r}.")
    return value


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    return nn.Identity()


def _require_rank(index_name: str, shape: Shape, rank: int, hint: str) -> None:
    if len(shape) != rank:
        names = {1: "a vector (features,)", 2: "a sequence (time, features)",
                 3: "a feature map (channels, height, width)"}
        raise SpecError(
            f"{index_name} expects {names[rank]} but receives shape {shape} "
            f"({names[len(shape)]}); {hint}"
        )


def _conv_extent(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _spatial_out(
    where: str, shape: Shape, kernel: tuple[int, int], stride: tuple[int, int], same: bool
) -> tuple[int, int]:
    padding = (kernel[0] // 2, kernel[1] // 2) if same else (0, 0)
    out = tuple(
        _conv_extent(shape[1 + i], kernel[i], stride[i], padding[i]) for i in range(2)
    )
    if out[0] < 1 or out[1] < 1:
        raise SpecError(
            f"{where}: the spatial size would shrink below 1 (input {shape}, kernel {kernel}, "
            f"stride {stride}, padding {'same' if same else 'valid'}, output {out})."
        )
    return (out[0], out[1])


@dataclass(frozen=True)
class Layer:
    """Base class of all layer types. Subclasses are frozen dataclasses of hyperparameters."""

    type: ClassVar[str] = ""

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        """The per-sample output shape for a per-sample input ``shape``.

        Raises:
            SpecError: The layer cannot take ``shape``; the message starts with ``where``.
        """
        raise NotImplementedError

    def build(self, shape: Shape) -> nn.Module:
        """A fresh ``torch.nn.Module`` for a per-sample input ``shape``."""
        raise NotImplementedError

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


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class Conv2d(Layer):
    """2-D convolution, then batch norm and an activation.

    ``padding="same"`` pads ``kernel // 2`` on each side, so a stride-1 odd kernel keeps
    the size. Without batch norm the convolution has a bias.
    """

    type: ClassVar[str] = "conv2d"
    filters: int
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)
    padding: str = "same"
    batch_norm: bool = True
    activation: str = "relu"

    def __post_init__(self) -> None:
        _set(self, "filters", _positive_int(self.type, "filters", self.filters))
        _set(self, "kernel", _pair(self.type, "kernel", self.kernel))
        _set(self, "stride", _pair(self.type, "stride", self.stride))
        _set(self, "padding", _choice(self.type, "padding", self.padding, PADDINGS))
        _set(self, "batch_norm", _flag(self.type, "batch_norm", self.batch_norm))
        _set(self, "activation", _choice(self.type, "activation", self.activation, ACTIVATIONS))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        where = self._where(where)
        _require_rank(where, shape, 3, "convolutions need a feature map.")
        h, w = _spatial_out(where, shape, self.kernel, self.stride, self.padding == "same")  # type: ignore[arg-type]
        return (self.filters, h, w)

    def build(self, shape: Shape) -> nn.Module:
        kernel: tuple[int, int] = self.kernel  # type: ignore[assignment]
        padding = (kernel[0] // 2, kernel[1] // 2) if self.padding == "same" else (0, 0)
        conv = nn.Conv2d(shape[0], self.filters, kernel, self.stride, padding,
                         bias=not self.batch_norm)
        norm = nn.BatchNorm2d(self.filters) if self.batch_norm else nn.Identity()
        return nn.Sequential(conv, norm, _activation(self.activation))


@dataclass(frozen=True)
class SeparableConv2d(Layer):
    """Depthwise-separable convolution (MobileNet, DS-CNN): a depthwise ``kernel``
    convolution, then a pointwise 1x1 convolution to ``filters``; each followed by
    batch norm and the activation. Padding is ``same``."""

    type: ClassVar[str] = "separable_conv2d"
    filters: int
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)
    activation: str = "relu"

    def __post_init__(self) -> None:
        _set(self, "filters", _positive_int(self.type, "filters", self.filters))
        _set(self, "kernel", _pair(self.type, "kernel", self.kernel))
        _set(self, "stride", _pair(self.type, "stride", self.stride))
        _set(self, "activation", _choice(self.type, "activation", self.activation, ACTIVATIONS))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        where = self._where(where)
        _require_rank(where, shape, 3, "convolutions need a feature map.")
        h, w = _spatial_out(where, shape, self.kernel, self.stride, True)  # type: ignore[arg-type]
        return (self.filters, h, w)

    def build(self, shape: Shape) -> nn.Module:
        c = shape[0]
        kernel: tuple[int, int] = self.kernel  # type: ignore[assignment]
        return nn.Sequential(
            nn.Conv2d(c, c, kernel, self.stride, (kernel[0] // 2, kernel[1] // 2),
                      groups=c, bias=False),
            nn.BatchNorm2d(c),
            _activation(self.activation),
            nn.Conv2d(c, self.filters, 1, bias=False),
            nn.BatchNorm2d(self.filters),
            _activation(self.activation),
        )


class _Residual(nn.Module):
    """``body(x) + shortcut(x)``, then an optional activation."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None, post: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.post = post

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.body(x) + self.shortcut(x))


@dataclass(frozen=True)
class InvertedResidual(Layer):
    """MobileNetV2 inverted residual block (MBConv).

    A 1x1 expansion to ``expansion * in_channels`` (skipped when ``expansion == 1``), a
    depthwise ``kernel`` convolution (odd sizes) with ``stride``, and a linear 1x1 projection to
    ``filters``; batch norm after each. The input is added back when the stride is 1 and
    the channel count is unchanged, the only case where the shapes allow it.
    """

    type: ClassVar[str] = "inverted_residual"
    filters: int
    expansion: int = 6
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)
    activation: str = "relu"

    def __post_init__(self) -> None:
        _set(self, "filters", _positive_int(self.type, "filters", self.filters))
        _set(self, "expansion", _positive_int(self.type, "expansion", self.expansion))
        _set(self, "kernel", _odd_pair(self.type, "kernel", self.kernel))
        _set(self, "stride", _pair(self.type, "stride", self.stride))
        _set(self, "activation", _choice(self.type, "activation", self.activation, ACTIVATIONS))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        where = self._where(where)
        _require_rank(where, shape, 3, "convolutions need a feature map.")
        h, w = _spatial_out(where, shape, self.kernel, self.stride, True)  # type: ignore[arg-type]
        return (self.filters, h, w)

    def has_residual(self, shape: Shape) -> bool:
        return self.stride == (1, 1) and shape[0] == self.filters

    def build(self, shape: Shape) -> nn.Module:
        c = shape[0]
        hidden = c * self.expansion
        kernel: tuple[int, int] = self.kernel  # type: ignore[assignment]
        layers: list[nn.Module] = []
        if self.expansion != 1:
            layers += [nn.Conv2d(c, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                       _activation(self.activation)]
        layers += [
            nn.Conv2d(hidden, hidden, kernel, self.stride, (kernel[0] // 2, kernel[1] // 2),
                      groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            _activation(self.activation),
            nn.Conv2d(hidden, self.filters, 1, bias=False),
            nn.BatchNorm2d(self.filters),
        ]
        body = nn.Sequential(*layers)
        if self.has_residual(shape):
            return _Residual(body, None, nn.Identity())
        return body


@dataclass(frozen=True)
class BasicBlock(Layer):
    """ResNet basic block: two ``kernel`` convolutions (odd sizes) with batch norm, the first with
    ``stride``; a 1x1 projection shortcut when the shape changes; ReLU after the sum."""

    type: ClassVar[str] = "basic_block"
    filters: int
    kernel: tuple[int, int] | int = (3, 3)
    stride: tuple[int, int] | int = (1, 1)

    def __post_init__(self) -> None:
        _set(self, "filters", _positive_int(self.type, "filters", self.filters))
        _set(self, "kernel", _odd_pair(self.type, "kernel", self.kernel))
        _set(self, "stride", _pair(self.type, "stride", self.stride))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        where = self._where(where)
        _require_rank(where, shape, 3, "convolutions need a feature map.")
        h, w = _spatial_out(where, shape, self.kernel, self.stride, True)  # type: ignore[arg-type]
        return (self.filters, h, w)

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
        return _Residual(body, shortcut, nn.ReLU(inplace=True))


@dataclass(frozen=True)
class _Pool2d(Layer):
    kernel: tuple[int, int] | int = (2, 2)
    stride: tuple[int, int] | int | None = None

    def __post_init__(self) -> None:
        _set(self, "kernel", _pair(self.type, "kernel", self.kernel))
        # Like torch, the stride defaults to the kernel: non-overlapping windows.
        stride = self.kernel if self.stride is None else self.stride
        _set(self, "stride", _pair(self.type, "stride", stride))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        where = self._where(where)
        _require_rank(where, shape, 3, "pooling needs a feature map.")
        h, w = _spatial_out(where, shape, self.kernel, self.stride, False)  # type: ignore[arg-type]
        return (shape[0], h, w)


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
        _require_rank(self._where(where), shape, 3, "pooling needs a feature map.")
        return (shape[0],)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


class _ToSequence(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.permute(0, 3, 1, 2).reshape(n, w, c * h)


@dataclass(frozen=True)
class ToSequence(Layer):
    """Read a feature map as a sequence over its width (time for audio):
    ``(C, H, W) -> (W, C * H)``. Put it between convolutions and recurrent layers."""

    type: ClassVar[str] = "to_sequence"

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        _require_rank(self._where(where), shape, 3, "to_sequence reads a feature map.")
        return (shape[2], shape[0] * shape[1])

    def build(self, shape: Shape) -> nn.Module:
        return _ToSequence()


@dataclass(frozen=True)
class Flatten(Layer):
    """Flatten a feature map or a sequence into a vector."""

    type: ClassVar[str] = "flatten"

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        n = 1
        for s in shape:
            n *= s
        return (n,)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Flatten()


class _Recurrent(nn.Module):
    def __init__(self, rnn: nn.GRU | nn.LSTM, return_sequences: bool) -> None:
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(x)
        if self.return_sequences:
            return out
        h_n = state[0] if isinstance(state, tuple) else state
        # h_n is (directions, batch, units): concatenate the final state of each direction.
        return h_n.permute(1, 0, 2).reshape(x.shape[0], -1)


@dataclass(frozen=True)
class _RecurrentLayer(Layer):
    units: int
    bidirectional: bool = False
    return_sequences: bool = False

    gates: ClassVar[int] = 0

    def __post_init__(self) -> None:
        _set(self, "units", _positive_int(self.type, "units", self.units))
        _set(self, "bidirectional", _flag(self.type, "bidirectional", self.bidirectional))
        _set(self, "return_sequences",
             _flag(self.type, "return_sequences", self.return_sequences))

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        _require_rank(self._where(where), shape, 2,
                      "insert a to_sequence layer after the convolutions.")
        width = self.units * self.directions
        return (shape[0], width) if self.return_sequences else (width,)

    def _rnn_class(self) -> type[nn.GRU] | type[nn.LSTM]:
        raise NotImplementedError

    def build(self, shape: Shape) -> nn.Module:
        rnn = self._rnn_class()(shape[1], self.units, batch_first=True,
                                bidirectional=self.bidirectional)
        return _Recurrent(rnn, self.return_sequences)


@dataclass(frozen=True)
class GRU(_RecurrentLayer):
    """Gated recurrent unit over a sequence. Without ``return_sequences`` the output is
    the final state of each direction, concatenated."""

    type: ClassVar[str] = "gru"
    gates: ClassVar[int] = 3

    def _rnn_class(self) -> type[nn.GRU]:
        return nn.GRU


@dataclass(frozen=True)
class LSTM(_RecurrentLayer):
    """Long short-term memory over a sequence. Without ``return_sequences`` the output is
    the final hidden state of each direction, concatenated."""

    type: ClassVar[str] = "lstm"
    gates: ClassVar[int] = 4

    def _rnn_class(self) -> type[nn.LSTM]:
        return nn.LSTM


@dataclass(frozen=True)
class Linear(Layer):
    """Fully connected layer (with bias) on a vector, then the activation. Use
    ``activation="none"`` for the classifier that emits logits."""

    type: ClassVar[str] = "linear"
    units: int
    activation: str = "relu"

    def __post_init__(self) -> None:
        _set(self, "units", _positive_int(self.type, "units", self.units))
        _set(self, "activation", _choice(self.type, "activation", self.activation, ACTIVATIONS))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        _require_rank(self._where(where), shape, 1,
                      "insert global_avg_pool or flatten before a linear layer.")
        return (self.units,)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Sequential(nn.Linear(shape[0], self.units), _activation(self.activation))


@dataclass(frozen=True)
class Dropout(Layer):
    """Dropout with probability ``rate`` during training; the identity at inference."""

    type: ClassVar[str] = "dropout"
    rate: float = 0.5

    def __post_init__(self) -> None:
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise SpecError(f"{self.type}: rate must be a number in [0, 1), got {rate!r}.")
        _set(self, "rate", float(rate))

    def output_shape(self, shape: Shape, where: str = "") -> Shape:
        return shape

    def build(self, shape: Shape) -> nn.Module:
        return nn.Dropout(self.rate)


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type: cls
    for cls in (Conv2d, SeparableConv2d, InvertedResidual, BasicBlock, MaxPool2d, AvgPool2d,
                GlobalAvgPool, ToSequence, Flatten, GRU, LSTM, Linear, Dropout)
}


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
    try:
        return cls(**kwargs)
    except TypeError as e:  # a missing required hyperparameter
        missing = sorted(
            f.name for f in dataclasses.fields(cls)
            if f.name not in kwargs and f.default is dataclasses.MISSING
        )
        raise SpecError(f"{kind}: missing hyperparameter(s) {missing}.") from e


@dataclass(frozen=True)
class InputSpec:
    """What the network reads, per sample.

    Use :meth:`image` for ``(channels, height, width)`` images and :meth:`audio` for
    ``(frequency, time)`` features such as log-mel spectrograms or MFCCs. The built model
    takes a batch of ``tensor_shape``: audio enters as one channel, ``(1, frequency, time)``.
    """

    kind: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        expected = {"image": ("channels", "height", "width"), "audio": ("frequency", "time")}
        if self.kind not in expected:
            raise SpecError(f"input: kind must be 'image' or 'audio', got {self.kind!r}.")
        names = expected[self.kind]
        if not isinstance(self.shape, (list, tuple)) or len(self.shape) != len(names):
            raise SpecError(
                f"input: a {self.kind} shape is ({', '.join(names)}), got {self.shape!r}."
            )
        _set(self, "shape", tuple(
            _positive_int("input", n, v) for n, v in zip(names, self.shape)
        ))

    @classmethod
    def image(cls, channels: int, height: int, width: int) -> InputSpec:
        return cls("image", (channels, height, width))

    @classmethod
    def audio(cls, frequency: int, time: int) -> InputSpec:
        return cls("audio", (frequency, time))

    @property
    def tensor_shape(self) -> Shape:
        """The per-sample shape of the tensor the built model takes."""
        return self.shape if self.kind == "image" else (1, *self.shape)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.shape)}


@dataclass(frozen=True)
class NetworkSpec:
    """A feed-forward network: an input and an ordered list of layers.

    Making a spec validates it: every layer's input shape is propagated from ``input``,
    and a layer that cannot take its input raises :class:`SpecError` naming the layer's
    index and type. A spec is immutable and hashable; edits make new specs.

    Example:

        .. code-block:: python

            from optuna_rena import Conv2d, GlobalAvgPool, InputSpec, Linear, NetworkSpec

            spec = NetworkSpec(
                InputSpec.image(3, 32, 32),
                [Conv2d(16), GlobalAvgPool(), Linear(10, activation="none")],
            )
            model = spec.build()  # a torch.nn.Sequential
            assert NetworkSpec.from_json(spec.to_json()) == spec

    Args:
        input: The per-sample input.
        layers: The layers, first to last.
        name: A label for reports.
    """

    input: InputSpec
    layers: tuple[Layer, ...]
    name: str = ""
    _shapes: tuple[Shape, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.input, InputSpec):
            raise SpecError(f"input must be an InputSpec, got {self.input!r}.")
        if not isinstance(self.layers, Iterable) or isinstance(self.layers, (str, Mapping)):
            raise SpecError(f"layers must be a list of layers, got {self.layers!r}.")
        layers = tuple(self.layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer) or type(layer) not in LAYER_TYPES.values():
                raise SpecError(
                    f"layer {i} must be one of the layer types {sorted(LAYER_TYPES)}, "
                    f"got {layer!r}."
                )
        if not layers:
            raise SpecError("a network needs at least one layer.")
        shapes = [self.input.tensor_shape]
        for i, layer in enumerate(layers):
            shapes.append(layer.output_shape(shapes[-1], where=f"layer {i} ({layer.type})"))
        _set(self, "layers", layers)
        _set(self, "_shapes", tuple(shapes))

    @property
    def shapes(self) -> tuple[Shape, ...]:
        """Per-sample shapes: the input's, then each layer's output."""
        return self._shapes

    @property
    def output_shape(self) -> Shape:
        return self._shapes[-1]

    def __len__(self) -> int:
        return len(self.layers)

    def with_layers(self, layers: Sequence[Layer]) -> NetworkSpec:
        """The same input and name with other layers, validated."""
        return NetworkSpec(self.input, tuple(layers), self.name)

    def build(self) -> nn.Sequential:
        """A fresh ``torch.nn.Sequential``, one child per layer, on the CPU in float32.

        It takes a batch of shape ``(N, *input.tensor_shape)``.
        """
        return nn.Sequential(
            *(layer.build(shape) for layer, shape in zip(self.layers, self._shapes))
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "input": self.input.to_dict(),
                "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkSpec:
        """The spec that :meth:`to_dict` wrote.

        Raises:
            SpecError: The dict is malformed; the message names the layer and the value.
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"a network spec must be an object, got {type(data).__name__}.")
        unknown = sorted(set(data) - {"name", "input", "layers"})
        if unknown:
            raise SpecError(f"network spec: unknown key(s) {unknown}; "
                            "expected 'input', 'layers' and optionally 'name'.")
        for key in ("input", "layers"):
            if key not in data:
                raise SpecError(f"network spec: missing key {key!r}.")
        raw_input = data["input"]
        if not isinstance(raw_input, Mapping) or set(raw_input) != {"kind", "shape"}:
            raise SpecError(
                f"network spec: input must be {{'kind': ..., 'shape': [...]}}, got {raw_input!r}."
            )
        raw_layers = data["layers"]
        if not isinstance(raw_layers, list):
            raise SpecError(f"network spec: layers must be a list, got {raw_layers!r}.")
        layers = []
        for i, raw in enumerate(raw_layers):
            try:
                layers.append(layer_from_dict(raw))
            except SpecError as e:
                raise SpecError(f"layer {i}: {e}") from None
        name = data.get("name", "")
        if not isinstance(name, str):
            raise SpecError(f"network spec: name must be a string, got {name!r}.")
        return cls(InputSpec(raw_input["kind"], raw_input["shape"]), tuple(layers), name)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        """The spec that :meth:`to_json` wrote.

        Raises:
            SpecError: Not JSON, or not a valid spec.
        """
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as e:
            raise SpecError(f"network spec: not valid JSON ({e}).") from None
        return cls.from_dict(data)
