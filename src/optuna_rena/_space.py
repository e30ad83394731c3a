"""The action space: RENA's scale, remove and insert edits of a baseline, as Optuna suggestions.

Parameter names (stable; a trial's params alone determine its child network):

=============================  ==========================================================
``L{i}.remove``                ``False`` or ``True``: remove baseline layer ``i``.
``L{i}.{hp}``                  scale factor of hyperparameter ``hp`` (``filters``,
                               ``units``, ``expansion``, ``kernel``) of layer ``i``; only
                               asked when the layer is kept.
``L{i}.variant``               for layers given ``layer_options``: ``"remove"`` (when
                               removable) or the label of one option, such as
                               ``"kernel=5,expansion=6"``; replaces the two above.
``I{k}.position``              insert slot ``k``: ``-1`` for no insertion, else ``j`` to
                               insert before baseline layer ``j``.
``I{k}.type.{rank}``           the inserted layer's type, among those that fit the shape at
                               that position: ``map`` (feature maps), ``sequence``,
                               ``vector``.
``I{k}.{type}.{hp}``           the inserted layer's hyperparameters. ``filters`` and
                               ``units`` are factors of the input's width (channels or
                               features) at that position; the others are values.
=============================  ==========================================================

Edits are applied in a fixed order: each baseline layer is removed, given an option, or
scaled; then the insertions, slot by slot. An edit that would make an impossible network
(a kernel larger than its input, a pooling below one pixel) is skipped and listed in the
trial's ``skipped_edits`` attribute, so every trial gets a valid child.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import math
from typing import Any

import optuna

from optuna_rena._constraints import Constraint
from optuna_rena._constraints import constraint_list
from optuna_rena._policy import Context
from optuna_rena._report import trial_note
from optuna_rena._resources import measure_latency
from optuna_rena._resources import NetworkResources
from optuna_rena._resources import ResourceModel
from optuna_rena._spec import Conv2d
from optuna_rena._spec import LAYER_TYPES
from optuna_rena._spec import Layer
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import Shape
from optuna_rena._spec import SpecError


DEFAULT_SCALE_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0)
SCALABLE = ("filters", "units", "expansion", "kernel")
_WIDTH_HPS = ("filters", "units")
_RANK_NAMES = {3: "map", 2: "sequence", 1: "vector"}
_STRIDED = ("conv2d", "separable_conv2d", "inverted_residual", "basic_block")

DEFAULT_INSERT_CHOICES: dict[str, dict[str, tuple[Any, ...]]] = {
    "conv2d": {"filters": (0.5, 1.0, 2.0), "kernel": (1, 3, 5)},
    "separable_conv2d": {"filters": (0.5, 1.0, 2.0), "kernel": (3, 5)},
    "inverted_residual": {"filters": (0.5, 1.0, 2.0), "expansion": (1, 3, 6), "kernel": (3, 5)},
    "basic_block": {"filters": (0.5, 1.0, 2.0), "kernel": (3,)},
    "max_pool2d": {"kernel": (2,)},
    "avg_pool2d": {"kernel": (2,)},
    "gru": {"units": (0.5, 1.0, 2.0), "bidirectional": (False, True)},
    "lstm": {"units": (0.5, 1.0, 2.0), "bidirectional": (False, True)},
    "linear": {"units": (0.5, 1.0, 2.0)},
    "dropout": {"rate": (0.1, 0.3, 0.5)},
}
"""Choices for inserted layers' hyperparameters. Widths are factors of the input width."""

_FIXED_INSERT_HPS: dict[str, dict[str, Any]] = {
    # Inserted layers keep the rank and never stride, so the rest of the network still fits.
    "gru": {"return_sequences": True},
    "lstm": {"return_sequences": True},
}
_RANK_OF_TYPE = {
    "conv2d": 3, "separable_conv2d": 3, "inverted_residual": 3, "basic_block": 3,
    "max_pool2d": 3, "avg_pool2d": 3, "gru": 2, "lstm": 2, "linear": 1, "dropout": 1,
}


