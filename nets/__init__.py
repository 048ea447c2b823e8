"""nets: teacher and linear-student networks, knowledge distillation, export and inference.

Sits above ``optics4f``; ``optics4f`` never imports it. ``nets`` and ``calib`` are independent:
the library takes calibrations through ``optics4f.system.calibration.Calibration``, and only the
command line (``nets.cli``, ``nets.calibrate``: the application layer) imports ``calib``
(docs/architecture.md#layers).
"""
