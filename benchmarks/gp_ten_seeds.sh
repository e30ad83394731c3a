#!/usr/bin/env bash
# GP on ten seeds, beside RenaSampler and TPE in the same run, on the NAS-Bench-201 budgets
# where world_model.sh's three GP seeds put GP ahead of RenaSampler (BENCHMARKS.md).
# Run from the repository root: bash benchmarks/gp_ten_seeds.sh
set -euo pipefail
DATA=${OPTUNA_RENA_DATA:-../shared/data}
# A journal file of its own per run (git ignores it), so that a re-run never meets the
# studies of the last one; open it with optuna-dashboard to look at the runs.
LOG=${LOG:-benchmarks-gp10-$(date +%Y%m%d-%H%M%S).log}
for budget in eyeriss:3.2 fpga:2.1 fpga:2.6 raspi4:10.5; do
  optuna-rena benchmark --data-dir "$DATA" --jobs 2 --no-progress --storage "journal:$LOG" \
    --study-prefix "gp10/" --task "nb201:$budget" \
    --trials 150 --seeds 10 --samplers rena tpe gp --out "benchmarks/nb201-gp10/${budget/:/-}"
done
