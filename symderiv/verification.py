"""Everything ``symderiv verify`` runs, as data: a list of :class:`CheckResult`.

Each check has an *expected* outcome; most must pass, but "the naive
second-order rule equals the exact second derivative" is expected to be
*refuted*, with a counterexample. ``verify`` succeeds when every outcome is
the expected one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

# concrete building blocks for Problem 1 (text parsed by the project's parser)
G_CHOICES = ("sin(x)", "x**2", "exp(x/2)", "tanh(x)", "x**3 - x", "log(1 + x**2)", "sigmoid(2*x)")
H_CHOICES = ("cos(x)", "x**3", "exp(-x)", "sqrt(1 + x**2)", "x*sin(x)", "tanh(x/2)", "1/(2 + x)")
LOSS_CHOICES = (
    "y*z",
    "y**2*z",
    "sin(y)*exp(z)",
    "y*z + exp(y)",
    "log(1 + y**2 + z**2)",
    "tanh(y - z)*y",
    "(y - z)**2/2",
)
DOMAIN = (-1.5, 1.5)


@dataclass(frozen=True)
class CheckResult:
    name: str
    verdict: str  # "proved" | "passed" | "refuted" | "failed"
    ok: bool  # the verdict is the expected one
    points: int = 0
    max_error: float | None = None
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class VerifyReport:
    checks: tuple[CheckResult, ...]
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _timed(make: Callable[[], CheckResult]) -> CheckResult:
    start = time.perf_counter()
    result = make()
    return CheckResult(**{**result.__dict__, "seconds": time.perf_counter() - start})


def problem1_triples(count: int, seed: int) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    return [
        (
            G_CHOICES[int(rng.integers(len(G_CHOICES)))],
            H_CHOICES[int(rng.integers(len(H_CHOICES)))],
            LOSS_CHOICES[int(rng.integers(len(LOSS_CHOICES)))],
        )
        for _ in range(count)
    ]


def problem1_checks(points: int, seed: int, triples: int = 4) -> Iterator[CheckResult]:
    from symderiv.problems.chain import derive_chain
    from symderiv.problems.chain_numbers import compare_chain
    from symderiv.algebra.expressions import parse_expression

    abstract = derive_chain()
    yield CheckResult(
        "P1(a) backprop δ_x = dℓ/dx, abstract g, h, f",
        abstract.first_verdict,
        abstract.first_verdict == "proved",
        detail="expand(SymPy's dℓ/dx − (g'·f_y + h'·f_z)) = 0",
    )
    yield CheckResult(
        "P1(b) d²ℓ/dx² = five canonical terms, abstract g, h, f",
        abstract.second_verdict,
        abstract.second_verdict == "proved",
        detail="f_yy·g'² + 2·f_yz·g'·h' + f_zz·h'² + f_y·g'' + f_z·h''",
    )

    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {key: [] for key in ("proof", "first", "second", "naive", "differs", "cut")}
    counterexample = ""
    for g_text, h_text, loss_text in problem1_triples(triples, seed):
        label = f"g={g_text}, h={h_text}, f={loss_text}"
        derivation = derive_chain(
            parse_expression(g_text, ["x"], "g"),
            parse_expression(h_text, ["x"], "h"),
            parse_expression(loss_text, ["y", "z"], "loss"),
        )
        xs = rng.uniform(*DOMAIN, size=points)
        c = compare_chain(derivation, xs)
        rows["proof"].append((derivation.first_verdict == "proved" and derivation.second_verdict == "proved", label))
        rows["first"].append((c.first_order_matches, max(c.first.max_error, c.first_fd.max_error), label))
        rows["second"].append((c.second_order_matches, max(c.second.max_error, c.second_fd.max_error), label))
        rows["naive"].append((c.naive_rule.ok, c.naive_rule.max_error, label))
        rows["differs"].append((c.naive_equals_exact is False, label))
        rows["cut"].append((c.naive_depends_on_cut is True, label))
        if not counterexample and c.naive_equals_exact is False:
            gap = np.abs(c.naive_formula - c.second_sympy)
            k = int(np.argmax(gap))
            counterexample = (
                f"{label}, x={c.x[k]:.6g}: naive {c.naive_formula[k]:.6g} vs exact {c.second_sympy[k]:.6g}"
            )
    total = points * triples

    def failing(entries):
        return "; ".join(e[-1] for e in entries if not e[0])

    proof_ok = all(e[0] for e in rows["proof"])
    yield CheckResult(
        f"P1 symbolic proofs for {triples} concrete (g, h, f)",
        "proved" if proof_ok else "failed",
        proof_ok,
        detail=failing(rows["proof"]),
    )
    for key, name in (
        ("first", "P1 dℓ/dx: engine (4-node and fine-grained) = SymPy = finite differences"),
        ("second", "P1 d²ℓ/dx²: engine HVP (both graphs) = SymPy = finite differences"),
        ("naive", "P1 naive rule on the 4-node graph = f_yy·g'' + f_zz·h''"),
    ):
        ok = all(e[0] for e in rows[key])
        yield CheckResult(name, "passed" if ok else "failed", ok, total, max(e[1] for e in rows[key]), failing(rows[key]))
    differs = any(e[0] for e in rows["differs"])
    yield CheckResult(
        "P1 naive rule = exact d²ℓ/dx² (expected: refuted)",
        "refuted" if differs else "failed",
        differs,
        total,
        detail=counterexample or "naive agreed with exact everywhere: the demonstration failed",
    )
    cut = [e[-1] for e in rows["cut"] if e[0]]
    yield CheckResult(
        "P1 naive value depends on the graph cut (4-node vs fine-grained)",
        "passed" if cut else "failed",
        bool(cut),
        total,
        detail=f"differs for {len(cut)} of {triples} (g, h, f), e.g. {cut[0]}" if cut else "no example found",
    )


def problem2_checks(points: int, seed: int) -> Iterator[CheckResult]:
    from symderiv.problems.softmax_numbers import compare_softmax

    # The fixed-n identities J = diag(y) − y·yᵀ and Jᵀu = y ⊙ (u − y·u) are the
    # step-by-step proofs p2-softmax-jacobian and p2-softmax-vjp-fixed-n of proofs/.
    rng = np.random.default_rng(seed)
    worst, total, failures = 0.0, 0, []
    for n in (1, 2, 3, 5, 8, 13):
        batch = max(2, points // 8)
        scale = rng.choice([1.0, 30.0, 1000.0, 3000.0], size=(batch, 1))
        x = rng.normal(size=(batch, n)) * scale
        u = rng.normal(size=(batch, n))
        c = compare_softmax(x, u)
        worst, total = max(worst, c.max_abs_error), total + batch
        if not c.identity_holds:
            failures.append(f"n={n}")
    yield CheckResult(
        "P2 engine softmax backward = Jᵀ∇y from SymPy's Jacobian (|x| up to ~1e4)",
        "passed" if not failures else "failed",
        not failures,
        total,
        worst,
        ", ".join(failures),
    )


def op_checks(seed: int) -> Iterator[CheckResult]:
    from symderiv.engine.ops import default_registry
    from symderiv.engine.op_checks import check_op

    rng = np.random.default_rng(seed)
    for op in default_registry():
        c = check_op(op, rng)
        parts = {"forward": c.forward_error, "vjp": c.vjp_error, "jvp": c.jvp_error, "hvp": c.hvp_error, "naive": c.naive_error}
        bad = [k for k, v in parts.items() if v > 1.0]
        yield CheckResult(
            f"op {op.name}: forward, VJP, JVP, HVP, naive rule = SymPy",
            "passed" if c.ok else "failed",
            c.ok,
            c.entries,
            c.max_abs_error,
            "" if c.ok else "wrong: " + ", ".join(bad),
        )


def layout_checks(seed: int) -> Iterator[CheckResult]:
    """The fused cross-entropies compute a batch of ≥ 16 rows and ≤ 32 classes
    class-major (x.T copied, as in training), through their forward residual;
    the SymPy check above runs on a 2-row sample, which takes the row layout.
    Here a 64 x 10 batch must equal the same rows computed one at a time."""
    from symderiv.engine.ops import default_registry
    from symderiv.numeric.compare import agree

    rng = np.random.default_rng(seed)
    batch, classes = 64, 10
    for op in default_registry():
        if op.forward_residual is None:
            continue
        x = 3.0 * rng.normal(size=(batch, classes))
        labels = rng.integers(0, classes, batch)
        needs = (True, False)
        per_example = op.forward(x[:1], labels[:1]).shape == (1,)
        g = rng.normal(size=batch) if per_example else np.float64(rng.normal())
        value, residual = op.forward_residual(x, labels)
        grad = op.vjp_residual(g, residual, (x, labels), needs)[0]
        rows = [(x[b:b + 1], labels[b:b + 1]) for b in range(batch)]
        row_losses = np.array([op.forward(*row).reshape(()) for row in rows])
        row_scale = g if per_example else np.full(batch, g / batch)
        row_grads = np.vstack([
            op.vjp(np.array([s]) if per_example else s, None, row, needs)[0] for s, row in zip(row_scale, rows)
        ])
        loss_scale = 2 * np.abs(x).max(axis=1) + np.log(classes) + np.abs(row_losses)
        y = np.abs(row_grads) / np.abs(row_scale)[:, None]  # |softmax − onehot|
        grad_scale = np.abs(row_scale)[:, None] * (1.0 + y)
        if per_example:
            loss_check = agree(np.asarray(value), row_losses, loss_scale)
        else:
            loss_check = agree(np.asarray(value).reshape(1), np.array([row_losses.mean()]), np.array([loss_scale.sum() / batch]))
        grad_check = agree(np.ravel(grad), row_grads.ravel(), grad_scale.ravel())
        ok = loss_check.ok and grad_check.ok
        yield CheckResult(
            f"op {op.name}: {batch}x{classes} batch (class-major, residual) = row by row",
            "passed" if ok else "failed",
            ok,
            batch * classes,
            max(loss_check.max_error, grad_check.max_error),
            "" if ok else "wrong: " + ", ".join(n for n, c in (("value", loss_check), ("vjp", grad_check)) if not c.ok),
        )


def proof_checks(selection: list[str] | None, points: int, seed: int) -> Iterator[CheckResult]:
    """The step-by-step proofs of proofs/ (see symderiv.proofkit)."""
    from symderiv.proofkit import check_proof, load_proofs

    for proof in load_proofs(selection):
        result = check_proof(proof, points=points, seed=seed)
        failed = [s for s in result.steps if s.verdict == "false"]
        verdict = "proved" if result.ok else "failed"
        if result.ok and any(s.verdict == "holds" for s in result.steps):
            verdict = "passed"
        yield CheckResult(
            f"proof {result.name}: {result.title}",
            verdict,
            result.ok == result.expected_ok,
            result.points,
            result.max_error,
            result.summary if failed or not result.ok else "",
            result.seconds,
        )


def run_verification(
    points: int = 200, seed: int = 0, proofs: list[str] | None = None, include_builtin: bool = True
) -> VerifyReport:
    """Run every check (or, with ``include_builtin=False``, only the selected proofs)."""
    start = time.perf_counter()
    checks: list[CheckResult] = []
    groups: list[Callable[[], Iterator[CheckResult]]] = []
    if include_builtin:
        groups += [
            lambda: problem1_checks(points, seed),
            lambda: problem2_checks(points, seed),
            lambda: op_checks(seed),
            lambda: layout_checks(seed),
        ]
    groups.append(lambda: proof_checks(proofs, points, seed))
    for group in groups:
        last = time.perf_counter()
        for result in group():
            now = time.perf_counter()
            if not result.seconds:
                result = CheckResult(**{**result.__dict__, "seconds": now - last})
            checks.append(result)
            last = now
    return VerifyReport(tuple(checks), time.perf_counter() - start, {"points": points, "seed": seed})
