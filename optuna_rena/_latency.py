"""Measured latency: the median wall time of real forward passes."""

from __future__ import annotations

from collections.abc import Sequence
import math
import os
import statistics
import time

import torch
from torch import nn

from optuna_rena._device import default_device
from optuna_rena._spec import NetworkSpec


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
    elif isinstance(model, nn.Module):
        if input_shape is None:
            raise ValueError("measure_latency() needs input_shape when given a module.")
    else:
        raise ValueError(f"model must be a NetworkSpec or a torch.nn.Module, got {model!r}.")
    for name, value, low in (("batch_size", batch_size, 1), ("repeats", repeats, 1),
                             ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    dev = torch.device(device) if device is not None else default_device()
    _check_memory(model, input_shape, batch_size, dev)
    module = model.build() if isinstance(model, NetworkSpec) else model
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


def _check_memory(model: NetworkSpec | nn.Module, input_shape: Sequence[int],
                  batch_size: int, device: torch.device) -> None:
    """Refuse, before anything is allocated, a forward pass that the device's memory
    cannot hold: torch would try, and a spec's shapes may ask for terabytes.

    The estimate is what a pass holds at least at its largest layer: the float32 weights,
    the input, and that layer's input and output (with an inverted residual's hidden
    tensors). Of a module, only the input is known.
    """
    elements = batch_size * math.prod(input_shape)
    what = "input"
    if isinstance(model, NetworkSpec):
        shapes = model.shapes
        costs = [layer.cost(shapes[i], shapes[i + 1]) for i, layer in enumerate(model.layers)]
        elements += sum(c.params for c in costs) + batch_size * max(
            c.activations for c in costs)
        what = "weights, input and the largest layer's activations"
    need = _FLOAT32_BYTES * elements
    limit = _memory_of(device)
    if limit is not None and need > limit:
        kind = "network" if isinstance(model, NetworkSpec) else "module"
        raise ValueError(
            f"a forward pass of this {kind} at batch size {batch_size} needs about "
            f"{_size(need)} ({what}, in float32), more than the {_size(limit)} of memory "
            f"of {device}; measure a smaller network or batch size.")


_FLOAT32_BYTES = 4


def _memory_of(device: torch.device) -> int | None:
    """The device's memory in bytes (the host's for anything but CUDA); ``None`` when
    unknown."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError, RuntimeError, AssertionError):
        return None  # no sysconf (Windows), or no CUDA: torch says so when it runs


def _size(n: float) -> str:
    """``n`` bytes in decimal units, as ``96.8 TB``."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000:
            break
        n /= 1000
    else:
        unit = "PB"
    return f"{n:.3g} {unit}"
