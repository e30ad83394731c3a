"""Which repeated configurations of a parallel study were a trial that finished while
another planned: for journals kept by ``parallel_efficiency.py --keep``.

    python benchmarks/repeat_causes.py /tmp/rena-parallel-XXXX ...

For each folder, reads ``journal.log`` operation by operation (Optuna's journal format:
op 4 creates a trial, 5 sets a parameter, 6 sets its state, 9 a system attribute) and
prints the number of repeats among the first 120 trials, and how many of them are pairs
in which one trial finished before the other published the plan it kept.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    for folder in sys.argv[1:]:
        with open(f"{folder}/journal.log") as f:
            ops = [json.loads(line) for line in f]
        params: dict[int, dict[str, float]] = {}
        last_plan: dict[int, int] = {}
        finished: dict[int, int] = {}
        for i, op in enumerate(ops):
            trial = op.get("trial_id")
            if op["op_code"] == 5:
                params.setdefault(trial, {})[op["param_name"]] = op["param_value_internal"]
            elif op["op_code"] == 9 and "rena:plan" in op.get("system_attr", {}):
                last_plan[trial] = i
            elif op["op_code"] == 6 and op.get("state") in (1, 2, 3):  # finished
                finished[trial] = i
        first: dict[tuple, int] = {}
        repeats = inside = 0
        for trial in sorted(params)[:120]:
            key = tuple(sorted(params[trial].items()))
            if key not in first:
                first[key] = trial
                continue
            repeats += 1
            a, b = first[key], trial
            inside += (finished.get(a, len(ops)) < last_plan.get(b, -1)
                       or finished.get(b, len(ops)) < last_plan.get(a, -1))
        print(f"{folder}: {repeats} repeats, {inside} of them a trial that finished "
              "before the other published the plan it kept")


if __name__ == "__main__":
    main()
