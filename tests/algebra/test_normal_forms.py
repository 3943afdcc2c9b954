"""The exact normal forms and the numeric witness, against independent references."""

from __future__ import annotations

import numpy as np
import sympy as sp

from symderiv.algebra import normal_forms as nf
from symderiv.problems.notation import EXACT_SECOND_DERIVATIVE, as_partials, f, gx, hx, partial, softmax_symbols, x, y, z
from symderiv.proofkit.numeric import Evaluator, scaled_error
from symderiv.proofkit import Proof, Step, check_proof
from symderiv.algebra.softmax_ring import SoftmaxRing
from symderiv.algebra.zero import Grade, zero_test


def _rational_zero(difference) -> bool:
    return zero_test(difference, up_to=Grade.RATIONAL).proved


def test_jets_identify_sympys_second_derivative_with_the_five_terms():
    raw = sp.diff(f(gx, hx), x, 2)  # SymPy's nested form, derivatives w.r.t. g(x), h(x)
    assert _rational_zero(nf.jet_normal_form(raw) - nf.jet_normal_form(EXACT_SECOND_DERIVATIVE))
    assert nf.jet_normal_form(partial(f, z, y)) == nf.jet_normal_form(partial(f, y, z))  # f is C²
    assert nf.jet_normal_form(as_partials(raw)) == nf.jet_normal_form(raw)


def test_jets_are_independent_atoms():
    # dropping the mixed term leaves a nonzero rational function of the jets
    wrong = EXACT_SECOND_DERIVATIVE - 2 * partial(f, y, z) * sp.diff(gx, x) * sp.diff(hx, x)
    assert not _rational_zero(nf.jet_normal_form(wrong) - nf.jet_normal_form(EXACT_SECOND_DERIVATIVE))


def test_softmax_ring_derivative_matches_sympy():
    xs, ys, us, definitions = softmax_symbols(4)
    ring = SoftmaxRing(xs, definitions, list(us) + list(xs))
    total = sum(sp.exp(v) for v in xs)
    for k in range(4):
        for i in range(4):
            by_ring = ring(sp.Derivative(ys[k], xs[i]))
            reference = sp.diff(sp.exp(xs[k]) / total, xs[i])  # SymPy on the explicit quotient
            assert by_ring == ring(reference)


def test_softmax_identity_that_needs_z_equal_to_the_sum():
    xs, ys, _, definitions = softmax_symbols(3)
    proof = Proof(
        name="sum-to-one",
        title="t",
        claim="Σ y_k = 1",
        steps=(Step(sp.Add(*ys), "start", "start"), Step(sp.Integer(1), "Σ_k exp(x_k)/Z = 1")),
        definitions=definitions,
        method="softmax",
        softmax_inputs=xs,
    )
    (step,) = check_proof(proof, points=20).steps
    assert step.verdict == "proved" and step.exact


def test_indexed_sifting_and_linearity():
    n = sp.Symbol("n", integer=True, positive=True)
    i, k = sp.symbols("i k", integer=True, positive=True)
    a = sp.IndexedBase("a")
    b = sp.IndexedBase("b")
    total = sp.Sum(sp.KroneckerDelta(i, k) * a[k] + 3 * b[k], (k, 1, n))
    sifted = nf.indexed_normal_form(total, {i: (1, n)})  # the claim states 1 <= i <= n
    m = sp.Symbol("m", integer=True, positive=True)
    expected = a[i] + 3 * nf.indexed_normal_form(sp.Sum(b[m], (m, 1, n)))
    assert _rational_zero(sifted - expected)
    # with no stated range for i, the delta collapses only under the condition i <= n
    unstated = nf.indexed_normal_form(total)
    assert not _rational_zero(unstated - expected) and unstated.has(sp.Piecewise)


def test_complex_step_and_fallbacks_match_sympy_derivatives():
    xs, ys, _, definitions = softmax_symbols(3)
    rng = np.random.default_rng(0)
    sample = {v: rng.uniform(-2, 2, size=50) for v in xs}
    evaluator = Evaluator(sample, definitions, bound_variables=False)
    total = sum(sp.exp(v) for v in xs)
    for k in range(3):
        for i in range(3):
            numeric = evaluator.values(sp.Derivative(ys[k], xs[i]))[0]
            reference = sp.lambdify(xs, sp.diff(sp.exp(xs[k]) / total, xs[i]))(*[sample[v] for v in xs])
            assert scaled_error(numeric[None, :], np.asarray(reference, dtype=complex)[None, :]).max() < 1e-14
    t = sp.Symbol("t")
    plain = Evaluator({t: np.array([-1.0, 2.0])})
    # |t|·t is not analytic: no complex step; SymPy cannot finish d|t|/dt, a central difference does
    assert np.allclose(plain.values(sp.Derivative(sp.Abs(t) * t, t))[0].real, [2.0, 4.0], rtol=1e-8)
    assert np.allclose(plain.values(sp.Derivative(t * sp.exp(t), t, 2))[0].real, np.exp([-1.0, 2.0]) * ([-1.0, 2.0] + np.array(2.0)))
