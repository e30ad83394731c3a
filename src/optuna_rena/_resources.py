"""The resource model: RENA's metrics, counted analytically from a :class:`NetworkSpec`.

Conventions (per sample, that is batch size 1, at inference):

* **params**: trainable parameters, exactly ``sum(p.numel() for p in model.parameters())``
  of the built model, batch-norm scale and shift included (running statistics are buffers).
* **FLOPs**: ``2 * MACs``, one multiply-add being two FLOPs, over convolutions, linear
  layers and the matrix products of recurrent layers: the operations that
  ``torch.utils.flop_counter.FlopCounterMode`` counts, and it counts them the same way.
  (On the CPU, ``nn.LSTM`` runs as a fused oneDNN kernel that FlopCounterMode does not
  count at all; with ``torch.backends.mkldnn`` disabled it agrees with us again.)
  Element-wise work (biases, batch norm, activations, pooling, residual sums, recurrent
  gate non-linearities) is not counted; on the zoo's networks it is a few percent of the
  total. ``macs`` is reported too: NAS-Bench-Macro's ``flops`` column is MACs.
* **bytes**: memory traffic, ``dtype size * (weights + activations)``. A layer reads its
  weights once, and each primitive operation inside it (a convolution fused with its batch
  norm and activation, a pooling, a recurrent layer over the whole sequence) reads its
  input and writes its output once. So an inverted residual block counts its expanded
  hidden tensors, which real accelerators move, while views (flatten, to_sequence) and
  dropout, a no-op at inference, move nothing.
* **compute intensity**: FLOPs per byte, RENA's proxy for data reuse on accelerators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
import statistics
import time

import torch
from torch import nn

from optuna_rena._spec import AvgPool2d
from optuna_rena._spec import BasicBlock
from optuna_rena._spec import Conv2d
from optuna_rena._spec import Dropout
from optuna_rena._spec import Flatten
from optuna_rena._spec import GlobalAvgPool
from optuna_rena._spec import InvertedResidual
from optuna_rena._spec import Layer
from optuna_rena._spec import Linear
from optuna_rena._spec import MaxPool2d
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import SeparableConv2d
from optuna_rena._spec import Shape
from optuna_rena._spec import ToSequence
from optuna_rena._spec import _RecurrentLayer


@dataclass(frozen=True)
class LayerResources:
    """One layer's resources, per sample."""

    index: int
    type: str
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    bytes: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def compute_intensity(self) -> float:
        """FLOPs per byte moved; 0 for a layer that moves nothing."""
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class NetworkResources:
    """A network's resources, per sample, with the per-layer breakdown."""

    layers: tuple[LayerResources, ...]
    dtype_bytes: int

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def bytes(self) -> int:
        return sum(layer.bytes for layer in self.layers)

    @property
    def compute_intensity(self) -> float:
        """Total FLOPs per total byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0

    def as_dict(self) -> dict[str, float]:
        """The totals by metric name, as constraints and trial attributes name them."""
        return {"params": self.params, "flops": self.flops, "macs": self.macs,
                "bytes": self.bytes, "compute_intensity": self.compute_intensity}


@dataclass
class _Tally:
    params: int = 0
    macs: int = 0
    activations: int = 0

    def conv(self, c_in: int, c_out: int, kernel: tuple[int, int], groups: int,
             out_hw: tuple[int, int], in_hw: tuple[int, int], norm: bool, bias: bool) -> None:
        k = kernel[0] * kernel[1]
        self.params += c_out * (c_in // groups) * k + (2 * c_out if norm else 0) + (
            c_out if bias else 0)
        self.macs += c_out * (c_in // groups) * k * out_hw[0] * out_hw[1]
        self.activations += c_in * in_hw[0] * in_hw[1] + c_out * out_hw[0] * out_hw[1]


def _hw(shape: Shape) -> tuple[int, int]:
    return (shape[1], shape[2])


def _count(layer: Layer, inp: Shape, out: Shape) -> _Tally:
    t = _Tally()
    if isinstance(layer, Conv2d):
        t.conv(inp[0], out[0], layer.kernel, 1, _hw(out), _hw(inp),  # type: ignore[arg-type]
               layer.batch_norm, not layer.batch_norm)
    elif isinstance(layer, SeparableConv2d):
        c = inp[0]
        t.conv(c, c, layer.kernel, c, _hw(out), _hw(inp), True, False)  # type: ignore[arg-type]
        t.conv(c, out[0], (1, 1), 1, _hw(out), _hw(out), True, False)
    elif isinstance(layer, InvertedResidual):
        c = inp[0]
        hidden = c * layer.expansion
        if layer.expansion != 1:
            t.conv(c, hidden, (1, 1), 1, _hw(inp), _hw(inp), True, False)
        t.conv(hidden, hidden, layer.kernel, hidden, _hw(out), _hw(inp),  # type: ignore[arg-type]
               True, False)
        t.conv(hidden, out[0], (1, 1), 1, _hw(out), _hw(out), True, False)
    elif isinstance(layer, BasicBlock):
        t.conv(inp[0], out[0], layer.kernel, 1, _hw(out), _hw(inp), True, False)  # type: ignore[arg-type]
        t.conv(out[0], out[0], layer.kernel, 1, _hw(out), _hw(out), True, False)  # type: ignore[arg-type]
        if layer.has_projection(inp):
            t.conv(inp[0], out[0], (1, 1), 1, _hw(out), _hw(inp), True, False)
    elif isinstance(layer, (MaxPool2d, AvgPool2d, GlobalAvgPool)):
        t.activations += math.prod(inp) + math.prod(out)
    elif isinstance(layer, _RecurrentLayer):
        steps, features = inp
        h, g, d = layer.units, layer.gates, layer.directions
        t.params += d * g * (features * h + h * h + 2 * h)
        t.macs += d * steps * g * (features * h + h * h)
        t.activations += math.prod(inp) + math.prod(out)
    elif isinstance(layer, Linear):
        t.params += inp[0] * layer.units + layer.units
        t.macs += inp[0] * layer.units
        t.activations += inp[0] + layer.units
    elif isinstance(layer, (ToSequence, Flatten, Dropout)):
        pass
    else:  # pragma: no cover - every layer type in LAYER_TYPES is handled above
        raise TypeError(f"no resource formula for layer type {layer.type!r}.")
    return t


class ResourceModel:
    """Counts RENA's metrics for network specs, analytically, before any tensor exists.

    The counting conventions are in this module's docstring. They are exact: ``params``
    equals the built model's parameter count, and ``flops`` equals what
    ``torch.utils.flop_counter.FlopCounterMode`` measures for a batch of one.

    Example:

        .. code-block:: python

            from optuna_rena import ResourceModel, zoo

            resources = ResourceModel().count(zoo.nas_bench_macro("11111111"))
            print(resources.params, resources.flops, resources.compute_intensity)

    Args:
        dtype: The element type of weights and activations, which sets the bytes moved:
            a ``torch.dtype`` such as ``torch.float16``, or its name.
    """

    def __init__(self, dtype: torch.dtype | str = torch.float32) -> None:
        if isinstance(dtype, str):
            resolved = getattr(torch, dtype, None)
            if not isinstance(resolved, torch.dtype):
                raise ValueError(
                    f"dtype must be a torch dtype or its name such as 'float32', got {dtype!r}."
                )
            dtype = resolved
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"dtype must be a torch dtype, got {dtype!r}.")
        self.dtype = dtype
        self.dtype_bytes = torch.empty((), dtype=dtype).element_size()

    def __repr__(self) -> str:
        return f"ResourceModel(dtype={self.dtype})"

    def count(self, spec: NetworkSpec) -> NetworkResources:
        """Per-layer and total resources of ``spec``, per sample."""
        if not isinstance(spec, NetworkSpec):
            raise ValueError(f"count() takes a NetworkSpec, got {type(spec).__name__}.")
        layers = []
        for i, layer in enumerate(spec.layers):
            inp, out = spec.shapes[i], spec.shapes[i + 1]
            t = _count(layer, inp, out)
            layers.append(LayerResources(
                index=i, type=layer.type, input_shape=inp, output_shape=out,
                params=t.params, macs=t.macs,
                bytes=self.dtype_bytes * (t.params + t.activations),
            ))
        return NetworkResources(tuple(layers), self.dtype_bytes)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def measure_latency(
    model: NetworkSpec | nn.Module,
    input_shape: Sequence[int] | None = None,
    *,
    batch_size: int = 1,
    repeats: int = 20,
    warmup: int = 3,
    device: torch.device | str | None = None,
) -> float:
    """The median wall time, in milliseconds, of a forward pass at inference.

    Args:
        model: A spec, which is built with fresh weights, or a module.
        input_shape: The per-sample input shape; taken from the spec when ``model`` is one.
        batch_size: Samples per forward pass.
        repeats: Timed passes; the median is returned.
        warmup: Untimed passes first, for lazy initialisation and caches.
        device: Where to run; CUDA when present by default.
    """
    if isinstance(model, NetworkSpec):
        input_shape = input_shape or model.input.tensor_shape
        module: nn.Module = model.build()
    elif isinstance(model, nn.Module):
        if input_shape is None:
            raise ValueError("measure_latency() needs input_shape when given a module.")
        module = model
    else:
        raise ValueError(f"model must be a NetworkSpec or a torch.nn.Module, got {model!r}.")
    for name, value, low in (("batch_size", batch_size, 1), ("repeats", repeats, 1),
                             ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    dev = torch.device(device) if device is not None else default_device()
    module = module.to(dev).eval()
    x = torch.randn(batch_size, *input_shape, device=dev)
    times: list[float] = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            start = time.perf_counter()
            module(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)

