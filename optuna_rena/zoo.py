"""Baseline networks, as specs, for RENA to edit.

* :func:`cifar10_resnet`: a small ResNet for 32x32 images;
* :func:`nas_bench_macro`: any of NAS-Bench-Macro's 6561 networks from its 8-digit code;
* :func:`kws_crnn`: the keyword-spotting CRNN of Arik et al. 2017;
* :func:`ds_cnn`: the keyword-spotting DS-CNN of Zhang et al. 2017 ("Hello Edge");
* :func:`digits_cnn`: a three-convolution CNN for scikit-learn's 8x8 digits.

:func:`nas_bench_macro_space` is NAS-Bench-Macro as an :class:`ArchitectureSpace`;
:func:`digits_curves_space` is the 343 edits of :func:`digits_cnn` whose learning curves the
``digits-curves`` task tabulates.
"""

from __future__ import annotations

from collections.abc import Iterable

from optuna_rena._constraints import Constraint
from optuna_rena._space import ArchitectureSpace
from optuna_rena._spec import BasicBlock
from optuna_rena._spec import Conv2d
from optuna_rena._spec import Dropout
from optuna_rena._spec import GlobalAvgPool
from optuna_rena._spec import GRU
from optuna_rena._spec import InputSpec
from optuna_rena._spec import InvertedResidual
from optuna_rena._spec import Layer
from optuna_rena._spec import Linear
from optuna_rena._spec import NetworkSpec
from optuna_rena._spec import SeparableConv2d
from optuna_rena._spec import SpecError
from optuna_rena._spec import ToSequence


def cifar10_resnet(num_classes: int = 10, width: int = 32) -> NetworkSpec:
    """A small ResNet for CIFAR-10: a 3x3 stem and three stages of two basic blocks at
    ``width``, ``2 * width`` and ``4 * width`` channels (stride 2 at the start of the last
    two), global pooling, dropout and a linear classifier. About 0.7 M parameters at the
    default width."""
    layers: list[Layer] = [Conv2d(width, 3)]
    for stage in range(3):
        filters = width * 2**stage
        layers += [BasicBlock(filters, 3, 1 if stage == 0 else 2), BasicBlock(filters, 3)]
    layers += [GlobalAvgPool(), Dropout(0.2), Linear(num_classes, activation="none")]
    return NetworkSpec(InputSpec.image(3, 32, 32), tuple(layers), "cifar10_resnet")


NAS_BENCH_MACRO_STAGES = (2, 3, 3)
"""Layers per stage in NAS-Bench-Macro; each stage starts with stride 2."""

NAS_BENCH_MACRO_CHOICES: dict[str, tuple[int, int] | None] = {
    "0": None,  # identity
    "1": (3, 3),  # MobileNetV2 block, kernel 3, expansion 3
    "2": (5, 6),  # MobileNetV2 block, kernel 5, expansion 6
}
"""Digit -> (kernel, expansion) of the inverted residual block, or None for identity."""


def nas_bench_macro(code: str, num_classes: int = 10) -> NetworkSpec:
    """The NAS-Bench-Macro network (Su et al. 2021) with an 8-digit ``code``.

    A 3x3 stem with 32 channels, then eight searchable layers in stages of 2, 3 and 3,
    each stage starting with stride 2 and twice the channels (64, 128, 256). Digit ``0``
    is the identity, ``1`` an inverted residual block with kernel 3 and expansion 3, ``2``
    one with kernel 5 and expansion 6. An identity that starts a stage must still halve
    the size and double the channels, so, as in the benchmark, it becomes a 1x1 stride-2
    convolution with batch norm and no activation; other identities are no layer at all.
    The head is a 1x1 convolution to 1280 channels, global pooling and a linear classifier.
    """
    if not isinstance(code, str) or len(code) != 8 or set(code) - set(NAS_BENCH_MACRO_CHOICES):
        raise SpecError(
            f"a NAS-Bench-Macro code is 8 digits, each 0, 1 or 2, got {code!r}."
        )
    layers: list[Layer] = [Conv2d(32, 3)]
    channels, digits = 32, iter(code)
    for stage_layers in NAS_BENCH_MACRO_STAGES:
        for position in range(stage_layers):
            first = position == 0
            if first:
                channels *= 2
            choice = NAS_BENCH_MACRO_CHOICES[next(digits)]
            if choice is not None:
                kernel, expansion = choice
                layers.append(InvertedResidual(channels, expansion, kernel, 2 if first else 1))
            elif first:
                layers.append(Conv2d(channels, 1, 2, activation="none"))
    layers += [Conv2d(1280, 1), GlobalAvgPool(), Linear(num_classes, activation="none")]
    return NetworkSpec(InputSpec.image(3, 32, 32), tuple(layers), f"nas_bench_macro_{code}")


