"""``symderiv train --check``: is the network's gradient right before we train on it?

Two independent checks, both in float64:

1. **Whole network, every parameter.** The engine's backward pass on a small
   batch of real training images is compared, entry by entry, with central
   finite differences of the engine's own forward loss,
   ``(L(θ + h·e_i) − L(θ − h·e_i)) / 2h``, by the project's one
   finite-difference routine, :func:`symderiv.numeric.differences.central_difference`.
   For each parameter array every entry is checked up to ``max_entries``
   (then a seeded sample that always includes the largest-gradient entry).

   Tolerance: the estimate's own error bound. With float64's unit roundoff
   u = 2⁻⁵² and the classical step h = u^(1/3)·max(1, |θ_i|) (no third
   derivative of the loss is known), the rounding error is ≈ u·|L|/h and the
   truncation error h²·|L'''|/6 is estimated from the estimate with step h/2
   (Richardson); the bound is ``FD_BOUND_SAFETY`` times their sum, ~1e-9 for a
   loss of order one, where a wrong rule is off by the size of the gradient
   itself, typically 1e-4 … 1e-1. An entry passes if
   ``|backward − fd| ≤ bound``; an entry whose bound is not small next to
   the quantity (:data:`~symderiv.numeric.tolerance.FD_CONCLUSIVE_FRACTION`)
   is inconclusive and counted, never passed or failed.

   ReLU has a kink at 0, where a finite difference straddling it is not a
   derivative: the batch is drawn only from images whose every ReLU input is
   at least ``KINK_MARGIN`` away from 0, far beyond what a step of h moves it.

2. **The training step.** One :class:`~symderiv.engine.optim.SGDStep` (the
   code that trains: its own planned backward pass, seeded with the learning
   rate) on the same batch must move every parameter by lr·∇θ, ∇θ being the
   gradient verified in 1: per entry |Δθ − lr·∇θ| ≤ SGD_STEP_ROUNDING·max|lr·∇θ| +
   SGD_UPDATE_ROUNDINGS·u·|θ| (the second term is the rounding of θ − step itself;
   both in :mod:`symderiv.numeric.tolerance`).
   Each learning rate of the run is checked; the parameters are restored.

3. **Each op the network uses**, through :func:`symderiv.check_backward`:
   the op's ``vjp`` against the exact SymPy derivative of an independently
   written formula (affine, sigmoid, relu, batch-mean cross-entropy for
   every label, each row run as its own batch of one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from symderiv.engine.ops import Op
from symderiv.numeric.differences import central_difference
from symderiv.numeric.tolerance import SGD_STEP_ROUNDING, SGD_UPDATE_ROUNDINGS, machine_epsilon
from symderiv.train.data import Dataset
from symderiv.train.model import MLP, Architecture

UNIT_ROUNDOFF = machine_epsilon(np.float64)
#: ReLU inputs of the checked images stay this far from the kink at 0: ~100×
#: what the finite-difference steps (u^(1/3) ≈ 6e-6 per weight) move them.
KINK_MARGIN = 1e-3
DEFAULT_BATCH = 8
DEFAULT_MAX_ENTRIES = 5000
CANDIDATE_POOL = 256  # training images considered when avoiding ReLU kinks


@dataclass(frozen=True)
class ParameterCheck:
    name: str
    shape: tuple[int, ...]
    entries_checked: int
    entries_total: int
    max_abs_error: float
    max_abs_gradient: float
    failures: int  # entries outside the finite difference's error bound
    worst_index: tuple[int, ...]
    worst_backward: float
    worst_finite_difference: float
    max_error_over_bound: float = 0.0  # over the conclusive entries (≤ 1 passes)
    inconclusive: int = 0  # entries whose finite difference could not decide (bound too large, not finite)

    @property
    def ok(self) -> bool:
        """Every checked entry verified: none outside its bound, none undecided
        (an entry the finite difference cannot decide is not a pass)."""
        return self.failures == 0 and self.inconclusive == 0


@dataclass(frozen=True)
class OpCheck:
    op: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class StepCheck:
    """One SGDStep against θ − lr·∇θ with the verified gradient."""

    learning_rate: float
    max_error_over_tolerance: float  # max over entries of |Δθ − lr·∇θ| / tolerance
    worst_parameter: str

    @property
    def ok(self) -> bool:
        return self.max_error_over_tolerance <= 1.0


@dataclass(frozen=True)
class GradientCheck:
    architecture: str
    batch_size: int
    parameters: tuple[ParameterCheck, ...]
    ops: tuple[OpCheck, ...]
    ops_unavailable: str | None  # why the op checks could not run, if they could not
    backward_error: str | None = None  # the network's backward pass raised (a failure)
    steps: tuple[StepCheck, ...] = ()

    @property
    def ok(self) -> bool:
        return (
            self.backward_error is None
            and all(p.ok for p in self.parameters)
            and all(s.ok for s in self.steps)
            and all(o.ok for o in self.ops)
        )


# ---------------------------------------------------------------------------
# 1. whole network vs finite differences

class BackwardCrashed(Exception):
    """The backward pass raised instead of returning gradients."""


def _relu_inputs(model: MLP) -> list:
    return [node.inputs[0] for node in model.graph.schedule([model.loss]) if node.op is not None and node.op.name == "relu"]


def _check_batch(model: MLP, dataset: Dataset, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A small batch of training images (float64), clear of ReLU kinks."""
    rng = np.random.default_rng(seed)
    pool = rng.permutation(dataset.x_train.shape[0])[:CANDIDATE_POOL]
    x = dataset.x_train[pool].astype(np.float64)
    y = dataset.y_train[pool]
    kink_nodes = _relu_inputs(model)
    if kink_nodes:
        evaluation = model.graph.forward({model.x: x, model.labels: y}, kink_nodes)
        clearance = np.min([np.min(np.abs(evaluation[n]), axis=1) for n in kink_nodes], axis=0)
        clear = np.flatnonzero(clearance >= KINK_MARGIN)
    else:
        clear = np.arange(x.shape[0])
    if clear.size == 0:
        raise RuntimeError("no training image keeps every ReLU input away from its kink")
    chosen = clear[:batch_size]
    return x[chosen], y[chosen]


