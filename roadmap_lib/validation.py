"""Argument checks shared by every public function in ``roadmap_lib``.

The book promises that bad input fails at the door with a message naming the argument, not with an
``IndexError`` three frames deep in PyTorch. These helpers keep those checks one line long.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, Collection


def require_type(name: str, value: Any, types: type | tuple[type, ...]) -> None:
    """Raise ``TypeError`` unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        expected = (
            " or ".join(t.__name__ for t in types) if isinstance(types, tuple) else types.__name__
        )
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}")


def require_callable(name: str, value: Any, signature: str = "") -> None:
    """Raise ``TypeError`` unless ``value`` can be called (a model, a scorer, a hook); ``signature``
    tells the caller what shape of callable is expected."""
    if not callable(value):
        expected = f" ({signature})" if signature else ""
        raise TypeError(f"{name} must be callable{expected}, got {type(value).__name__}")


def require_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check an integer (``bool`` excluded) within optional inclusive bounds and return it."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def require_positive_int(name: str, value: Any) -> int:
    """Check a strictly positive integer (sizes, counts, steps) and return it."""
    return require_int(name, value, minimum=1)


def require_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Check a finite real number within optional bounds and return it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = low is not None and (value < low or (value == low and not low_inclusive))
    too_high = high is not None and (value > high or (value == high and not high_inclusive))
    if too_low or too_high:
        interval = (
            ("[" if low_inclusive else "(")
            + (f"{low:g}" if low is not None else "-inf")
            + ", "
            + (f"{high:g}" if high is not None else "inf")
            + ("]" if high_inclusive else ")")
        )
        raise ValueError(f"{name} must be in {interval}, got {value:g}")
    return value


def require_positive_float(name: str, value: Any) -> float:
    """Check a strictly positive finite number (temperatures, learning rates) and return it."""
    return require_float(name, value, low=0.0, low_inclusive=False)


def require_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` and return it."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def require_non_empty(name: str, value: Any) -> Any:
    """Check that a sized container has at least one element and return it."""
    if len(value) == 0:
        raise ValueError(f"{name} must not be empty")
    return value


def require_keys(name: str, mapping: Any, keys: Collection[str]) -> None:
    """A mapping holding every one of ``keys`` (a study config, a result record), or an error naming
    ``name`` and everything missing at once, instead of a ``KeyError`` for the first."""
    require_type(name, mapping, Mapping)
    missing = [key for key in keys if key not in mapping]
    if missing:
        raise ValueError(f"{name} is missing {missing}")


def require_seeds(name: str, seeds: Any) -> list[int]:
    """A non-empty list or tuple of seeds (ints >= 0), each error naming ``name[i]``; returned as a list.
    Benchmarks check their seed lists up front so a bad seed cannot stop a study after hours of runs."""
    require_type(name, seeds, (list, tuple))
    require_non_empty(name, seeds)
    return [require_int(f"{name}[{i}]", seed, minimum=0) for i, seed in enumerate(seeds)]
