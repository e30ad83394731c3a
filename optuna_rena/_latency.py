"""Measured latency: the median wall time of real forward passes."""

from __future__ import annotations

from collections.abc import Sequence
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
