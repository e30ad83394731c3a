"""OptunaHub's ``benchmarks/nasbench_macro``: NAS-Bench-Macro under bounds on parameters
and MACs, the problem of the installed optuna-rena package."""

from __future__ import annotations

from optuna_rena.problems import NASBenchMacroProblem as Problem


__all__ = ["Problem"]