def nas_bench_macro_space(
    constraints: Iterable[Constraint] | Constraint | None = None, notes: bool = True,
) -> ArchitectureSpace:
    """NAS-Bench-Macro as an :class:`ArchitectureSpace`: one decision per searchable layer,
    ``L{i}.variant`` for ``i`` in 1..8, with the choices ``"remove"`` (digit 0),
    ``"kernel=3,expansion=3"`` (digit 1) and ``"kernel=5,expansion=6"`` (digit 2). The
    child of code ``c`` is ``nas_bench_macro(c)``; :func:`nas_bench_macro_code` reads the
    code back from a trial's params."""
    options = [{"kernel": k, "expansion": e} for k, e in
               (NAS_BENCH_MACRO_CHOICES["1"], NAS_BENCH_MACRO_CHOICES["2"])]
    return ArchitectureSpace(
        nas_bench_macro("11111111"), constraints, scale_factors=None, layers=range(1, 9),
        layer_options={i: options for i in range(1, 9)}, max_inserts=0, notes=notes,
    )


def nas_bench_macro_code(params: dict[str, object]) -> str:
    """The 8-digit NAS-Bench-Macro code of a trial of :func:`nas_bench_macro_space`."""
    digits = {"remove": "0", "kernel=3,expansion=3": "1", "kernel=5,expansion=6": "2"}
    return "".join(digits[str(params[f"L{i}.variant"])] for i in range(1, 9))


def kws_crnn(num_classes: int = 12, n_mels: int = 40, frames: int = 101) -> NetworkSpec:
    """The convolutional recurrent keyword spotter of Arik et al. 2017 ("Convolutional
    Recurrent Neural Networks for Small-Footprint Keyword Spotting").

    Input: ``n_mels`` x ``frames`` log-mel features (1 s at a 10 ms hop by default). One
    convolution with 32 filters, kernel 20x5 and stride 8x2 (frequency x time), two
    bidirectional GRU layers with 32 units, a 64-unit fully connected layer and the
    classifier.
    """
    layers: tuple[Layer, ...] = (
        Conv2d(32, (20, 5), (8, 2), padding="valid"),
        ToSequence(),
        GRU(32, bidirectional=True, return_sequences=True),
        GRU(32, bidirectional=True),
        Linear(64),
        Dropout(0.1),
        Linear(num_classes, activation="none"),
    )
    return NetworkSpec(InputSpec.audio(n_mels, frames), layers, "kws_crnn")


def ds_cnn(num_classes: int = 12, n_mfcc: int = 10, frames: int = 49) -> NetworkSpec:
    """The depthwise-separable keyword spotter DS-CNN-S of Zhang et al. 2017 ("Hello Edge:
    Keyword Spotting on Microcontrollers").

    Input: ``n_mfcc`` x ``frames`` MFCCs (40 ms windows, 20 ms hop). A 64-filter 4x10
    convolution with stride 2, four 3x3 depthwise-separable convolutions with 64 filters,
    global average pooling and the classifier; about 24 k parameters.
    """
    layers: list[Layer] = [Conv2d(64, (4, 10), (2, 2))]
    layers += [SeparableConv2d(64, 3) for _ in range(4)]
    layers += [GlobalAvgPool(), Linear(num_classes, activation="none")]
    return NetworkSpec(InputSpec.audio(n_mfcc, frames), tuple(layers), "ds_cnn")


def digits_cnn(num_classes: int = 10) -> NetworkSpec:
    """A three-convolution CNN for scikit-learn's 8x8 digits (16, 32 and 64 filters, the
    last two with stride 2), global pooling and the classifier; 24 k parameters."""
    return NetworkSpec(InputSpec.image(1, 8, 8), (
        Conv2d(16), Conv2d(32, stride=2), Conv2d(64, stride=2), GlobalAvgPool(),
        Linear(num_classes, activation="none")), "digits_cnn")


DIGITS_CURVES_FACTORS: dict[str, tuple[float, ...]] = {"filters": (0.5, 1.0, 2.0),
                                                      "kernel": (1.0, 1.5)}
"""The scale factors of :func:`digits_curves_space`: filters halved, kept or doubled, the
3x3 kernels kept or made 5x5 (``kernel x 0.5`` would make them 1x1; left out so that every
child of the table could be trained on a CPU in half an hour)."""


def digits_curves_space(
    constraints: Iterable[Constraint] | Constraint | None = None, notes: bool = True,
) -> ArchitectureSpace:
    """The space of the ``digits-curves`` table: :func:`digits_cnn`'s three convolutions,
    each removed or scaled by :data:`DIGITS_CURVES_FACTORS` (3 filters x 2 kernels + remove
    = 7 choices each), no insertion: 7**3 = 343 children, each a different network.

    It is the ``digits`` task's space without insertions and with fewer scale factors:
    small enough that every child was trained (``benchmarks/digits_curves.py``);
    :func:`digits_curves_key` names a child's row."""
    return ArchitectureSpace(digits_cnn(), constraints, scale_factors=DIGITS_CURVES_FACTORS,
                             layers=(0, 1, 2), max_inserts=0, notes=notes)


def digits_curves_key(params: dict[str, object]) -> str:
    """The row of the ``digits-curves`` table that a trial of :func:`digits_curves_space`
    with ``params`` reads: its decisions in name order, ``L0.filters=0.5,L0.kernel=1.0,...``."""
    return ",".join(f"{name}={params[name]}" for name in sorted(params))
