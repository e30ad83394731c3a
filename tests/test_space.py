from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import numpy as np
import optuna
import pytest
import torch

from optuna_rena import ArchitectureSpace
from optuna_rena import Constraint
from optuna_rena import NetworkSpec
from optuna_rena import ResourceModel
from optuna_rena import trial_child
from optuna_rena import trial_violations
from optuna_rena import zoo
from optuna_rena._space import run_decisions
from optuna_rena._space import scale_value

optuna.logging.set_verbosity(optuna.logging.WARNING)

LABELS = ["remove", "kernel=3,expansion=3", "kernel=5,expansion=6"]


def test_nas_bench_macro_space_gives_every_benchmark_network() -> None:
    space = zoo.nas_bench_macro_space()
    for digits in itertools.product("012", repeat=8):
        code = "".join(digits)
        params = {f"L{i}.variant": LABELS[int(code[i - 1])] for i in range(1, 9)}
        assert zoo.nas_bench_macro_code(params) == code
        child, table_net = space.child(params), zoo.nas_bench_macro(code)
        assert (child.input, child.layers) == (table_net.input, table_net.layers), code


def test_suggest_records_resources_and_constraints() -> None:
    space = zoo.nas_bench_macro_space([Constraint("params", max=600_000),
                                       Constraint("macs", max=25_000_000)], notes=False)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    children: list[NetworkSpec] = []

    def objective(trial: optuna.Trial) -> float:
        children.append(space.suggest(trial))
        assert trial_child(trial) == children[-1]  # the running trial's, too
        return 0.0

    study.optimize(objective, n_trials=5)
    for trial, child in zip(study.trials, children):
        assert set(trial.params) == {f"L{i}.variant" for i in range(1, 9)}
        code = zoo.nas_bench_macro_code(trial.params)
        r = ResourceModel().count(zoo.nas_bench_macro(code))
        assert trial.user_attrs["params"] == r.params
        assert trial.user_attrs["macs"] == r.macs and trial.user_attrs["flops"] == r.flops
        assert trial.user_attrs["compute_intensity"] == pytest.approx(r.compute_intensity)
        assert trial_child(trial) == child
        # The spec is kept out of the user attributes, which the dashboard's table shows.
        assert "child_spec" not in trial.user_attrs
        assert trial.user_attrs["child"] == f"{len(child.layers)} layers, " + (
            hashlib.sha256(child.to_json().encode()).hexdigest()[:8])
        assert trial_violations(trial) == pytest.approx({
            "params_max": r.params / 600_000 - 1, "macs_max": r.macs / 25_000_000 - 1})
        over = {m: 100 * (use / limit - 1) for m, use, limit in
                (("params", r.params, 600_000), ("macs", r.macs, 25_000_000)) if use > limit}
        broken = [f"{m} {pct:+.0f}%" if pct >= 10 else f"{m} {pct:+.1f}%"
                  for m, pct in over.items()]
        assert trial.user_attrs["violated"] == (", ".join(broken) or "none")


def test_parameter_scheme_of_a_full_space() -> None:
    space = ArchitectureSpace(zoo.kws_crnn(), max_inserts=2)
    params = {"L0.remove": False, "L0.filters": 2.0, "L0.kernel": 0.5,
              "L2.remove": True, "L3.remove": False, "L3.units": 1.5,
              "L4.remove": False, "L4.units": 0.5, "L5.remove": True,
              "I0.position": 3, "I0.type.sequence": "gru", "I0.gru.units": 0.5,
              "I0.gru.bidirectional": True,
              "I1.position": 5, "I1.type.vector": "dropout", "I1.dropout.rate": 0.3}
    child = space.child(params)
    types = [layer.type for layer in child.layers]
    # L2 (a GRU returning sequences) and L5 (dropout) removed; a GRU inserted before L3,
    # a dropout before L5's place.
    assert types == ["conv2d", "to_sequence", "gru", "gru", "linear", "dropout", "linear"]
    conv = child.layers[0]
    assert conv.filters == 64 and conv.kernel == (10, 3)  # 20 -> 10 (even), 5 -> 3 (odd)
    inserted = child.layers[2]
    # Half the width of its input: 64 channels x 4 frequency rows after the scaled conv.
    assert inserted.units == 128 and inserted.bidirectional and inserted.return_sequences
    assert child.layers[3].units == 48 and child.layers[4].units == 32
    model = child.build().eval()
    assert model(torch.randn(2, *child.input.tensor_shape)).shape == (2, 12)


