"""Configurations as the world model reads them: a code per parameter and, with a space,
a few structural numbers of the child network.

* A categorical parameter becomes a code: equal values, equal codes. Codes are handed out
  as values are first seen, so any choices work, including a space's conditional ones.
* An integer or float parameter becomes its value scaled to [0, 1] over its range (in
  log space for log distributions).
* With an :class:`~optuna_rena.ArchitectureSpace`, the child's counted resources (params,
  FLOPs, bytes, compute intensity) are added as numbers, on a log scale around the
  baseline's, as nn-Meter and HELP predict latency from a network's structure.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import math
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution

from optuna_rena._sampler.candidates import Candidate
from optuna_rena._sampler.gp import Features
from optuna_rena._sampler.ranges import normalise
from optuna_rena._spec import NetworkSpec


if TYPE_CHECKING:
    from optuna_rena._space import ArchitectureSpace


_STRUCTURE = ("params", "flops", "bytes", "compute_intensity")
_CACHE = 100_000  # encoded candidates remembered
_EXACT = (str, int, bool, type(None))
_OCTAVES = 8.0  # a child 2**8 times smaller or larger than the baseline spans [0, 1]


class ConfigurationEncoder:
    """Encodes parameter dicts (and children) as :class:`Features`.

    Args:
        space: With a space, its decisions are the categorical columns and the child's
            structure adds numeric columns.
    """

    def __init__(self, space: ArchitectureSpace | None) -> None:
        self.space = space
        self._categorical: list[str] = []
        self._codes: dict[str, dict[str, int]] = {}  # by the value's repr
        # The same codes by value, for types whose equal values have equal reprs (not
        # floats: 0.0 == -0.0): a dict look-up instead of a repr per value and row.
        self._known: dict[str, dict[tuple[type, Any], int]] = {}
        self._numeric: dict[str, BaseDistribution] = {}
        self._baseline: dict[str, float] = {}
        self._structures: dict[NetworkSpec, np.ndarray] = {}
        # Two dicts of arrays, not one of tuples: arrays are not tracked by Python's
        # garbage collector, and tens of thousands of cached tuples made its full
        # collections (of torch's few hundred thousand objects) frequent and slow.
        self._categorical_rows: dict[str, np.ndarray] = {}
        self._numeric_rows: dict[str, np.ndarray] = {}
        self._columns = (0, 0)
        if space is not None:
            self._baseline = {k: float(v) for k, v in space.resource_model.count(
                space.baseline).as_dict().items() if k in _STRUCTURE}

    @property
    def dims(self) -> int:
        """Columns of the features it makes now."""
        structure = len(_STRUCTURE) if self.space is not None else 0
        return len(self._categorical) + len(self._numeric) + structure

    def observe(self, distributions: Mapping[str, BaseDistribution]) -> None:
        """Add columns for parameters not seen before."""
        for name, d in distributions.items():
            if isinstance(d, CategoricalDistribution):
                if name not in self._codes:
                    self._codes[name] = {}
                    self._known[name] = {}
                    self._categorical.append(name)
            elif name not in self._numeric:
                self._numeric[name] = d

    def encode_candidates(self, candidates: Sequence[Candidate]) -> Features:
        """Candidates' rows, each encoded once while the columns stay the same: the
        planner scores the neighbours of the same best trials again and again."""
        columns = (len(self._categorical), len(self._numeric))
        categorical, numeric = self._categorical_rows, self._numeric_rows
        if columns != self._columns or len(categorical) > _CACHE:
            categorical.clear()  # before the look-ups below, which then all find their rows
            numeric.clear()
            self._columns = columns
        new = [c for c in dict.fromkeys(c.key for c in candidates) if c not in categorical]
        if new:
            by_key = {c.key: c for c in candidates}
            fresh = self.encode([by_key[k].params for k in new], [by_key[k].child for k in new])
            for i, key in enumerate(new):
                categorical[key], numeric[key] = fresh.categorical[i], fresh.numeric[i]
        if not candidates:
            return self.encode([])
        return Features(np.stack([categorical[c.key] for c in candidates]),
                        np.stack([numeric[c.key] for c in candidates]))

    def encode(self, configurations: Sequence[Mapping[str, Any]],
               children: Sequence[NetworkSpec | None] | None = None) -> Features:
        """Rows of features; a parameter a configuration lacks is absent."""
        n = len(configurations)
        categorical = np.full((n, len(self._categorical)), -1, dtype=np.int64)
        for j, name in enumerate(self._categorical):
            codes, known = self._codes[name], self._known[name]
            for i, params in enumerate(configurations):
                if name in params:
                    value = params[name]
                    code = known.get((value.__class__, value)) if value.__class__ in (
                        _EXACT) else None
                    if code is None:
                        code = codes.setdefault(repr(value), len(codes))
                        if value.__class__ in _EXACT:
                            known[(value.__class__, value)] = code
                    categorical[i, j] = code
        numeric_names = list(self._numeric)
        structure = len(_STRUCTURE) if self.space is not None else 0
        numeric = np.full((n, len(numeric_names) + structure), np.nan)
        for j, name in enumerate(numeric_names):
            d = self._numeric[name]
            for i, params in enumerate(configurations):
                if name in params:
                    numeric[i, j] = normalise(d, params[name])
        if structure and children is not None:
            for i, child in enumerate(children):
                if child is not None:
                    numeric[i, len(numeric_names):] = self._structure(child)
        return Features(categorical, numeric)

    def _structure(self, child: NetworkSpec) -> np.ndarray:
        assert self.space is not None
        # Specs are values: the same child, made twice, is counted once.
        if child not in self._structures:
            self._structures[child] = self._count(child)
        return self._structures[child]

    def _count(self, child: NetworkSpec) -> np.ndarray:
        assert self.space is not None
        counted = self.space.resource_model.count(child).as_dict()
        return np.array([
            0.5 + math.log2(max(float(counted[k]), 1e-9) / max(self._baseline[k], 1e-9))
            / (2 * _OCTAVES) for k in _STRUCTURE])
