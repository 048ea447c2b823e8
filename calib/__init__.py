"""calib: calibration routines for a real 4f bench (SLM LUT, registration, wavefront, detector, focus).

Builds on ``optics4f`` only; never imports ``nets``.
"""
