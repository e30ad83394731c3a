#!/usr/bin/env bash
# NAS-Bench-201 on thirty seeds: RenaSampler, TPE and GP side by side in the same run, on
# the eight budgets of world_model.sh, whose ten seeds (three for GP) are too few: medians
# move in steps of 0.03-0.1 points between sets of ten seeds (BENCHMARKS.md).
# Run from the repository root: bash benchmarks/nb201_thirty_seeds.sh  (13-20 minutes
# per budget); BUDGETS="eyeriss:3.2 fpga:2.1" runs only those, and SEEDS=70 runs seeds 0-69
# into benchmarks/nb201-70seeds/ (the first thirty are the same runs again).
set -euo pipefail
DATA=${OPTUNA_RENA_DATA:-../shared/data}
# A journal file of its own per run (git ignores it), so that a re-run never meets the
# studies of the last one; open it with optuna-rena dashboard to look at the runs.
SEEDS=${SEEDS:-30}
LOG=${LOG:-benchmarks-nb201-$SEEDS-$(date +%Y%m%d-%H%M%S).log}
BUDGETS=${BUDGETS:-"eyeriss:3.2 eyeriss:3.7 pixel3:2.5 pixel3:4.2 raspi4:6.0 raspi4:10.5 fpga:2.1 fpga:2.6"}
for budget in $BUDGETS; do
  optuna-rena benchmark --data-dir "$DATA" --jobs 2 --no-progress --storage "journal:$LOG" \
    --study-prefix "nb201-$SEEDS/" --task "nb201:$budget" \
    --trials 150 --seeds "$SEEDS" --samplers rena tpe gp \
    --out "benchmarks/nb201-${SEEDS}seeds/${budget/:/-}"
done
