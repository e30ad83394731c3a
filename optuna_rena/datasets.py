"""Datasets and tables for the tasks: scikit-learn's digits, CIFAR-10, Google Speech
Commands, the NAS-Bench-Macro table, and the learning curves of digits' children.

Each dataset loader returns in-memory tensors, ``(x_train, y_train, x_val, y_val)``,
small enough for CPU search. CIFAR-10 and Speech Commands read a local folder when one is
given (such as the offline subsets in ``../shared/data``) and otherwise download the full
dataset with torchvision or torchaudio, for users who have a network.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
import gzip
import hashlib
import json
from pathlib import Path
import re
from typing import Any

import numpy as np
import torch


@dataclass
class Dataset:
    """Training and validation tensors, and the class names."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        if len(self.x_train) == 0 or len(self.x_val) == 0:
            raise ValueError("the dataset has no training or no validation samples.")


def digits(val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 1797 8x8 handwritten digits (shipped inside the wheel), as
    ``(1, 8, 8)`` images scaled to [0, 1], with a stratified-enough random split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = int(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return Dataset(x[train], y[train], x[val], y[val], [str(i) for i in range(10)])


CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def _require_dir(path: Path, what: str, expected: str) -> None:
    if not path.is_dir():
        raise ValueError(f"{what}: {path} is not a folder; expected {expected}.")


def cifar10(data_dir: str | Path | None, max_train: int | None = None,
            max_val: int | None = None) -> Dataset:
    """CIFAR-10 as normalised ``(3, 32, 32)`` tensors.

    Args:
        data_dir: An ImageFolder tree with ``train/<class>/*`` and ``test/<class>/*`` (the
            offline subset), or ``None`` to download the full dataset with torchvision.
        max_train: Keep at most this many training images (the first per class, in turn).
        max_val: The same for the test images, which serve as validation.
    """
    import torchvision
    from torchvision import transforms

    to_tensor = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    if data_dir is None:
        root = Path.home() / ".cache" / "optuna-rena" / "cifar10"
        train = torchvision.datasets.CIFAR10(root, train=True, download=True, transform=to_tensor)
        test = torchvision.datasets.CIFAR10(root, train=False, download=True, transform=to_tensor)
    else:
        root = Path(data_dir)
        expected = "train/<class>/*.jpg and test/<class>/*.jpg (ImageFolder layout)"
        _require_dir(root / "train", "cifar10", expected)
        _require_dir(root / "test", "cifar10", expected)
        train = torchvision.datasets.ImageFolder(root / "train", transform=to_tensor)
        test = torchvision.datasets.ImageFolder(root / "test", transform=to_tensor)
        if train.classes != test.classes or len(train.classes) != 10:
            raise ValueError(f"cifar10: {root} should hold the same 10 class folders in train/ "
                             f"and test/, found {train.classes} and {test.classes}.")
    x_train, y_train = _take(train, max_train)
    x_val, y_val = _take(test, max_val)
    return Dataset(x_train, y_train, x_val, y_val, list(train.classes))


def _take(dataset: torch.utils.data.Dataset, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``limit`` samples, interleaving the classes so that a prefix stays balanced."""
    targets = np.asarray(getattr(dataset, "targets"))
    by_class = [np.flatnonzero(targets == c) for c in np.unique(targets)]
    order = [i for group in zip(*by_class) for i in group]
    order += sorted(set(range(len(targets))) - set(order))
    if limit is not None:
        order = order[:limit]
    xs, ys = zip(*(dataset[i] for i in order))
    return torch.stack(xs), torch.tensor(ys, dtype=torch.long)


SPEECH_COMMANDS_CLASSES = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop",
                           "go", "_silence_", "_unknown_")
SAMPLE_RATE = 16000
_SPEAKER = re.compile(r"([0-9a-f]{8})_nohash")


def speaker_of(file_name: str) -> str:
    """The speaker id of a Speech Commands clip (``<speaker>_nohash_<n>.wav``); clips with
    none (background-noise silence) are their own speaker."""
    match = _SPEAKER.search(file_name)
    return match.group(1) if match else Path(file_name).stem


def is_validation_speaker(speaker: str, val_percent: float = 20.0) -> bool:
    """A speaker-disjoint split, as the dataset's own ``which_set`` recipe: hash the speaker
    id, so every clip of a speaker falls on the same side, whatever the other files."""
    digest = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    return (digest % 10_000) / 100.0 < val_percent


def log_mel(waveforms: torch.Tensor, n_mels: int = 40) -> torch.Tensor:
    """Log-mel features, ``(N, 1, n_mels, frames)``: 25 ms windows, 10 ms hop, so a 1 s
    clip gives 101 frames."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=512, win_length=400, hop_length=160, n_mels=n_mels)
    return torch.log(mel(waveforms) + 1e-6).unsqueeze(1)


def _fit_one_second(audio: torch.Tensor) -> torch.Tensor:
    audio = audio[:SAMPLE_RATE]
    return torch.nn.functional.pad(audio, (0, SAMPLE_RATE - len(audio)))


def speech_commands(data_dir: str | Path | None, n_mels: int = 40,
                    val_percent: float = 20.0) -> Dataset:
    """Google Speech Commands, 12 classes, as normalised log-mel features.

    Args:
        data_dir: A folder with one subfolder of 16 kHz WAV clips per class (the offline
            subset), or ``None`` to download v0.02 with torchaudio's ``SPEECHCOMMANDS``
            (which decodes through torchcodec) and map it to the 12 classes.
        n_mels: Mel bands.
        val_percent: Percentage of speakers held out, by hashing the speaker id.
    """
    waves: list[torch.Tensor] = []
    labels: list[int] = []
    speakers: list[str] = []
    if data_dir is None:
        import torchaudio

        root = Path.home() / ".cache" / "optuna-rena"
        root.mkdir(parents=True, exist_ok=True)
        dataset = torchaudio.datasets.SPEECHCOMMANDS(root, download=True)
        for i in range(len(dataset)):
            waveform, rate, label, speaker, _ = dataset[i]
            name = label if label in SPEECH_COMMANDS_CLASSES else "_unknown_"
            waves.append(_fit_one_second(waveform[0]))
            labels.append(SPEECH_COMMANDS_CLASSES.index(name))
            speakers.append(speaker)
    else:
        from scipy.io import wavfile

        root = Path(data_dir)
        _require_dir(root, "speech_commands", "one folder of WAV clips per class")
        missing = [c for c in SPEECH_COMMANDS_CLASSES if not (root / c).is_dir()]
        if missing:
            raise ValueError(f"speech_commands: {root} lacks the class folder(s) {missing}; "
                             f"expected {list(SPEECH_COMMANDS_CLASSES)}.")
        for label, name in enumerate(SPEECH_COMMANDS_CLASSES):
            for path in sorted((root / name).glob("*.wav")):
                rate, audio = wavfile.read(path)
                if rate != SAMPLE_RATE:
                    raise ValueError(f"speech_commands: {path} is sampled at {rate} Hz; "
                                     f"expected {SAMPLE_RATE}.")
                scale = 32768.0 if audio.dtype == np.int16 else 1.0
                waves.append(_fit_one_second(torch.tensor(audio, dtype=torch.float32) / scale))
                labels.append(label)
                speakers.append(speaker_of(path.name))
    if not waves:
        raise ValueError(f"speech_commands: no clips found in {data_dir}.")
    features = log_mel(torch.stack(waves), n_mels)
    features = (features - features.mean()) / (features.std() + 1e-6)
    y = torch.tensor(labels, dtype=torch.long)
    val = torch.tensor([is_validation_speaker(s, val_percent) for s in speakers])
    return Dataset(features[~val], y[~val], features[val], y[val], list(SPEECH_COMMANDS_CLASSES))


def load_nas_bench_macro(data_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The NAS-Bench-Macro table from ``data_dir/nas_bench_macro``."""
    path = Path(data_dir) / "nas_bench_macro" / "nas-bench-macro_cifar10.json"
    try:
        table = json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"cannot read NAS-Bench-Macro at {path}: {e.strerror}.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}.") from None
    if not isinstance(table, dict) or len(table) != 6561:
        raise ValueError(f"{path} should map the 6561 codes to their results.")
    return table


DIGITS_CURVES = Path(__file__).parent / "data" / "digits_curves.json.gz"
"""The learning-curve table of the ``digits-curves`` task, inside the package: our own
training runs (``benchmarks/digits_curves.py``), not a download."""


@dataclass(frozen=True)
class CurveTable:
    """Per child network, its validation accuracy after each epoch of real training.

    Attributes:
        epochs: The epochs of every curve.
        fingerprint: The decisions fingerprint of the space whose children the rows are.
        rows: Per row key (:func:`optuna_rena.zoo.digits_curves_key`), the row:
            ``decisions`` (the trial's params), ``child``, ``resources`` (``params``,
            ``flops``, ``macs``, ``bytes``, ``compute_intensity``), ``accuracy`` (one
            per epoch) and ``number`` (its seed).
        about: What the table is and how it was made (the generator's header).
    """

    epochs: int
    fingerprint: str
    rows: dict[str, dict[str, Any]]
    about: dict[str, Any]


def load_digits_curves(path: str | Path | None = None) -> CurveTable:
    """The ``digits-curves`` table (:data:`DIGITS_CURVES` by default).

    Raises:
        ValueError: The file is missing, not gzipped JSON, or a row is malformed.
    """
    path = Path(path) if path is not None else DIGITS_CURVES
    try:
        with gzip.open(path, "rt") as f:
            table = json.load(f)
    except OSError as e:
        raise ValueError(f"cannot read the learning-curve table {path}: "
                         f"{e.strerror or e}; rebuild it with "
                         "benchmarks/digits_curves.py.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}.") from None
    epochs = table.get("epochs") if isinstance(table, dict) else None
    if not isinstance(epochs, int) or not isinstance(table.get("rows"), list):
        raise ValueError(f"{path} holds no learning-curve table (epochs and rows).")
    rows: dict[str, dict[str, Any]] = {}
    for row in table["rows"]:
        curve = row.get("accuracy") if isinstance(row, dict) else None
        if (not isinstance(curve, list) or len(curve) != epochs
                or not all(isinstance(a, float) and 0 <= a <= 1 for a in curve)):
            raise ValueError(f"{path}: row {row.get('key') if isinstance(row, dict) else row!r} "
                             f"has no {epochs} accuracies in [0, 1].")
        if row["key"] in rows:
            raise ValueError(f"{path}: the row {row['key']!r} is there twice.")
        rows[row["key"]] = row
    about = {k: v for k, v in table.items() if k != "rows"}
    return CurveTable(epochs, str(table.get("space_fingerprint")), rows, about)


NB201_OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The operations of a NAS-Bench-201 cell's edges."""

NB201_DEVICES = ("raspi4", "pixel3", "fpga", "eyeriss", "gold_6240", "samsung_a50",
                 "titan_rtx_1", "2080ti_1")
"""The devices whose latencies HW-NAS-Bench measured (batch 1 on the two GPUs)."""


@dataclass(frozen=True)
class NB201Table:
    """NAS-Bench-201's 15625 cells: accuracy after 12 epochs and latency per device.

    Attributes:
        cells: Per row, the operations of the cell's six edges, in the order of the
            cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
        accuracy: Per row, CIFAR-10 validation accuracy (%).
        latency_ms: Per device, per row, the measured latency in milliseconds.
    """

    cells: tuple[tuple[str, ...], ...]
    accuracy: np.ndarray
    latency_ms: dict[str, np.ndarray]

    def index(self) -> dict[tuple[str, ...], int]:
        return {cell: i for i, cell in enumerate(self.cells)}


def nb201_cell(arch: str) -> tuple[str, ...]:
    """The six edge operations of a NAS-Bench-201 cell string."""
    edges = [e.split("~")[0] for node in arch.strip("|").split("|+|") for e in node.split("|")]
    if len(edges) != 6 or set(edges) - set(NB201_OPERATIONS):
        raise ValueError(f"not a NAS-Bench-201 cell: {arch!r}.")
    return tuple(edges)


def load_nb201_hw(data_dir: str | Path) -> NB201Table:
    """NAS-Bench-201 with HW-NAS-Bench's latencies, from ``data_dir/nb201_hw``."""
    path = Path(data_dir) / "nb201_hw" / "nb201_hw.csv"
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ValueError(f"cannot read NAS-Bench-201 at {path}: {e.strerror}.") from None
    needed = {"arch", "cifar10_val", *(f"latency_ms_{d}" for d in NB201_DEVICES)}
    if not rows or needed - set(rows[0]):
        raise ValueError(f"{path} should have the columns {sorted(needed)}.")
    return NB201Table(
        cells=tuple(nb201_cell(r["arch"]) for r in rows),
        accuracy=np.array([float(r["cifar10_val"]) for r in rows]),
        latency_ms={d: np.array([float(r[f"latency_ms_{d}"]) for r in rows])
                    for d in NB201_DEVICES})
