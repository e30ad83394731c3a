#!/usr/bin/env bash
# The multi-objective benchmarks of issue 19: every sampler side by side in one
# `optuna-rena benchmark` run per task, the same seeds, two runs at a time on the 2 cores
# (--jobs 2) into one journal file. Each folder gets results.md (the hypervolume gap at
# 50, 100 and the last trial; the regret under four budgets at 50 and the last trial;
# the sampler's seconds per run), results.json (every number, and each run's gap after
# every trial) and curves.png (the median gap per sampler).
#
#   bash benchmarks/pareto.sh            # from the repository root
#
# Samplers: Optuna's random, TPE, NSGA-II (its default population of 50: its first 50
# trials are random ones) and GP (3 seeds: it costs seconds per trial), RenaSampler, and
# its ablations, named as `rena:OPTION=VALUE` with JSON values (`false`, not `False`).
# `rena:world_model=false` is the policy alone; `rena:policy_proposals=false` is the world
# model choosing among uniformly drawn candidates instead of the policy's (the ablation of
# issue 19, item 3). More ablations: ABLATIONS="rena:OPTION=VALUE ..." bash ...
set -euo pipefail
DATA=${OPTUNA_RENA_DATA:-../shared/data}
# A journal file of its own per run (git ignores it), so that a re-run never meets the
# studies of the last one; open it with optuna-rena dashboard to look at the runs.
LOG=${LOG:-benchmarks-pareto-$(date +%Y%m%d-%H%M%S).log}
ABLATIONS=${ABLATIONS:-}
SAMPLERS=(random tpe nsga2 gp rena rena:world_model=false rena:policy_proposals=false
          $ABLATIONS)
run() { optuna-rena benchmark --data-dir "$DATA" --jobs 2 --no-progress --storage "journal:$LOG" "$@"; }

# NAS-Bench-201, accuracy against the latency measured on each device: 150 trials, 10
# seeds (GP 3). Reference point: the table's median accuracy and median latency; budgets:
# the 10, 25, 50 and 75 % quantiles of the device's latencies.
for device in pixel3 eyeriss fpga raspi4; do
  run --task "nb201-front:$device" --trials 150 --seeds 10 --fewer-seeds gp=3 \
    --samplers "${SAMPLERS[@]}" --study-prefix pareto/ --out "benchmarks/nb201-front-$device"
done

# The same with a parameter budget as well: params <= 300 k leaves the 4096 cells without a
# 3x3 convolution (the ResNet-like cell has 559 k), so the budget cuts the accurate end of
# the front; the true front is over the feasible cells only.
run --task nb201-front:pixel3:params=300000 --trials 150 --seeds 10 --fewer-seeds gp=3 \
  --samplers "${SAMPLERS[@]}" --study-prefix pareto/ \
  --out benchmarks/nb201-front-pixel3-params-300k

# NAS-Bench-Macro's space, three objectives: mean accuracy, counted params and MACs (the
# sampler computes the last two). 200 trials, as the other NAS-Bench-Macro benchmarks. GP
# on one seed: with three objectives its cost grows to minutes per ten trials (its first
# run here took 6 minutes for 44 trials), and it goes first so that it runs beside the rest.
run --task nas-bench-macro-front --trials 200 --seeds 10 --fewer-seeds gp=1 \
  --samplers gp random tpe nsga2 rena rena:world_model=false rena:policy_proposals=false \
  $ABLATIONS --study-prefix pareto/ --out benchmarks/nas-bench-macro-front

# Digits, real training (3 epochs on the CPU; run once, December 2026), accuracy against the CPU latency measured
# on this machine: fewer trials, seeds and samplers, as each trial trains a network (30
# trials, 3 seeds; the policy-alone ablation left out). No true front is known: the gap is
# to the best front that any run of this benchmark found. Latency on a shared machine is
# noisy (a tenth of a millisecond for these networks): --jobs 1 keeps one run's timing
# from the other's.
optuna-rena benchmark --data-dir "$DATA" --jobs 1 --no-progress --storage "journal:$LOG" \
  --task digits-front --trials 30 --seeds 3 --epochs 3 --device cpu \
  --samplers random tpe nsga2 gp rena rena:policy_proposals=false --study-prefix pareto/ \
  --out benchmarks/digits-front
