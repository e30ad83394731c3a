#!/usr/bin/env bash
# The world-model benchmarks of BENCHMARKS.md: RenaSampler against Random, TPE and GP
# (GP on fewer seeds: it costs ~0.4 s per trial), each task in one run, same seeds.
# Run from the repository root: bash benchmarks/world_model.sh
set -euo pipefail
DATA=${OPTUNA_RENA_DATA:-../shared/data}
# A journal file of its own per run (git ignores it), so that a re-run never meets the
# studies of the last one; open it with optuna-rena dashboard to look at the runs.
LOG=${LOG:-benchmarks-world-model-$(date +%Y%m%d-%H%M%S).log}
run() { optuna-rena benchmark --data-dir "$DATA" --jobs 2 --no-progress --storage "journal:$LOG" "$@"; }

run --task nas-bench-macro-plain --trials 200 --seeds 10 --fewer-seeds gp=5 \
  --samplers rena rena:world_model=false rena:dyna_weight=0 rena:local_steps=0 random tpe gp \
  --study-prefix plain/ --out benchmarks/nas-bench-macro-plain
for budget in eyeriss:3.2 eyeriss:3.7 pixel3:2.5 pixel3:4.2 raspi4:6.0 raspi4:10.5 fpga:2.1 fpga:2.6; do
  run --task "nb201:$budget" --trials 150 --seeds 10 --fewer-seeds gp=3 \
    --samplers rena random tpe gp --study-prefix "nb201/" --out "benchmarks/nb201-${budget/:/-}"
done
run --task nas-bench-macro --trials 200 --seeds 10 --fewer-seeds gp=3 \
  --samplers rena rena:world_model=false feasible-random random tpe gp \
  --study-prefix tight-space/ --out benchmarks/nas-bench-macro-tight-space
run --task nas-bench-macro-pair --trials 200 --seeds 10 --fewer-seeds gp=3 \
  --samplers rena random tpe gp --study-prefix pair/ --out benchmarks/nas-bench-macro-pair
run --task digits --trials 40 --seeds 5 --epochs 3 \
  --samplers rena rena:world_model=false random tpe gp --study-prefix digits-wm/ \
  --out benchmarks/digits-world-model
python benchmarks/sampler_cost.py --seeds 5 --trials 500 > benchmarks/sampler-cost.md