def test_scale_rounding() -> None:
    assert [scale_value("kernel", (3, 3), f)[0] for f in (0.5, 0.75, 1, 1.5, 2)] == [1, 3, 3, 5, 7]
    assert [scale_value("kernel", (20, 4), f) for f in (0.5, 2)] == [(10, 2), (40, 8)]
    assert [scale_value("filters", 32, f) for f in (0.5, 0.75, 1.5, 2)] == [16, 24, 48, 64]
    assert scale_value("units", 1, 0.5) == 1


@pytest.mark.parametrize("make", [zoo.cifar10_resnet, zoo.kws_crnn, zoo.ds_cnn,
                                  lambda: zoo.nas_bench_macro("20120102")])
def test_random_edits_always_give_valid_networks(make) -> None:
    space = ArchitectureSpace(make(), max_inserts=3, notes=False)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    children = []
    study.optimize(lambda t: children.append(space.suggest(t)) or 0.0, n_trials=40)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    inserted = sum(1 for t in study.trials for k in range(3) if t.params[f"I{k}.position"] >= 0)
    assert inserted > 40
    for child in children[:6]:
        out = child.build().eval()(torch.randn(1, *child.input.tensor_shape))
        assert out.shape == (1, make().output_shape[0])
    # The scheme is stable: the params alone give the same child.
    for trial, child in zip(study.trials, children):
        assert space.child(trial.params) == child


@pytest.mark.parametrize("make", [
    lambda: ArchitectureSpace(zoo.cifar10_resnet(), max_inserts=3, notes=False),
    lambda: ArchitectureSpace(zoo.kws_crnn(), max_inserts=2, notes=False),
    lambda: ArchitectureSpace(zoo.ds_cnn(), layers=[1, 3], max_inserts=1,
                              scale_factors={"filters": (0.5, 1.0)}, notes=False),
    zoo.nas_bench_macro_space,
])
def test_a_study_whose_distributions_clash_is_refused(make) -> None:
    space = make()
    rng = np.random.RandomState(0)
    # Every decision's choices are known by name, wherever the decisions ask it.
    def choose(name: str, choices: tuple[Any, ...]) -> Any:
        assert space._rules.choices(name) == choices, name
        return choices[rng.randint(len(choices))]

    for _ in range(100):
        run_decisions(space.decisions(), choose)
    for name in ("x", "L99.remove", "L01.remove", "I9.position", "I0.conv3d.kernel", "L1"):
        assert space._rules.choices(name) is None
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: space.suggest(t) and 0.0, n_trials=5)
    space.check_study(study)  # its own trials
    name = next(iter(study.trials[0].params))
    clash = optuna.create_study()
    clash.add_trial(optuna.trial.create_trial(
        params={name: 1.0}, distributions={name: optuna.distributions.FloatDistribution(0, 2)},
        value=0.0))
    with pytest.raises(ValueError, match=f"holds trials whose '{name}' is FloatDistribution"):
        space.check_study(clash)


def test_impossible_edits_are_skipped_and_listed() -> None:
    # Max-pooling a 1x1 map and a kernel larger than a valid-padded input are impossible.
    base = NetworkSpec.from_dict({"input": {"kind": "image", "shape": [3, 4, 4]}, "layers": [
        {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "valid"},
        {"type": "conv2d", "filters": 4, "kernel": 1, "stride": 2},
        {"type": "global_avg_pool"}, {"type": "linear", "units": 2}]})
    space = ArchitectureSpace(base, max_inserts=1, remove=False, notes=False)
    params = {"L0.filters": 1.0, "L0.kernel": 2.0, "L1.filters": 1.0, "L1.kernel": 1.0,
              "I0.position": 2, "I0.type.map": "max_pool2d", "I0.max_pool2d.kernel": 2}
    study = optuna.create_study()
    study.enqueue_trial(params)
    study.optimize(lambda t: len(space.suggest(t)), n_trials=1)
    trial = study.trials[0]
    assert trial.user_attrs["skipped_edits"] == [
        "L0: edit reverted, the network would be impossible",
        "I0: max_pool2d at 2 skipped, the network would be impossible"]
    assert trial_child(trial).layers == base.layers


