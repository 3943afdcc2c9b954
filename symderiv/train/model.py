"""A multilayer perceptron built on the engine's :class:`~symderiv.engine.graph.Graph`.

    x → Affine → act → … → Affine → logits;   loss = mean_cross_entropy(logits, labels)

``mean_cross_entropy`` is the engine's fused, stable batch mean of
``nll(log_softmax(·))``, whose backward is (softmax − onehot) / batch; the
per-example ``cross_entropy`` node beside it is used only for evaluation.
Parameters are graph parameter nodes; a training step
(:class:`~symderiv.engine.optim.SGDStep`) updates their arrays in place.

Initialisation is seeded: Glorot/Xavier uniform for sigmoid (keeps the
pre-activations in sigmoid's sensitive range), He normal for ReLU; biases 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from symderiv.engine.graph import Graph, Node
from symderiv.engine.ops import Registry
from symderiv.engine.optim import SGDStep

ACTIVATIONS = ("sigmoid", "relu")


@dataclass(frozen=True)
class Architecture:
    n_inputs: int
    hidden: tuple[int, ...]
    n_classes: int
    activation: str

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden, self.n_classes)

    def describe(self) -> str:
        hidden = "-".join(str(h) for h in self.hidden) or "none"
        return f"{self.n_inputs}-{hidden}-{self.n_classes} {self.activation}"


def initial_parameters(arch: Architecture, seed: int, dtype: np.dtype | type = np.float32) -> list[tuple[str, np.ndarray]]:
    """(name, array) for W1, b1, W2, b2, …; the same seed gives the same arrays."""
    if arch.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {arch.activation!r}")
    rng = np.random.default_rng(seed)
    params: list[tuple[str, np.ndarray]] = []
    sizes = arch.layer_sizes
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        if arch.activation == "relu":
            weights = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        else:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            weights = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        params.append((f"W{layer}", weights.astype(dtype)))
        params.append((f"b{layer}", np.zeros(fan_out, dtype=dtype)))
    return params


class MLP:
    """The network as an engine graph with inputs ``x`` (batch, features) and ``labels`` (batch,)."""

    def __init__(
        self,
        arch: Architecture,
        parameters: Sequence[tuple[str, np.ndarray]],
        registry: Registry | None = None,
    ) -> None:
        self.arch = arch
        self.graph = Graph(registry)
        g = self.graph
        self.x = g.input("x")
        self.labels = g.input("labels")
        self.parameters: list[Node] = [g.parameter(name, np.array(value, copy=True)) for name, value in parameters]
        expected = 2 * (len(arch.hidden) + 1)
        if len(self.parameters) != expected:
            raise ValueError(f"{arch.describe()} needs {expected} parameter arrays, got {len(self.parameters)}")
        h = self.x
        n_layers = len(arch.hidden) + 1
        for layer in range(n_layers):
            weights, bias = self.parameters[2 * layer], self.parameters[2 * layer + 1]
            h = g.apply("affine", h, weights, bias, name=f"affine{layer + 1}")
            if layer < n_layers - 1:
                h = g.apply(arch.activation, h, name=f"{arch.activation}{layer + 1}")
        self.logits = h
        self.per_example_loss = g.apply("cross_entropy", self.logits, self.labels, name="cross_entropy")
        self.loss = g.apply("mean_cross_entropy", self.logits, self.labels, name="loss")
        self._sgd_steps: dict[float, SGDStep] = {}

    @classmethod
    def initialised(
        cls, arch: Architecture, seed: int, dtype: np.dtype | type = np.float32, registry: Registry | None = None
    ) -> "MLP":
        return cls(arch, initial_parameters(arch, seed, dtype), registry)

    def ops_used(self) -> tuple[str, ...]:
        """Names of the engine ops in this network, in graph order, each once."""
        seen: dict[str, None] = {}
        for node in self.graph.schedule([self.loss]):
            if node.op is not None:
                seen.setdefault(node.op.name, None)
        return tuple(seen)

    def loss_and_gradients(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, dict[Node, np.ndarray]]:
        """Mean cross-entropy on one minibatch and its gradient at every parameter."""
        evaluation = self.graph.forward({self.x: x, self.labels: labels}, [self.loss])
        gradients = self.graph.backward(evaluation, self.loss, self.parameters)
        return float(evaluation[self.loss]), gradients

    def train_step(self, x: np.ndarray, labels: np.ndarray, lr: float) -> float:
        """One SGD step θ ← θ − lr·∇θ on one minibatch; returns the minibatch's
        mean cross-entropy before the step. A non-finite loss leaves the
        parameters unchanged (see :class:`SGDStep`)."""
        step = self._sgd_steps.get(lr)
        if step is None:
            step = self._sgd_steps[lr] = SGDStep(self.graph, self.loss, self.parameters, lr)
        return float(step({self.x: x, self.labels: labels}))

    def evaluate(self, x: np.ndarray, labels: np.ndarray, chunk: int = 4096) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) over a whole dataset, in chunks to bound memory."""
        total_loss = 0.0
        correct = 0
        for start in range(0, x.shape[0], chunk):
            xs, ys = x[start:start + chunk], labels[start:start + chunk]
            evaluation = self.graph.forward({self.x: xs, self.labels: ys}, [self.per_example_loss, self.logits])
            total_loss += float(np.sum(evaluation[self.per_example_loss], dtype=np.float64))
            correct += int(np.count_nonzero(np.argmax(evaluation[self.logits], axis=1) == ys))
        n = x.shape[0]
        return total_loss / n, correct / n

    def parameter_arrays(self) -> list[tuple[str, np.ndarray]]:
        return [(node.name, node.value) for node in self.parameters]
