"""Every recorded benchmark: its committed JSON was made with the code's current config, and its smoke
configuration still runs end to end (so `make benchmarks` cannot rot between re-runs)."""

import json

import pytest

from roadmap_lib import benchmark

BENCHMARKS = benchmark.discover()
IDS = [b.name for b in BENCHMARKS]


@pytest.mark.parametrize("bench", BENCHMARKS, ids=IDS)
def test_committed_result_matches_current_config(bench):
    record = benchmark.load_result(bench.name)
    assert record["smoke"] is False
    # JSON turns tuples into lists: compare through the same round trip.
    assert record["config"] == json.loads(json.dumps(bench.config)), (
        f"roadmap_lib/results/{bench.name}.json was made with another config; run `make benchmarks`"
    )


@pytest.mark.parametrize("bench", BENCHMARKS, ids=IDS)
def test_smoke_run_completes(bench, tmp_path):
    record = benchmark.execute(bench, smoke=True)
    path = benchmark.save(record, tmp_path / f"{bench.name}.json")
    again = json.loads(path.read_text())
    assert again["results"], "a benchmark must report something"
    assert again["config"] == json.loads(json.dumps(bench.smoke_config))


def test_benchmark_rejects_bad_declarations():
    with pytest.raises(ValueError, match="name"):
        benchmark.Benchmark("not a name", lambda c: {}, {}, {})
    with pytest.raises(TypeError, match="run"):
        benchmark.Benchmark("ok", 3, {}, {})
    with pytest.raises(TypeError, match="config"):
        benchmark.Benchmark("ok", lambda c: {}, [], {})


def test_missing_result_names_the_fix():
    with pytest.raises(FileNotFoundError, match="make benchmarks"):
        benchmark.load_result("no_such_benchmark")


NOOP = benchmark.Benchmark("noop", lambda config: {}, {}, {})


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: benchmark.result_path(3), TypeError, "name must be str"),
        (lambda: benchmark.execute("dqn_cartpole"), TypeError, "bench must be Benchmark"),
        (lambda: benchmark.execute(NOOP, smoke="yes"), TypeError, "smoke must be bool"),
    ],
)
def test_bad_arguments_are_named(call, error, name):
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda tmp: benchmark.save([], tmp / "r.json"), TypeError, "record must be dict"),
        (lambda tmp: benchmark.save({"results": {}}), ValueError, "record has no 'name'"),
        (lambda tmp: benchmark.save({"name": "noop"}, 3), TypeError, "path must be str or PathLike"),
        # an unserialisable record fails before save makes the folder it would have written into
        (lambda tmp: benchmark.save({"name": "noop", "results": object()}, tmp / "new" / "r.json"), TypeError,
         "not JSON serializable"),
    ],
)
def test_save_rejects_bad_arguments_and_writes_nothing(call, error, name, tmp_path):
    with pytest.raises(error, match=name):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []
