"""The proof checker: every claim proved exactly (normal forms) and numerically (random points).

See symderiv.proofkit for the overview; symderiv.algebra.normal_forms and
symderiv.proofkit.numeric for the two witnesses.

Every claim is decided by :func:`symderiv.algebra.decide.decide`. The exact
argument is bounded by CPU time (``EXACT_CPU_SECONDS_PER_STEP`` per claim,
``EXACT_CPU_SECONDS_PER_PROOF`` per proof): a claim it cannot settle in time
is judged by the numbers alone ("holds", never "proved"); a float64
counterexample counts only once confirmed at 50 digits (its own budget,
``CONFIRMATION_CPU_SECONDS``), and a claim with no point in its domain to
test, or no confirmed counterexample, is "unchecked", never "false".
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from symderiv.errors import InputError
from symderiv.algebra.verdict import SEVERITY, Counterexample
from symderiv.proofkit.types import Proof, ProofResult, StepResult

EXACT_CPU_SECONDS_PER_STEP = 2.5
EXACT_CPU_SECONDS_PER_PROOF = 6.0
#: confirming one counterexample at 50 digits (a budget of its own)
CONFIRMATION_CPU_SECONDS = 2.5


def check_proof(proof: Proof, points: int = 200, seed: int = 0) -> ProofResult:
    """Check every claim of ``proof`` exactly and at ``points`` random points."""
    if points < 1:
        raise InputError(f"--points must be at least 1 (got {points})")
    started = time.perf_counter()
    if proof.for_each_n is not None:
        step_results = _check_family(proof, points, seed)
    else:
        step_results = _check_chain(proof, points, seed, label=None)
    seconds = time.perf_counter() - started
    ok = all(r.verdict in ("proved", "holds") for r in step_results)
    equal_errors = [r.max_error for r in step_results if r.relation == "="]
    max_error = max(equal_errors) if equal_errors else 0.0
    summary = _summary(proof, step_results, ok, seconds)
    return ProofResult(
        name=proof.name,
        title=proof.title,
        ok=ok,
        expected_ok=proof.expected_ok,
        steps=tuple(step_results),
        points=points,
        max_error=max_error,
        seconds=seconds,
        summary=summary,
        proof=proof,
    )


def _summary(proof: Proof, results: Sequence[StepResult], ok: bool, seconds: float) -> str:
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ("proved", "holds", "false")}
    sizes = f" for n = {min(proof.sizes)}..{max(proof.sizes)}" if proof.for_each_n is not None else ""
    if ok:
        text = f"{proof.name}: {len(results)} claims{sizes}: {counts['proved']} proved exactly"
        if counts["holds"]:
            text += f", {counts['holds']} hold numerically"
        return text + f" ({seconds:.2f} s)"
    first = next((r for r in results if r.verdict == "false"), None)
    if first is None:  # nothing refuted: some claim could not be decided
        undecided = next(r for r in results if r.verdict not in ("proved", "holds"))
        return f"{proof.name}: UNDECIDED at {undecided.describe()} ({undecided.reason})"
    return f"{proof.name}: FAILED at {first.describe()}"


def _check_family(proof: Proof, points: int, seed: int) -> list[StepResult]:
    merged: list[StepResult] | None = None
    for n in proof.sizes:
        instance = proof.for_each_n(n)
        results = _check_chain(instance, points, seed + n, label=("n", n))
        if merged is None:
            merged = results
            continue
        combined = []
        for old, new in zip(merged, results):
            worst = new if SEVERITY[new.verdict] > SEVERITY[old.verdict] else old
            if old.relation == "=":
                error = max(old.max_error, new.max_error)
            else:
                error = min(old.max_error, new.max_error)
            combined.append(
                StepResult(
                    index=old.index,
                    justification=old.justification,
                    relation=old.relation,
                    verdict=worst.verdict,
                    exact=old.exact and new.exact,
                    max_error=error,
                    counterexample=worst.counterexample,
                )
            )
        merged = combined
    return merged or []


def _check_chain(proof: Proof, points: int, seed: int, label) -> list[StepResult]:
    from symderiv.algebra.decide import decide

    context = _Context(proof, points, seed)
    results: list[StepResult] = []
    previous_index = 0
    for position, step in enumerate(proof.steps):
        if position == 0 or step.relation == "start":
            previous_index = position
            continue
        setting = _StepSetting(context, previous_index, position, label)
        decided = decide(step.relation, setting)
        # the numbers are the checker's second witness: sampled for every claim, proved or not
        sampled = setting.sample()
        error = sampled.max_error if step.relation == "=" else sampled.detail.best_difference
        results.append(StepResult(index=position + 1, justification=step.why, relation=step.relation,
                                  verdict=decided.verdict, exact=_settled_exactly(context, setting, decided),
                                  reason=decided.reason,
                                  reason_kind=decided.reason_kind, max_error=max(error, 0.0),
                                  counterexample=decided.counterexample))
        previous_index = position
    return results


def _settled_exactly(context: "_Context", setting: "_StepSetting", decided) -> bool:
    """``=``: an exact argument decided it. ``!=``: the normal forms differ, which is exact too
    (jets, the softmax ring's letters and canonical sums are independent atoms)."""
    if decided.relation == "=":
        return decided.exact
    return context.exactly_equal(setting.first, setting.second) is False


@dataclass
class _Sampling:
    """Where the numbers disagreed most (the worst trial and point) and differed most."""

    worst_trial: int | None = None
    worst_point: int = 0
    best_difference: float = -1.0


class _StepSetting:
    """One claim of a proof, as :func:`symderiv.algebra.decide.decide` sees it: the proof's normal
    form (one exact test at every grade), its random trials, its exact polynomial witness, and
    counterexamples confirmed at 50 digits."""

    def __init__(self, context: "_Context", first: int, second: int, label):
        self.context, self.first, self.second, self.label = context, first, second, label
        self._sampled = None

    def zero(self, grade) -> bool:
        # the normal forms make equality a rational-function identity: one exact test serves every grade
        return self.context.exactly_equal(self.first, self.second) is True

    def exact_counterexample(self):
        if self.context.exactly_equal(self.first, self.second) is True:
            return None
        return self.context.exact_witness(self.first, self.second)

    def sample(self):
        if self._sampled is None:
            self._sampled = self._compare()
        return self._sampled

    def _compare(self):
        import numpy as np

        from symderiv.algebra.decide import Sampled
        from symderiv.numeric.tolerance import SAMPLED_IDENTITY_TOLERANCE
        from symderiv.proofkit.numeric import scaled_error, valid_points

        record = _Sampling()
        worst_error, evaluated = 0.0, 0
        for trial, (a, b) in enumerate(self.context.numeric(self.first, self.second)):
            # points outside the domain (non-finite or complex on either side) are skipped
            valid = valid_points(a) & valid_points(b)
            if not valid.any():
                continue
            evaluated += int(valid.sum())
            error = np.where(valid, scaled_error(a, b).max(axis=0), -1.0)  # worst entry per point
            point = int(np.argmax(error))
            if error[point] > worst_error or record.worst_trial is None:
                worst_error, record.worst_trial, record.worst_point = float(error[point]), trial, point
            record.best_difference = max(record.best_difference, float(error[point]))
        return Sampled(evaluated, worst_error <= SAMPLED_IDENTITY_TOLERANCE, worst_error, record)

    def counterexample(self, sampled):
        record = sampled.detail
        return self.context.counterexample(self.first, self.second, record.worst_trial, record.worst_point,
                                           self.label)

    def remainder_counterexample(self):
        return None

    def probe(self):
        return None, 0

    def qualifier(self, exact: bool) -> str:
        return ""

    def undefined_reason(self) -> tuple[str, str]:
        return "no sampled point gives both steps a finite real value", "undefined"

    def holds_reason(self, sampled, probed: int) -> str:
        return f"equal at {sampled.evaluated} random points (no exact proof found)"


class _Context:
    """Per-proof caches: unfolded steps, normal forms, numeric trials."""

    def __init__(self, proof: Proof, points: int, seed: int):
        import sympy as sp

        from symderiv.algebra import normal_forms as nf

        self.proof = proof
        self.points = points
        self.seed = seed
        self._exact_seconds = 0.0
        self._unfolded: dict[int, Any] = {}
        self._normal: dict[int, Any] = {}
        self._values: dict[int, list] = {}
        self._trials = None
        self._ring = None
        if proof.method == "softmax":
            self._form = nf.SoftmaxForm(proof.softmax_inputs, proof.definitions)
            self._ring = _softmax_ring(proof)
        elif proof.method == "indexed":
            # the claim states 1 <= i <= n for every free index
            ranges = {index: (1, proof.size_symbol) for index in proof.free_indices}
            self._form = lambda expr: nf.indexed_normal_form(expr, ranges)
        else:
            self._form = nf.jet_normal_form
        self._sp = sp

    # exact ---------------------------------------------------------------
    def unfolded(self, position: int):
        cached = self._unfolded.get(position)
        if cached is None:
            cached = _explicit(self.proof.steps[position].expr)
            # the softmax ring and the evaluator read the definitions directly:
            # unfolding y_k = exp(x_k)/Σ exp(x_m) everywhere would cost O(n³)
            if self.proof.method != "softmax":
                cached = unfold_definitions(cached, self.proof.definitions)
            self._unfolded[position] = cached
        return cached

    def normal(self, position: int):
        cached = self._normal.get(position)
        if cached is None:
            cached = self._form(self.unfolded(position))
            self._normal[position] = cached
        return cached

    def exactly_equal(self, first: int, second: int) -> bool | None:
        """True/False from the exact normal-form argument; None when it was not
        settled within its CPU-time budget (then the numbers alone speak)."""
        return self._bounded(lambda: self._exactly_equal(first, second), None)

    def _bounded(self, work, undecided):
        """``work()`` under the per-step CPU budget, itself within what is left of
        the proof's; ``undecided`` when the budget runs out."""
        from symderiv.budget import BudgetExceeded, cpu_seconds, cpu_time_limit

        left = EXACT_CPU_SECONDS_PER_PROOF - self._exact_seconds
        if left <= 0:
            return undecided
        started = cpu_seconds()
        try:
            with cpu_time_limit(min(EXACT_CPU_SECONDS_PER_STEP, left)):
                return work()
        except BudgetExceeded:
            return undecided
        finally:
            self._exact_seconds += cpu_seconds() - started

    def _exactly_equal(self, first: int, second: int) -> bool:
        from symderiv.algebra import normal_forms as nf
        from symderiv.algebra.zero import Grade, zero_test

        if self.proof.method == "softmax":
            a, b = self.unfolded(first), self.unfolded(second)
            entries_a, entries_b = nf._entries(a), nf._entries(b)
            if len(entries_a) != len(entries_b):
                return False
            return all(
                nf.softmax_entries_equal(left, right, self._ring, self._form)
                for left, right in zip(entries_a, entries_b)
            )
        a, b = self.normal(first), self.normal(second)
        entries_a, entries_b = nf._entries(a), nf._entries(b)
        if len(entries_a) != len(entries_b):
            return False
        # the normal forms make equality a rational-function identity: the rational grade decides it
        return all(zero_test(right - left, up_to=Grade.RATIONAL).proved for left, right in zip(entries_a, entries_b))

    # numeric -------------------------------------------------------------
    def trials(self):
        if self._trials is None:
            self._trials = _numeric_trials(self.proof, [self.unfolded(p) for p in range(len(self.proof.steps))], self.points, self.seed)
        return self._trials

    def values(self, position: int) -> list:
        cached = self._values.get(position)
        if cached is None:
            from symderiv.algebra.instantiation import abstract_functions

            trials = self.trials()
            expr = self.unfolded(position)
            if self.proof.method == "softmax" or (self.proof.method == "jets" and not abstract_functions([expr])):
                # trials differ only in the concrete functions: evaluate once
                first = trials[0].evaluate(expr)
                cached = [first] * len(trials)
            else:
                cached = [trial.evaluate(expr) for trial in trials]
            self._values[position] = cached
        return cached

    def numeric(self, first: int, second: int):
        a_values, b_values = self.values(first), self.values(second)
        pairs = []
        for a, b in zip(a_values, b_values):
            if a.shape != b.shape:
                import numpy as np

                a = np.full((1, self.points), np.nan + 0j)
                b = np.full((1, self.points), np.nan + 0j)
            pairs.append((a, b))
        return pairs

    def exact_witness(self, first: int, second: int) -> Counterexample | None:
        return self._bounded(lambda: self._exact_witness(first, second), None)

    def _exact_witness(self, first: int, second: int) -> Counterexample | None:
        """A point where two steps provably differ, found in exact arithmetic by the witness layer
        (:func:`symderiv.algebra.witness.rational_counterexample`), inside the proof's domain.

        When the normal-form difference is a nonzero rational function of plain symbols (no
        abstract functions, derivatives, sums or indexed objects), the claim is false however
        small the difference (x vs x + 10⁻⁴⁰·x, invisible in float64). The steps' values are
        printed where they have one; the exact difference at the point is the witness. Not for
        the softmax ring: its letters are tied (Z = Σ e_k, e_k = exp(x_k) > 0), so a point of
        free letter values need not be a point of the claim."""
        from symderiv.algebra import normal_forms as nf
        from symderiv.algebra.witness import rational_counterexample

        if self.proof.method == "softmax":
            return None
        sp = self._sp
        try:
            a, b = self.normal(first), self.normal(second)
        except Exception:
            return None
        intervals = {symbol: (low, high) for symbol, low, high in self.proof.domain}
        for left, right in zip(nf._entries(a), nf._entries(b)):
            difference = sp.expand(left - right)
            if difference == 0:
                continue
            # a nonzero entry that is no rational function of plain symbols: no exact witness for this step
            return rational_counterexample(lhs=left, rhs=right, difference=difference, intervals=intervals,
                                           require_values=False, value=float,
                                           sides=lambda lval, rval: (float(lval), float(rval)))
        return None

    def counterexample(self, first: int, second: int, trial_index: int, point: int, label) -> Counterexample:
        import numpy as np

        trial = self.trials()[trial_index]
        a = self.values(first)[trial_index][:, point]
        b = self.values(second)[trial_index][:, point]
        with np.errstate(all="ignore"):
            entry = int(np.nanargmax(np.where(np.isfinite(np.abs(a - b)), np.abs(a - b), np.inf)))
        import sympy as sp

        from symderiv.numeric.precision import HIGH_PRECISION_DIGITS
        from symderiv.algebra.instantiation import abstract_functions
        from symderiv.proofkit.numeric import atoms_of, free_symbols

        involved = [self.unfolded(first), self.unfolded(second)]
        names = {str(s) for e in involved for s in free_symbols(e)}
        names |= {str(item.base) for e in involved for item in atoms_of(e, sp.Indexed)}
        if self.proof.method == "softmax":  # y_k, gvdot are read through their definitions
            names |= {str(s) for s in _proof_symbols(self.proof)}
        names.add(str(self.proof.size_symbol))
        names |= {str(i) for i in self.proof.free_indices}
        used_functions = {fn.__name__ for fn in abstract_functions(involved)}
        relation = self.proof.steps[second].relation
        simple = self._simple_point(first, second, trial, point, relation)
        if simple is not None:
            # a point with 1-3 significant digits where the claim still fails: easier to check by hand
            values, a, b = simple
            entry = int(np.argmax(np.abs(a - b)))
            point_values = trial.fixed + tuple((symbol.name, float(v[0])) for symbol, v in values.items())
            at = {symbol: float(v[0]) for symbol, v in values.items()}
        else:
            point_values = trial.assignment(point)
            at = {symbol: float(np.real(v[point])) for symbol, v in trial.evaluator.sample.items()}
        if not self._confirmed_within_budget(first, second, trial, at):
            return None
        assignment = [(name, value) for name, value in point_values if name in names or name.split("[")[0] in names]
        if label is not None:
            assignment.insert(0, (label[0], float(label[1])))
        if a.shape[0] > 1:
            assignment.append(("entry", float(entry + 1)))
        return Counterexample(
            point=tuple(assignment),
            functions=tuple(item for item in trial.instantiation_text if item[0].split("(")[0] in used_functions),
            functions_latex=tuple(
                item for item in trial.instantiation_latex if item[0].split("(")[0] in used_functions
            ),
            lhs_value=float(np.real(a[entry])),
            rhs_value=float(np.real(b[entry])),
            precision_digits=HIGH_PRECISION_DIGITS,  # confirmed: the steps differ there at 50 digits
        )

    def _confirmed_within_budget(self, first: int, second: int, trial, at: dict) -> bool:
        """:meth:`_confirmed` under its own CPU budget (not the exact argument's: a proof whose
        exact work used its budget still gets its counterexamples confirmed); out of time: not
        confirmed, so the step is unchecked, never false."""
        from symderiv.budget import BudgetExceeded, cpu_time_limit

        try:
            with cpu_time_limit(CONFIRMATION_CPU_SECONDS):
                return self._confirmed(first, second, trial, at)
        except BudgetExceeded:
            return False

    def _confirmed(self, first: int, second: int, trial, at: dict) -> bool:
        """The two steps differ at the point ``at`` (the floats as exact decimals), confirmed by the
        witness layer at 50 digits, the functions instantiated as in ``trial``."""
        from symderiv.algebra.witness import evaluate_exactly

        sp = self._sp
        point = {symbol: sp.Rational(repr(value)) for symbol, value in at.items()}
        sides = []
        for position in (first, second):
            expr = self.unfolded(position)
            if self.proof.method == "softmax":  # the numbers read y_k through its definition
                expr = unfold_definitions(expr, self.proof.definitions)
            entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
            sides.append([trial.prepare(entry).doit() for entry in entries])
        try:
            return any(evaluate_exactly(a, b, point)[0] == "differ" for a, b in zip(*sides))
        except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
            return False

    def _simple_point(self, first: int, second: int, trial, point: int, relation: str):
        import numpy as np

        from symderiv.numeric.tolerance import SAMPLED_CLEAR_DIFFERENCE, SAMPLED_IDENTITY_TOLERANCE
        from symderiv.proofkit.numeric import Evaluator, scaled_error, valid_points

        sample = trial.evaluator.sample
        threshold = SAMPLED_IDENTITY_TOLERANCE if relation == "=" else SAMPLED_CLEAR_DIFFERENCE
        for digits in (1, 2, 3):
            rounded = {symbol: np.array([float(f"{values[point]:.{digits}g}")]) for symbol, values in sample.items()}
            evaluator = Evaluator(rounded, tuple(trial.evaluator.definitions.items()), trial.evaluator.bound_variables)
            a = evaluator.values(trial.prepare(self.unfolded(first)))
            b = evaluator.values(trial.prepare(self.unfolded(second)))
            if not (valid_points(a) & valid_points(b)).all():
                continue
            if float(scaled_error(a, b).max()) > threshold:
                return rounded, a[:, 0], b[:, 0]
        return None


def _explicit(expr):
    """Matrix expressions (MatAdd, Transpose of explicit matrices) as explicit matrices."""
    import sympy as sp

    if isinstance(expr, sp.MatrixExpr) and not isinstance(expr, sp.MatrixBase):
        evaluated = expr.doit()  # explicit operands: fast; as_explicit() goes entry by entry
        return evaluated if isinstance(evaluated, sp.MatrixBase) else evaluated.as_explicit()
    return expr


def _softmax_ring(proof: Proof):
    from symderiv.algebra.softmax_ring import SoftmaxRing

    defined = {name for name, _ in proof.definitions}
    others = _proof_symbols(proof) - defined - set(proof.softmax_inputs)
    return SoftmaxRing(proof.softmax_inputs, proof.definitions, sorted(others, key=str) + list(proof.softmax_inputs))


def _proof_symbols(proof: Proof) -> set:
    """Free symbols of every step and definition (computed once per proof)."""
    from symderiv.proofkit.numeric import free_symbols

    cached = _SYMBOLS_CACHE.get(id(proof))
    if cached is not None and cached[0] is proof:
        return cached[1]
    symbols: set = set()
    for step in proof.steps:
        symbols |= free_symbols(step.expr)
    for _, meaning in proof.definitions:
        symbols |= free_symbols(meaning)
    _SYMBOLS_CACHE.clear()
    _SYMBOLS_CACHE[id(proof)] = (proof, symbols)
    return symbols


_SYMBOLS_CACHE: dict = {}


def unfold_definitions(expr, definitions):
    """Replace defined names by their meanings until nothing changes (at most 10 rounds)."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    if not definitions:
        return expr
    for _ in range(10):
        before = expr
        for name, meaning in definitions:
            if isinstance(name, sp.IndexedBase):
                expr = _replace_entries(
                    expr,
                    lambda e, name=name: isinstance(e, sp.Indexed) and e.base == name,
                    lambda e, meaning=meaning: meaning(*e.indices),
                )
            elif isinstance(name, AppliedUndef):
                lam = sp.Lambda(name.args, meaning)
                expr = _replace_entries(
                    expr,
                    lambda e, name=name: isinstance(e, AppliedUndef) and e.func == name.func,
                    lambda e, lam=lam: lam(*e.args),
                )
            else:
                expr = _xreplace(expr, {name: meaning})
        if expr == before:
            break
    return expr


def _xreplace(expr, mapping):
    import sympy as sp

    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: e.xreplace(mapping))
    return expr.xreplace(mapping)


def _replace_entries(expr, query, value):
    import sympy as sp

    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: e.replace(query, value))
    return expr.replace(query, value)


@dataclass
class _Trial:
    """One numeric trial: concrete functions, sampled points, a prepared expression transform."""

    prepare: Callable[[Any], Any]
    evaluator: Any
    sample_names: tuple[tuple[str, Any], ...]
    instantiation_text: tuple[tuple[str, str], ...]
    fixed: tuple[tuple[str, float], ...] = ()
    instantiation_latex: tuple[tuple[str, str], ...] = ()

    def evaluate(self, expr):
        return self.evaluator.values(self.prepare(expr))

    def assignment(self, point: int) -> tuple[tuple[str, float], ...]:
        values = [(name, float(samples[point])) for name, samples in self.sample_names]
        return self.fixed + tuple(values)


def _numeric_trials(proof: Proof, unfolded_steps: list, points: int, seed: int) -> list[_Trial]:
    import numpy as np
    import sympy as sp

    from symderiv.algebra.instantiation import abstract_functions, described, drawn_templates, instantiate
    from symderiv.printing.latex import latex
    from symderiv.proofkit import numeric as pn

    rng = random.Random(seed)
    generator = np.random.default_rng(seed)
    domains = {symbol: (low, high) for symbol, low, high in proof.domain}

    def sample_for(symbols):
        sample = {}
        for symbol in sorted(symbols, key=lambda s: s.name):
            low, high = domains.get(symbol, pn.DEFAULT_DOMAIN)
            sample[symbol] = generator.uniform(low, high, size=points)
        return sample

    if proof.method == "indexed":
        return _indexed_trials(proof, unfolded_steps, rng, sample_for)

    functions = abstract_functions(unfolded_steps) if proof.method == "jets" else {}
    numeric_definitions: tuple = ()
    if proof.method == "softmax":
        numeric_definitions = tuple((name, meaning) for name, meaning in proof.definitions)
        symbols = _proof_symbols(proof) - {name for name, _ in numeric_definitions}
    else:
        symbols = set()
        for expr in unfolded_steps:
            symbols |= pn.free_symbols(expr)
    sample = sample_for(symbols)
    # one trial: the concrete functions are one draw of the witness layer's family, after the points
    templates = drawn_templates(functions, generator)
    evaluator = pn.Evaluator(sample, numeric_definitions, bound_variables=proof.method != "softmax")
    return [_Trial(prepare=lambda expr: instantiate(expr, templates, evaluate=False), evaluator=evaluator,
                   sample_names=tuple((s.name, v) for s, v in sample.items()),
                   instantiation_text=described(templates, sp.sstr),
                   instantiation_latex=described(templates, latex))]


def _indexed_trials(proof: Proof, unfolded_steps: list, rng: random.Random, sample_for) -> list[_Trial]:
    """Symbolic n: instantiate n (and the free indices) with small sizes, expand the sums."""
    import sympy as sp

    from symderiv.proofkit import numeric as pn

    size = proof.size_symbol
    trials = []
    for n_value in (1, 2, 3, 5, 8):
        fixed = {size: sp.Integer(n_value)}
        for index in proof.free_indices:
            fixed[index] = sp.Integer(rng.randint(1, n_value))

        memo: dict = {}

        def prepare(expr, fixed=fixed, memo=memo):
            # keyed by identity: the context caches each unfolded step object
            hit = memo.get(id(expr))
            if hit is not None and hit[0] is expr:
                return hit[1]
            result = _prepare_indexed(expr, fixed)
            memo[id(expr)] = (expr, result)
            return result

        prepared = [prepare(expr) for expr in unfolded_steps]
        symbols: set = set()
        for expr in prepared:
            symbols |= pn.free_symbols(expr)
        sample = sample_for(symbols)
        trials.append(
            _Trial(
                prepare=prepare,
                evaluator=pn.Evaluator(sample),
                sample_names=tuple((s.name, v) for s, v in sample.items()),
                instantiation_text=(),
                fixed=tuple((str(k), float(v)) for k, v in fixed.items()),
            )
        )
    return trials


def _prepare_indexed(expr, fixed):
    """Substitute n and the free indices, expand the sums, turn x[3] into a plain symbol."""
    import sympy as sp

    concrete = _xreplace(expr, fixed)
    from symderiv.proofkit.numeric import atoms_of

    concrete = concrete.doit() if not isinstance(concrete, sp.MatrixBase) else concrete.applyfunc(lambda e: e.doit())
    indexed = atoms_of(concrete, sp.Indexed)
    mapping = {item: sp.Symbol(f"{item.base}[{','.join(str(i) for i in item.indices)}]") for item in indexed}
    return _xreplace(concrete, mapping)
