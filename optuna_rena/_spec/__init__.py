"""The network spec: layer types, inputs and networks as data that build PyTorch models."""

from optuna_rena._spec.checks import Shape
from optuna_rena._spec.checks import SpecError
from optuna_rena._spec.layers import AvgPool2d
from optuna_rena._spec.layers import BasicBlock
from optuna_rena._spec.layers import Conv2d
from optuna_rena._spec.layers import Dropout
from optuna_rena._spec.layers import Flatten
from optuna_rena._spec.layers import GlobalAvgPool
from optuna_rena._spec.layers import GRU
from optuna_rena._spec.layers import InvertedResidual
from optuna_rena._spec.layers import LAYER_TYPES
from optuna_rena._spec.layers import Layer
from optuna_rena._spec.layers import LayerCost
from optuna_rena._spec.layers import layer_from_dict
from optuna_rena._spec.layers import Linear
from optuna_rena._spec.layers import LSTM
from optuna_rena._spec.layers import MaxPool2d
from optuna_rena._spec.layers import required_hyperparameters
from optuna_rena._spec.layers import SeparableConv2d
from optuna_rena._spec.layers import ToSequence
from optuna_rena._spec.network import InputSpec
from optuna_rena._spec.network import NetworkSpec


__all__ = [
    "AvgPool2d", "BasicBlock", "Conv2d", "Dropout", "Flatten", "GRU", "GlobalAvgPool",
    "InputSpec", "InvertedResidual", "LAYER_TYPES", "LSTM", "Layer", "LayerCost", "Linear",
    "MaxPool2d", "NetworkSpec", "SeparableConv2d", "Shape", "SpecError", "ToSequence",
    "layer_from_dict", "required_hyperparameters",
]
