from __future__ import annotations

import json
from typing import Any

import pytest
import torch

from optuna_rena import BasicBlock
from optuna_rena import Conv2d
from optuna_rena import Dropout
from optuna_rena import GlobalAvgPool
from optuna_rena import GRU
from optuna_rena import InputSpec
from optuna_rena import InvertedResidual
from optuna_rena import LAYER_TYPES
from optuna_rena import Linear
from optuna_rena import LSTM
from optuna_rena import MaxPool2d
from optuna_rena import NetworkSpec
from optuna_rena import SeparableConv2d
from optuna_rena import SpecError
from optuna_rena import zoo

from helpers import ALL_SPECS


def test_the_fixtures_cover_every_layer_type() -> None:
    used = {layer.type for make in ALL_SPECS for layer in make().layers}
    assert used == set(LAYER_TYPES)


@pytest.mark.parametrize("make", ALL_SPECS)
def test_built_model_matches_propagated_shapes(make: Any) -> None:
    spec = make()
    model = spec.build().eval()
    x = torch.randn(2, *spec.input.tensor_shape)
    for i, module in enumerate(model):
        x = module(x)
        assert tuple(x.shape[1:]) == spec.shapes[i + 1], f"layer {i} ({spec.layers[i].type})"


@pytest.mark.parametrize("make", ALL_SPECS)
def test_json_round_trip(make: Any) -> None:
    spec = make()
    text = spec.to_json()
    again = NetworkSpec.from_json(text)
    assert again == spec
    assert hash(again) == hash(spec)
    assert json.loads(again.to_json()) == json.loads(text)


def test_inverted_residual_adds_the_input_only_when_shapes_allow() -> None:
    x = torch.randn(1, 8, 6, 6)
    same = InvertedResidual(8, 2, 3)
    assert same.has_residual((8, 6, 6))
    block = same.build((8, 6, 6)).eval()
    with torch.no_grad():
        # With the body's last batch norm scaled to zero, only the shortcut remains.
        block.body[-1].weight.zero_()
        block.body[-1].bias.zero_()
        assert torch.equal(block(x), x)
    assert not InvertedResidual(8, 2, 3, 2).has_residual((8, 6, 6))
    assert not InvertedResidual(16, 2, 3).has_residual((8, 6, 6))


def test_layers_normalise_pairs_and_defaults() -> None:
    conv = Conv2d(4, 3)
    assert conv.kernel == (3, 3) and conv.stride == (1, 1)
    assert MaxPool2d(3).stride == (3, 3)
    assert Conv2d(4, [3, 1]) == Conv2d(4, (3, 1))
    assert conv.replace(filters=8) == Conv2d(8, 3)
    with pytest.raises(SpecError, match="filters must be a positive integer, got 0"):
        conv.replace(filters=0)


BAD_LAYERS = [
    (lambda: Conv2d(0), "conv2d: filters must be a positive integer, got 0"),
    (lambda: Conv2d(8, (3, 0)), r"conv2d: kernel must be a positive integer, got 0"),
    (lambda: Conv2d(8, (3, 3, 3)), r"conv2d: kernel must be an integer or a pair"),
    (lambda: Conv2d(8, 3, padding="full"), r"padding must be one of \['same', 'valid'\], got 'full'"),
    (lambda: Conv2d(8, activation="gelu"), r"activation must be one of .*got 'gelu'"),
    (lambda: Conv2d(8, batch_norm=1), "batch_norm must be true or false, got 1"),
    (lambda: Conv2d(2.5), "filters must be a positive integer, got 2.5"),
    (lambda: SeparableConv2d(-4), "separable_conv2d: filters must be a positive integer, got -4"),
    (lambda: InvertedResidual(8, expansion=0), "inverted_residual: expansion must be a positive integer, got 0"),
    (lambda: BasicBlock(8, stride=0), "basic_block: stride must be a positive integer, got 0"),
    # "Same" padding of an even kernel grows the map by one: the residual sum would fail.
    (lambda: BasicBlock(8, 2), "basic_block: kernel must be odd so the block keeps its size, got 2"),
    (lambda: InvertedResidual(8, 3, (3, 4)), r"inverted_residual: kernel must be odd .*got \(3, 4\)"),
    (lambda: MaxPool2d(0), "max_pool2d: kernel must be a positive integer, got 0"),
    (lambda: GRU(0), "gru: units must be a positive integer, got 0"),
    (lambda: LSTM(4, bidirectional="yes"), "lstm: bidirectional must be true or false, got 'yes'"),
    (lambda: Linear(True), "linear: units must be a positive integer, got True"),
    (lambda: Dropout(1.0), r"dropout: rate must be a number in \[0, 1\), got 1.0"),
    (lambda: InputSpec("video", (3, 4, 4)), "input: kind must be 'image' or 'audio', got 'video'"),
    (lambda: InputSpec.image(3, 0, 4), "input: height must be a positive integer, got 0"),
    (lambda: InputSpec("audio", (3, 4, 4)), r"input: a audio shape is \(frequency, time\)"),
]


