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

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import hashlib
from typing import Any
import warnings

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import check_distribution_compatibility

from optuna_rena._constraints import Constraint
from optuna_rena._constraints import constraint_list
from optuna_rena._constraints import violations_of
from optuna_rena._constraints import write_constraints
from optuna_rena._dashboard import save_note
from optuna_rena._latency import measure_latency
from optuna_rena._metrics import ANALYTIC_METRICS
from optuna_rena._metrics import CHILD_ATTR
from optuna_rena._metrics import child_name
from optuna_rena._metrics import LATENCY_MS
from optuna_rena._metrics import SKIPPED_EDITS_ATTR
from optuna_rena._metrics import store_child_spec
from optuna_rena._record import record_search
from optuna_rena._report import trial_note
from optuna_rena._resources import NetworkResources
from optuna_rena._resources import ResourceModel
from optuna_rena._space.reach import extreme as extreme_value
from optuna_rena._space.reach import unreachable as unreachable_budgets
from optuna_rena._space.arguments import edit_rules
from optuna_rena._space.edits import Decisions
from optuna_rena._space.edits import run_decisions
from optuna_rena._space.encoding import decision_context
from optuna_rena._space.encoding import DecisionContext
from optuna_rena._space.encoding import insert_position_key
from optuna_rena._space.encoding import layer_tokens
from optuna_rena._space.hook import SpaceAwareSampler
from optuna_rena._spec import NetworkSpec


DEFAULT_SCALE_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0)


