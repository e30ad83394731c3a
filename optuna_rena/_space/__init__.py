"""The architecture space: RENA's edits of a baseline as Optuna suggestions."""

from optuna_rena._space.edits import every_params
from optuna_rena._space.edits import path_choices
from optuna_rena._space.edits import run_decisions
from optuna_rena._space.edits import scale_value
from optuna_rena._space.encoding import DecisionContext
from optuna_rena._space.hook import SpaceAwareSampler
from optuna_rena._space.reach import UnreachableBudgetWarning
from optuna_rena._space.space import ArchitectureSpace
from optuna_rena._space.space import DEFAULT_SCALE_FACTORS


__all__ = ["ArchitectureSpace", "DEFAULT_SCALE_FACTORS", "DecisionContext",
           "SpaceAwareSampler", "UnreachableBudgetWarning", "every_params", "path_choices",
           "run_decisions", "scale_value"]
