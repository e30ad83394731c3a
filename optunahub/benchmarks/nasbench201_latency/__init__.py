"""OptunaHub's ``benchmarks/nasbench201_latency``: NAS-Bench-201 under a device's latency
budget, the problem of the installed optuna-rena package."""

from __future__ import annotations

from optuna_rena.problems import NB201LatencyProblem as Problem


__all__ = ["Problem"]
