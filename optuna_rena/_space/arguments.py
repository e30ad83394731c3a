"""Validation of :class:`~optuna_rena.ArchitectureSpace`'s edit arguments into
:class:`~optuna_rena._space.edits.EditRules`, with errors that name the value."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import math
from typing import Any

from optuna_rena._space.edits import EditRules
from optuna_rena._space.edits import option_label
from optuna_rena._space.edits import RANK_NAMES
from optuna_rena._space.edits import SCALABLE
from optuna_rena._spec import LAYER_TYPES
from optuna_rena._spec import Layer
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import required_hyperparameters
from optuna_rena._spec import SpecError


def edit_rules(
    baseline: NetworkSpec,
    *,
    scale_factors: Sequence[float] | Mapping[str, Sequence[float]] | None,
    layers: Iterable[int] | None,
    remove: bool,
    layer_options: Mapping[int, Sequence[Mapping[str, Any]]] | None,
    max_inserts: int,
    insert_types: Mapping[str, Sequence[str]] | None,
    insert_choices: Mapping[str, Mapping[str, Sequence[Any]]] | None,
) -> EditRules:
    """The validated rules (see :class:`~optuna_rena.ArchitectureSpace` for the arguments).

    Raises:
        ValueError: An argument is invalid; the message names it and the value.
    """
    if not isinstance(baseline, NetworkSpec):
        raise ValueError(f"baseline must be a NetworkSpec, got {type(baseline).__name__}.")
    n = len(baseline.layers)
    if layers is not None and (isinstance(layers, (str, bytes, Mapping))
                               or not isinstance(layers, Iterable)):
        raise ValueError(f"layers must be a list of baseline layer indices 0..{n - 1}, "
                         f"got {layers!r}.")
    editable = list(range(n - 1)) if layers is None else list(layers)
    for i in editable:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
            raise ValueError(f"layers must be baseline layer indices 0..{n - 1}, got {i!r}.")
    editable = sorted(set(editable))
    if not isinstance(remove, bool):
        raise ValueError(f"remove must be True or False, got {remove!r}.")
    shapes = baseline.shapes
    # Removing a layer that changes the rank would leave the next layer unfed.
    removable = frozenset(i for i in editable if remove and len(shapes[i]) == len(shapes[i + 1]))
    if isinstance(max_inserts, bool) or not isinstance(max_inserts, int) or max_inserts < 0:
        raise ValueError(f"max_inserts must be an integer >= 0, got {max_inserts!r}.")
    return EditRules(
        baseline=baseline,
        factors=_factors(scale_factors),
        editable=tuple(editable),
        removable=removable,
        options=_options(baseline, editable, layer_options or {}),
        max_inserts=max_inserts,
        insert_types=_insert_types(baseline, insert_types),
        insert_choices=_insert_choices(insert_choices or {}),
    )


def _factors(
    factors: Sequence[float] | Mapping[str, Sequence[float]] | None,
) -> dict[str, tuple[float, ...]]:
    if factors is None:
        return {}
    if isinstance(factors, (str, bytes)) or not isinstance(factors, (Mapping, Iterable)):
        raise ValueError(f"scale_factors must be a list of positive numbers or a dict of "
                         f"them by hyperparameter, got {factors!r}.")
    if not isinstance(factors, Mapping):
        factors = {hp: factors for hp in SCALABLE}
    out = {}
    for hp, choices in factors.items():
        if hp not in SCALABLE:
            raise ValueError(f"scale_factors: {hp!r} is not scalable; expected some of "
                             f"{list(SCALABLE)}.")
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Iterable):
            raise ValueError(f"scale_factors for {hp!r} must be a list of positive numbers, "
                             f"got {choices!r}.")
        choices = tuple(choices)
        if not choices or any(
            isinstance(f, bool) or not isinstance(f, (int, float)) or not f > 0
            or not math.isfinite(f) for f in choices
        ):
            raise ValueError(f"scale_factors for {hp!r} must be positive numbers, got "
                             f"{choices!r}.")
        out[hp] = tuple(float(f) for f in choices)
    return out


def _options(
    baseline: NetworkSpec, editable: Sequence[int],
    options: Mapping[int, Sequence[Mapping[str, Any]]],
) -> dict[int, dict[str, Layer]]:
    out: dict[int, dict[str, Layer]] = {}
    for i, opts in options.items():
        if i not in editable:
            raise ValueError(f"layer_options: layer {i!r} is not among the editable "
                             f"layers {list(editable)}.")
        layer = baseline.layers[i]
        labelled: dict[str, Layer] = {}
        for opt in opts:
            try:
                labelled[option_label(opt)] = layer.replace(**opt)
            except (TypeError, SpecError) as e:
                raise ValueError(f"layer_options[{i}]: {opt!r} does not fit layer {i} "
                                 f"({layer.type}): {e}") from None
        if not labelled:
            raise ValueError(f"layer_options[{i}] must list at least one option.")
        out[i] = labelled
    return out


def _insert_choices(
    overrides: Mapping[str, Mapping[str, Sequence[Any]]],
) -> dict[str, dict[str, tuple[Any, ...]]]:
    choices = {t: dict(cls.insert_choices) for t, cls in LAYER_TYPES.items()
               if cls.insert_rank is not None}
    for t, hps in overrides.items():
        if t not in choices:
            raise ValueError(f"insert_choices: cannot insert {t!r}; expected one of "
                             f"{sorted(choices)}.")
        cls = LAYER_TYPES[t]
        for hp, values in hps.items():
            if hp not in choices[t]:
                raise ValueError(f"insert_choices: {t} has no hyperparameter {hp!r}; "
                                 f"expected some of {sorted(choices[t])}.")
            values = tuple(values)
            if not values:
                raise ValueError(f"insert_choices[{t!r}][{hp!r}] is empty.")
            for value in values:
                if hp == cls.width:
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                            math.isfinite(value) and value > 0):
                        raise ValueError(f"insert_choices[{t!r}][{hp!r}]: a width is a "
                                         f"positive factor of the input's, got {value!r}.")
                    continue
                # Each value is checked in isolation: the required ones set to 1.
                probe = {name: 1 for name in required_hyperparameters(cls)}
                try:
                    cls(**{**probe, hp: value})
                except (SpecError, TypeError) as e:
                    raise ValueError(f"insert_choices[{t!r}][{hp!r}]: {value!r} is not a "
                                     f"valid value: {e}") from None
            choices[t][hp] = values
    return choices


def _insert_types(
    baseline: NetworkSpec, types: Mapping[str, Sequence[str]] | None,
) -> dict[str, tuple[str, ...]]:
    if types is None:
        present = {layer.type for layer in baseline.layers}
        families = {
            # The baseline's own convolutions and recurrent layers, or the plainest one.
            "map": [t for t, c in LAYER_TYPES.items() if c.convolutional and t in present]
            or ["conv2d"],
            "sequence": [t for t, c in LAYER_TYPES.items() if c.recurrent and t in present]
            or ["gru"],
        }
        return {"map": (*families["map"], "max_pool2d"), "sequence": tuple(families["sequence"]),
                "vector": ("linear", "dropout")}
    if not isinstance(types, Mapping):
        raise ValueError(f"insert_types must map rank names {list(RANK_NAMES.values())} to "
                         f"lists of layer types, got {types!r}.")
    out = {}
    for rank_name, names in types.items():
        if rank_name not in RANK_NAMES.values():
            raise ValueError(f"insert_types: {rank_name!r} is not a rank; expected some "
                             f"of {list(RANK_NAMES.values())}.")
        fitting = [t for t, c in LAYER_TYPES.items()
                   if c.insert_rank is not None and RANK_NAMES[c.insert_rank] == rank_name]
        if isinstance(names, str) or not isinstance(names, Iterable):
            raise ValueError(f"insert_types[{rank_name!r}] must be a list of layer types "
                             f"among {fitting}, got {names!r}.")
        names = tuple(names)
        for t in names:
            if t not in fitting:
                raise ValueError(f"insert_types[{rank_name!r}]: {t!r} cannot be inserted "
                                 f"into a {rank_name}; expected some of {fitting}.")
        if names:
            out[rank_name] = names
    return out
