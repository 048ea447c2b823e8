"""Simulated optical inference of trained students: ``optics4f simulate`` and ``optics4f finetune``.

* :mod:`.optical`   the student on the simulated hardware (SLM frames -> 4f -> camera -> electronics);
* :mod:`.simulate`  digital vs optical accuracy of a saved model, through exported frame files;
* :mod:`.report`    table, confusion matrix, JSON report;  :mod:`.figures`  the figures;
* :mod:`.results`   the typed results (SimulationResult, FinetuneResult, ComparisonResult) and their JSON;
* sweeps (``simulate --sweep``): :mod:`nets.tolerance.sweep`, a grid with error bars over noise seeds;
* :mod:`.finetune`  hardware-aware fine-tuning (SLM frame, or the electronic back end only).

Submodules import torch; import them explicitly.
"""
