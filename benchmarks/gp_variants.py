"""Samplers for ``optuna-rena benchmark --samplers gp_variants:CLASS`` (with ``benchmarks/``
on ``PYTHONPATH``), as run for ``benchmarks/pareto-gp-model.md``:

* ``RenaSampler`` with a constant of the world model's process (``_sampler/gp.py``) set:
  ``RefitEvery`` (``_REFIT_GROWTH = 1.0``: the kernel is picked again at every trial, as
  GPSampler refits), ``PriorHalf`` and ``PriorTwo`` (``_RELEVANCE_PRIOR`` 0.5 and 2.0).
  The constant is set when the sampler is made and stays set in that process, so run
  one such class per benchmark command.
* ``GPSeedsFrom3``: Optuna's ``GPSampler`` with seeds 3, 4, ... for the runs 0, 1, ...,
  to add seeds to a committed run that holds seeds 0-2.
"""

from __future__ import annotations

from typing import Any

import optuna

from optuna_rena import RenaSampler
from optuna_rena._sampler import gp


def _with_constants(**constants: Any) -> type[RenaSampler]:
    class Variant(RenaSampler):
        def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
            for name, value in constants.items():
                setattr(gp, name, value)
            super().__init__(seed=seed, **kwargs)

    Variant.__doc__ = f"RenaSampler with {constants} in optuna_rena._sampler.gp."
    return Variant


RefitEvery = _with_constants(_REFIT_GROWTH=1.0)
PriorHalf = _with_constants(_RELEVANCE_PRIOR=0.5)
PriorTwo = _with_constants(_RELEVANCE_PRIOR=2.0)


class GPSeedsFrom3(optuna.samplers.GPSampler):
    """GPSampler with seeds 3, 4, ... for the runs 0, 1, ..."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed=None if seed is None else seed + 3)
