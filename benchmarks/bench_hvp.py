"""Target 2: exact second order, Hessian-vector product time / gradient time.

Small MLP (64→32→10 by default, tanh hidden layer so the Hessian is not
trivially sparse, fused cross-entropy, float64, batch 128). A is
:meth:`Graph.hessian_vector_product` (forward-over-reverse; it returns the
gradient as well), B is forward + :meth:`Graph.backward`. For reference the
run also times H·v by central differences of two gradients (what one would
do without forward-over-reverse; inexact, and ≈ 2 gradients by construction),
and checks that the exact HVP agrees with it.
"""

from __future__ import annotations

import numpy as np

from benchmarks.rows import Config, Row, ratio_row
from benchmarks.timing import interleaved, ratio


def build(config: Config, seed: int = 0):
    from symderiv.engine.graph import Graph

    n_in, n_hidden, n_out = config.hvp_sizes
    rng = np.random.default_rng(seed)
    graph = Graph()
    x, labels = graph.input("x"), graph.input("labels")
    w1 = graph.parameter("W1", rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_hidden)))
    b1 = graph.parameter("b1", rng.normal(0, 0.1, n_hidden))
    w2 = graph.parameter("W2", rng.normal(0, 1 / np.sqrt(n_hidden), (n_hidden, n_out)))
    b2 = graph.parameter("b2", rng.normal(0, 0.1, n_out))
    hidden = graph.apply("tanh", graph.apply("affine", x, w1, b1))
    loss = graph.apply("mean", graph.apply("cross_entropy", graph.apply("affine", hidden, w2, b2), labels))
    params = [w1, b1, w2, b2]
    feed = {x: rng.normal(size=(config.hvp_batch, n_in)), labels: rng.integers(0, n_out, config.hvp_batch)}
    direction = {p: rng.normal(size=p.value.shape) for p in params}
    return graph, loss, params, feed, direction


def run(config: Config) -> list[Row]:
    graph, loss, params, feed, direction = build(config)

    def gradient():
        return graph.backward(graph.forward(feed, [loss]), loss, params)

    def hvp():
        return graph.hessian_vector_product(feed, loss, direction, params)

    step = 1e-5

    def difference_of_gradients():
        saved = [p.value.copy() for p in params]
        for p in params:
            p.value += step * direction[p]
        up = gradient()
        for p, s in zip(params, saved):
            p.value[...] = s - step * direction[p]
        down = gradient()
        for p, s in zip(params, saved):
            p.value[...] = s
        return {p: (up[p] - down[p]) / (2 * step) for p in params}

    exact = hvp().hvp
    approx = difference_of_gradients()
    relative = max(
        float(np.max(np.abs(exact[p] - approx[p])) / max(np.max(np.abs(approx[p])), 1e-300)) for p in params
    )
    samples = interleaved(
        {"hvp": hvp, "gradient": gradient, "fd": difference_of_gradients}, config.rounds, config.warmup
    )
    shape = "→".join(map(str, config.hvp_sizes)) + f", batch {config.hvp_batch}, float64"
    return [
        ratio_row(
            "2 second-order", f"exact HVP + gradient, forward-over-reverse ({shape})", "forward + backward (gradient)",
            samples["hvp"], samples["gradient"], ratio(samples["hvp"], samples["gradient"]),
            max_ratio=2.0, detail={"max_relative_difference_vs_central_differences": relative},
        ),
        ratio_row(
            "2 second-order", "H·v by central differences of 2 gradients (inexact)", "forward + backward (gradient)",
            samples["fd"], samples["gradient"], ratio(samples["fd"], samples["gradient"]),
        ),
    ]