class ArchitectureSpace:
    """What may change in a baseline network, as Optuna suggestions.

    ``suggest(trial)`` asks the trial for RENA's three kinds of edits of ``baseline``
    (scale, remove, insert; the parameter names are in this module's docstring), builds the
    child :class:`~optuna_rena.NetworkSpec`, records its resources on the trial as user
    attributes (``params``, ``flops``, ``macs``, ``bytes``, ``compute_intensity``,
    ``child``, a short name of the child, and ``violated``, the bounds it breaks), keeps the
    child's spec for :func:`~optuna_rena.trial_child` and writes each constraint with
    :func:`~optuna_rena.set_constraint`, where Optuna and optuna-dashboard read it. Any
    Optuna sampler can search the space; :class:`~optuna_rena.RenaSampler` also reads the
    baseline's layers to condition its decisions on them, through the documented hook
    :class:`~optuna_rena.SpaceAwareSampler`.

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
        insert_choices: Per layer type, overrides of its choices when inserted (each
            type's defaults are its ``insert_choices``, such as
            ``Conv2d.insert_choices``; widths are factors of the input's width).
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
        scale_factors: (Sequence[float] | Mapping[str, Sequence[float]]
                        | None) = DEFAULT_SCALE_FACTORS,
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
        self._rules = edit_rules(
            baseline, scale_factors=scale_factors, layers=layers, remove=remove,
            layer_options=layer_options, max_inserts=max_inserts, insert_types=insert_types,
            insert_choices=insert_choices)
        self.baseline = baseline
        self.constraints = constraint_list(constraints)
        if resource_model is not None and not isinstance(resource_model, ResourceModel):
            raise ValueError(f"resource_model must be a ResourceModel, got {resource_model!r}.")
        self.resource_model = resource_model or ResourceModel()
        self.max_inserts = max_inserts
        if isinstance(latency_batch_size, bool) or not isinstance(latency_batch_size, int) or (
            latency_batch_size < 1
        ):
            raise ValueError(f"latency_batch_size must be a positive integer, got "
                             f"{latency_batch_size!r}.")
        self.latency_batch_size = latency_batch_size
        if not isinstance(notes, bool):
            raise ValueError(f"notes must be True or False, got {notes!r}.")
        self.notes = notes
        self._contexts: dict[tuple[Any, ...], DecisionContext | None] = {}

    def signature_with_budget(self) -> tuple[Any, ...]:
        """Everything that defines the decisions and their rewards, the budget (the
        constraints) with the edit rules: equal signatures, equal spaces, so what a sampler
        learnt on one carries over to the other. :attr:`decisions_fingerprint` leaves the
        budget out."""
        return (self.constraints, self._rules.signature())

    @property
    def decisions_fingerprint(self) -> str:
        """A short digest of the decisions only (baseline and edit rules, not the budget,
        which :meth:`signature_with_budget` includes): the same space gives the same
        fingerprint in every process, so a study can record which space its trials
        searched."""
        return hashlib.sha256(repr(self._rules.signature()).encode()).hexdigest()[:16]

    def signature(self) -> tuple[Any, ...]:
        """Deprecated since 0.2: :meth:`signature_with_budget`, whose name says that the
        budget is part of it."""
        warnings.warn("ArchitectureSpace.signature() is deprecated; use "
                      "signature_with_budget().", FutureWarning, stacklevel=2)
        return self.signature_with_budget()

    @property
    def fingerprint(self) -> str:
        """Deprecated since 0.2: :attr:`decisions_fingerprint`, whose name says that the
        budget is not part of it."""
        warnings.warn("ArchitectureSpace.fingerprint is deprecated; use "
                      "decisions_fingerprint.", FutureWarning, stacklevel=2)
        return self.decisions_fingerprint

    @property
    def summary(self) -> str:
        """What the space edits and how, in one line, for a study's record and its note."""
        rules, base = self._rules, self.resource_model.count(self.baseline)
        parts = [f"{len(rules.editable)} of {len(self.baseline.layers)} layers editable"]
        if rules.options:
            parts.append(f"{len(rules.options)} with options")
        if rules.removable:
            parts.append(f"{len(rules.removable)} removable")
        for hp, factors in sorted(rules.factors.items()):
            parts.append(f"{hp} x {'/'.join(f'{f:g}' for f in factors)}")
        parts.append(f"up to {rules.max_inserts} insertions" if rules.max_inserts else
                     "no insertions")
        return (f"edits of {self.baseline.name or 'the baseline'} ({base.params:,} params, "
                f"{base.macs:,} MACs): {', '.join(parts)}")

    def record(self, study: optuna.Study, metric_names: str | Sequence[str]) -> None:
        """Record on ``study`` what it searches, as ``optuna-rena search`` records its
        study: the budget and this space as study user attributes (``constraints``,
        ``space``, ``space_summary``), ``metric_names`` as the study's metric names, and a
        note for optuna-dashboard with the budget and the space (when the study has none).
        Call it before ``study.optimize``; a continued study is checked first.

        ``optuna-rena report`` and the figures then read the budget from the study, and
        a continued run under another budget or space is refused rather than mixing two
        budgets' constraint values in one study.

        Args:
            study: The study, new or continued.
            metric_names: The objective's name (``"accuracy"``); of several objectives,
                one name each, the quality first.

        Raises:
            ValueError: The study holds trials of another budget or space, or
                ``metric_names`` does not name each of its objectives.
        """
        self.check_study(study)
        names = [metric_names] if isinstance(metric_names, str) else list(metric_names)
        record_search(study, self.constraints, names,
                      space_fingerprint=self.decisions_fingerprint,
                      space_summary=self.summary)

    def check_study(self, study: optuna.Study) -> None:
        """Refuse a study whose trials give one of this space's decisions another
        distribution, before any trial of this space is made in it.

        A study holds one distribution per parameter name: Optuna would write the first
        trial of this space there, then fail it at that decision.

        Raises:
            ValueError: Naming the parameter and both distributions.
        """
        seen: set[str] = set()
        for trial in study.get_trials(deepcopy=False):
            for name, distribution in trial.distributions.items():
                if name in seen:
                    continue
                seen.add(name)
                choices = self._rules.choices(name)
                if choices is None:
                    continue  # not this space's: no clash
                try:
                    check_distribution_compatibility(distribution,
                                                     CategoricalDistribution(choices))
                except ValueError:
                    raise ValueError(
                        f"the study {study.study_name!r} holds trials whose {name!r} is "
                        f"{distribution}, where this space chooses among {list(choices)}: "
                        "another sampler or objective made them, and Optuna would fail this "
                        "space's trials at that decision; search under another study name "
                        "(--study-name)."
                    ) from None

    # ----- the decisions and the child -----

    def decisions(self) -> Decisions:
        """The decisions as a generator: it yields ``(name, choices)``, is sent the value
        chosen, and returns the child and the skipped edits. A generator lets a sampler
        run many simulated episodes in lockstep, batching its policy across them."""
        return self._rules.decisions()

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
        return run_decisions(self.decisions(), choose)[0]

    # ----- the child's resources -----

    def metrics(self, child: NetworkSpec,
                resources: NetworkResources | None = None) -> dict[str, float]:
        """The child's resource metrics, with ``latency_ms`` when a constraint uses it."""
        out = (resources or self.resource_model.count(child)).as_dict()
        if any(c.metric == LATENCY_MS for c in self.constraints):
            try:
                out[LATENCY_MS] = measure_latency(child, batch_size=self.latency_batch_size)
            except ValueError as e:
                # This child cannot run here (memory): its trial fails, the search goes on
                # (a RuntimeError, which `search` and Optuna's catch= treat as a trial's).
                raise RuntimeError(f"cannot measure the latency of this child: {e}") from None
        return out

    @property
    def analytic_constraints(self) -> tuple[Constraint, ...]:
        """The constraints on metrics known before any training (counted, not measured)."""
        return tuple(c for c in self.constraints if c.metric in ANALYTIC_METRICS)

    @property
    def has_analytic_constraints(self) -> bool:
        """Whether some constraint bounds a metric that is known before any training."""
        return bool(self.analytic_constraints)

    def analytic_violations(self, child: NetworkSpec,
                            resources: NetworkResources | None = None) -> dict[str, float]:
        """The violations of the constraints on analytic metrics (counted, not measured);
        ``resources``, the child's when already counted."""
        counted = resources or self.resource_model.count(child)
        return violations_of(self.analytic_constraints, counted.as_dict())

    def extreme(self, metric: str, smallest: bool = True, rounds: int = 50) -> float:
        """The smallest (or largest) value of an analytic metric that a child reaches, by
        coordinate descent over the decisions from the first choice of each: a budget
        beyond it is out of reach, as far as this search can tell.

        Raises:
            ValueError: ``metric`` is not counted by the resource model.
        """
        return extreme_value(self._rules, self.resource_model, metric, smallest, rounds)

    def unreachable(self) -> list[str]:
        """A sentence for each analytic constraint that no child found by
        :meth:`extreme` meets, ending with what to do about it."""
        return unreachable_budgets(self._rules, self.resource_model,
                                   self.analytic_constraints)

    # ----- a trial -----

    def suggest(self, trial: optuna.Trial) -> NetworkSpec:
        """Suggest a child network on ``trial``; record its resources and constraints.

        A sampler that implements :class:`~optuna_rena.SpaceAwareSampler` is told about
        this space first.
        """
        child, skipped = self._decide_through(trial)
        resources = self.resource_model.count(child)
        metrics = self.metrics(child, resources)
        # optuna-dashboard's trial table orders the user attributes as the storage returns
        # them, which a journal file or memory keeps in the order written: what a person
        # scans for (``violated``, then ``child``) before the numbers.
        self._write_constraints(trial, metrics)
        self._record(trial, child, skipped, metrics)
        self._save_note(trial, child, resources, metrics)
        return child

    def _decide_through(self, trial: optuna.Trial) -> tuple[NetworkSpec, list[str]]:
        """The child and its skipped edits, each decision a suggestion on ``trial``."""
        sampler = trial.study.sampler
        if isinstance(sampler, SpaceAwareSampler):
            sampler.attach_space(self)
        return run_decisions(self.decisions(), trial.suggest_categorical)

    def _record(self, trial: optuna.Trial, child: NetworkSpec, skipped: list[str],
                metrics: Mapping[str, float]) -> None:
        """Keep the child's spec, its name, its resources ``metrics`` and its skipped
        edits on ``trial``."""
        spec_json = child.to_json()
        # Kept out of the user attributes, which optuna-dashboard's trial table shows whole.
        store_child_spec(trial, spec_json)
        trial.set_user_attr(CHILD_ATTR, child_name(spec_json, child))
        for name, value in metrics.items():
            trial.set_user_attr(name, value)
        if skipped:
            trial.set_user_attr(SKIPPED_EDITS_ATTR, skipped)

    def _write_constraints(self, trial: optuna.Trial, metrics: Mapping[str, float]) -> None:
        """Write each constraint whose metric is known now; the objective writes the
        others (user metrics) with :meth:`Constraint.set`."""
        measured = [c for c in self.constraints if c.metric in metrics]
        write_constraints(trial, {c.name: c.violation(metrics[c.metric]) for c in measured},
                          {c.name: f"{c.metric} {c.off_by(metrics[c.metric])}"
                           for c in measured})

    def _save_note(self, trial: optuna.Trial, child: NetworkSpec,
                   resources: NetworkResources, metrics: Mapping[str, float]) -> None:
        if self.notes:
            save_note(trial, trial_note(child, resources, self.constraints, metrics))

    # ----- what a policy reads -----

    def layer_tokens(self) -> list[list[str]]:
        """Per baseline layer, the tokens that a policy embeds: its type and each
        hyperparameter's value, whether it may be edited, and its output width."""
        return layer_tokens(self._rules)

    def context(self, name: str, choices: Sequence[Any],
                params: Mapping[str, Any]) -> DecisionContext | None:
        """What decision ``name`` is about, given the ``params`` decided so far; ``None``
        for a parameter that is not one of this space's."""
        # Only an insertion's position changes a context; memoise on it.
        position_key = insert_position_key(name)
        position = params.get(position_key) if position_key else None
        key = (name, tuple(choices), position)
        if key not in self._contexts:
            known = {} if position is None else {position_key: position}
            self._contexts[key] = decision_context(self._rules, name, tuple(choices), known)
        return self._contexts[key]
