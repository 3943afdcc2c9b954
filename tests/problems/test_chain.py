"""Problem 1: symbolic proofs, and engine vs SymPy vs finite differences on random (g, h, f)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv.problems.chain import NOT_PROVED, derive_chain, prove_equal
from symderiv.problems.chain_numbers import compare_chain, compare_chain_at
from symderiv.errors import InputError

x, y, z = sp.symbols("x y z")

G_BLOCKS = [sp.sin(x), x**2, sp.exp(x / 2), sp.tanh(x), x**3 - x, sp.log(1 + x**2), sp.cos(2 * x)]
H_BLOCKS = [sp.cos(x), x**3, sp.exp(-x), sp.sqrt(1 + x**2), x * sp.sin(x), 1 / (2 + x)]
F_BLOCKS = [y * z, y**2 * z, sp.sin(y) * sp.exp(z), y * z + sp.exp(y), sp.log(1 + y**2 + z**2), (y - z) ** 2 / 2]


def test_abstract_first_order_backprop_equals_chain_rule():
    d = derive_chain()
    assert d.first_verdict == "proved"
    assert d.abstract == ("g", "h", "f")


def test_abstract_second_derivative_is_the_five_canonical_terms():
    d = derive_chain()
    assert d.second_verdict == "proved"
    assert [t.label for t in d.second_terms] == ["f_yy·g'²", "2·f_yz·g'·h'", "f_zz·h'²", "f_y·g''", "f_z·h''"]
    # independent check: SymPy's own second derivative minus the template is 0
    assert sp.expand(d.second - d.second_canonical) == 0


def test_dropping_the_mixed_term_is_not_proved():
    d = derive_chain()
    without_mixed = sp.Add(*[t.expr for t in d.second_terms if "f_yz" not in t.label])
    assert prove_equal(d.second, without_mixed) == NOT_PROVED


def test_naive_formula_is_not_the_second_derivative_abstractly():
    d = derive_chain()
    assert prove_equal(d.second, d.naive) == NOT_PROVED
    assert sp.expand(d.second - d.naive - d.difference) == 0


triples = st.tuples(st.sampled_from(G_BLOCKS), st.sampled_from(H_BLOCKS), st.sampled_from(F_BLOCKS))


@settings(max_examples=12, deadline=None)
@given(triples, st.integers(0, 2**16))
def test_engine_matches_sympy_and_finite_differences(triple, seed):
    g, h, f = triple
    d = derive_chain(g, h, f)
    assert d.first_verdict == "proved" and d.second_verdict == "proved"
    xs = np.random.default_rng(seed).uniform(-1.5, 1.5, 64)
    c = compare_chain(d, xs)
    # independent reference: SymPy's derivatives of the composite, lambdified directly
    ell = f.subs({y: g, z: h})
    first = sp.lambdify(x, sp.diff(ell, x))(xs)
    second = sp.lambdify(x, sp.diff(ell, x, 2))(xs)
    np.testing.assert_allclose(c.first_engine, first, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(c.first_engine_fine, first, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(c.second_engine_exact, second, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(c.second_engine_exact_fine, second, rtol=1e-9, atol=1e-9)
    assert c.first_order_matches and c.second_order_matches
    # the naive rule on the 4-node graph is exactly f_yy·g'' + f_zz·h''
    fyy = sp.diff(f, y, 2).subs({y: g, z: h})
    fzz = sp.diff(f, z, 2).subs({y: g, z: h})
    naive = sp.lambdify(x, fyy * sp.diff(g, x, 2) + fzz * sp.diff(h, x, 2))(xs)
    np.testing.assert_allclose(c.second_engine_naive, np.broadcast_to(naive, xs.shape), rtol=1e-10, atol=1e-10)
    assert c.naive_rule.ok


def test_naive_differs_with_a_concrete_counterexample():
    numbers = compare_chain_at(sp.sin(x), x**2, y * z + sp.exp(y), 0.5)
    assert numbers.first_order_matches and numbers.second_order_matches
    assert not numbers.naive_second_order_matches
    assert numbers.naive_depends_on_graph_cut
    # by hand: exact = e^{sin x} cos² x + 4x cos x − (x² + e^{sin x}) sin x + 2 sin x
    xv = 0.5
    exact = (
        np.exp(np.sin(xv)) * np.cos(xv) ** 2 + 4 * xv * np.cos(xv)
        - (xv**2 + np.exp(np.sin(xv))) * np.sin(xv) + 2 * np.sin(xv)
    )
    assert numbers.second_sympy == pytest.approx(exact, rel=1e-14)
    assert numbers.naive_formula == pytest.approx(-np.exp(np.sin(xv)) * np.sin(xv), rel=1e-14)


def test_naive_agrees_when_the_extra_terms_vanish():
    # g, h linear (g'' = h'' = 0) and f linear (f_yy = f_yz = f_zz = 0): every term
    # of exact − naive vanishes, so the naive rule happens to be right (both are 0).
    numbers = compare_chain_at(2 * x, 3 * x, y + z, 0.7)
    assert numbers.naive_second_order_matches
    assert numbers.second_sympy == 0.0


def test_points_outside_the_domain_are_input_errors():
    d = derive_chain(sp.log(x), x, y + z)
    with pytest.raises(InputError, match="not finite at x = -1"):
        compare_chain(d, np.array([-1.0]))


def test_abstract_functions_have_no_numbers():
    with pytest.raises(InputError, match="concrete"):
        compare_chain(derive_chain(), np.array([0.5]))
