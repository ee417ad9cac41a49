"""Run-time conventions every chapter shares: seeds, threads, device, timing, progress bars.

The book promises that a notebook run twice prints the same checked numbers, and that a chapter's
runtime note is honest. Both depend on the few lines collected here, so no chapter re-invents them.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch

from .validation import require_int, require_positive_int, require_type

T = TypeVar("T")

#: Set ``ROADMAP_PROGRESS=0`` to hide progress bars (the Makefile does, so the book build, the
#: committed notebooks and nbval carry no widget or carriage-return noise). Interactive readers see them.
PROGRESS_ENV = "ROADMAP_PROGRESS"


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python, NumPy and PyTorch, and ask PyTorch for deterministic kernels where it has them.

    Why all three: the chapters mix ``random`` (replay sampling), NumPy (data splits) and torch
    (initialisation, dropout); seeding only one leaves the others drifting between runs.

    ``deterministic=False`` leaves PyTorch's deterministic mode off. Chapter IV needs that: the int8
    CPU kernels resize their outputs through an op the mode flags with a C++ warning on every call,
    although on a CPU they compute deterministically anyway.
    """
    seed = require_int("seed", seed, minimum=0, maximum=2**32 - 1)
    require_type("deterministic", deterministic, bool)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    return seed


def configure_threads(threads: int | None = None) -> int:
    """Pin PyTorch's intra-op threads (default: ``min(2, cpu count)``) and return the number used.

    The book's timings are quoted for a 2-core machine; pinning the count makes them comparable and
    keeps a notebook from fighting other processes for cores it does not have.
    """
    if threads is None:
        threads = min(2, os.cpu_count() or 1)
    threads = require_positive_int("threads", threads)
    torch.set_num_threads(threads)
    return threads


def device(prefer_cuda: bool = True) -> torch.device:
    """The device to compute on: CUDA when present and wanted, else CPU. Nothing requires CUDA."""
    require_type("prefer_cuda", prefer_cuda, bool)
    return torch.device("cuda" if prefer_cuda and torch.cuda.is_available() else "cpu")


def progress_enabled() -> bool:
    """Whether progress bars are shown (see :data:`PROGRESS_ENV`)."""
    return os.environ.get(PROGRESS_ENV, "1") != "0"


def progress(iterable: Iterable[T], *, desc: str | None = None, total: int | None = None) -> Iterator[T]:
    """Wrap a loop in a ``tqdm.auto`` bar that the book build and nbval hide (one switch for all)."""
    require_type("iterable", iterable, Iterable)
    require_type("desc", desc, (str, type(None)))
    if total is not None:
        require_int("total", total, minimum=0)
    from tqdm.auto import tqdm

    return iter(tqdm(iterable, desc=desc, total=total, disable=not progress_enabled(), leave=False))


class Stopwatch:
    """Wall-clock timer for runtime notes: ``with Stopwatch() as sw: ...; sw.seconds``."""

    def __init__(self) -> None:
        self.seconds = float("nan")
        self._start = 0.0

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


@contextmanager
def num_threads(threads: int) -> Iterator[None]:
    """Temporarily run PyTorch with ``threads`` intra-op threads (for 1- vs 2-thread latency tables)."""
    threads = require_positive_int("threads", threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def package_version(name: str) -> str:
    """Installed version of distribution ``name``, or ``"not installed"``."""
    require_type("name", name, str)
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions(*packages: str) -> dict[str, str]:
    """Python, torch and the given packages' versions, for set-up cells and benchmark records."""
    for i, name in enumerate(packages):
        require_type(f"packages[{i}]", name, str)
    found = {"python": platform.python_version(), "torch": torch.__version__}
    found.update({name: package_version(name) for name in packages})
    return found


def versions_line(*packages: str) -> str:
    """One printable line of :func:`versions`, e.g. ``python 3.11.7 | torch 2.13.0+cpu | ...``."""
    return " | ".join(f"{k} {v}" for k, v in versions(*packages).items())


#: Loggers that print start-up noise unrelated to the book: torchao reports CUDA-only kernels it cannot
#: load on a CPU machine, and torch's pytree module a deprecation inside torchao's own import.
NOISY_LOGGERS = ("torchao", "torch.utils._pytree")


def quiet_libraries() -> None:
    """Silence library start-up noise that says nothing about the reader's code.

    Only the loggers in :data:`NOISY_LOGGERS` are raised to ERROR, and transformers' weight-loading
    progress bar is switched off; real warnings (deprecations the book discusses) still show.
    """
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    import transformers

    transformers.utils.logging.disable_progress_bar()


def setup_notebook(seed: int = 0, threads: int | None = None, deterministic: bool = True) -> str:
    """The one call of every chapter's set-up cell: seed, threads, quiet libraries, figure style.

    ``deterministic`` is passed to :func:`seed_everything`. Returns the versions line for the cell
    to print.

    ``threads`` is checked first: ``seed_everything`` checks its own arguments before it seeds, so a bad
    argument of any kind fails before any global state (seeds, threads, deterministic mode) changes.
    """
    if threads is not None:
        require_positive_int("threads", threads)
    from .plotting import use_book_style

    seed_everything(seed, deterministic=deterministic)
    configure_threads(threads)
    quiet_libraries()
    use_book_style()
    return versions_line("transformers", "scikit-learn", "matplotlib")
