from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from optuna_rena import Conv2d
from optuna_rena import GlobalAvgPool
from optuna_rena import InputSpec
from optuna_rena import InvertedResidual
from optuna_rena import Linear
from optuna_rena import measure_latency
from optuna_rena import NetworkSpec
from optuna_rena import ResourceModel
from optuna_rena import zoo

from helpers import ALL_SPECS


@pytest.mark.parametrize("make", ALL_SPECS)
def test_params_equal_the_built_models_parameter_count(make: Any) -> None:
    spec = make()
    resources = ResourceModel().count(spec)
    model = spec.build()
    assert resources.params == sum(p.numel() for p in model.parameters())
    for module, layer in zip(model, resources.layers):
        assert layer.params == sum(p.numel() for p in module.parameters()), layer.type


@pytest.mark.parametrize("make", ALL_SPECS)
def test_flops_equal_torch_flop_counter(make: Any) -> None:
    spec = make()
    resources = ResourceModel().count(spec)
    model = spec.build().eval()
    x = torch.randn(1, *spec.input.tensor_shape)
    # On the CPU, LSTM runs as one fused oneDNN kernel that FlopCounterMode has no formula
    # for (it reports 0); without oneDNN it runs as the matrix products that it counts.
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        for module, layer in zip(model, resources.layers):
            with FlopCounterMode(display=False) as counter:
                x = module(x)
            assert layer.flops == counter.get_total_flops(), f"layer {layer.index} ({layer.type})"
            assert layer.flops == 2 * layer.macs


def test_bytes_and_compute_intensity_by_hand() -> None:
    # conv 3->4, 3x3 same, on 5x5 with batch norm: 108 weights + 8 BN; activations 75 in,
    # 100 out. Global pooling moves 100 in and 4 out. Linear 4->2: 10 weights, 4 in, 2 out.
    spec = NetworkSpec(InputSpec.image(3, 5, 5), [Conv2d(4), GlobalAvgPool(), Linear(2)])
    r = ResourceModel().count(spec)
    conv, pool, fc = r.layers
    assert (conv.params, conv.macs, conv.bytes) == (116, 108 * 25, 4 * (116 + 75 + 100))
    assert (pool.params, pool.macs, pool.bytes) == (0, 0, 4 * 104)
    assert (fc.params, fc.macs, fc.bytes) == (10, 8, 4 * 16)
    assert r.flops == 2 * (2700 + 8)
    assert r.bytes == conv.bytes + pool.bytes + fc.bytes
    assert r.compute_intensity == pytest.approx(r.flops / r.bytes)
    assert conv.compute_intensity == pytest.approx(5400 / 1164)
    assert r.as_dict()["params"] == 126


def test_inverted_residual_counts_its_hidden_activations() -> None:
    spec = NetworkSpec(InputSpec.image(4, 6, 6), [InvertedResidual(4, 3, 3)])
    r = ResourceModel().count(spec).layers[0]
    hidden = 12 * 36
    activations = (4 * 36 + hidden) + (hidden + hidden) + (hidden + 4 * 36)
    assert r.bytes == 4 * (r.params + activations)


def test_dtype_sets_the_bytes() -> None:
    spec = zoo.ds_cnn()
    full = ResourceModel().count(spec)
    half = ResourceModel(torch.float16).count(spec)
    assert ResourceModel("bfloat16").dtype_bytes == 2
    assert half.bytes * 2 == full.bytes
    assert half.flops == full.flops and half.params == full.params
    assert half.compute_intensity == pytest.approx(2 * full.compute_intensity)


@pytest.mark.parametrize("dtype", ["float33", "nn", 4])
def test_bad_dtype(dtype: Any) -> None:
    with pytest.raises(ValueError, match="dtype must be a torch dtype"):
        ResourceModel(dtype)


def test_count_needs_a_spec() -> None:
    with pytest.raises(ValueError, match="count\\(\\) takes a NetworkSpec, got dict"):
        ResourceModel().count(zoo.ds_cnn().to_dict())  # type: ignore[arg-type]


def test_measure_latency() -> None:
    spec = zoo.ds_cnn()
    ms = measure_latency(spec, batch_size=2, repeats=3, warmup=1, device="cpu")
    assert 0 < ms < 10_000
    assert measure_latency(spec.build(), spec.input.tensor_shape, repeats=2) > 0
    with pytest.raises(ValueError, match="needs input_shape"):
        measure_latency(spec.build())
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        measure_latency(spec, repeats=0)


def test_latency_of_a_spec_too_large_to_run_is_refused_before_allocating(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Its input alone is 13 TB: torch asked the allocator for it, and then for the rest.
    huge = NetworkSpec(InputSpec.image(3, 2**20, 2**20),
                       [Conv2d(16), GlobalAvgPool(), Linear(10, activation="none")])
    message = (r"a forward pass of this network at batch size 1 needs about 96\.8 TB "
               r"\(weights, input and the largest layer's activations, in float32\), more "
               r"than the [\d.]+ [kMGT]?B of memory of cpu; measure a smaller network or "
               r"batch size")
    with pytest.raises(ValueError, match=message):
        measure_latency(huge, device="cpu")
    path = tmp_path / "huge.json"
    path.write_text(huge.to_json())
    from optuna_rena.cli import main

    assert main(["resources", str(path), "--latency"]) == 2
    err = capsys.readouterr().err
    assert "optuna-rena resources: error: a forward pass" in err and "Traceback" not in err
    # A module's own weights are its own; its input and activations are still bounded.
    with pytest.raises(ValueError, match=r"this module at batch size 1 needs about 13\.2 TB "
                                         r"\(input, in float32\)"):
        measure_latency(torch.nn.Identity(), (3, 2**20, 2**20), device="cpu")


def test_nas_bench_macro_table_is_reproduced(data_dir: Path) -> None:
    """External check: all 6561 parameter counts exactly; the table's FLOPs are our MACs."""
    table = json.loads((data_dir / "nas_bench_macro" / "nas-bench-macro_cifar10.json").read_text())
    assert len(table) == 6561
    model = ResourceModel()
    params_match = macs_match = 0
    for code, row in table.items():
        r = model.count(zoo.nas_bench_macro(code))
        params_match += r.params == row["params"]
        macs_match += r.macs == row["flops"]
    assert (params_match, macs_match) == (6561, 6561)