def test_restricted_space_only_scale_and_remove() -> None:
    space = ArchitectureSpace(zoo.ds_cnn(), scale_factors={"filters": (0.5, 1.0)},
                              layers=[1, 2], max_inserts=0, notes=False)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(lambda t: len(space.suggest(t)), n_trials=20)
    names = set().union(*(t.params for t in study.trials))
    assert names == {"L1.remove", "L1.filters", "L2.remove", "L2.filters"}


@pytest.mark.parametrize("kwargs,message", [
    (dict(baseline="ds_cnn"), "baseline must be a NetworkSpec, got str"),
    (dict(layers=[99]), r"layers must be baseline layer indices 0..6, got 99"),
    (dict(layers=5), r"layers must be a list of baseline layer indices 0..6, got 5"),
    (dict(layers="12"), r"layers must be a list of baseline layer indices 0..6, got '12'"),
    (dict(scale_factors={"stride": (1, 2)}), "'stride' is not scalable"),
    (dict(scale_factors=(0.5, -1)), "must be positive numbers"),
    (dict(max_inserts=-1), "max_inserts must be an integer >= 0, got -1"),
    (dict(layer_options={1: [{"kernel": 0}]}), r"layer_options\[1\]: .* kernel must be a positive integer"),
    (dict(layer_options={1: [{"units": 4}]}), r"layer_options\[1\]: \{'units': 4\} does not fit layer 1"),
    (dict(insert_types={"map": ["gru"]}), r"insert_types\['map'\]: 'gru' cannot be inserted into a map"),
    (dict(insert_types={"tensor": ["conv2d"]}), "'tensor' is not a rank"),
    (dict(insert_choices={"conv2d": {"dilation": (1, 2)}}), "conv2d has no hyperparameter 'dilation'"),
    (dict(insert_choices={"conv2d": {"kernel": (3, 0)}}), r"insert_choices\['conv2d'\]\['kernel'\]: 0 is not a valid value"),
    (dict(insert_choices={"dropout": {"rate": (1.0,)}}), "rate must be a number in"),
    (dict(insert_choices={"linear": {"units": (0,)}}), "a width is a positive factor"),
    (dict(insert_choices={"basic_block": {"kernel": (2,)}}), "kernel must be odd"),
    (dict(constraints=[Constraint("params", max=1), Constraint("params", max=2)]), "repeated: \\['params_max'\\]"),
    (dict(constraints=["params<=1"]), "constraints must be Constraint objects"),
    (dict(scale_factors=2.0), "scale_factors must be a list of positive numbers or a dict"),
    (dict(scale_factors="0.5"), "scale_factors must be a list of positive numbers or a dict"),
    (dict(scale_factors={"filters": 2.0}), "scale_factors for 'filters' must be a list"),
    (dict(insert_types={"map": "conv2d"}), r"insert_types\['map'\] must be a list of layer types"),
    (dict(insert_types=["conv2d"]), "insert_types must map rank names"),
    (dict(notes="yes"), "notes must be True or False, got 'yes'"),
    (dict(resource_model="float16"), "resource_model must be a ResourceModel"),
])
def test_bad_space_arguments(kwargs, message) -> None:
    args = {"baseline": zoo.ds_cnn(), **kwargs}
    with pytest.raises(ValueError, match=message):
        ArchitectureSpace(**args)


def test_child_rejects_bad_params() -> None:
    space = zoo.nas_bench_macro_space()
    with pytest.raises(ValueError, match="params lack the decision 'L1.variant'"):
        space.child({})
    params = {f"L{i}.variant": "remove" for i in range(1, 9)}
    params["L4.variant"] = "kernel=7"
    with pytest.raises(ValueError, match=r"params\['L4.variant'\] = 'kernel=7' is not one of"):
        space.child(params)


