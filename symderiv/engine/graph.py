"""The computation graph: an explicit object, no module-level state.

A :class:`Graph` owns its nodes (inputs, parameters, constants and op nodes).
Running it never mutates the graph: :meth:`Graph.forward` returns an
:class:`Evaluation` (the values), the backward passes return dictionaries.
Parameters keep their arrays on the node (``node.value``) so SGD can update
them in place.

Three ways through the graph backwards:

* :meth:`Graph.backward` — first order, cotangents accumulated over children;
* :meth:`Graph.hessian_vector_product` — exact second order by
  forward-over-reverse: tangents ẋ go forward with the values, then the
  backward pass carries (g, ġ) where ġ is the derivative of the cotangent
  along the tangent direction, so ġ at a parameter is H·v;
* :meth:`Graph.naive_second_order` — the *wrong* rule of PROBLEMS.md
  (δ²_out = 1; δ²_u = Σ_children δ²_v · ∂²v/∂u²), kept to show what it misses.

Contract of all three: the result has an array for every ``wrt`` node and
never ``None``; a node the output does not reach (``h(x) = 1``: x never
reaches the loss through h) gets exact zeros shaped like its value (float64
for integer values), because zero is its derivative.

Topological order is computed iteratively (no recursion limit) and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from symderiv.engine.ops import Op, Registry, default_registry


@dataclass(eq=False)
class Node:
    """A node of one graph. Hashing is by identity, so nodes key dictionaries."""

    index: int
    kind: str  # "input" | "parameter" | "constant" | "op"
    name: str
    op: Op | None = None
    inputs: tuple["Node", ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    value: np.ndarray | None = None  # parameters and constants only

    def __repr__(self) -> str:
        if self.kind == "op":
            args = ", ".join(i.name for i in self.inputs)
            return f"<{self.name} = {self.op.name}({args})>"
        return f"<{self.kind} {self.name}>"


@dataclass(frozen=True)
class Evaluation:
    """Values of one forward pass (and, for second order, the tangents)."""

    schedule: tuple[Node, ...]
    values: Mapping[Node, Any]
    tangents: Mapping[Node, Any] = field(default_factory=dict)
    #: what was fed, including inputs the outputs do not reach (their
    #: derivatives are zeros shaped like the value fed)
    feed: Mapping[Node, Any] = field(default_factory=dict)

    def __getitem__(self, node: Node) -> Any:
        return self.values[node]


@dataclass(frozen=True)
class SecondOrder:
    """Gradient and Hessian-vector product from one forward-over-reverse pass."""

    value: Any
    gradients: Mapping[Node, np.ndarray]
    hvp: Mapping[Node, np.ndarray]


class Graph:
    def __init__(self, registry: Registry | None = None):
        self.registry = registry if registry is not None else default_registry()
        self.nodes: list[Node] = []
        self._schedules: dict[tuple[int, ...], tuple[Node, ...]] = {}
        # Per-schedule plans (see _forward_plan/backward_plan): built once, so a
        # training step does no per-call set/dict building. Keyed by id(schedule)
        # with the schedule kept in the entry (so the id cannot be reused).
        self._forward_plans: dict[int, tuple[tuple[Node, ...], tuple]] = {}
        self._backward_plans: dict[tuple[int, tuple[int, ...]], tuple[tuple[Node, ...], tuple]] = {}

    # -- building ------------------------------------------------------------
    def _add(self, node: Node) -> Node:
        self.nodes.append(node)
        self._schedules.clear()
        self._forward_plans.clear()
        self._backward_plans.clear()
        return node

    def input(self, name: str) -> Node:
        """A value supplied at each run through the ``feed`` mapping."""
        return self._add(Node(len(self.nodes), "input", name))

    def parameter(self, name: str, value: Any) -> Node:
        """A trainable array owned by the node (update ``node.value`` in place)."""
        return self._add(Node(len(self.nodes), "parameter", name, value=np.asarray(value)))

    def constant(self, value: Any, name: str | None = None) -> Node:
        return self._add(Node(len(self.nodes), "constant", name or repr(value), value=np.asarray(value)))

    def apply(self, op: str | Op, *inputs: Node, name: str | None = None, **params: Any) -> Node:
        """A computed node ``op(*inputs, **params)``; ``op`` is a registry name or an :class:`Op`."""
        resolved = self.registry[op] if isinstance(op, str) else op
        if len(inputs) != resolved.arity:
            raise ValueError(f"op {resolved.name!r} takes {resolved.arity} inputs, got {len(inputs)}")
        for node in inputs:
            if not isinstance(node, Node) or self.nodes[node.index] is not node:
                raise ValueError(f"input {node!r} does not belong to this graph")
        label = name or f"{resolved.name}{len(self.nodes)}"
        return self._add(Node(len(self.nodes), "op", label, resolved, tuple(inputs), dict(params)))

    # -- order ---------------------------------------------------------------
    def schedule(self, outputs: Sequence[Node]) -> tuple[Node, ...]:
        """The ancestors of ``outputs`` in topological order (iterative DFS, cached)."""
        key = tuple([node.index for node in outputs])
        cached = self._schedules.get(key)
        if cached is not None:
            return cached
        order: list[Node] = []
        state: dict[Node, int] = {}  # 1 = on the stack, 2 = emitted
        for root in outputs:
            stack: list[tuple[Node, int]] = [(root, 0)]
            while stack:
                node, next_child = stack.pop()
                if next_child == 0:
                    if state.get(node) == 2:
                        continue
                    state[node] = 1
                if next_child < len(node.inputs):
                    stack.append((node, next_child + 1))
                    child = node.inputs[next_child]
                    if state.get(child) is None:
                        stack.append((child, 0))
                    elif state[child] == 1:
                        raise ValueError(f"cycle through {child!r}")
                else:
                    state[node] = 2
                    order.append(node)
        result = tuple(order)
        self._schedules[key] = result
        return result

    # -- forward ---------------------------------------------------------------
    def _leaf_value(self, node: Node, feed: Mapping[Node, Any]) -> Any:
        if node.kind == "input":
            try:
                return feed[node]
            except KeyError:
                raise ValueError(f"no value fed for input {node.name!r}") from None
        return node.value

    def _forward_plan(self, schedule: tuple[Node, ...]) -> tuple:
        """(node, forward, input nodes, params) per node; forward is None for leaves."""
        entry = self._forward_plans.get(id(schedule))
        if entry is not None and entry[0] is schedule:
            return entry[1]
        plan = tuple(
            (node, None if node.op is None else node.op.forward, node.inputs, node.params) for node in schedule
        )
        self._forward_plans[id(schedule)] = (schedule, plan)
        return plan

    def forward(self, feed: Mapping[Node, Any], outputs: Sequence[Node]) -> Evaluation:
        schedule = self.schedule(outputs)
        values: dict[Node, Any] = {}
        for node, forward, inputs, params in self._forward_plan(schedule):
            if forward is not None:
                values[node] = forward(*[values[i] for i in inputs], **params)
            elif node.kind == "input":
                values[node] = self._leaf_value(node, feed)
            else:
                values[node] = node.value
        return Evaluation(schedule, values, feed=dict(feed))

    def _value_for_zeros(self, node: Node, values: Mapping[Node, Any], feed: Mapping[Node, Any]) -> Any:
        """A value shaped and typed like ``node``'s, for a ``wrt`` node the output
        may not reach (its derivative is then exactly zero): computed in the
        forward pass, fed, held by the node, or (an op node off the output's
        path) computed now from the feed."""
        if node in values:
            return values[node]
        if node.kind == "input":
            return self._leaf_value(node, feed)
        if node.kind in ("parameter", "constant"):
            return node.value
        return self.forward(feed, [node])[node]

    # -- first order -----------------------------------------------------------
    def _requires(self, schedule: Sequence[Node], wrt: Iterable[Node]) -> dict[Node, bool]:
        """Which nodes lie on a path from ``wrt`` (their cotangents are needed)."""
        wanted = set(wrt)
        requires: dict[Node, bool] = {}
        for node in schedule:
            requires[node] = node in wanted or (
                node.op is not None
                and any(requires[i] and d for i, d in zip(node.inputs, node.op.differentiable))
            )
        return requires

    def backward_plan(self, schedule: tuple[Node, ...], wrt: Sequence[Node]) -> tuple:
        """The op nodes a backward pass must visit, in reverse order, each as
        (node, op, input nodes, needs, params); ``needs`` says which inputs'
        cotangents are wanted. Nodes that need none are left out. Cached."""
        key = (id(schedule), tuple([node.index for node in wrt]))
        entry = self._backward_plans.get(key)
        if entry is not None and entry[0] is schedule:
            return entry[1]
        requires = self._requires(schedule, wrt)
        plan = []
        for node in reversed(schedule):
            if node.op is None:
                continue
            needs = tuple(requires[i] and d for i, d in zip(node.inputs, node.op.differentiable))
            if any(needs):
                plan.append((node, node.op, node.inputs, needs, node.params))
        result = tuple(plan)
        self._backward_plans[key] = (schedule, result)
        return result

    def _default_wrt(self, schedule: Sequence[Node]) -> list[Node]:
        return [node for node in schedule if node.kind == "parameter"]

    def backward(
        self,
        evaluation: Evaluation,
        output: Node,
        wrt: Sequence[Node] | None = None,
        seed: Any = None,
    ) -> dict[Node, np.ndarray]:
        """Cotangents of ``output`` (seeded with ``seed``, default ones) at the ``wrt``
        nodes (default: every parameter). With the default seed on a scalar loss
        these are the gradients; on a vector of independent points, the
        pointwise derivatives."""
        schedule = evaluation.schedule
        wrt = self._default_wrt(schedule) if wrt is None else list(wrt)
        values = evaluation.values
        first_seed = _unit_seed(values[output]) if seed is None else seed
        grads = self._reverse_sweep(evaluation, output, wrt, first_seed, _FIRST_ORDER_RULE)
        result: dict[Node, np.ndarray] = {}
        for node in wrt:
            gradient = grads.get(node)
            if type(gradient) is np.ndarray:
                result[node] = gradient
            else:
                result[node] = _as_gradient(gradient, self._value_for_zeros(node, values, evaluation.feed))
        return result

    # -- exact second order ---------------------------------------------------
    def hessian_vector_product(
        self,
        feed: Mapping[Node, Any],
        output: Node,
        direction: Mapping[Node, Any],
        wrt: Sequence[Node] | None = None,
        seed: Any = None,
    ) -> SecondOrder:
        """Gradient and H·v at the ``wrt`` nodes, v given by ``direction``
        (node -> tangent array; absent nodes have zero tangent). Forward-over-reverse."""
        schedule = self.schedule([output])
        values: dict[Node, Any] = {}
        tangents: dict[Node, Any] = {}
        for node, forward, input_nodes, params in self._forward_plan(schedule):
            if forward is None:
                values[node] = self._leaf_value(node, feed)
                tangent = direction.get(node)
                tangents[node] = None if tangent is None else np.asarray(tangent)
            else:
                inputs = tuple([values[i] for i in input_nodes])
                values[node] = out = forward(*inputs, **params)
                in_tangents = tuple([tangents[i] for i in input_nodes])
                tangents[node] = (
                    None if all(t is None for t in in_tangents)
                    else node.op.jvp(in_tangents, out, inputs, **params)
                )
        wrt = self._default_wrt(schedule) if wrt is None else list(wrt)
        grads: dict[Node, Any] = {output: _unit_seed(values[output]) if seed is None else seed}
        grad_tangents: dict[Node, Any] = {}
        for node, op, input_nodes, needs, params in self.backward_plan(schedule, wrt):
            g = grads.get(node)
            if g is None:
                continue
            inputs = tuple([values[i] for i in input_nodes])
            out = values[node]
            g_dot = grad_tangents.get(node)
            in_tangents = tuple([tangents[i] for i in input_nodes])
            first, second = _second_order_vjp(op, g, g_dot, out, tangents[node], inputs, in_tangents, needs, params)
            for child, c1, c2 in zip(input_nodes, first, second):
                if c1 is not None:
                    _accumulate(grads, child, c1)
                if c2 is not None:
                    _accumulate(grad_tangents, child, c2)
        likes = {n: self._value_for_zeros(n, values, feed) for n in wrt}
        return SecondOrder(
            value=values[output],
            gradients={n: _as_gradient(grads.get(n), likes[n]) for n in wrt},
            hvp={n: _as_gradient(grad_tangents.get(n), likes[n]) for n in wrt},
        )

    # -- the naive rule --------------------------------------------------------
    def naive_second_order(
        self, evaluation: Evaluation, output: Node, wrt: Sequence[Node] | None = None
    ) -> dict[Node, np.ndarray]:
        """δ² by the naive rule: δ²_output = 1; δ²_u = Σ_children δ²_v · ∂²v/∂u².
        Not a derivative (see PROBLEMS.md); kept to demonstrate why."""
        schedule = evaluation.schedule
        wrt = [n for n in schedule if n.kind in ("input", "parameter")] if wrt is None else list(wrt)
        values = evaluation.values
        d2 = self._reverse_sweep(evaluation, output, wrt, _unit_seed(values[output]), _NAIVE_RULE)
        return {
            node: _as_gradient(d2.get(node), self._value_for_zeros(node, values, evaluation.feed)) for node in wrt
        }

    def _reverse_sweep(
        self, evaluation: Evaluation, output: Node, wrt: Sequence[Node], seed: Any, rule: Callable[[Op], Callable]
    ) -> dict[Node, Any]:
        """One pass in reverse topological order: each op node hands its incoming
        quantity to its inputs through ``rule(op)`` (the VJP, or the naive rule),
        and every node sums what its children hand it."""
        values = evaluation.values
        table: dict[Node, Any] = {output: seed}
        for node, op, input_nodes, needs, params in self.backward_plan(evaluation.schedule, wrt):
            incoming = table.get(node)
            if incoming is None:
                continue
            inputs = tuple([values[i] for i in input_nodes])
            contributions = rule(op)(incoming, values[node], inputs, needs, **params)
            for child, contribution in zip(input_nodes, contributions):
                if contribution is not None:
                    _accumulate(table, child, contribution)
        return table


def _second_order_vjp(op: Op, g, g_dot, out, out_tangent, inputs, in_tangents, needs, params):
    """(vjp(g), vjp(ġ) + vjp_tangent(g, ẋ)) for one op: its fused rule when it
    declares one, else composed from its first-order and tangent rules."""
    if op.second_order_vjp is not None:
        return op.second_order_vjp(g, g_dot, out, out_tangent, inputs, in_tangents, needs, **params)
    first = op.vjp(g, out, inputs, needs, **params)
    through_x_dot = op.vjp_tangent(g, out, out_tangent, inputs, in_tangents, needs, **params)
    if g_dot is None:
        return first, through_x_dot
    through_g_dot = op.vjp(g_dot, out, inputs, needs, **params)
    return first, tuple(_add_pair(a, b) for a, b in zip(through_g_dot, through_x_dot))


def _add_pair(a, b):
    if a is None:
        return b
    return a if b is None else a + b


_FIRST_ORDER_RULE = attrgetter("vjp")
_NAIVE_RULE = attrgetter("naive_vjp")


def _unit_seed(value: Any) -> np.ndarray:
    """Ones shaped and typed like ``value`` (a fresh array: it may become a gradient)."""
    if isinstance(value, np.generic):  # a numpy scalar, e.g. the batch-averaged loss
        return np.array(1, dtype=value.dtype)
    return np.ones_like(value)


def _accumulate(table: dict[Node, Any], node: Node, contribution: Any) -> None:
    """Sum contributions from several children; never in place, because a
    contribution may be a read-only broadcast view or shared with another node."""
    existing = table.get(node)
    table[node] = contribution if existing is None else existing + contribution


def _as_gradient(gradient: Any, like: Any) -> np.ndarray:
    """The gradient as an array; zeros shaped like ``like`` when nothing reached
    the node (float64 zeros for integer or boolean values)."""
    if gradient is not None:
        return np.asarray(gradient)
    like = np.asarray(like)
    return np.zeros(like.shape, dtype=like.dtype if like.dtype.kind == "f" else np.float64)
