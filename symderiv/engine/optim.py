"""Minibatch SGD for engine parameters.

* :class:`SGDStep` — forward, backward and update of one minibatch in one
  call, planned once for a fixed graph, loss and parameter list: the fast
  training path (``symderiv train`` and the benchmarks use it).
* :func:`sgd_update` — apply gradients you already have (from
  :meth:`Graph.backward`), in place and without temporaries.
"""

from __future__ import annotations

import math
from functools import partial
from operator import itemgetter
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from symderiv.engine.graph import Graph, Node


class SGDStep:
    """θ ← θ − lr·∇θ loss, for every parameter in ``parameters``, in one call.

    ``step = SGDStep(graph, loss, parameters, lr)``; then ``step(feed)`` runs
    one minibatch (``feed`` maps input nodes to arrays, as for
    :meth:`Graph.forward`), updates each ``node.value`` in place and returns
    the loss value. A non-scalar loss is trained as the sum of its entries.

    What makes it cheaper than ``forward`` + ``backward`` + :func:`sgd_update`:

    * the backward pass is seeded with ``lr`` instead of 1. Every VJP is linear
      in its cotangent, so what reaches a parameter is already lr·∇θ and the
      update is one in-place subtraction, with no pass scaling a W-sized
      gradient. The result differs from ``θ − lr·∇θ`` only by rounding, except
      that lr now multiplies every intermediate cotangent: in float32 a tiny lr
      times tiny cotangents can reach the subnormal range sooner (contrived;
      on the MLPs here the step's error equals the hand-written numpy step's);
    * the schedule is flattened once into slot numbers, so a step does no graph
      walking and no dictionary building;
    * an op with ``forward_residual``/``vjp_residual`` (the fused cross-entropy)
      hands its backward rule what its forward computed (the softmax's
      exponentials and row sums) instead of recomputing it;
    * each value is dropped as soon as no rule still to run reads it (ops
      declare whether their VJP reads its output and its inputs), so, as in a
      hand-written step, the memory of a dead temporary is reused at once.

    Gradients are fresh arrays each step, not preallocated buffers written
    with ``out=``, and the update is a separate subtraction, not fused into
    the weight-gradient matmul (BLAS gemm with beta = 1): both were measured on
    the 784→256→10 step and neither changed its time by more than 0.5 %.

    A step whose loss is not finite (overflow, NaN) leaves every parameter
    unchanged and returns that loss, so a caller can stop a diverging run
    with the last finite parameters.
    """

    def __init__(self, graph: Graph, loss: Node, parameters: Sequence[Node], learning_rate: float) -> None:
        for node in parameters:
            if node.kind != "parameter":
                raise ValueError(f"{node!r} is not a parameter (only parameters are updated)")
        self.graph = graph
        self.loss = loss
        self.parameters = tuple(dict.fromkeys(parameters))  # a parameter listed twice is updated once
        self.learning_rate = float(learning_rate)
        schedule = graph.schedule([loss])
        slot_of = {node: slot for slot, node in enumerate(schedule)}
        self._loss_slot = slot_of[loss]
        self._leaves = tuple((slot_of[n], n) for n in schedule if n.kind in ("parameter", "constant"))
        self._inputs = tuple((slot_of[n], n) for n in schedule if n.kind == "input")
        # Parameters the loss does not depend on get no gradient: nothing to update.
        trained = [p for p in self.parameters if p in slot_of]
        self._updates = tuple((slot_of[p], p) for p in trained)
        plan = graph.backward_plan(schedule, trained)
        # An op whose backward rule reuses forward work (Op.forward_residual)
        # keeps that residual in a slot after the nodes' own, for this step only.
        residual_slot: dict[Node, int] = {}
        for node, op, *_ in plan:
            if op.forward_residual is not None:
                residual_slot[node] = len(schedule) + len(residual_slot)
        self._size = len(schedule) + len(residual_slot)
        # Per node: the rule with its params bound, and a C-level gather of its
        # input values (itemgetter): no per-call list building or **params.
        forward = [
            (slot_of[n], residual_slot.get(n),
             _bound(n.op.forward_residual if n in residual_slot else n.op.forward, n.params),
             _gather_tuple([slot_of[i] for i in n.inputs]))
            for n in schedule if n.op is not None
        ]
        forward_reads = [[slot_of[i] for i in n.inputs] for n in schedule if n.op is not None]
        # Per node: its cotangent's slot, the slot passed as the rule's second
        # argument (the output, or the residual for vjp_residual), the rule, ...
        backward = [
            (slot_of[node], residual_slot.get(node, slot_of[node]),
             _bound(op.vjp_residual if node in residual_slot else op.vjp, params),
             _gather_tuple([slot_of[i] for i in inputs]), needs, tuple(slot_of[i] for i in inputs))
            for node, op, inputs, needs, params in plan
        ]
        # Values are dropped as soon as no later rule reads them, so their memory
        # is free for what is still to come, as a hand-written step frees its
        # temporaries: in the forward pass, values no backward rule reads (the
        # input of a sigmoid, whose VJP uses only its output); in the backward
        # pass, after the last rule reading them. Holding them cost 5-9 % at
        # batch 1024 (784→256→10), nothing measurable at 128.
        backward_reads = [
            # a residual (out slot ≠ the node's own) is always read
            [*((out,) if op.vjp_reads_output or out != slot else ()), *(inputs if op.vjp_reads_inputs else ())]
            for (slot, out, _, _, _, inputs), (_, op, *_) in zip(backward, plan)
        ]
        kept = {self._loss_slot} | {slot for reads in backward_reads for slot in reads}
        self._forward = _with_releases(forward, forward_reads, kept)
        self._backward = _with_releases(backward, backward_reads, {self._loss_slot})
        self._scalar_seeds: dict[type, np.ndarray] = {}

    def _seed(self, loss_value: Any) -> np.ndarray:
        """lr shaped and typed like the loss (a float64 seed for a non-float loss)."""
        value = np.asarray(loss_value)
        dtype = value.dtype if value.dtype.kind == "f" else np.dtype(np.float64)
        if value.ndim:
            return np.full(value.shape, self.learning_rate, dtype=dtype)
        seed = np.array(self.learning_rate, dtype=dtype)
        seed.flags.writeable = False  # shared by every step: rules must not write into it
        return seed

    def _finite_loss_seed(self, loss_value: Any) -> np.ndarray | None:
        """The backward seed, or None when the loss is not finite. The common case,
        a float scalar loss, is one dictionary lookup and one float test."""
        seed = self._scalar_seeds.get(type(loss_value))
        if seed is not None:
            return seed if math.isfinite(loss_value) else None
        if not np.isfinite(loss_value).all():
            return None
        seed = self._seed(loss_value)
        if type(loss_value) in _DOUBLE_OR_NARROWER:  # math.isfinite is exact for these: cache by type
            self._scalar_seeds[type(loss_value)] = seed
        return seed

    def __call__(self, feed: Mapping[Node, Any]) -> Any:
        values: list[Any] = [None] * self._size
        for slot, node in self._leaves:
            values[slot] = node.value
        for slot, node in self._inputs:
            try:
                values[slot] = feed[node]
            except KeyError:
                raise ValueError(f"no value fed for input {node.name!r}") from None
        for slot, residual, forward, gather, released in self._forward:
            if residual is None:
                values[slot] = forward(*gather(values))
            else:
                values[slot], values[residual] = forward(*gather(values))
            for value_slot in released:
                values[value_slot] = None
        loss_value = values[self._loss_slot]
        if type(loss_value) is np.ndarray:
            # the value returned is the loss before the update, even where it is
            # (a view of) a parameter that the update changes in place
            loss_value = loss_value.copy()
        seed = self._finite_loss_seed(loss_value)
        if seed is None:
            return loss_value
        cotangents: list[Any] = [None] * self._size
        cotangents[self._loss_slot] = seed
        for slot, out, vjp, gather, needs, inputs, released in self._backward:
            g = cotangents[slot]
            if g is None:
                continue
            contributions = vjp(g, values[out], gather(values), needs)
            cotangents[slot] = g = None  # read by no other rule: free it
            for value_slot in released:
                values[value_slot] = None
            for child, contribution in zip(inputs, contributions):
                if contribution is not None:
                    existing = cotangents[child]
                    # never in place: a contribution may be a read-only broadcast view
                    cotangents[child] = contribution if existing is None else existing + contribution
        for slot, node in self._updates:
            step = cotangents[slot]
            if step is not None:
                node.value -= step
        return loss_value


