"""RENA's edits of a baseline as a sequence of decisions, and the child they make.

Edits are applied in a fixed order: each editable baseline layer is removed, given an
option, or scaled; then the insertions, slot by slot. An edit that would make an
impossible network (a kernel larger than its input, a pooling below one pixel) is skipped
and listed, so every sequence of choices gives a valid child.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any

from optuna_rena._spec import Conv2d
from optuna_rena._spec import LAYER_TYPES
from optuna_rena._spec import Layer
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import Shape
from optuna_rena._spec import SpecError


SCALABLE = ("filters", "units", "expansion", "kernel")
"""Hyperparameters that a space may scale by a factor."""

RANK_NAMES = {3: "map", 2: "sequence", 1: "vector"}
"""The tensor an insertion goes into, by rank: feature maps, sequences or vectors."""

Decisions = Generator[tuple[str, tuple[Any, ...]], Any, tuple[NetworkSpec, list[str]]]
"""Yields ``(name, choices)``, is sent the value chosen, returns the child and the
skipped edits."""


def run_decisions(
    decisions: Decisions, choose: Callable[[str, tuple[Any, ...]], Any]
) -> tuple[NetworkSpec, list[str]]:
    """Drive ``decisions`` to its end, asking ``choose(name, choices)`` for each value.

    Returns:
        What the generator returns: the child and the skipped edits.
    """
    try:
        name, choices = next(decisions)
        while True:
            name, choices = decisions.send(choose(name, choices))
    except StopIteration as done:
        return done.value


def path_choices(decisions: Decisions, params: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """The decisions that ``params`` (complete on its own path) ask, with their choices:
    the decisions that a one-decision edit of ``params`` may change."""
    out: dict[str, tuple[Any, ...]] = {}

    def record(name: str, choices: tuple[Any, ...]) -> Any:
        out[name] = choices
        return params[name]

    run_decisions(decisions, record)
    return out


class _Undecided(Exception):
    """Raised by :func:`every_params` on the first decision that a prefix lacks."""

    def __init__(self, name: str, choices: tuple[Any, ...]) -> None:
        self.name, self.choices = name, choices


def every_params(make_decisions: Callable[[], Decisions],
                 limit: int | None = None) -> list[dict[str, Any]]:
    """Every complete assignment of the decisions (one per child that a trial can get),
    in depth-first order of the choices as given.

    A decision may depend on earlier ones (a removed layer asks no scale factor), so the
    tree is walked by replaying each prefix through a fresh generator until it asks a
    decision the prefix lacks, then branching on that decision's choices.

    Args:
        make_decisions: Gives a fresh generator, such as ``space.decisions``.
        limit: Refuse a space of more children than this.

    Raises:
        ValueError: There are more than ``limit`` children.
    """
    done: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = [{}]
    while stack:
        prefix = stack.pop()

        def choose(name: str, choices: tuple[Any, ...]) -> Any:
            if name in prefix:
                return prefix[name]
            raise _Undecided(name, choices)

        try:
            run_decisions(make_decisions(), choose)
        except _Undecided as e:
            # Reversed onto the stack, so children come out in the choices' order.
            stack.extend({**prefix, e.name: v} for v in reversed(e.choices))
            continue
        done.append(prefix)
        if limit is not None and len(done) > limit:
            raise ValueError(f"the space has more than {limit} children.")
    return done


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _scale_kernel_dim(k: int, factor: float) -> int:
    # Odd kernels stay odd, so "same" padding stays symmetric.
    if k % 2 == 1:
        return max(1, 2 * round_half_up((k * factor - 1) / 2) + 1)
    return max(1, round_half_up(k * factor))


def scale_value(hp: str, value: Any, factor: float) -> Any:
    """``value`` of hyperparameter ``hp`` times ``factor``, rounded to a valid value."""
    if hp == "kernel":
        return (_scale_kernel_dim(value[0], factor), _scale_kernel_dim(value[1], factor))
    return max(1, round_half_up(value * factor))


def option_label(option: Mapping[str, Any]) -> str:
    """The choice that stands for a layer option, such as ``"kernel=5,expansion=6"``."""
    return ",".join(f"{k}={v}" for k, v in option.items())


class _Impossible(Exception):
    def __init__(self, position: int) -> None:
        self.position = position


@dataclass(frozen=True)
class EditRules:
    """What may change in ``baseline``, validated (see :mod:`.arguments`).

    Attributes:
        baseline: The network to edit.
        factors: Per scalable hyperparameter, its scale factors.
        editable: Baseline layer indices that may be edited.
        removable: Editable layers that may be removed.
        options: Per layer, its options by label, each the layer with the option applied.
        max_inserts: Insert slots.
        insert_types: Per rank name, the layer types that may be inserted.
        insert_choices: Per layer type, the choices of each inserted hyperparameter.
    """

    baseline: NetworkSpec
    factors: Mapping[str, tuple[float, ...]]
    editable: tuple[int, ...]
    removable: frozenset[int]
    options: Mapping[int, Mapping[str, Layer]]
    max_inserts: int
    insert_types: Mapping[str, tuple[str, ...]]
    insert_choices: Mapping[str, Mapping[str, tuple[Any, ...]]]

    def signature(self) -> tuple[Any, ...]:
        """Everything that defines the decisions, as a comparable tuple."""
        return (self.baseline, tuple(sorted(self.factors.items())), self.editable,
                tuple(sorted(self.removable)),
                tuple((i, tuple(labels)) for i, labels in sorted(self.options.items())),
                self.max_inserts, tuple(sorted(self.insert_types.items())),
                tuple((t, tuple(sorted(hps.items())))
                      for t, hps in sorted(self.insert_choices.items())))

    def decisions(self) -> Decisions:
        """The decisions as a generator, so that a sampler can run many simulated
        episodes in lockstep and batch its policy across them."""
        base = self.baseline
        slots: list[list[Layer]] = [[layer] for layer in base.layers]
        edited = [False] * len(slots)
        for i in self.editable:
            layer = base.layers[i]
            if i in self.options:
                label = yield f"L{i}.variant", self._option_choices(i)
                slots[i] = self._removal(i) if label == "remove" else [self.options[i][label]]
            elif i in self.removable and (yield f"L{i}.remove", (False, True)):
                slots[i] = self._removal(i)
            else:
                changes = {}
                for hp in self._scalable(layer):
                    factor = yield f"L{i}.{hp}", self.factors[hp]
                    if factor != 1.0:
                        changes[hp] = scale_value(hp, getattr(layer, hp), factor)
                if changes:
                    slots[i] = [layer.replace(**changes)]
            edited[i] = slots[i] != [layer]
        skipped: list[str] = []
        while True:
            try:
                _propagate(base, slots)
                break
            except _Impossible as e:
                # Revert the edit that broke the network, or the last edit before it.
                j = max(k for k in range(e.position + 1) if edited[k])
                slots[j], edited[j] = [base.layers[j]], False
                skipped.append(f"L{j}: edit reverted, the network would be impossible")
        inserted: list[list[Layer]] = [[] for _ in slots]
        positions = (-1, *range(len(slots)))
        for k in range(self.max_inserts):
            position = yield f"I{k}.position", positions
            if position < 0:
                continue
            shape = _propagate(base, slots, inserted, until=position)
            rank_name = RANK_NAMES[len(shape)]
            types = self.insert_types.get(rank_name, ())
            if not types:
                skipped.append(f"I{k}: nothing may be inserted into a {rank_name}")
                continue
            kind = yield f"I{k}.type.{rank_name}", types
            cls = LAYER_TYPES[kind]
            hps: dict[str, Any] = dict(cls.insert_fixed)
            for hp, values in self.insert_choices[kind].items():
                value = yield f"I{k}.{kind}.{hp}", values
                if hp == cls.width:  # a factor of the input's width
                    value = max(1, round_half_up(value * (shape[0] if len(shape) == 3
                                                          else shape[-1])))
                hps[hp] = value
            inserted[position].append(cls(**hps))
            try:
                _propagate(base, slots, inserted)
            except _Impossible:
                inserted[position].pop()
                skipped.append(f"I{k}: {kind} at {position} skipped, the network would be "
                               "impossible")
        layers = [layer for ins, slot in zip(inserted, slots) for layer in (*ins, *slot)]
        return NetworkSpec(base.input, tuple(layers), base.name), skipped

    def choices(self, name: str) -> tuple[Any, ...] | None:
        """The choices of decision ``name``, which :meth:`decisions` gives wherever it
        asks it, or ``None`` when it never asks it. Mirrors :meth:`decisions`."""
        head, _, rest = name.partition(".")
        number = head[1:]
        if not number.isdigit() or head != f"{head[:1]}{int(number)}" or not rest:
            return None
        i = int(number)
        if head[:1] == "L" and i in self.editable:
            if i in self.options:
                return self._option_choices(i) if rest == "variant" else None
            if rest == "remove":
                return (False, True) if i in self.removable else None
            scalable = self._scalable(self.baseline.layers[i])
            return self.factors[rest] if rest in scalable else None
        if head[:1] == "I" and i < self.max_inserts:
            if rest == "position":
                return (-1, *range(len(self.baseline.layers)))
            kind, _, hp = rest.partition(".")
            if kind == "type":
                return self.insert_types.get(hp) or None
            if any(kind in types for types in self.insert_types.values()):
                return self.insert_choices.get(kind, {}).get(hp)
        return None

    def _scalable(self, layer: Layer) -> list[str]:
        hps = layer.hyperparameters()
        return [hp for hp in self.factors if hp in hps]

    def _option_choices(self, i: int) -> tuple[str, ...]:
        labels = tuple(self.options[i])
        return ("remove", *labels) if i in self.removable else labels

    def _removal(self, i: int) -> list[Layer]:
        """What stands in for a removed layer: nothing, or, for a strided convolution, a
        1x1 strided convolution with its filters, as NAS-Bench-Macro's identity."""
        layer = self.baseline.layers[i]
        if layer.convolutional and getattr(layer, "stride", (1, 1)) != (1, 1):
            filters = self.baseline.shapes[i + 1][0]
            return [Conv2d(filters, 1, layer.stride, activation="none")]  # type: ignore[attr-defined]
        return []


def _propagate(
    base: NetworkSpec,
    slots: Sequence[Sequence[Layer]],
    inserted: Sequence[Sequence[Layer]] | None = None,
    until: int | None = None,
) -> Shape:
    """Propagate shapes through the slots (each preceded by its insertions); return the
    shape entering slot ``until`` after its insertions, or the output shape.

    Raises:
        _Impossible: The first slot whose layers cannot take their input.
    """
    shape = base.input.tensor_shape
    for position, slot in enumerate(slots):
        layers = list(inserted[position]) if inserted else []
        if position == until:
            slot = ()
        for layer in (*layers, *slot):
            try:
                shape = layer.output_shape(shape)
            except SpecError:
                raise _Impossible(position) from None
        if position == until:
            return shape
    return shape
