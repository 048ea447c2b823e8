"""Tolerance analysis of an optical student: Monte Carlo over every bench error at once
(``optics4f tolerance MODEL --spec tolerances.toml``; docs/tolerance.md).

* :mod:`.spec`: the tolerance file (a distribution per bench error, SI units, the target);
* :mod:`.bench`: one drawn bench simulated (frames exported once, the bench varied);
* :mod:`.run`: the benches on a local process pool or a Dask cluster, resumable;
* :mod:`.stats`: yield with its confidence interval, sensitivity, tolerances for a yield;
* :mod:`.result`: the typed results (:class:`ToleranceResult`, :class:`SweepResult`) and their JSON;
* :mod:`.report`: table, JSON, CSV and figures;
* :mod:`.sweep`: a grid of fixed error values with error bars over noise seeds (``simulate --sweep``).
"""
from .result import SweepResult, ToleranceResult
from .spec import ERRORS, Distribution, ToleranceSpec, load_spec, parse_spec

__all__ = ["ERRORS", "Distribution", "ToleranceSpec", "load_spec", "parse_spec", "ToleranceResult", "SweepResult"]
