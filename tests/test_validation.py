"""The shared argument checks: the right exception type, and a message naming the argument."""

import math

import pytest

from roadmap_lib import validation as v


def test_require_int_accepts_and_returns_ints():
    assert v.require_int("n", 3, minimum=0, maximum=3) == 3
    assert v.require_positive_int("n", 1) == 1


@pytest.mark.parametrize("value, exc", [(True, TypeError), (2.0, TypeError), ("2", TypeError), (0, ValueError), (-1, ValueError)])
def test_require_positive_int_rejects(value, exc):
    with pytest.raises(exc, match="batch_size"):
        v.require_positive_int("batch_size", value)


def test_require_int_upper_bound():
    with pytest.raises(ValueError, match=r"seed must be <= 5, got 6"):
        v.require_int("seed", 6, maximum=5)


def test_require_float_bounds_and_interval_in_message():
    assert v.require_float("amount", 0.5, low=0.0, high=1.0, high_inclusive=False) == 0.5
    with pytest.raises(ValueError, match=r"amount must be in \[0, 1\), got 1"):
        v.require_float("amount", 1.0, low=0.0, high=1.0, high_inclusive=False)
    with pytest.raises(ValueError, match=r"temperature must be in \(0, inf\]"):
        v.require_positive_float("temperature", 0.0)


@pytest.mark.parametrize("value, exc", [(math.nan, ValueError), (math.inf, ValueError), (None, TypeError), (False, TypeError)])
def test_require_float_rejects_non_finite_and_non_numbers(value, exc):
    with pytest.raises(exc, match="lr"):
        v.require_float("lr", value)


def test_require_type_names_expected_types():
    v.require_type("x", "s", str)
    with pytest.raises(TypeError, match="x must be str or bytes, got int"):
        v.require_type("x", 1, (str, bytes))


def test_require_choice_and_non_empty():
    assert v.require_choice("pooling", "mean", ("mean", "cls")) == "mean"
    with pytest.raises(ValueError, match="pooling must be one of 'mean', 'cls'; got 'max'"):
        v.require_choice("pooling", "max", ("mean", "cls"))
    with pytest.raises(ValueError, match="texts must not be empty"):
        v.require_non_empty("texts", [])


def test_require_callable_names_the_argument_and_the_expected_signature():
    v.require_callable("fn", len)  # a callable passes silently
    with pytest.raises(TypeError, match=r"^report must be callable, got int$"):
        v.require_callable("report", 3)
    with pytest.raises(TypeError, match=r"step_loss must be callable \(step -> loss\), got str"):
        v.require_callable("step_loss", "loss", "step -> loss")


def test_require_keys_lists_everything_missing_at_once():
    v.require_keys("config", {"seeds": [0], "dqn": {}}, ("seeds", "dqn"))
    with pytest.raises(ValueError, match=r"^config is missing \['dqn', 'variants'\]$"):
        v.require_keys("config", {"seeds": [0]}, ("seeds", "dqn", "variants"))
    with pytest.raises(TypeError, match="config must be Mapping"):
        v.require_keys("config", [("seeds", 0)], ("seeds",))


@pytest.mark.parametrize("seeds, exc, match", [
    (3, TypeError, "seeds must be list or tuple"),
    ([], ValueError, "seeds must not be empty"),
    ([0, -1], ValueError, r"seeds\[1\] must be >= 0"),
    ((0, 1.5), TypeError, r"seeds\[1\] must be an int"),
])
def test_require_seeds_names_the_bad_seed(seeds, exc, match):
    with pytest.raises(exc, match=match):
        v.require_seeds("seeds", seeds)


def test_require_seeds_returns_a_list():
    assert v.require_seeds("seeds", (2, 0)) == [2, 0]
