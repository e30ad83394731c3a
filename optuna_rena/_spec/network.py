"""Networks: an input and an ordered list of layers that builds a real PyTorch model.

A :class:`NetworkSpec` is declarative data. It validates every hyperparameter when a layer
is made and propagates shapes through the whole network when the spec is made, so an
impossible network (a feature map shrinking below one pixel, a recurrent layer fed a
feature map) is rejected with an error naming the layer before any tensor exists. Every
spec that exists can therefore be built, counted and embedded by the policy.

Shapes are per sample, without the batch dimension:

* rank 3, ``(channels, height, width)``: images and feature maps. Audio features
  ``(frequency, time)`` enter as ``(1, frequency, time)``, so time is the width;
* rank 2, ``(time, features)``: sequences, produced by ``ToSequence``;
* rank 1, ``(features,)``: vectors, produced by pooling, flattening or a recurrent layer
  that returns only its final state.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
import json
import re
from typing import Any

from torch import nn

from optuna_rena._spec.checks import positive_int
from optuna_rena._spec.checks import set_field
from optuna_rena._spec.checks import Shape
from optuna_rena._spec.checks import SpecError
from optuna_rena._spec.layers import LAYER_TYPES
from optuna_rena._spec.layers import Layer
from optuna_rena._spec.layers import layer_from_dict


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
        set_field(self, "shape", tuple(
            positive_int("input", n, v) for n, v in zip(names, self.shape)
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
        set_field(self, "layers", layers)
        set_field(self, "_shapes", tuple(shapes))

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
            SpecError: Not JSON, JSON nested more than 32 levels deep, or not a valid spec.
        """
        if isinstance(text, str):
            _check_nesting(text)
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as e:
            raise SpecError(f"network spec: not valid JSON ({e}).") from None
        except RecursionError:
            raise SpecError("network spec: the JSON nests too deeply to read.") from None
        return cls.from_dict(data)


_MAX_NESTING = 32
"""Levels of JSON arrays and objects that a spec may nest; a spec itself uses 4."""

# A JSON string (brackets inside it are no nesting), or a bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _check_nesting(text: str) -> None:
    """Refuse JSON nested deeper than :data:`_MAX_NESTING` before ``json.loads`` reads it:
    it recurses once per level, and a deep enough file raises ``RecursionError``."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > _MAX_NESTING:
                raise SpecError(f"network spec: the JSON nests more than {_MAX_NESTING} "
                                f"levels deep (at character {match.start()}); a spec "
                                "nests 4.")
        elif token in "]}":
            depth -= 1
