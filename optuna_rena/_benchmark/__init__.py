"""The benchmark: samplers side by side on one task, over seeds."""

from optuna_rena._benchmark.results import RunResult
from optuna_rena._benchmark.results import summarise
from optuna_rena._benchmark.runner import run_benchmark
from optuna_rena._benchmark.runner import run_one
from optuna_rena._benchmark.samplers import make_sampler
from optuna_rena._benchmark.samplers import TimedSampler


__all__ = ["RunResult", "TimedSampler", "make_sampler", "run_benchmark", "run_one",
           "summarise"]
