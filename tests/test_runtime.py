"""Seeding, threads, progress switch, timing and version lines."""

import random

import numpy as np
import pytest
import torch

from roadmap_lib import runtime


def draw_all():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_everything_makes_all_three_generators_repeat():
    runtime.seed_everything(7)
    first = draw_all()
    runtime.seed_everything(7)
    assert draw_all() == first
    runtime.seed_everything(8)
    assert draw_all() != first


def test_seed_everything_switches_deterministic_mode():
    runtime.seed_everything(0, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    runtime.seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()


def test_seed_everything_rejects_non_bool_deterministic():
    with pytest.raises(TypeError, match="deterministic"):
        runtime.seed_everything(0, deterministic="yes")


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError)])
def test_seed_everything_rejects_bad_seeds(seed, exc):
    with pytest.raises(exc, match="seed"):
        runtime.seed_everything(seed)


def test_configure_threads_and_temporary_threads():
    before = torch.get_num_threads()
    assert runtime.configure_threads(1) == 1 and torch.get_num_threads() == 1
    with runtime.num_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads"):
        runtime.configure_threads(0)


def test_device_is_cpu_without_cuda_preference():
    assert runtime.device(prefer_cuda=False).type == "cpu"
    with pytest.raises(TypeError, match="prefer_cuda"):
        runtime.device("yes")


def test_progress_switch_hides_bars(monkeypatch, capsys):
    monkeypatch.setenv(runtime.PROGRESS_ENV, "0")
    assert list(runtime.progress(range(3), desc="x")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(runtime.PROGRESS_ENV, "1")
    assert runtime.progress_enabled()


def test_stopwatch_measures_elapsed_time():
    with runtime.Stopwatch() as sw:
        sum(range(10_000))
    assert 0 < sw.seconds < 5


def test_versions_line_names_python_and_torch():
    line = runtime.versions_line("numpy", "surely-not-a-package")
    assert line.startswith("python ") and "torch 2." in line
    assert "surely-not-a-package not installed" in line
    with pytest.raises(TypeError, match=r"packages\[0\]"):
        runtime.versions(3)


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: runtime.progress(5), TypeError, "iterable must be Iterable"),
        (lambda: runtime.progress(range(2), desc=3), TypeError, "desc must be str or NoneType"),
        (lambda: runtime.progress(range(2), total=-1), ValueError, "total must be >= 0"),
        (lambda: runtime.progress(range(2), total=1.5), TypeError, "total must be an int"),
        (lambda: runtime.num_threads(0).__enter__(), ValueError, "threads must be >= 1"),
        (lambda: runtime.package_version(3), TypeError, "name must be str"),
    ],
)
def test_bad_arguments_are_named(call, error, name):
    with pytest.raises(error, match=name):
        call()


@pytest.fixture
def restore_threads_and_determinism():
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"threads": 0}, ValueError, "threads must be >= 1"),
        ({"threads": 1.5}, TypeError, "threads must be an int"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"deterministic": "yes"}, TypeError, "deterministic must be bool"),
    ],
)
def test_setup_notebook_rejects_bad_input_before_changing_global_state(kwargs, error, name,
                                                                       restore_threads_and_determinism):
    runtime.seed_everything(12345, deterministic=False)
    threads = torch.get_num_threads()
    with pytest.raises(error, match=name):
        runtime.setup_notebook(**{"seed": 0, "threads": 1, **kwargs})
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    after = draw_all()  # still the stream seeded with 12345, not reseeded with 0
    runtime.seed_everything(12345, deterministic=False)
    assert draw_all() == after
