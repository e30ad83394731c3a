"""How well RenaSampler's world model predicts the ``digits-front`` benchmark's networks
from the first 20 trials of a run: the rank correlation (Spearman) of its predicted
accuracy and latency with the measured ones, and the share within two predicted standard
deviations (and the median predicted standard deviation), on the random sampler's trials of every seed (held out: networks the model did
not learn from, spread over the space as random picks them).

    python benchmarks/digits_front_models.py JOURNAL [--train rena random] [--trials 20]

JOURNAL is the journal file of a ``digits-front`` benchmark run with ``--study-prefix
pareto/`` that holds ``rena`` and ``random`` studies on seeds 0-2 (``benchmarks/pareto.sh``).
A model trained on the random sampler's own seed sees some of the held-out networks.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import optuna
from scipy import stats

from optuna_rena import RenaSampler
from optuna_rena._storage import open_storage
from optuna_rena._tasks import make_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("journal")
    parser.add_argument("--train", nargs="+", default=["rena", "random"])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("OPTUNA_RENA_DATA",
                                                             "../shared/data"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(f"journal:{args.journal}")
    space = make_task("digits-front", data_dir=args.data_dir).space
    assert space is not None

    def load(sampler: str, seed: int) -> optuna.Study:
        return optuna.load_study(study_name=f"pareto/digits-front:{sampler}:seed{seed}",
                                 storage=storage)

    held = [t for seed in range(args.seeds) for t in load("random", seed).trials if t.values]
    measured = np.array([t.values for t in held])
    print("| trained on | seed | accuracy: Spearman | within 2 sd | latency: Spearman | "
          "within 2 sd |\n|---|---|---|---|---|---|")
    notes: list[str] = []
    for name in args.train:
        for seed in range(args.seeds):
            study = load(name, seed)
            sampler = RenaSampler(seed=0)
            sampler.attach_space(space)
            # The sampler's own planner, fitted as it fits before a plan.
            planner = sampler._study_state(study).space_planner
            assert planner is not None
            trials = study.get_trials(deepcopy=False)[:args.trials]
            planner.history.update(trials, study.directions, ["accuracy", "latency_ms"])
            planner.model.fit(planner.history.observations(), None,
                              tuple(planner.history.exact_objectives))
            x = planner._encode([planner.source.trial_candidate(t) for t in held])
            predicted, _ = planner.model._predict(x, [])
            cells = []
            for j, (mean, sd) in enumerate(predicted):
                # The model's columns are larger-is-better: latency is negated.
                truth = measured[:, j] if j == 0 else -measured[:, j]
                cells += [f"{stats.spearmanr(mean, truth)[0]:.2f}",
                          f"{np.mean(np.abs(mean - truth) < 2 * sd):.2f}"]
            sd = [float(np.median(sd)) for _, sd in predicted]
            notes.append(f"{name} seed {seed}: median predicted sd accuracy {sd[0]:.3f}, "
                         f"latency {sd[1]:.3f} ms; measured latency of those networks "
                         f"{measured[:, 1].min():.3f}-{measured[:, 1].max():.3f} ms; "
                         f"the model's reference point {np.round(planner.model._reference, 3)}")
            print(f"| {name} | {seed} | " + " | ".join(cells) + " |")
    # What the counts alone say: latency ranked by the child's counted FLOPs.
    flops = np.array([float(t.user_attrs["flops"]) for t in held])
    print(f"| (counted FLOPs alone) | | | | {stats.spearmanr(flops, measured[:, 1])[0]:.2f} | |")
    print()
    for line in notes:
        print(f"- {line} (accuracy, -latency)")


if __name__ == "__main__":
    main()
