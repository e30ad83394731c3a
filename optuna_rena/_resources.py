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

from dataclasses import dataclass

import torch

from optuna_rena._metrics import ANALYTIC_METRICS
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import Shape


class _Derived:
    """FLOPs and compute intensity, which follow from MACs and bytes, for a layer and a
    network alike. A layer stores its MACs and bytes as fields; a network sums its
    layers' in properties of the same names."""

    macs: int
    bytes: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def compute_intensity(self) -> float:
        """FLOPs per byte moved; 0 for what moves nothing."""
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class LayerResources(_Derived):
    """One layer's resources, per sample."""

    index: int
    type: str
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    bytes: int


@dataclass(frozen=True)
class NetworkResources(_Derived):
    """A network's resources, per sample, with the per-layer breakdown."""

    layers: tuple[LayerResources, ...]
    dtype_bytes: int

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:  # type: ignore[override]
        return sum(layer.macs for layer in self.layers)

    @property
    def bytes(self) -> int:  # type: ignore[override]
        return sum(layer.bytes for layer in self.layers)

    def as_dict(self) -> dict[str, float]:
        """The totals by metric name, as constraints and trial attributes name them."""
        return {name: getattr(self, name) for name in ANALYTIC_METRICS}


class ResourceModel:
    """Counts RENA's metrics for network specs, analytically, before any tensor exists.

    The counting conventions are in this module's docstring; each layer type's
    formula is its :meth:`~optuna_rena.Layer.cost`. They are exact: ``params``
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
            cost = layer.cost(inp, out)
            layers.append(LayerResources(
                index=i, type=layer.type, input_shape=inp, output_shape=out,
                params=cost.params, macs=cost.macs,
                bytes=self.dtype_bytes * (cost.params + cost.activations),
            ))
        return NetworkResources(tuple(layers), self.dtype_bytes)
