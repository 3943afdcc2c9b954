"""Target 1: one SGD training step of an MLP, engine vs hand-written numpy.

Network: x (batch, 784) → affine → sigmoid → affine → batch-mean softmax +
NLL (the engine's fused ``mean_cross_entropy``); float32; one SGD step through
:class:`symderiv.engine.optim.SGDStep` (the path ``symderiv train`` uses). The
baseline is what one writes by hand in numpy: the same arithmetic, weight
gradients by matmul (``h.T @ delta``), ``W -= lr * dW``. Also measured, as
information:

* the engine with a two-node ``cross_entropy`` → ``mean`` head, and with an
  unfused ``log_softmax`` → ``nll`` → ``mean`` head;
* the general path ``Graph.forward`` + ``Graph.backward`` + ``sgd_update``;
* the EDF-style weight gradient ``(x[:, :, None] * delta[:, None, :]).sum(0)``
  against the matmul ``x.T @ delta`` for the first layer;
* PyTorch on one thread, when it is importable (never a dependency).
"""

from __future__ import annotations

import importlib.util
import itertools
from typing import Callable

import numpy as np

from benchmarks.rows import Config, Row, missing_row, ratio_row
from benchmarks.timing import interleaved, ratio

LEARNING_RATE = 0.01


def _data(batch: int, sizes: tuple[int, int, int], seed: int = 0):
    n_in, n_hidden, n_out = sizes
    rng = np.random.default_rng(seed)
    x = rng.random((batch, n_in), dtype=np.float32)
    labels = rng.integers(0, n_out, batch)
    limit1 = np.sqrt(6.0 / (n_in + n_hidden))
    limit2 = np.sqrt(6.0 / (n_hidden + n_out))
    params = [
        rng.uniform(-limit1, limit1, (n_in, n_hidden)).astype(np.float32),
        np.zeros(n_hidden, np.float32),
        rng.uniform(-limit2, limit2, (n_hidden, n_out)).astype(np.float32),
        np.zeros(n_out, np.float32),
    ]
    return x, labels, params


#: How the engine variants compute the loss from the logits.
HEADS = {
    "fused": ("mean_cross_entropy",),  # one node: batch-mean softmax + NLL
    "cross_entropy+mean": ("cross_entropy", "mean"),  # per-example fused loss, then the mean node
    "unfused": ("log_softmax", "nll", "mean"),
}


def engine_step(
    x: np.ndarray, labels: np.ndarray, params: list[np.ndarray], head: str = "fused", fused_step: bool = True
):
    """A closure running one engine training step (forward, backward, SGD):
    through :class:`SGDStep`, or (``fused_step=False``) the general path
    ``Graph.forward`` + ``Graph.backward`` + ``sgd_update``."""
    from symderiv.engine.graph import Graph
    from symderiv.engine.optim import SGDStep, sgd_update

    graph = Graph()
    x_node, label_node = graph.input("x"), graph.input("labels")
    w1, b1, w2, b2 = (graph.parameter(name, value.copy()) for name, value in zip(("W1", "b1", "W2", "b2"), params))
    hidden = graph.apply("sigmoid", graph.apply("affine", x_node, w1, b1))
    node = graph.apply("affine", hidden, w2, b2)
    for op in HEADS[head]:  # the two-input ops of a head take the labels second
        node = graph.apply(op, node, label_node) if graph.registry[op].arity == 2 else graph.apply(op, node)
    loss = node
    trained = [w1, b1, w2, b2]
    feed = {x_node: x, label_node: labels}
    if fused_step:
        sgd_step = SGDStep(graph, loss, trained, LEARNING_RATE)
        return lambda: sgd_step(feed)

    def general_step() -> float:
        evaluation = graph.forward(feed, [loss])
        sgd_update(graph.backward(evaluation, loss, trained), LEARNING_RATE)
        return evaluation[loss]

    return general_step


def numpy_step(x: np.ndarray, labels: np.ndarray, params: list[np.ndarray], edf_weight_gradient: bool = False):
    """One training step written by hand in numpy (the baseline)."""
    weights = [p.copy() for p in params]
    rows = np.arange(x.shape[0])
    batch = x.shape[0]

    def weight_gradient(inputs, delta):
        if edf_weight_gradient:
            return (inputs[:, :, None] * delta[:, None, :]).sum(0)
        return inputs.T @ delta

    def step() -> float:
        w1, b1, w2, b2 = weights  # updated in place below
        hidden = 1.0 / (1.0 + np.exp(-(x @ w1 + b1)))
        logits = hidden @ w2 + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(total[:, 0]) - shifted[rows, labels])
        delta = exp / total
        delta[rows, labels] -= 1.0
        delta /= batch
        grad_w2 = weight_gradient(hidden, delta)
        grad_b2 = delta.sum(axis=0)
        delta_hidden = (delta @ w2.T) * hidden * (1.0 - hidden)
        grad_w1 = weight_gradient(x, delta_hidden)
        grad_b1 = delta_hidden.sum(axis=0)
        w1 -= LEARNING_RATE * grad_w1
        b1 -= LEARNING_RATE * grad_b1
        w2 -= LEARNING_RATE * grad_w2
        b2 -= LEARNING_RATE * grad_b2
        return loss

    return step


