"""Base class of the linear optical operators.

Every operator maps a field on ``in_grid`` to a field on ``out_grid`` over the
last two axes (leading batch axes pass through) and provides its adjoint,
which the torch bridge uses for backward. The adjoint is with respect to the
plain Euclidean inner product of the sample arrays, <A u, v> = <u, A^H v>,
proved for every operator by a dot-product test.
"""
from __future__ import annotations

from .backend import as_field
from .grid import Grid
from .typing import Array

__all__ = ["LinearOperator"]


class LinearOperator:
    """A linear map between sampled planes, with ``apply`` and ``adjoint``."""

    in_grid: Grid
    out_grid: Grid
    dtype = None

    def apply(self, u: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def adjoint(self, v: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, u: Array) -> Array:
        return self.apply(u)

    def _check_input(self, u, grid: Grid, name: str):
        u = as_field(u, name=name, dtype=self.dtype)
        if tuple(u.shape[-2:]) != grid.shape:
            raise ValueError(
                f"{name} has spatial shape {tuple(u.shape[-2:])} but {type(self).__name__} "
                f"was built for {grid.shape}; build the operator for this shape"
            )
        return u