@pytest.mark.parametrize("make,message", BAD_LAYERS)
def test_bad_hyperparameters_are_named(make: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        make()


BAD_NETWORKS = [
    # A spatial size shrinking below 1.
    (InputSpec.image(3, 8, 8), [Conv2d(4, 3, 2), Conv2d(4, 3, 2), MaxPool2d(2), MaxPool2d(2)],
     r"layer 3 \(max_pool2d\): the spatial size would shrink below 1 \(input \(4, 1, 1\)"),
    (InputSpec.audio(10, 40), [Conv2d(4, (20, 5), padding="valid")],
     r"layer 0 \(conv2d\): the spatial size would shrink below 1"),
    # A recurrent layer fed a feature map.
    (InputSpec.audio(10, 40), [Conv2d(4), GRU(8)],
     r"layer 1 \(gru\) expects a sequence \(time, features\) but receives shape \(4, 10, 40\).*to_sequence"),
    # A linear layer fed a feature map, a convolution fed a vector.
    (InputSpec.image(3, 8, 8), [Conv2d(4), Linear(10)],
     r"layer 1 \(linear\) expects a vector .*global_avg_pool or flatten"),
    (InputSpec.image(3, 8, 8), [GlobalAvgPool(), Conv2d(4)],
     r"layer 1 \(conv2d\) expects a feature map"),
    (InputSpec.image(3, 8, 8), [], "at least one layer"),
    (InputSpec.image(3, 8, 8), [Conv2d(4), "relu"], r"layer 1 must be one of the layer types"),
]


@pytest.mark.parametrize("inp,layers,message", BAD_NETWORKS)
def test_impossible_networks_name_the_layer(inp: InputSpec, layers: list, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        NetworkSpec(inp, layers)


def _valid_dict() -> dict[str, Any]:
    return zoo.ds_cnn().to_dict()


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    d = _valid_dict()
    target: Any = d
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


_DELETE = object()

BAD_JSON = [
    (_with(["layers", 2, "type"], "conv3d"), r"layer 2: unknown layer type 'conv3d'; expected one of"),
    (_with(["layers", 1, "filters"], -1), r"layer 1: separable_conv2d: filters must be a positive integer, got -1"),
    (_with(["layers", 0, "dilation"], 2), r"layer 0: conv2d: unknown hyperparameter\(s\) \['dilation'\]"),
    (_with(["layers", 0, "filters"], _DELETE), r"layer 0: conv2d: missing hyperparameter\(s\) \['filters'\]"),
    ({**_valid_dict(), "layers": [{"type": "conv2d", "filters": 4, "kernel": [40, 10],
                                   "padding": "valid"}]},
     r"layer 0 \(conv2d\): the spatial size would shrink"),
    (_with(["layers"], {}), "layers must be a list"),
    (_with(["input"], _DELETE), "missing key 'input'"),
    (_with(["input", "kind"], "text"), "kind must be 'image' or 'audio'"),
    (_with(["extra"], 1), r"unknown key\(s\) \['extra'\]"),
    (_with(["layers", 3], "relu"), r"layer 3: a layer must be an object with a 'type'"),
]


@pytest.mark.parametrize("data,message", BAD_JSON)
def test_bad_json_specs_are_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        NetworkSpec.from_json(json.dumps(data))


def test_not_json_at_all() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        NetworkSpec.from_json("{layers: [")
    with pytest.raises(SpecError, match="must be an object"):
        NetworkSpec.from_json("[1, 2]")


def test_deeply_nested_json_is_refused() -> None:
    # json.loads recurses once per level, and a deep enough file raised RecursionError.
    spec = zoo.ds_cnn().to_json()
    deep_layer = spec.replace('"layers": [', '"layers": [' + '{"a": ' * 50_000 + "1"
                              + "}" * 50_000 + ", ", 1)
    for text in ["[" * 100_000 + "]" * 100_000, deep_layer]:
        with pytest.raises(SpecError, match=r"network spec: the JSON nests more than 32 "
                                            r"levels deep \(at character \d+\)"):
            NetworkSpec.from_json(text)
    # Brackets inside strings are not nesting.
    named = json.loads(spec)
    named["name"] = "[" * 100 + "{\\\"" * 40
    assert NetworkSpec.from_json(json.dumps(named)).name == named["name"]


def test_spec_is_a_value() -> None:
    a, b = zoo.kws_crnn(), zoo.kws_crnn()
    assert a == b and len({a, b}) == 1
    assert a.with_layers(a.layers[:-1] + (Linear(5, activation="none"),)).output_shape == (5,)
    assert a.output_shape == (12,)