def torch_step(x: np.ndarray, labels: np.ndarray, params: list[np.ndarray]):
    """The same step in PyTorch on one thread (the caller checks that torch is installed)."""
    import torch

    torch.set_num_threads(1)
    tx, tl = torch.from_numpy(x), torch.from_numpy(labels)
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    w1, b1, w2, b2 = tp

    def step() -> float:
        hidden = torch.sigmoid(tx @ w1 + b1)
        loss = torch.nn.functional.cross_entropy(hidden @ w2 + b2, tl)
        grads = torch.autograd.grad(loss, tp)
        with torch.no_grad():
            for p, g in zip(tp, grads):
                p -= LEARNING_RATE * g
        return float(loss)

    return step


def check_same_loss(x, labels, params) -> float:
    """The engine and the numpy baseline must compute the same loss (not just run)."""
    engine = engine_step(x, labels, params)()
    reference = numpy_step(x, labels, params)()
    return abs(float(engine) - float(reference))


def in_turn(make: Callable[[], Callable[[], object]], instances: int) -> Callable[[], object]:
    """``instances`` independent steps from ``make`` (each with its own arrays),
    called one after the other: the timing then averages over where the
    allocator put the arrays instead of depending on one lucky or unlucky layout."""
    steps = itertools.cycle([make() for _ in range(instances)])
    return lambda: next(steps)()


def run(config: Config) -> list[Row]:
    x, labels, params = _data(config.mlp_batch, config.mlp_sizes)
    difference = check_same_loss(x, labels, params)
    shape = "→".join(map(str, config.mlp_sizes)) + f", batch {config.mlp_batch}, float32"
    makers = {
        "engine": lambda: engine_step(x, labels, params),
        "numpy": lambda: numpy_step(x, labels, params),
        # the same numpy step again, other instances: the resolution of the comparison
        "numpy-again": lambda: numpy_step(x, labels, params),
        "engine-ce+mean": lambda: engine_step(x, labels, params, head="cross_entropy+mean"),
        "engine-unfused": lambda: engine_step(x, labels, params, head="unfused"),
        "engine-general": lambda: engine_step(x, labels, params, fused_step=False),
    }
    if importlib.util.find_spec("torch") is not None:
        makers["torch"] = lambda: torch_step(x, labels, params)
    contenders = {name: in_turn(make, config.mlp_instances) for name, make in makers.items()}
    samples = interleaved(contenders, config.mlp_rounds, config.warmup * config.mlp_instances)
    rows = [
        ratio_row(
            "1 mlp-step", f"engine step ({shape})", "hand-written numpy step",
            samples["engine"], samples["numpy"], ratio(samples["engine"], samples["numpy"]),
            max_ratio=1.0, detail={"loss_difference_vs_numpy": difference, "instances": config.mlp_instances},
        ),
    ]
    variants = (
        ("numpy-again", "the same numpy step, other instances (resolution)"),
        ("engine-ce+mean", "engine step, cross_entropy then mean node"),
        ("engine-unfused", "engine step, unfused log_softmax+nll+mean head"),
        ("engine-general", "engine forward+backward+sgd_update (no SGDStep)"),
    )
    for key, label in variants:
        rows.append(ratio_row(
            "1 mlp-step", label, "hand-written numpy step",
            samples[key], samples["numpy"], ratio(samples[key], samples["numpy"]),
        ))
    if "torch" in samples:
        rows.append(ratio_row(
            "1 mlp-step", "torch CPU step, 1 thread", "hand-written numpy step",
            samples["torch"], samples["numpy"], ratio(samples["torch"], samples["numpy"]),
        ))
    else:
        rows.append(missing_row("1 mlp-step", "torch CPU step, 1 thread", "torch is not installed (never a dependency)"))

    # The EDF weight gradient: per-example outer products summed over the batch.
    delta = np.random.default_rng(1).standard_normal((config.mlp_batch, config.mlp_sizes[1])).astype(np.float32)
    edf = interleaved(
        {
            "outer": lambda: (x[:, :, None] * delta[:, None, :]).sum(0),
            "matmul": lambda: x.T @ delta,
        },
        max(3, config.rounds // 4),
        warmup=1,
    )
    outer, matmul = (x[:, :, None] * delta[:, None, :]).sum(0), x.T @ delta
    rows.append(ratio_row(
        "1 mlp-step", f"EDF outer-product weight gradient ({config.mlp_sizes[0]}x{config.mlp_sizes[1]})",
        "matmul x.T @ delta", edf["outer"], edf["matmul"], ratio(edf["outer"], edf["matmul"]),
        detail={"max_abs_difference": float(np.max(np.abs(outer - matmul)))},
    ))
    return rows


def batch_scaling(config: Config) -> list[dict]:
    """Engine step and numpy step time for each batch size (for the log-log table/plot),
    with several instances per contender as in :func:`run`."""
    table = []
    for batch in config.batch_sizes:
        x, labels, params = _data(batch, config.mlp_sizes)
        samples = interleaved(
            {
                "engine": in_turn(lambda: engine_step(x, labels, params), config.mlp_instances),
                "numpy": in_turn(lambda: numpy_step(x, labels, params), config.mlp_instances),
            },
            config.scaling_rounds,
            config.warmup * config.mlp_instances,
        )
        r = ratio(samples["engine"], samples["numpy"])
        table.append({
            "batch": batch,
            "engine_s": samples["engine"].median,
            "numpy_s": samples["numpy"].median,
            "ratio": r.value,
            "ratio_low": r.low,
            "ratio_high": r.high,
        })
    return table
