"""OptunaHub's ``benchmarks/nasbench_macro_pair``: two NAS-Bench-Macro networks side by
side, the problem of the installed optuna-rena package."""

from __future__ import annotations

from optuna_rena.problems import NASBenchMacroPairProblem as Problem


__all__ = ["Problem"]
