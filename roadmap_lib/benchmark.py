"""Long studies (several seeds, bigger data) run outside the chapters, with committed JSON results.

A chapter must execute in under three minutes on two cores; a study that needs longer is declared as a
:class:`Benchmark` in its chapter's module (``BENCHMARKS = [Benchmark(...)]``), run by
``make benchmarks`` (or ``python -m roadmap_lib.<module> benchmark``), and its result is written to
``roadmap_lib/results/<name>.json``: the config, the library versions, the wall time and the numbers.
The chapter loads that file with :func:`load_result` and says so. CI runs every benchmark in its
reduced ``smoke_config`` and checks that the committed result was made with the current ``config``,
so a changed hyper-parameter cannot silently leave a stale figure in the book.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import pkgutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runtime import versions
from .validation import require_callable, require_type

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Benchmark:
    """A named study: ``run(config) -> results`` (JSON-serialisable) plus its full and smoke configs."""

    name: str
    run: Callable[[dict[str, Any]], dict[str, Any]]
    config: dict[str, Any]
    smoke_config: dict[str, Any]
    packages: tuple[str, ...] = field(default=())  # extra versions worth recording

    def __post_init__(self) -> None:
        require_type("name", self.name, str)
        if not self.name.isidentifier():
            raise ValueError(f"name must be a Python identifier (it names a JSON file), got {self.name!r}")
        require_callable("run", self.run)
        require_type("config", self.config, dict)
        require_type("smoke_config", self.smoke_config, dict)


def result_path(name: str) -> Path:
    """Where the committed result of benchmark ``name`` lives."""
    require_type("name", name, str)
    return RESULTS_DIR / f"{name}.json"


def execute(bench: Benchmark, *, smoke: bool = False) -> dict[str, Any]:
    """Run ``bench`` (full or smoke config) and return the record that would be written."""
    require_type("bench", bench, Benchmark)
    require_type("smoke", smoke, bool)  # a truthy string would silently pick the smoke config
    config = bench.smoke_config if smoke else bench.config
    start = time.perf_counter()
    results = bench.run(dict(config))
    return {
        "name": bench.name,
        "smoke": smoke,
        "config": config,
        "versions": versions(*bench.packages),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
    }


def save(record: dict[str, Any], path: Path | None = None) -> Path:
    """Write a record as indented JSON (stable key order, so diffs of re-runs stay readable)."""
    require_type("record", record, dict)
    if path is None:
        if "name" not in record:
            raise ValueError("record has no 'name' to choose its file in roadmap_lib/results/; pass path")
        path = result_path(record["name"])
    else:
        require_type("path", path, (str, os.PathLike))
        path = Path(path)
    text = json.dumps(record, indent=1, sort_keys=True, allow_nan=True) + "\n"  # fails before any folder is made
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_result(name: str) -> dict[str, Any]:
    """The committed record of benchmark ``name`` (what a chapter plots)."""
    path = result_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no committed result for benchmark {name!r} at {path}; run `make benchmarks`")
    return json.loads(path.read_text(encoding="utf-8"))


def discover() -> list[Benchmark]:
    """Every ``Benchmark`` declared in a ``BENCHMARKS`` list of a ``roadmap_lib`` module."""
    import roadmap_lib

    found: list[Benchmark] = []
    for info in pkgutil.iter_modules(roadmap_lib.__path__):
        if info.name == "benchmark":
            continue
        module = importlib.import_module(f"roadmap_lib.{info.name}")
        found.extend(getattr(module, "BENCHMARKS", []))
    return found


def cli(benchmarks: Sequence[Benchmark], argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Command line shared by every module's ``benchmark`` sub-command and by ``make benchmarks``."""
    by_name = {b.name: b for b in benchmarks}
    parser = argparse.ArgumentParser(prog=prog, description="Run the book's recorded benchmarks.")
    parser.add_argument("names", nargs="*", help=f"which to run (default: all of {sorted(by_name)})")
    parser.add_argument("--smoke", action="store_true", help="reduced config; writes nothing unless --out")
    parser.add_argument("--out", type=Path, help="write the record here instead of roadmap_lib/results/")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(by_name))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {sorted(by_name)}")
    for name in args.names or sorted(by_name):
        record = execute(by_name[name], smoke=args.smoke)
        if args.out or not args.smoke:
            target = save(record, args.out)
            print(f"{name}: {record['seconds']} s -> {target}")
        else:
            print(f"{name} (smoke): {record['seconds']} s, results keys {sorted(record['results'])}")


if __name__ == "__main__":
    cli(discover(), prog="python -m roadmap_lib.benchmark")
