"""nets: teacher and linear-student networks, knowledge distillation, export and inference.

Sits above ``optics4f`` (and may use ``calib``); ``optics4f`` never imports it.
"""