def _probe_layer_args(kind: str) -> dict[str, Any]:
    """The required hyperparameters of a layer type, to check one choice in isolation."""
    return {"filters": 1} if _RANK_OF_TYPE[kind] == 3 and kind not in (
        "max_pool2d", "avg_pool2d") else {"units": 1} if kind in ("gru", "lstm", "linear") else {}


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _scale_kernel_dim(k: int, factor: float) -> int:
    # Odd kernels stay odd, so "same" padding stays symmetric.
    if k % 2 == 1:
        return max(1, 2 * _round_half_up((k * factor - 1) / 2) + 1)
    return max(1, _round_half_up(k * factor))


def scale_value(hp: str, value: Any, factor: float) -> Any:
    """``value`` of hyperparameter ``hp`` times ``factor``, rounded to a valid value."""
    if hp == "kernel":
        return (_scale_kernel_dim(value[0], factor), _scale_kernel_dim(value[1], factor))
    return max(1, _round_half_up(value * factor))


def _option_label(option: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in option.items())


class _Infeasible(Exception):
    def __init__(self, position: int) -> None:
        self.position = position


class ArchitectureSpace:
    """What may change in a baseline network, as Optuna suggestions.

    ``suggest(trial)`` asks the trial for RENA's three kinds of edits of ``baseline``
    (scale, remove, insert; the parameter names are in this module's docstring), builds the
    child :class:`~optuna_rena.NetworkSpec`, records its resources on the trial as user
    attributes (``params``, ``flops``, ``macs``, ``bytes``, ``compute_intensity``, and
    ``child_spec`` as JSON) and writes each constraint with ``trial.set_constraint``. Any
    Optuna sampler can search the space; :class:`~optuna_rena.RenaSampler` also reads the
    baseline's layers to condition its decisions on them.

    Example:

        .. code-block:: python

            import optuna
            from optuna_rena import ArchitectureSpace, Constraint, zoo

            space = ArchitectureSpace(
                zoo.ds_cnn(), [Constraint("params", max=20_000)], max_inserts=1
            )

            def objective(trial):
                child = space.suggest(trial)
                return -trial.user_attrs["flops"]  # train and evaluate `child` here

            study = optuna.create_study(direction="maximize")
            study.optimize(objective, n_trials=5)

    Args:
        baseline: The network to edit.
        constraints: Bounds on the child's resources (or on user metrics, which the
            objective reports with :meth:`Constraint.set`).
        scale_factors: Choices of the scale factor of every scalable hyperparameter; a
            dict maps a hyperparameter name to its own choices. ``None`` disables scaling.
        layers: Baseline layer indices that may be edited; by default all but the last.
        remove: Whether edited layers may be removed. Layers that change the rank
            (pooling to a vector, ``to_sequence``) are never removed. Removing a strided
            convolutional layer leaves a 1x1 strided convolution with its filters, batch
            norm and no activation, as NAS-Bench-Macro's identity does.
        layer_options: Per layer index, a list of hyperparameter overrides to choose from
            instead of scaling: ``{3: [{"kernel": 3}, {"kernel": 5}]}``.
        max_inserts: Insert slots ``K``; 0 disables insertion.
        insert_types: Per rank name (``map``, ``sequence``, ``vector``), the layer types that
            may be inserted. By default the convolutional and recurrent types of the
            baseline, ``max_pool2d``, ``linear`` and ``dropout``.
        insert_choices: Overrides of :data:`DEFAULT_INSERT_CHOICES`.
        resource_model: Counts the child's resources; float32 by default.
        latency_batch_size: Batch size for the ``latency_ms`` metric, which is measured
            only when a constraint uses it.
        notes: Save each child's layer table as the trial's optuna-dashboard note (when
            optuna-dashboard is installed). Notes are study attributes that grow with the
            study; turn them off for long benchmarks.
    """

    def __init__(
        self,
        baseline: NetworkSpec,
        constraints: Iterable[Constraint] | Constraint | None = None,
        *,
        scale_factors: Sequence[float] | Mapping[str, Sequence[float]] | None = DEFAULT_SCALE_FACTORS,
        layers: Iterable[int] | None = None,
        remove: bool = True,
        layer_options: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
        max_inserts: int = 2,
        insert_types: Mapping[str, Sequence[str]] | None = None,
        insert_choices: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
        resource_model: ResourceModel | None = None,
        latency_batch_size: int = 1,
        notes: bool = True,
    ) -> None:
        if not isinstance(baseline, NetworkSpec):
            raise ValueError(f"baseline must be a NetworkSpec, got {type(baseline).__name__}.")
        self.baseline = baseline
        self.constraints = constraint_list(constraints)
        self.resource_model = resource_model or ResourceModel()
        n = len(baseline.layers)
        self._factors = self._check_factors(scale_factors)
        editable = list(range(n - 1)) if layers is None else list(layers)
        for i in editable:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                raise ValueError(f"layers must be baseline layer indices 0..{n - 1}, got {i!r}.")
        self._editable = sorted(set(editable))
        if not isinstance(remove, bool):
            raise ValueError(f"remove must be True or False, got {remove!r}.")
        shapes = baseline.shapes
        self._removable = {
            i for i in self._editable if remove and len(shapes[i]) == len(shapes[i + 1])
        }
        self._options = self._check_options(layer_options or {})
        self._option_layers = {i: {label: baseline.layers[i].replace(**opt)
                                   for label, opt in opts.items()}
                               for i, opts in self._options.items()}
        if isinstance(max_inserts, bool) or not isinstance(max_inserts, int) or max_inserts < 0:
            raise ValueError(f"max_inserts must be an integer >= 0, got {max_inserts!r}.")
        self.max_inserts = max_inserts
        self._insert_choices = self._check_insert_choices(insert_choices or {})
        self._insert_types = self._check_insert_types(insert_types)
        if isinstance(latency_batch_size, bool) or not isinstance(latency_batch_size, int) or (
            latency_batch_size < 1
        ):
            raise ValueError(f"latency_batch_size must be a positive integer, got "
                             f"{latency_batch_size!r}.")
        self.latency_batch_size = latency_batch_size
        self.notes = bool(notes)
        self._contexts: dict[tuple[Any, ...], Context | None] = {}

    def signature(self) -> tuple[Any, ...]:
        """Everything that defines the decisions: equal signatures, equal spaces."""
        return (self.baseline, self.constraints, tuple(sorted(self._factors.items())),
                tuple(self._editable), tuple(sorted(self._removable)),
                tuple((i, tuple(labels)) for i, labels in sorted(self._options.items())),
                self.max_inserts, tuple(sorted(self._insert_types.items())),
                tuple((t, tuple(sorted(hps.items())))
                      for t, hps in sorted(self._insert_choices.items())))

    # ----- validation of the arguments -----

    @staticmethod
    def _check_factors(
        factors: Sequence[float] | Mapping[str, Sequence[float]] | None,
    ) -> dict[str, tuple[float, ...]]:
        if factors is None:
            return {}
        if not isinstance(factors, Mapping):
            factors = {hp: factors for hp in SCALABLE}
        out = {}
        for hp, choices in factors.items():
            if hp not in SCALABLE:
                raise ValueError(f"scale_factors: {hp!r} is not scalable; expected some of "
                                 f"{list(SCALABLE)}.")
            choices = tuple(choices)
            if not choices or any(
                isinstance(f, bool) or not isinstance(f, (int, float)) or not f > 0
                or not math.isfinite(f) for f in choices
            ):
                raise ValueError(f"scale_factors for {hp!r} must be positive numbers, got "
                                 f"{choices!r}.")
            out[hp] = tuple(float(f) for f in choices)
        return out

    def _check_options(
        self, options: Mapping[int, Sequence[Mapping[str, Any]]]
    ) -> dict[int, dict[str, Mapping[str, Any]]]:
        out: dict[int, dict[str, Mapping[str, Any]]] = {}
        for i, opts in options.items():
            if i not in self._editable:
                raise ValueError(f"layer_options: layer {i!r} is not among the editable "
                                 f"layers {self._editable}.")
            layer = self.baseline.layers[i]
            labelled: dict[str, Mapping[str, Any]] = {}
            for opt in opts:
                try:
                    layer.replace(**opt)
                except (TypeError, SpecError) as e:
                    raise ValueError(f"layer_options[{i}]: {opt!r} does not fit layer {i} "
                                     f"({layer.type}): {e}") from None
                labelled[_option_label(opt)] = dict(opt)
            if not labelled:
                raise ValueError(f"layer_options[{i}] must list at least one option.")
            out[i] = labelled
        return out

    def _check_insert_choices(
        self, overrides: Mapping[str, Mapping[str, Sequence[Any]]]
    ) -> dict[str, dict[str, tuple[Any, ...]]]:
        choices = {t: dict(hps) for t, hps in DEFAULT_INSERT_CHOICES.items()}
        for t, hps in overrides.items():
            if t not in choices:
                raise ValueError(f"insert_choices: cannot insert {t!r}; expected one of "
                                 f"{sorted(choices)}.")
            for hp, values in hps.items():
                if hp not in choices[t]:
                    raise ValueError(f"insert_choices: {t} has no hyperparameter {hp!r}; "
                                     f"expected some of {sorted(choices[t])}.")
                values = tuple(values)
                if not values:
                    raise ValueError(f"insert_choices[{t!r}][{hp!r}] is empty.")
                for value in values:
                    if hp in _WIDTH_HPS:
                        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and (
                            math.isfinite(value) and value > 0)
                        if not ok:
                            raise ValueError(f"insert_choices[{t!r}][{hp!r}]: a width is a "
                                             f"positive factor of the input's, got {value!r}.")
                        continue
                    try:
                        LAYER_TYPES[t](**{**_probe_layer_args(t), hp: value})
                    except (SpecError, TypeError) as e:
                        raise ValueError(f"insert_choices[{t!r}][{hp!r}]: {value!r} is not a "
                                         f"valid value: {e}") from None
                choices[t][hp] = values
        return choices

    def _check_insert_types(
        self, types: Mapping[str, Sequence[str]] | None
    ) -> dict[str, tuple[str, ...]]:
        if types is None:
            present = {layer.type for layer in self.baseline.layers}
            maps = [t for t in ("conv2d", "separable_conv2d", "inverted_residual",
                                "basic_block") if t in present] or ["conv2d"]
            seqs = [t for t in ("gru", "lstm") if t in present] or ["gru"]
            return {"map": (*maps, "max_pool2d"), "sequence": tuple(seqs),
                    "vector": ("linear", "dropout")}
        out = {}
        for rank_name, names in types.items():
            if rank_name not in _RANK_NAMES.values():
                raise ValueError(f"insert_types: {rank_name!r} is not a rank; expected some "
                                 f"of {list(_RANK_NAMES.values())}.")
            names = tuple(names)
            for t in names:
                rank = _RANK_OF_TYPE.get(t)
                if rank is None or _RANK_NAMES[rank] != rank_name:
                    fitting = [k for k, r in _RANK_OF_TYPE.items() if _RANK_NAMES[r] == rank_name]
                    raise ValueError(f"insert_types[{rank_name!r}]: {t!r} cannot be inserted "
                                     f"into a {rank_name}; expected some of {fitting}.")
            if names:
                out[rank_name] = names
        return out

    # ----- the decisions -----

    def _scalable(self, layer: Layer) -> list[str]:
        hps = layer.hyperparameters()
        return [hp for hp in self._factors if hp in hps]

    def _removal(self, i: int) -> list[Layer]:
        layer = self.baseline.layers[i]
        stride = getattr(layer, "stride", (1, 1))
        if layer.type in _STRIDED and stride != (1, 1):
            filters = self.baseline.shapes[i + 1][0]
            return [Conv2d(filters, 1, stride, activation="none")]
        return []

    def _option_choices(self, i: int) -> tuple[str, ...]:
        labels = tuple(self._options[i])
        return ("remove", *labels) if i in self._removable else labels

    def _decide(self, choose: Callable[[str, tuple[Any, ...]], Any]) -> tuple[NetworkSpec, list[str]]:
        """Ask ``choose(name, choices)`` for every decision, in order; build the child."""
        decisions = self.decisions()
        try:
            name, choices = next(decisions)
            while True:
                name, choices = decisions.send(choose(name, choices))
        except StopIteration as done:
            return done.value

    def decisions(self) -> Generator[tuple[str, tuple[Any, ...]], Any, tuple[NetworkSpec, list[str]]]:
        """The decisions as a generator: it yields ``(name, choices)``, is sent the value
        chosen, and returns the child and the skipped edits. A generator lets the sampler
        run many simulated episodes in lockstep, batching the policy across them."""
        base = self.baseline
        slots: list[list[Layer]] = [[layer] for layer in base.layers]
        edited = [False] * len(slots)
        for i in self._editable:
            layer = base.layers[i]
            if i in self._options:
                label = yield f"L{i}.variant", self._option_choices(i)
                slots[i] = self._removal(i) if label == "remove" else [self._option_layers[i][label]]
                edited[i] = slots[i] != [layer]
                continue
            if i in self._removable and (yield f"L{i}.remove", (False, True)):
                slots[i], edited[i] = self._removal(i), True
                continue
            changes = {}
            for hp in self._scalable(layer):
                factor = yield f"L{i}.{hp}", self._factors[hp]
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
            except _Infeasible as e:
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
            rank_name = _RANK_NAMES[len(shape)]
            types = self._insert_types.get(rank_name, ())
            if not types:
                skipped.append(f"I{k}: nothing may be inserted into a {rank_name}")
                continue
            kind = yield f"I{k}.type.{rank_name}", types
            hps: dict[str, Any] = dict(_FIXED_INSERT_HPS.get(kind, {}))
            for hp, values in self._insert_choices[kind].items():
                value = yield f"I{k}.{kind}.{hp}", values
                hps[hp] = max(1, _round_half_up(value * shape[-1] if len(shape) < 3
                                                else value * shape[0])) if hp in _WIDTH_HPS else value
            inserted[position].append(LAYER_TYPES[kind](**hps))
            try:
                _propagate(base, slots, inserted)
            except _Infeasible:
                inserted[position].pop()
                skipped.append(f"I{k}: {kind} at {position} skipped, the network would be "
                               "impossible")
        layers = [layer for ins, slot in zip(inserted, slots) for layer in (*ins, *slot)]
        return NetworkSpec(base.input, tuple(layers), base.name), skipped

    def child(self, params: Mapping[str, Any]) -> NetworkSpec:
        """The child network that a trial with ``params`` got.

        Raises:
            ValueError: A decision is missing from ``params`` or has an invalid value.
        """
        def choose(name: str, choices: tuple[Any, ...]) -> Any:
            if name not in params:
                raise ValueError(f"params lack the decision {name!r}.")
            if params[name] not in choices:
                raise ValueError(f"params[{name!r}] = {params[name]!r} is not one of "
                                 f"{list(choices)}.")
            return params[name]
        return self._decide(choose)[0]

    def metrics(self, child: NetworkSpec,
                resources: NetworkResources | None = None) -> dict[str, float]:
        """The child's resource metrics, with ``latency_ms`` when a constraint uses it."""
        out = (resources or self.resource_model.count(child)).as_dict()
        if any(c.metric == "latency_ms" for c in self.constraints):
            out["latency_ms"] = measure_latency(child, batch_size=self.latency_batch_size)
        return out

    def suggest(self, trial: optuna.Trial) -> NetworkSpec:
        """Suggest a child network on ``trial``; record its resources and constraints."""
        sampler = trial.study.sampler
        attach = getattr(sampler, "_attach_space", None)
        if attach is not None:
            attach(self)
        child, skipped = self._decide(lambda name, choices: trial.suggest_categorical(
            name, choices))
        resources = self.resource_model.count(child)
        metrics = self.metrics(child, resources)
        for name, value in metrics.items():
            trial.set_user_attr(name, value)
        trial.set_user_attr("child_spec", child.to_json())
        if skipped:
            trial.set_user_attr("skipped_edits", skipped)
        for c in self.constraints:
            if c.metric in metrics:
                trial.set_constraint(c.name, c.violation(metrics[c.metric]))
        if self.notes:
            _save_note(trial, trial_note(child, resources, self.constraints, metrics))
        return child

    # ----- what the policy reads -----

    def layer_tokens(self) -> list[list[str]]:
        """Per baseline layer, the tokens that the policy embeds: its type and each
        hyperparameter's value, and whether it may be edited."""
        out = []
        for i, layer in enumerate(self.baseline.layers):
            tokens = [f"type={layer.type}", f"editable={i in self._editable}"]
            tokens += [f"{layer.type}.{hp}={v}" for hp, v in layer.hyperparameters().items()]
            tokens.append(f"out_width={self.baseline.shapes[i + 1][0]}")
            out.append(tokens)
        return out

    def context(self, name: str, choices: Sequence[Any], params: Mapping[str, Any]) -> Context | None:
        """What decision ``name`` is about, given the ``params`` decided so far; ``None``
        for a parameter that is not one of this space's."""
        # Only an insertion's position changes a context; memoise on it.
        position = params.get(f"{name.partition('.')[0]}.position") if name[:1] == "I" else None
        key = (name, tuple(choices), position)
        if key not in self._contexts:
            self._contexts[key] = self._context(name, tuple(choices), {} if position is None else {
                f"{name.partition('.')[0]}.position": position})
        return self._contexts[key]

    def _context(self, name: str, choices: Sequence[Any], params: Mapping[str, Any]) -> Context | None:
        head, _, rest = name.partition(".")
        if len(head) < 2 or head[0] not in "LI" or not head[1:].isdigit() or not rest:
            return None
        index = int(head[1:])
        if head[0] == "L":
            if index >= len(self.baseline.layers):
                return None
            key = "remove" if rest == "remove" else (
                "variant" if rest == "variant" else f"scale.{rest}")
            return Context(index, key, tuple(f"{key}={c}" for c in choices),
                                   (None,) * len(choices))
        if rest == "position":
            layers = tuple(c if isinstance(c, int) and c >= 0 else None for c in choices)
            return Context(None, "insert.position",
                                   tuple(f"insert.position={c}" for c in choices), layers)
        position = params.get(f"I{index}.position")
        layer = position if isinstance(position, int) and position >= 0 else None
        key = "insert.type" if rest.startswith("type.") else f"insert.{rest}"
        return Context(layer, key, tuple(f"{key}={c}" for c in choices),
                               (None,) * len(choices))


def _save_note(trial: optuna.Trial, body: str) -> None:
    """Show the child as a Markdown note in optuna-dashboard, when it is installed."""
    try:
        from optuna_dashboard import save_note
    except ImportError:
        return
    save_note(trial, body)


def _propagate(
    base: NetworkSpec,
    slots: Sequence[Sequence[Layer]],
    inserted: Sequence[Sequence[Layer]] | None = None,
    until: int | None = None,
) -> Shape:
    """Propagate shapes through the slots (each preceded by its insertions); return the
    shape entering slot ``until`` after its insertions, or the output shape.

    Raises:
        _Infeasible: The first slot whose layers cannot take their input.
    """
    shape = base.input.tensor_shape
    for position, slot in enumerate(slots):
        for layer in (inserted[position] if inserted else ()):
            try:
                shape = layer.output_shape(shape)
            except SpecError:
                raise _Infeasible(position) from None
        if position == until:
            return shape
        for layer in slot:
            try:
                shape = layer.output_shape(shape)
            except SpecError:
                raise _Infeasible(position) from None
    return shape
