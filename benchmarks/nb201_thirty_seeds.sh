#!/usr/bin/env bash
# NAS-Bench-201 on thirty seeds: RenaSampler, TPE and GP side by side in the same run, on
# the budgets where world_model.sh's ten seeds (three for GP) put GP ahead of RenaSampler
# (eyeriss 3.2, fpga 2.1) or RenaSampler misses half of TPE's regret (raspi4 10.5).
# Medians there move in steps of 0.03-0.1 points between sets of ten seeds, so the
# comparison is made on thirty (BENCHMARKS.md).
# Run from the repository root: bash benchmarks/nb201_thirty_seeds.sh  (about 40 minutes)
set -euo pipefail
DATA=${OPTUNA_RENA_DATA:-../shared/data}
# A journal file of its own per run (git ignores it), so that a re-run never meets the
# studies of the last one; open it with optuna-dashboard to look at the runs.
LOG=${LOG:-benchmarks-nb201-30-$(date +%Y%m%d-%H%M%S).log}
for budget in eyeriss:3.2 fpga:2.1 raspi4:10.5; do
  optuna-rena benchmark --data-dir "$DATA" --jobs 2 --no-progress --storage "journal:$LOG" \
    --study-prefix "nb201-30/" --task "nb201:$budget" \
    --trials 150 --seeds 30 --samplers rena tpe gp --out "benchmarks/nb201-30seeds/${budget/:/-}"
done
