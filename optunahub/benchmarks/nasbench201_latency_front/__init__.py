"""OptunaHub's ``benchmarks/nasbench201_latency_front``: NAS-Bench-201's accuracy against
a device's latency, the problem of the installed optuna-rena package."""

from __future__ import annotations

from optuna_rena.problems import NB201FrontProblem as Problem


__all__ = ["Problem"]
