"""optuna-rena: resource-constrained neural architecture search by reinforcement learning
(RENA, Zhou et al. 2018) for Optuna."""

from __future__ import annotations

from optuna_rena import zoo
from optuna_rena._constraints import Constraint
from optuna_rena._constraints import set_constraint
from optuna_rena._constraints import trial_violations
from optuna_rena._dashboard import mirror_constraints_for_dashboard
from optuna_rena._latency import measure_latency
from optuna_rena._metrics import trial_child
from optuna_rena._report import best_feasible_report
from optuna_rena._resources import LayerResources
from optuna_rena._resources import NetworkResources
from optuna_rena._resources import ResourceModel
from optuna_rena._sampler import RenaSampler
from optuna_rena._space import ArchitectureSpace
from optuna_rena._space import DecisionContext
from optuna_rena._space import SpaceAwareSampler
from optuna_rena._space import UnreachableBudgetWarning
from optuna_rena._spec import AvgPool2d
from optuna_rena._spec import BasicBlock
from optuna_rena._spec import Conv2d
from optuna_rena._spec import Dropout
from optuna_rena._spec import Flatten
from optuna_rena._spec import GlobalAvgPool
from optuna_rena._spec import GRU
from optuna_rena._spec import InputSpec
from optuna_rena._spec import InvertedResidual
from optuna_rena._spec import LAYER_TYPES
from optuna_rena._spec import Layer
from optuna_rena._spec import LayerCost
from optuna_rena._spec import Linear
from optuna_rena._spec import LSTM
from optuna_rena._spec import MaxPool2d
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import SeparableConv2d
from optuna_rena._spec import SpecError
from optuna_rena._spec import ToSequence


__version__ = "0.1.0"

__all__ = [
    "ArchitectureSpace",
    "Constraint",
    "DecisionContext",
    "RenaSampler",
    "SpaceAwareSampler",
    "UnreachableBudgetWarning",
    "best_feasible_report",
    "mirror_constraints_for_dashboard",
    "set_constraint",
    "trial_child",
    "trial_violations",
    "AvgPool2d",
    "BasicBlock",
    "Conv2d",
    "Dropout",
    "Flatten",
    "GRU",
    "GlobalAvgPool",
    "InputSpec",
    "InvertedResidual",
    "LAYER_TYPES",
    "LSTM",
    "Layer",
    "LayerCost",
    "LayerResources",
    "Linear",
    "MaxPool2d",
    "NetworkResources",
    "NetworkSpec",
    "ResourceModel",
    "SeparableConv2d",
    "SpecError",
    "ToSequence",
    "measure_latency",
    "zoo",
]
