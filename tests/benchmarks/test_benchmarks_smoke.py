"""The benchmark harness at tiny sizes (structure and finiteness, never timings),
and the correctness of the engine's speed changes against independent references."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks.rows import Config
from benchmarks.run import SECTIONS, format_table, log_log_slope, main, run_all
from benchmarks.timing import Samples, interleaved, ratio


@pytest.fixture(scope="module")
def quick_results():
    # "cli" starts subprocesses (~0.1 s each): keep it, with --help only (Config.quick)
    return run_all(Config.quick())


def test_every_section_ran_without_errors(quick_results):
    assert quick_results["errors"] == []
    benchmarks = {row["benchmark"].split()[0] for row in quick_results["rows"]}
    assert benchmarks == {"1", "2", "3", "4", "5"}
    assert set(quick_results["scaling"]) == {"engine_step_vs_batch", "softmax_proof_vs_n"}


def test_every_measured_ratio_is_finite_and_positive(quick_results):
    measured = [row for row in quick_results["rows"] if not row["note"].startswith("missing")]
    assert len(measured) >= 12
    for row in measured:
        for key in ("ratio", "paired", "ratio_low", "ratio_high", "a_seconds", "b_seconds"):
            assert row[key] is not None and math.isfinite(row[key]) and row[key] > 0, (row["name"], key)
        assert row["ratio_low"] <= row["ratio_high"]
        assert row["rounds"] >= 1
        if row["target"]:
            assert isinstance(row["met"], bool)


def test_targets_are_the_issues(quick_results):
    targets = {row["target"] for row in quick_results["rows"] if row["target"]}
    assert {"ratio <= 1", "ratio <= 2", ">= 1e+07 points/s", "<= 2 s", "<= 1 s", "<= 0.1 s"} <= targets


def test_only_a_missing_optional_dependency_makes_a_missing_row(quick_results):
    missing = [row for row in quick_results["rows"] if row["note"].startswith("missing")]
    for row in missing:
        assert "torch" in row["name"]


def test_the_benchmarked_computations_agree_with_their_references(quick_results):
    by_name = {row["name"]: row for row in quick_results["rows"]}
    engine = next(row for name, row in by_name.items() if name.startswith("engine step ("))
    assert engine["detail"]["loss_difference_vs_numpy"] < 1e-5  # float32, same loss
    hvp = next(row for name, row in by_name.items() if name.startswith("exact HVP"))
    assert hvp["detail"]["max_relative_difference_vs_central_differences"] < 1e-5
    symbolic = next(row for name, row in by_name.items() if name.startswith("SymPy d²ℓ/dx²"))
    assert all(v < 1e-12 for v in symbolic["detail"].values())


def test_scaling_tables_cover_the_configured_sizes(quick_results):
    config = Config.quick()
    batch = quick_results["scaling"]["engine_step_vs_batch"]["rows"]
    assert [r["batch"] for r in batch] == list(config.batch_sizes)
    proofs = quick_results["scaling"]["softmax_proof_vs_n"]["rows"]
    assert [r["n"] for r in proofs] == list(config.scaling_ns)
    assert all(r["seconds"] > 0 for r in proofs)


def test_table_and_json_output(tmp_path, capsys):
    output = tmp_path / "results.json"
    code = main(["--quick", "--only", "hvp", "--output", str(output), "--no-plot"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| 2 second-order |" in printed and "BLAS:" in printed
    results = json.loads(output.read_text(encoding="utf-8"))
    assert [row["benchmark"] for row in results["rows"]] == ["2 second-order", "2 second-order"]
    assert results["environment"]["blas_threads_pinned_to"] == 1
    pools = results["environment"]["blas"]["pools"]
    assert all(pool["num_threads"] == 1 for pool in pools if pool["user_api"] == "blas")
    assert "| 2 second-order |" in format_table(results)


def test_sections_are_named():
    assert SECTIONS == ("mlp", "hvp", "throughput", "proofs", "cli", "scaling")


def test_interleaving_and_ratio():
    calls: list[str] = []
    samples = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=4, warmup=1)
    assert calls == ["a", "b"] * 5  # warm-up, then A B A B: never the same contender twice in a row
    calls.clear()
    names = "abcd"
    interleaved({n: (lambda n=n: calls.append(n)) for n in names}, rounds=200, warmup=0)
    assert all(first != second for first, second in zip(calls, calls[1:]))
    rounds = [calls[i:i + 4] for i in range(0, len(calls), 4)]
    assert all(sorted(r) == list(names) for r in rounds)  # each once per round
    # the order changes from round to round: every contender follows every other one
    follows = {(p, q) for p, q in zip(calls, calls[1:])}
    assert follows == {(p, q) for p in names for q in names if p != q}
    r = ratio(Samples("a", (2.0, 4.0, 6.0)), Samples("b", (1.0, 2.0, 3.0)))
    assert r.value == 2.0 and r.low == 2.0 and r.high == 2.0 and r.rounds == 3 and r.paired_median == 2.0
    assert samples["a"].median > 0


def test_log_log_slope():
    assert log_log_slope([1, 2, 4, 8], [3, 12, 48, 192]) == pytest.approx(2.0)


# ---------------------------------------------------------------------------
# correctness of the speed changes (engine, numeric bridge)


def test_sgd_update_never_scales_a_shared_gradient_twice():
    from symderiv.engine.graph import Graph
    from symderiv.engine.optim import sgd_update

    graph = Graph()
    x = graph.input("x")
    p1, p2 = graph.parameter("p1", np.zeros(3)), graph.parameter("p2", np.zeros(3))
    loss = graph.apply("sum", graph.apply("mul", graph.apply("add", p1, p2), x))
    grads = graph.backward(graph.forward({x: np.array([1.0, 2.0, 3.0])}, [loss]), loss)
    assert grads[p1] is grads[p2]  # add passes one cotangent to both inputs
    sgd_update(grads, 0.5)
    np.testing.assert_array_equal(p1.value, [-0.5, -1.0, -1.5])
    np.testing.assert_array_equal(p2.value, [-0.5, -1.0, -1.5])


def test_sigmoid_is_accurate_in_both_tails_and_keeps_float32():
    import mpmath

    from symderiv.engine.ops import default_registry

    sigmoid = default_registry()["sigmoid"]
    xs = np.array([-745.0, -100.0, -30.0, -17.0, -1e-8, 0.0, 1e-8, 5.0, 40.0, 800.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # no overflow warning escapes
        y = sigmoid.forward(xs)
        y32 = sigmoid.forward(xs.astype(np.float32))
    assert y32.dtype == np.float32
    for value, got, got32 in zip(xs, y, y32):
        exact = 1 / (1 + mpmath.exp(-mpmath.mpf(float(value))))
        assert abs(got - float(exact)) <= 4e-16 * float(exact) + 5e-324
        if exact > 1e-37:  # float32 normal range: relative accuracy
            assert abs(float(got32) - float(exact)) <= 4e-7 * float(exact)


def test_fast_mean_and_bias_sum_match_numpy():
    from symderiv.engine.ops import default_registry
    from symderiv.engine.ops.kernels import batch_sum as _batch_sum

    rng = np.random.default_rng(0)
    mean = default_registry()["mean"]
    for dtype in (np.float32, np.float64):
        a = rng.normal(size=(128, 7)).astype(dtype)
        # the fast path is numpy's own reduction and division: bit-identical to np.mean
        got = mean.forward(a)
        assert np.asarray(got).dtype == dtype and got == np.mean(a)
        np.testing.assert_array_equal(mean.forward(a, axis=0), np.mean(a, axis=0))
        np.testing.assert_array_equal(mean.forward(a, axis=1, keepdims=True), np.mean(a, axis=1, keepdims=True))
        # the bias sum by BLAS sums in another order: within n·eps·Σ|a| of the exact sum
        s = _batch_sum(a)
        assert s.dtype == dtype
        exact = a.astype(np.float64).sum(axis=0)
        bound = a.shape[0] * np.finfo(dtype).eps * np.abs(a).astype(np.float64).sum(axis=0)
        assert np.all(np.abs(s - exact) <= bound)
    assert mean.forward(np.arange(4)) == 1.5  # integers still go through np.mean


def test_cross_entropy_memo_never_serves_a_stale_softmax():
    from symderiv.engine.ops import default_registry

    ce = default_registry()["cross_entropy"]
    rng = np.random.default_rng(1)
    labels = np.array([0, 2, 1])
    x1, x2 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)) * 3
    out1 = ce.forward(x1, labels)
    out2 = ce.forward(x2, labels)  # the memo now holds x2's softmax
    g = np.ones(3)
    (grad1, _) = ce.vjp(g, out1, (x1, labels), (True, False))
    p1 = np.exp(x1 - x1.max(1, keepdims=True))
    p1 /= p1.sum(1, keepdims=True)
    np.testing.assert_allclose(grad1, p1 - np.eye(4)[labels], rtol=1e-13, atol=1e-15)
    (grad2, _) = ce.vjp(g, out2, (x2, labels), (True, False))
    grad2[:] = 0.0  # writing into a returned gradient must not corrupt the memo
    (again, _) = ce.vjp(g, out2, (x2, labels), (True, False))
    p2 = np.exp(x2 - x2.max(1, keepdims=True))
    p2 /= p2.sum(1, keepdims=True)
    np.testing.assert_allclose(again, p2 - np.eye(4)[labels], rtol=1e-13, atol=1e-15)


def test_chunked_lambdify_equals_whole_array_evaluation():
    import sympy as sp

    from symderiv.numeric.evaluate import CHUNK_POINTS, lambdify_vectorised

    x, y = sp.symbols("x y")
    xs = np.linspace(-3.0, 3.0, 3 * CHUNK_POINTS + 17)
    for expr in (sp.sin(x) * sp.exp(y * x) + x**2, sp.Integer(7), x, y):
        got = lambdify_vectorised(expr, [x, y])(xs, 0.5)
        reference = np.broadcast_to(sp.lambdify([x, y], expr, "numpy")(xs, 0.5), xs.shape)
        assert got.shape == xs.shape and got.dtype == np.float64
        np.testing.assert_array_equal(got, reference)
        assert not np.shares_memory(got, xs)


def test_the_mlp_rows_time_what_they_say(monkeypatch):
    """The control row times numpy against numpy, each contender runs several
    instances of its own (each one called), and the engine rows time the engine."""
    from benchmarks import bench_mlp

    built: list[str] = []
    calls: dict[int, int] = {}

    def counting(kind, real):
        def make(*args, **kwargs):
            step = real(*args, **kwargs)
            ident = len(built)
            built.append(kind)
            calls[ident] = 0

            def counted():
                calls[ident] += 1
                return step()

            return counted

        return make

    monkeypatch.setattr(bench_mlp, "numpy_step", counting("numpy", bench_mlp.numpy_step))
    monkeypatch.setattr(bench_mlp, "engine_step", counting("engine", bench_mlp.engine_step))
    config = Config.quick()
    bench_mlp.run(config)
    # one of each for the loss check, then `instances` per contender:
    # numpy, numpy-again (the control) and four engine variants
    assert built.count("numpy") == 1 + 2 * config.mlp_instances
    assert built.count("engine") == 1 + 4 * config.mlp_instances
    timed = [ident for ident in calls if ident >= 2]  # after the two loss-check steps
    assert all(calls[ident] >= 1 for ident in timed)