def _entries_to_check(gradient: np.ndarray, max_entries: int, rng: np.random.Generator) -> np.ndarray:
    size = gradient.size
    if size <= max_entries:
        return np.arange(size)
    largest = int(np.argmax(np.abs(gradient)))
    sample = rng.choice(size, size=max_entries - 1, replace=False)
    return np.unique(np.concatenate([[largest], sample]))


def check_parameters(
    model: MLP, x: np.ndarray, labels: np.ndarray, max_entries: int, seed: int
) -> tuple[ParameterCheck, ...]:
    feed = {model.x: x, model.labels: labels}
    evaluation = model.graph.forward(feed, [model.loss])
    try:
        gradients = model.graph.backward(evaluation, model.loss, model.parameters)
    except Exception as exc:  # noqa: BLE001 - a backward rule that crashes fails the check
        message = str(exc).splitlines()[0] if str(exc) else ""
        raise BackwardCrashed(f"the engine's backward pass raised {type(exc).__name__}: {message}".rstrip(": ")) from None
    rng = np.random.default_rng(seed)

    def loss() -> float:
        return float(model.graph.forward(feed, [model.loss])[model.loss])

    results = []
    for node in model.parameters:
        backward = np.asarray(gradients[node], dtype=np.float64).reshape(-1)
        entries = _entries_to_check(backward, max_entries, rng)
        fd, bound, conclusive = _entry_differences(node.value.flat, entries, loss)
        got = backward[entries]
        error = np.abs(got - fd)
        # written so that a NaN anywhere counts as a failure, never as a pass
        ratio = np.where(np.isfinite(error), error / np.maximum(bound, np.finfo(float).tiny), np.inf)
        ratio = np.where(conclusive, ratio, 0.0)
        bad = ~(ratio <= 1.0)
        worst = int(np.argmax(ratio))
        results.append(
            ParameterCheck(
                name=node.name,
                shape=tuple(node.value.shape),
                entries_checked=int(entries.size),
                entries_total=int(node.value.size),
                max_abs_error=float(np.max(error)) if np.isfinite(error).all() else float("inf"),
                max_abs_gradient=float(np.max(np.abs(fd))),
                failures=int(np.count_nonzero(bad)),
                worst_index=tuple(int(v) for v in np.unravel_index(entries[worst], node.value.shape)),
                worst_backward=float(got[worst]),
                worst_finite_difference=float(fd[worst]),
                max_error_over_bound=float(ratio[worst]),
                inconclusive=int(np.count_nonzero(~conclusive)),
            )
        )
    return tuple(results)


