"""The world model's Gaussian process against GPSampler's own (``optuna._gp``), on
NAS-Bench-201 accuracy and each device's latency: the metrics of
``nb201_model_quality.py`` (Spearman over all 15625 cells and over the better half,
the share within two predicted standard deviations, NLPD), and a search with each model
in place of the other, so that what differs is the model alone: 8 random cells, then
each next cell the one of largest log EHVI over the whole table (``--plan-search
exhaustive``, the EHVI exact as :mod:`optuna_rena._sampler.acqf` computes it), or the
one GPSampler's own LogEHVI and optimiser pick (``--plan-search optuna``).

    python benchmarks/nb201_optuna_gp.py [--data-dir DIR] [--devices eyeriss,raspi4,pixel3]
        [--cells 30,60] [--seeds 4] [--models rena,optuna] [--describe]
        [--plan-seeds 3] [--plan-device eyeriss] [--plan-steps 150]
        [--plan-search exhaustive] [--plan-models ...] [--no-quality]

Models: ``rena`` is :class:`optuna_rena._sampler.gp.GaussianProcess` as the world model
fits it; ``optuna`` is what GPSampler fits (``optuna._gp.gp.fit_kernel_params`` with its
default prior and minimum noise on the standardised values, each categorical parameter
its index: a Matern-5/2 kernel on the Hamming distance, one length-scale per parameter,
a learnt kernel scale and noise); ``optuna-onehot`` the same kernel on the one-hot code
(one length-scale per choice, as the world model's relevance weights);
``rena:CONSTANT=VALUE;...`` the world model's process with constants of
:mod:`optuna_rena._sampler.gp` set (``rena:_RELEVANCE_PRIOR=0.5``). In a search, ``a+b``
is model ``a`` for accuracy and ``b`` for latency. Latency is negated (larger is
better), as the models see it. Prints Markdown tables; ``benchmarks/pareto-gp-model.md``
holds the committed ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable

import numpy as np
from optuna._gp import gp as optuna_gp
from optuna._gp import prior as optuna_prior
import torch

from optuna_rena._pareto import hypervolume
from optuna_rena._sampler import gp
from optuna_rena._sampler.acqf import pareto_acquisition
from optuna_rena._sampler.pareto import improvement_boxes
from optuna_rena._sampler.pareto import non_dominated
from optuna_rena._sampler.pareto import reference_point
from optuna_rena.datasets import load_nb201_hw
from optuna_rena.datasets import NB201_OPERATIONS

sys.path.insert(0, os.path.dirname(__file__))
from nb201_model_quality import _quality  # noqa: E402  (beside this script)


class OptunaGP:
    """GPSampler's regressor on choice codes: ``fit(codes, y)``, ``predict(codes)``."""

    def __init__(self, one_hot: bool = False) -> None:
        self._one_hot = one_hot
        self._gpr: optuna_gp.GPRegressor | None = None
        self._mean, self._std = 0.0, 1.0

    def _encode(self, codes: np.ndarray) -> np.ndarray:
        if not self._one_hot:
            return codes.astype(float)
        width = len(NB201_OPERATIONS)
        out = np.zeros((len(codes), codes.shape[1] * width))
        out[np.arange(len(codes))[:, None], np.arange(codes.shape[1]) * width + codes] = 1.0
        return out

    def fit(self, codes: np.ndarray, y: np.ndarray) -> None:
        self._mean, self._std = float(y.mean()), max(float(y.std()), 1e-10)
        x = self._encode(codes)
        # Indices: the Hamming distance per parameter (GPSampler's); one-hot columns: 0/1
        # numbers, whose squared difference is the same indicator per column.
        categorical = np.full(x.shape[1], not self._one_hot)
        self._gpr = optuna_gp.fit_kernel_params(
            X=x, Y=(y - self._mean) / self._std, is_categorical=categorical,
            log_prior=optuna_prior.default_log_prior,
            minimum_noise=optuna_prior.DEFAULT_MINIMUM_NOISE_VAR,
            deterministic_objective=False, gpr_cache=None)

    def predict(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._gpr is not None
        out_mean, out_var = [], []
        x = torch.from_numpy(self._encode(codes))
        with torch.no_grad():
            for part in torch.split(x, 4096):
                m, v = self._gpr.posterior(part)
                out_mean.append(m.numpy())
                out_var.append(v.numpy())
        mean, var = np.concatenate(out_mean), np.concatenate(out_var)
        return (self._mean + self._std * mean,
                self._std * np.sqrt(np.maximum(var, 1e-12)))

    def describe(self) -> str:
        assert self._gpr is not None
        return (f"lengthscales {np.round(self._gpr.length_scales, 2)} scale "
                f"{self._gpr.kernel_scale.item():.2f} noise {self._gpr.noise_var.item():.2g}")


class RenaGP:
    """The world model's process on choice codes."""

    def __init__(self, setup: Callable[[], None] | None = None) -> None:
        self._setup = setup
        self._gp = gp.GaussianProcess()

    def fit(self, codes: np.ndarray, y: np.ndarray) -> None:
        with _patched(self._setup):
            self._gp.fit(_features(codes), y)

    def predict(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with _patched(self._setup):
            return self._gp.predict(_features(codes))

    def describe(self) -> str:
        k = self._gp._kernel
        rel = self._gp.relevance
        return (f"w {k.weight} theta {k.theta} noise {k.noise} relevance "
                f"{[np.round(r, 2).tolist() for r in rel] if rel is not None else None}")


class _patched:
    """Sets module constants of :mod:`gp` for the duration, then restores them."""

    def __init__(self, setup: Callable[[], None] | None) -> None:
        self._setup = setup
        self._saved: dict[str, object] = {}

    def __enter__(self) -> None:
        if self._setup is not None:
            self._saved = dict(vars(gp))
            self._setup()

    def __exit__(self, *args: object) -> None:
        if self._setup is not None:
            for name, value in self._saved.items():
                setattr(gp, name, value)


def _features(codes: np.ndarray) -> gp.Features:
    return gp.Features(codes, np.zeros((len(codes), 0)))


VARIANTS: dict[str, Callable[[], object]] = {
    "rena": lambda: RenaGP(),
    "optuna": lambda: OptunaGP(),
    "optuna-onehot": lambda: OptunaGP(one_hot=True),
}


def _model(name: str) -> Callable[[], object]:
    """A model by name: one of ``VARIANTS``, or ``rena:CONSTANT=VALUE;...``, the world
    model's process with constants of :mod:`optuna_rena._sampler.gp` set (a Python
    literal each, e.g. ``rena:_RELEVANCE_PRIOR=0.5``)."""
    if name in VARIANTS:
        return VARIANTS[name]
    short, _, settings = name.partition(":")
    if short != "rena" or not settings:
        raise ValueError(f"unknown model {name!r}")
    import ast

    values = {k: ast.literal_eval(v) for k, _, v in
              (item.partition("=") for item in settings.split(";"))}
    for key in values:
        if not hasattr(gp, key):
            raise ValueError(f"optuna_rena._sampler.gp has no {key}")

    def setup() -> None:
        for key, value in values.items():
            setattr(gp, key, value)

    return lambda: RenaGP(setup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("OPTUNA_RENA_DATA",
                                                             "../shared/data"))
    parser.add_argument("--devices", default="eyeriss,raspi4,pixel3")
    parser.add_argument("--cells", default="30,60")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--models", default="rena,optuna")
    parser.add_argument("--plan-seeds", type=int, default=0)
    parser.add_argument("--plan-device", default="eyeriss")
    parser.add_argument("--plan-models", default=None, help="default: --models")
    parser.add_argument("--plan-steps", type=int, default=150,
                        help="cells a search runs to (its gaps at 50, 75, 150 up to it)")
    parser.add_argument("--plan-search", choices=("exhaustive", "optuna"),
                        default="exhaustive",
                        help="exhaustive: the largest exact log EHVI over the table; "
                        "optuna: GPSampler's own LogEHVI (QMC) and optimiser "
                        "(optimize_acqf_mixed: 2048 random cells, local search from 10)")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--describe", action="store_true",
                        help="print each fit's hyperparameters (seed 0)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = load_nb201_hw(args.data_dir)
    operations = list(NB201_OPERATIONS)
    codes = np.array([[operations.index(o) for o in cell] for cell in table.cells])
    models = args.models.split(",")
    if not args.no_quality:
        print("| model | device | cells | output | Spearman, all | Spearman, better half | "
              "within 2 sd | NLPD | fit s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for device in args.devices.split(","):
            outputs = {"accuracy": table.accuracy, "latency": -table.latency_ms[device]}
            for name in models:
                for n in map(int, args.cells.split(",")):
                    rows: dict[str, list[list[float]]] = {k: [] for k in outputs}
                    seconds = []
                    for seed in range(args.seeds):
                        chosen = np.random.RandomState(seed).choice(len(codes), n,
                                                                    replace=False)
                        for output, y in outputs.items():
                            model = _model(name)()
                            start = time.process_time()
                            model.fit(codes[chosen], y[chosen])
                            seconds.append(time.process_time() - start)
                            rows[output].append(_quality(y, *model.predict(codes)))
                            if args.describe and seed == 0:
                                print(f"<!-- {name} {device} {n} {output}: "
                                      f"{model.describe()} -->", file=sys.stderr)
                    for output, values in rows.items():
                        cells = " | ".join(f"{v:.3f}" for v in np.mean(values, axis=0))
                        print(f"| {name} | {device} | {n} | {output} | {cells} | "
                              f"{np.mean(seconds):.2f} |", flush=True)
    if args.plan_seeds:
        device = args.plan_device
        points = np.stack([table.accuracy, -table.latency_ms[device]], axis=1)
        print()
        marks = [k for k in (50, 75, 150) if k <= args.plan_steps]
        print(f"Search: {args.plan_search}.")
        print()
        print("| model (accuracy+latency) | device | "
              + " | ".join(f"hv gap @{k}" for k in marks) + f" | per seed @{marks[-1]} |")
        print("|---" * (len(marks) + 3) + "|")
        for name in (args.plan_models or args.models).split(","):
            # "a+b": model a for accuracy, b for latency; "a": a for both.
            makers = [_model(part) for part in (name.split("+") * 2)[:2]]
            gaps = []
            for seed in range(args.plan_seeds):
                plan = _plan_exhaustively if args.plan_search == "exhaustive" else \
                    _plan_as_gp_sampler
                gaps.append(plan(codes, points, seed, makers, marks))
                print(f"<!-- {name} seed {seed}: {np.round(gaps[-1], 3).tolist()} -->",
                      file=sys.stderr, flush=True)
            cells = " | ".join(f"{v:.3f}" for v in np.median(gaps, axis=0))
            each = " ".join(f"{g[-1]:.3f}" for g in gaps)
            print(f"| {name} | {device} | {cells} | {each} |", flush=True)


def _plan_exhaustively(codes: np.ndarray, points: np.ndarray, seed: int,
                       makers: list[Callable[[], object]],
                       marks: list[int]) -> list[float]:
    """8 random cells, then each next the one of largest log EHVI under the models (one
    per objective, fitted afresh at each step), up to the last of ``marks``; the
    hypervolume gap at each mark."""
    directions = ["maximize", "maximize"]  # latency is negated in ``points``
    reference = np.median(points, axis=0)
    best = hypervolume(points, reference, directions)
    chosen = list(np.random.RandomState(seed).choice(len(points), 8, replace=False))
    gaps = []
    while len(chosen) < marks[-1]:
        rows = np.array(chosen)
        predicted = []
        for j in range(points.shape[1]):
            model = makers[j]()  # hyperparameters picked afresh at every step
            model.fit(codes[rows], points[rows, j])
            predicted.append(model.predict(codes))
        observed = points[rows]
        front = observed[non_dominated(observed)]
        boxes = improvement_boxes(front, reference_point(observed))
        score = pareto_acquisition(predicted, [], boxes)
        score[rows] = -np.inf
        chosen.append(int(np.argmax(score)))
        if len(chosen) in marks:
            gaps.append(1 - hypervolume(points[chosen], reference, directions) / best)
    return gaps


class _FixedPosterior:
    """A fitted model (on standardised values) as ``optuna._gp``'s acquisition functions
    read a regressor: ``posterior(x)`` on normalised parameters (choice indices)."""

    def __init__(self, model: object, dims: int) -> None:
        self._model = model
        self.length_scales = np.ones(dims)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.detach().reshape(-1, x.shape[-1]).numpy()
        mean, std = self._model.predict(np.rint(flat).astype(int))  # type: ignore[attr-defined]
        shape = x.shape[:-1]
        return (torch.from_numpy(mean).reshape(shape),
                torch.from_numpy(std**2).reshape(shape))


def _plan_as_gp_sampler(codes: np.ndarray, points: np.ndarray, seed: int,
                        makers: list[Callable[[], object]],
                        marks: list[int]) -> list[float]:
    """As :func:`_plan_exhaustively`, but each next cell chosen as GPSampler chooses
    (its LogEHVI with 128 QMC samples on the standardised values, its reference point
    and boxes, ``optimize_acqf_mixed`` warm-started from up to 5 front cells), with the
    given models in place of its own. A cell may be chosen again, as GPSampler may."""
    from optuna._gp import acqf as optuna_acqf
    from optuna._gp import optim_mixed
    from optuna._gp.search_space import SearchSpace
    from optuna.distributions import CategoricalDistribution
    from optuna.study._multi_objective import _is_pareto_front

    directions = ["maximize", "maximize"]
    reference = np.median(points, axis=0)
    best = hypervolume(points, reference, directions)
    space = SearchSpace({f"edge{d}": CategoricalDistribution(list(NB201_OPERATIONS))
                         for d in range(codes.shape[1])})
    rng = np.random.RandomState(seed)
    chosen = list(np.random.RandomState(seed).choice(len(points), 8, replace=False))
    index = {tuple(c): i for i, c in enumerate(codes)}
    gaps = []
    while len(chosen) < marks[-1]:
        rows = np.array(chosen)
        y = points[rows]
        z = (y - y.mean(axis=0)) / np.maximum(y.std(axis=0), 1e-10)
        regressors = []
        for j in range(points.shape[1]):
            model = makers[j]()
            model.fit(codes[rows], z[:, j])  # type: ignore[attr-defined]
            regressors.append(_FixedPosterior(model, codes.shape[1]))
        acqf = optuna_acqf.LogEHVI(gpr_list=regressors, search_space=space,  # type: ignore
                                   Y_train=torch.from_numpy(z), n_qmc_samples=128,
                                   qmc_seed=rng.randint(1 << 30))
        front = codes[rows][_is_pareto_front(-z, assume_unique_lexsorted=False)]
        warm = front[rng.choice(len(front), min(5, len(front)), replace=False)]
        x, _ = optim_mixed.optimize_acqf_mixed(acqf, warmstart_normalized_params_array=
                                               warm.astype(float), rng=rng)
        chosen.append(index[tuple(np.rint(x).astype(int))])
        if len(chosen) in marks:
            gaps.append(1 - hypervolume(points[chosen], reference, directions) / best)
    return gaps


if __name__ == "__main__":
    main()
