"""Target 3: verification throughput on Problem 1's exact second derivative.

ℓ(x) = f(g(x), h(x)) with g = sin x, h = x², f = y·z + exp(y) (the CLI's
example). At ``points`` random x in [-2, 2]:

* SymPy side: d²ℓ/dx² lambdified to numpy (``numeric.lambdify_vectorised``),
  all points in one call — target ≥ 1e7 points/s;
* engine side: the exact second derivative by forward-over-reverse on the
  fine-grained graph (every primitive its own node) and on the 4-node graph
  of function nodes, all points as one minibatch;
* baseline: ``expr.subs(x, v).evalf()`` point by point on a few points.

Each figure is also given as a ratio to the subs/evalf rate measured in the
same run. The values are cross-checked (engine vs SymPy) before timing.
"""

from __future__ import annotations

import numpy as np

from benchmarks.rows import Config, Row
from benchmarks.timing import Samples, interleaved, ratio

EXAMPLE = ("sin(x)", "x**2", "y*z + exp(y)")
CHUNK = 4096  # points per engine minibatch in the chunked row


def derivation():
    from symderiv.problems.chain import derive_chain
    from symderiv.algebra.expressions import parse_expression

    g_text, h_text, loss_text = EXAMPLE
    return derive_chain(
        parse_expression(g_text, ["x"], "--g"),
        parse_expression(h_text, ["x"], "--h"),
        parse_expression(loss_text, ["y", "z"], "--loss"),
    )


def _rate_row(
    name: str, samples: Samples, baseline: Samples, points: int, subs_points: int, *,
    min_rate: float | None, detail: dict | None = None,
) -> Row:
    """Points per second of A; the ratio is A's speed-up over the baseline, per point."""
    rate = points / samples.median
    per_round = ratio(
        Samples(samples.name, tuple(s / points for s in samples.seconds)),
        Samples(baseline.name, tuple(s / subs_points for s in baseline.seconds)),
    )
    return Row(
        benchmark="3 throughput",
        name=name,
        baseline="subs/evalf, point by point",
        ratio=1.0 / per_round.value,  # speed-up over the baseline
        ratio_low=1.0 / per_round.high,
        ratio_high=1.0 / per_round.low,
        paired=1.0 / per_round.paired_median,
        a_seconds=samples.median,
        b_seconds=baseline.median,
        rounds=per_round.rounds,
        figure=rate,
        unit="points/s",
        target="" if min_rate is None else f">= {min_rate:.0e} points/s",
        met=None if min_rate is None else rate >= min_rate,
        note="ratio = speed-up over the baseline",
        detail=detail or {},
    )


def run(config: Config) -> list[Row]:
    from symderiv.problems.chain_numbers import _engine_graphs
    from symderiv.numeric.evaluate import lambdify_vectorised

    d = derivation()
    x = d.x
    xs = np.random.default_rng(0).uniform(-2.0, 2.0, config.points)
    few = xs[: config.subs_points]
    second = d.second_canonical
    symbolic = lambdify_vectorised(second, [x])
    (coarse, cx, closs), (fine, fx, floss) = _engine_graphs(d)
    ones = np.ones_like(xs)

    def engine(graph, node, output, chunk=None):
        def run_once():
            if chunk is None:
                return graph.hessian_vector_product({node: xs}, output, {node: ones}, wrt=[node]).hvp[node]
            result = np.empty_like(xs)
            for start in range(0, xs.size, chunk):
                part = slice(start, start + chunk)
                result[part] = graph.hessian_vector_product(
                    {node: xs[part]}, output, {node: ones[part]}, wrt=[node]
                ).hvp[node]
            return result

        return run_once

    fresh = np.random.default_rng(1)

    def subs_evalf(points=None):
        # new points every call: SymPy caches subs() results, so repeating the
        # same points would time the cache, not the evaluation
        points = fresh.uniform(-2.0, 2.0, config.subs_points) if points is None else points
        return [float(second.subs(x, float(v)).evalf()) for v in points]

    engine_fine, engine_coarse = engine(fine, fx, floss), engine(coarse, cx, closs)
    engine_fine_chunked = engine(fine, fx, floss, chunk=CHUNK)
    reference = symbolic(xs)
    scale = np.maximum(np.abs(reference), 1.0)
    agreement = {
        "max_scaled_difference_fine_vs_sympy": float(np.max(np.abs(engine_fine() - reference) / scale)),
        "max_scaled_difference_fine_chunked_vs_sympy": float(np.max(np.abs(engine_fine_chunked() - reference) / scale)),
        "max_scaled_difference_4node_vs_sympy": float(np.max(np.abs(engine_coarse() - reference) / scale)),
        "max_scaled_difference_subs_vs_lambdify": float(np.max(np.abs(np.array(subs_evalf(few)) - reference[: len(few)]) / scale[: len(few)])),
    }
    samples = interleaved(
        {
            "lambdify": lambda: symbolic(xs),
            "engine-fine": engine_fine,
            "engine-4node": engine_coarse,
            "engine-fine-chunked": engine_fine_chunked,
            "subs": subs_evalf,
        },
        max(3, config.rounds // 4),
        warmup=2,
    )
    base = samples["subs"]
    n, m = config.points, config.subs_points
    return [
        _rate_row(f"SymPy d²ℓ/dx² lambdified, {n:,} points", samples["lambdify"], base, n, m, min_rate=1e7, detail=agreement),
        _rate_row(f"engine exact 2nd derivative, fine-grained graph, {n:,} points", samples["engine-fine"], base, n, m, min_rate=None),
        _rate_row(f"engine exact 2nd derivative, fine-grained graph, minibatches of {CHUNK}", samples["engine-fine-chunked"], base, n, m, min_rate=None),
        _rate_row(f"engine exact 2nd derivative, 4-node graph, {n:,} points", samples["engine-4node"], base, n, m, min_rate=None),
    ]
