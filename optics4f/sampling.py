"""Sampling checks: warn or raise where a result would alias."""
from __future__ import annotations

import warnings

__all__ = ["SamplingWarning", "AliasingError", "warn_sampling"]


class SamplingWarning(UserWarning):
    """The sampling is marginal: the result may alias. The message says what to change."""


class AliasingError(ValueError):
    """The sampling cannot represent the requested operation."""


def warn_sampling(message: str, strict: bool = False, stacklevel: int = 3) -> None:
    """Warn (or raise :class:`AliasingError` when ``strict``) about aliasing."""
    if strict:
        raise AliasingError(message)
    warnings.warn(message, SamplingWarning, stacklevel=stacklevel)