def _entry_differences(theta: np.flatiter, entries: np.ndarray, loss: Callable[[], float]):
    """(estimate, error bound, conclusive) of ∂L/∂θ_i for each entry i, by
    central_difference on L as a function of θ_i alone. ``theta`` is the
    parameter array's flat iterator: perturbed in place and restored exactly.
    L rounds at its own size (|L| as the rounding scale: a mean of a few
    logsumexps, no cancellation), which moves by ~h·|∂L/∂θ_i| over the stencil."""
    scale = np.array([abs(loss())])
    value = np.empty(entries.size)
    bound = np.empty(entries.size)
    conclusive = np.empty(entries.size, dtype=bool)
    for k, i in enumerate(entries):
        original = theta[i]

        def loss_at(points: np.ndarray, i=i) -> np.ndarray:
            out = np.empty(points.shape)
            for j, point in enumerate(points.flat):
                theta[i] = point
                out.flat[j] = loss()
            return out

        try:
            estimate = central_difference(loss_at, np.array([original]), 1, value_scale=scale)
        finally:
            theta[i] = original
        value[k], bound[k], conclusive[k] = estimate.value[0], estimate.error_bound[0], estimate.conclusive[0]
    return value, bound, conclusive


# ---------------------------------------------------------------------------
# 2. each op against exact SymPy derivatives of independently written formulas

OpCase = tuple[str, Callable, Callable, int]  # (label, forward(xs), backward(x, y, gy), n)


def _elementwise_case(op: Op, formula: Callable, n: int = 4) -> list[OpCase]:
    def forward(xs):
        return [formula(v) for v in xs]

    def backward(x, y, gy):
        return op.vjp(gy, y, (x,), (True,))[0]

    return [(op.name, forward, backward, n)]


def _affine_cases(op: Op, k: int = 3, m: int = 2) -> list[OpCase]:
    # one check point = (x of length k, W of k×m, b of m) flattened into n inputs
    n = k + k * m + m

    def forward(xs):
        x, w, b = xs[:k], xs[k:k + k * m], xs[k + k * m:]
        return [sum(x[i] * w[i * m + j] for i in range(k)) + b[j] for j in range(m)]

    def backward(x, y, gy):
        rows = []
        for r in range(x.shape[0]):
            xr, w, b = x[r, :k][None, :], x[r, k:k + k * m].reshape(k, m), x[r, k + k * m:]
            gx, gw, gb = op.vjp(gy[r][None, :], y[r][None, :], (xr, w, b), (True, True, True))
            rows.append(np.concatenate([gx.ravel(), gw.ravel(), gb.ravel()]))
        return np.array(rows)

    return [("affine", forward, backward, n)]


def _mean_cross_entropy_cases(op: Op, sp, classes: int = 4) -> list[OpCase]:
    # each row run as its own batch of one, where the batch mean is that row's loss
    cases = []
    for label in range(classes):
        def forward(xs, label=label):
            return sp.log(sum(sp.exp(v) for v in xs)) - xs[label]

        def backward(x, y, gy, label=label):
            labels = np.array([label])
            return np.concatenate([
                op.vjp(gy[r, 0], y[r, 0], (x[r:r + 1], labels), (True, False))[0] for r in range(x.shape[0])
            ])

        cases.append((f"mean_cross_entropy (label {label})", forward, backward, classes))
    return cases