def test_space_with_latency_constraint_measures_it() -> None:
    space = ArchitectureSpace(zoo.ds_cnn(), [Constraint("latency_ms", max=1000.0)],
                              max_inserts=0, notes=False)
    study = optuna.create_study()
    study.optimize(lambda t: len(space.suggest(t)), n_trials=1)
    trial = study.trials[0]
    assert 0 < trial.user_attrs["latency_ms"] < 1000
    assert trial_violations(trial)["latency_ms_max"] == pytest.approx(
        trial.user_attrs["latency_ms"] / 1000 - 1)
    json.dumps(trial.user_attrs)  # every attribute is plain JSON for the dashboard


def test_signature_with_budget_tells_spaces_apart() -> None:
    a, b = ArchitectureSpace(zoo.ds_cnn()), ArchitectureSpace(zoo.ds_cnn())
    assert a.signature_with_budget() == b.signature_with_budget()
    for other in (ArchitectureSpace(zoo.ds_cnn(), max_inserts=1),
                  ArchitectureSpace(zoo.ds_cnn(), layers=[1]),
                  ArchitectureSpace(zoo.ds_cnn(), Constraint("params", max=20_000))):
        assert a.signature_with_budget() != other.signature_with_budget()
    # The fingerprint leaves the budget out.
    assert a.decisions_fingerprint == b.decisions_fingerprint == ArchitectureSpace(
        zoo.ds_cnn(), Constraint("params", max=20_000)).decisions_fingerprint
    narrower = ArchitectureSpace(zoo.ds_cnn(), layers=[1])
    assert a.decisions_fingerprint != narrower.decisions_fingerprint


def test_extreme_finds_the_smallest_and_largest_child(data_dir) -> None:
    from optuna_rena.datasets import load_nas_bench_macro
    table = load_nas_bench_macro(data_dir)
    space = zoo.nas_bench_macro_space(notes=False)
    assert space.extreme("params") == min(row["params"] for row in table.values())
    assert space.extreme("macs", smallest=False) == max(row["flops"] for row in table.values())
    with pytest.raises(ValueError, match="extreme\\(\\) takes one of"):
        space.extreme("latency_ms")


def test_a_budget_out_of_reach_is_said_at_once() -> None:
    from optuna_rena import RenaSampler
    space = zoo.nas_bench_macro_space([Constraint("params", max=380_000)], notes=False)
    assert space.unreachable() == [
        "no child of this space meets params <= 380000: the smallest params that a search "
        "of its decisions reaches is 3.879e+05; loosen it or widen the space; the search "
        "goes on, for the least infeasible children"]
    study = optuna.create_study(direction="maximize",
                                sampler=RenaSampler(seed=0, pretrain_episodes=0))
    with pytest.warns(UserWarning, match="no child of this space meets params <= 380000"):
        study.optimize(lambda t: len(space.suggest(t)), n_trials=2)
    assert zoo.nas_bench_macro_space([Constraint("params", max=400_000)]).unreachable() == []


def test_a_child_too_large_to_measure_fails_its_trial_not_the_search() -> None:
    from optuna_rena import Conv2d
    from optuna_rena import GlobalAvgPool
    from optuna_rena import InputSpec
    from optuna_rena import Linear

    # Every child needs about 70 GB for one forward pass: more than this machine holds.
    base = NetworkSpec(InputSpec.image(3, 4096, 4096),
                       [Conv2d(16), GlobalAvgPool(), Linear(10, activation="none")])
    space = ArchitectureSpace(base, [Constraint("latency_ms", max=50)],
                              scale_factors={"filters": (64.0, 65.0)}, max_inserts=0,
                              remove=False, notes=False)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    # search's own setting: a RuntimeError fails the trial, anything else ends the run.
    study.optimize(lambda t: float(len(space.suggest(t).layers)), n_trials=3,
                   catch=(RuntimeError,))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 3