_DOUBLE_OR_NARROWER = (np.float16, np.float32, np.float64)


def _with_releases(entries: list[tuple], reads: list[list[int]], kept: set[int]) -> tuple[tuple, ...]:
    """Each entry with the slots to drop once it has run: those it is the last
    entry to read, except the ``kept`` ones."""
    last_read: dict[int, int] = {}
    for position, slots in enumerate(reads):
        for slot in slots:
            last_read[slot] = position
    released: list[list[int]] = [[] for _ in entries]
    for slot, position in last_read.items():
        if slot not in kept:
            released[position].append(slot)
    return tuple(entry + (tuple(done),) for entry, done in zip(entries, released))


def _bound(rule: Callable, params: Mapping[str, Any]) -> Callable:
    return partial(rule, **params) if params else rule


def _gather_tuple(slots: Sequence[int]) -> Callable[[list], tuple]:
    """values -> (values[s] for s in slots) as a tuple (itemgetter returns a bare
    value for a single slot and takes no empty list, and rules index their
    inputs as a tuple)."""
    if not slots:
        return lambda values: ()
    if len(slots) == 1:
        (only,) = slots
        return lambda values: (values[only],)
    return itemgetter(*slots)


def sgd_update(gradients: Mapping[Node, np.ndarray], learning_rate: float) -> None:
    """``p.value -= learning_rate * gradient`` for every parameter, in place.

    The gradient arrays returned by :meth:`Graph.backward` are fresh, so each
    is scaled in place and subtracted (no temporary the size of W); read-only
    or shared arrays (e.g. broadcast views) are left untouched and copied."""
    scales: dict[np.dtype, Any] = {}
    # One array can be the gradient of several parameters (e.g. both inputs of
    # an add pass the same cotangent through): such arrays are never scaled in place.
    seen: dict[int, int] = {}
    for gradient in gradients.values():
        seen[id(gradient)] = seen.get(id(gradient), 0) + 1
    for node, gradient in gradients.items():
        value = node.value
        dtype = value.dtype
        scale = scales.get(dtype)
        if scale is None:
            scale = scales[dtype] = dtype.type(learning_rate)
        if (
            type(gradient) is np.ndarray
            and gradient.dtype == dtype
            and gradient.base is None
            and gradient.flags.writeable
            and seen[id(gradient)] == 1
        ):
            gradient *= scale  # a fresh array the caller handed over: scale it in place
            value -= gradient
        else:
            value -= np.asarray(gradient, dtype=dtype) * scale
