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