def _op_cases(model: MLP, sp) -> list[OpCase]:
    cases: list[OpCase] = []
    for name in model.ops_used():
        op = model.graph.registry[name]
        if name == "sigmoid":
            cases += _elementwise_case(op, lambda t: 1 / (1 + sp.exp(-t)))
        elif name == "relu":
            cases += _elementwise_case(op, lambda t: sp.Max(0, t))
        elif name == "affine":
            cases += _affine_cases(op)
        elif name == "mean_cross_entropy":
            cases += _mean_cross_entropy_cases(op, sp)
        else:  # pragma: no cover - the MLP uses only the ops above
            raise ValueError(f"no reference formula for op {name!r}")
    return cases


def check_ops(model: MLP, seed: int) -> tuple[tuple[OpCheck, ...], str | None]:
    try:
        from symderiv.backward_check.api import check_backward
    except ImportError as exc:  # the check_backward API is a separate piece of the project
        return (), f"check_backward is not available ({exc})"
    import sympy as sp

    results = []
    for label, forward, backward, n in _op_cases(model, sp):
        outcome = check_backward(forward, backward, n, seed=seed, dtype=np.float64)
        results.append(OpCheck(label, bool(outcome.ok), _summary(outcome)))
    return tuple(results), None


def _summary(outcome) -> str:
    """One line from a check_backward result (reads optional fields defensively)."""
    if not outcome.ok:
        return str(getattr(outcome, "reason", "") or outcome).splitlines()[0]
    ratio = getattr(outcome, "max_error_over_tolerance", None)
    rows = getattr(outcome, "rows_checked", None)
    if ratio is None or rows is None:
        return "ok"
    return f"max error/tolerance {ratio:.3g} over {rows} rows"


# ---------------------------------------------------------------------------

def check_training_steps(
    model: MLP, x: np.ndarray, labels: np.ndarray, learning_rates: Sequence[float]
) -> tuple[StepCheck, ...]:
    """Check 2: one training step per learning rate, parameters restored after each."""
    gradients = model.graph.backward(model.graph.forward({model.x: x, model.labels: labels}, [model.loss]), model.loss)
    results = []
    for lr in dict.fromkeys(learning_rates):
        before = [node.value.copy() for node in model.parameters]
        worst, worst_name = 0.0, model.parameters[0].name
        try:
            model.train_step(x, labels, lr)
            for node, old in zip(model.parameters, before):
                expected = lr * np.asarray(gradients[node], dtype=np.float64)
                # θ − step rounds once more, by up to u·|θ|: allowed on top of SGD_STEP_ROUNDING
                tolerance = (SGD_STEP_ROUNDING * float(np.max(np.abs(expected), initial=0.0))
                             + SGD_UPDATE_ROUNDINGS * UNIT_ROUNDOFF * np.abs(old))
                error = np.abs((old - node.value) - expected)
                ratio = float(np.max(np.where(error == 0, 0.0, error / np.maximum(tolerance, np.finfo(float).tiny))))
                if not ratio <= worst:  # a NaN counts as the worst
                    worst, worst_name = (ratio if ratio == ratio else float("inf")), node.name
        finally:
            for node, old in zip(model.parameters, before):
                node.value[...] = old
        results.append(StepCheck(float(lr), worst, worst_name))
    return tuple(results)


def check_network(
    dataset: Dataset,
    arch: Architecture,
    seed: int,
    *,
    learning_rates: Sequence[float] = (),
    batch_size: int = DEFAULT_BATCH,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    registry=None,
) -> GradientCheck:
    """The checks for the network ``arch`` at its seeded initial parameters (in float64);
    the training step is checked for each of ``learning_rates``."""
    model = MLP.initialised(arch, seed, np.float64, registry)
    x, labels = _check_batch(model, dataset, batch_size, seed)
    steps: tuple[StepCheck, ...] = ()
    try:
        parameters = check_parameters(model, x, labels, max_entries, seed)
        backward_error = None
        steps = check_training_steps(model, x, labels, learning_rates)
    except BackwardCrashed as crash:
        parameters, backward_error = (), str(crash)
    ops, unavailable = check_ops(model, seed)
    return GradientCheck(
        architecture=arch.describe(),
        batch_size=int(x.shape[0]),
        parameters=parameters,
        ops=ops,
        ops_unavailable=unavailable,
        backward_error=backward_error,
        steps=steps,
    )
