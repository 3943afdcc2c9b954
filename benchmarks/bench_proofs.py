"""Target 4: the softmax proofs.

* ``symderiv.problems.softmax.prove_softmax_identity(n)`` (ring normal form: Jacobian
  entries, symmetry and the VJP rule) for every n = 1..32 together — ≤ 2 s;
* the built-in proofkit proof ``p2-softmax-vjp-fixed-n`` (n = 1..32, as
  ``symderiv verify`` runs it) — same budget, for information;
* the symbolic-n proof ``p2-softmax-vjp-symbolic-n`` (indexed sums) — ≤ 1 s;
* baseline: the *blind* method, ``sympy.cancel`` on the explicit quotients
  exp(x_k)/Σ exp(x_m), on the same small n range as a ring run.

Every repetition starts cold: SymPy's cache and the module's lru caches are
cleared before each timed call (not timed), so a repetition costs what a
fresh process would pay after imports.
"""

from __future__ import annotations

from benchmarks.rows import Config, Row, missing_row, ratio_row
from benchmarks.timing import Samples, interleaved, ratio

SYMBOLIC_N = "p2-softmax-vjp-symbolic-n"
FIXED_N = "p2-softmax-vjp-fixed-n"


def clear_caches() -> None:
    from sympy.core.cache import clear_cache

    from symderiv.problems import softmax

    clear_cache()
    for name in ("softmax_symbols", "softmax_ring", "_check_calculus_facts"):
        cached = getattr(softmax, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def ring_proofs(ns) -> bool:
    from symderiv.problems.softmax import prove_softmax_identity

    return all(prove_softmax_identity(n).ok for n in ns)


def blind_cancel_proofs(ns) -> bool:
    """The VJP identity proved the blind way: explicit quotients, then cancel()."""
    import sympy as sp

    ok = True
    for n in ns:
        xs = sp.symbols(f"x1:{n + 1}")
        us = sp.symbols(f"u1:{n + 1}")
        total = sp.Add(*[sp.exp(x) for x in xs])
        ys = [sp.exp(x) / total for x in xs]
        gvdot = sp.Add(*[y * u for y, u in zip(ys, us)])
        for i in range(n):
            vjp = sp.Add(*[u * sp.diff(y, xs[i]) for u, y in zip(us, ys)])
            ok = ok and sp.cancel(vjp - ys[i] * (us[i] - gvdot)) == 0
    return ok


def _load(name: str):
    """The proof object, or the reason it cannot be loaded."""
    try:
        from symderiv.proofkit import load_proofs

        (proof,) = load_proofs([name])
        return proof, ""
    except Exception as exc:  # any failure to import is reported as a missing row
        return None, f"{type(exc).__name__}: {exc}"


def _check(proof) -> bool:
    from symderiv.proofkit import check_proof

    result = check_proof(proof)
    return result.ok == result.expected_ok


def _budget_row(name: str, samples: Samples, budget_s: float, note: str = "", detail=None) -> Row:
    low, high = samples.quartiles
    return Row(
        benchmark="4 proofs",
        name=name,
        baseline=f"budget {budget_s:g} s",
        ratio=samples.median / budget_s,
        ratio_low=low / budget_s,
        ratio_high=high / budget_s,
        paired=samples.median / budget_s,
        a_seconds=samples.median,
        b_seconds=budget_s,
        rounds=len(samples.seconds),
        figure=samples.median,
        unit="s",
        target=f"<= {budget_s:g} s",
        met=samples.median <= budget_s,
        note=note or "ratio = fraction of the budget",
        detail=detail or {},
    )


def run(config: Config) -> list[Row]:
    all_n = range(1, config.softmax_max_n + 1)
    small_n = range(1, config.blind_max_n + 1)
    if not ring_proofs(all_n) or not blind_cancel_proofs(small_n):
        raise AssertionError("a softmax proof failed: timings of a wrong proof mean nothing")
    rows: list[Row] = []

    head_to_head = interleaved(
        {"ring": lambda: ring_proofs(small_n), "cancel": lambda: blind_cancel_proofs(small_n)},
        config.proof_rounds,
        warmup=1,
        setup=clear_caches,
    )
    rows.append(ratio_row(
        "4 proofs", f"ring fixed-n proofs, n = 1..{config.blind_max_n}",
        f"blind cancel(), n = 1..{config.blind_max_n}",
        head_to_head["ring"], head_to_head["cancel"], ratio(head_to_head["ring"], head_to_head["cancel"]),
    ))

    contenders = {"ring-all": lambda: ring_proofs(all_n)}
    fixed, fixed_reason = _load(FIXED_N)
    symbolic, symbolic_reason = _load(SYMBOLIC_N)
    if fixed is not None:
        contenders["proofkit-fixed"] = lambda: _check(fixed)
    if symbolic is not None:
        contenders["symbolic"] = lambda: _check(symbolic)
    samples = interleaved(contenders, config.proof_rounds, warmup=1, setup=clear_caches)
    rows.append(_budget_row(
        f"ring fixed-n proofs (J, Jᵀ = J, VJP), n = 1..{config.softmax_max_n} together", samples["ring-all"], 2.0
    ))
    if fixed is not None:
        rows.append(_budget_row(
            f"proof {FIXED_N} (proofkit, as verify runs it)", samples["proofkit-fixed"], 2.0,
            note="ratio = fraction of the budget; includes 200-point numeric trials",
        ))
    else:
        rows.append(missing_row("4 proofs", f"proof {FIXED_N}", fixed_reason))
    if symbolic is not None:
        rows.append(_budget_row(
            f"proof {SYMBOLIC_N} (indexed sums, every n)", samples["symbolic"], 1.0,
            note="ratio = fraction of the budget; includes 200-point numeric trials",
        ))
    else:
        rows.append(missing_row("4 proofs", f"proof {SYMBOLIC_N}", symbolic_reason))
    return rows


def n_scaling(config: Config) -> list[dict]:
    """Ring proof time for one n, for each n (log-log table/plot), cold every time."""
    table = []
    for n in config.scaling_ns:
        samples = interleaved({"ring": lambda n=n: ring_proofs([n])}, config.proof_rounds, warmup=1, setup=clear_caches)
        low, high = samples["ring"].quartiles
        table.append({"n": n, "seconds": samples["ring"].median, "seconds_low": low, "seconds_high": high})
    return table
