"""Hypothesis strategies for grammar-valid ``chain`` expressions, and their references.

Shared by the property tests (tests/problems/test_property_chain.py) and the grammar
fuzz (benchmarks/fuzz_chain.py). Expressions are built as *text* from the
grammar of :mod:`symderiv.algebra.expressions` (numbers, variables, pi, E, + - * / **,
every function of :data:`symderiv.numeric.elementary.ELEMENTARY`), so they go through
the same parser a user's input does. The references never use symderiv's
float machinery: SymPy's exact derivative evaluated by mpmath at 50 digits,
and JAX autodiff of the composite where JAX is installed.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from symderiv.algebra.expressions import FUNCTION_NAMES

NUMBERS = ("0.3", "1", "2", "4", "0.5", "7", "1e-3", "2.5", "10")
EXPONENTS = ("2", "3", "-1", "-2", "0.5", "(1/3)")
POINTS = (1e-12, -1e-6, 1e-300, 3.0, 100.0, -2.5, 0.5, 1e6)


def expression(variables: tuple[str, ...], max_leaves: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from(variables), st.sampled_from(NUMBERS), st.sampled_from(("pi", "E")))

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(st.sampled_from(FUNCTION_NAMES), children).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(children, st.sampled_from("+-*/"), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(children, st.sampled_from(EXPONENTS)).map(lambda t: f"({t[0]})**{t[1]}"),
            children.map(lambda c: f"-{c}"),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def triples(max_leaves: int) -> st.SearchStrategy[tuple[str, str, str]]:
    return st.tuples(expression(("x",), max_leaves), expression(("x",), max_leaves), expression(("y", "z"), max_leaves))


def points() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False),
        st.sampled_from(POINTS),
    )


def mp_derivatives(ell, x, at: float, dps: int = 50) -> tuple[float, float] | None:
    """(dℓ/dx, d²ℓ/dx²) at ``at`` from SymPy's exact derivatives in mpmath;
    None where they are not finite reals."""
    import mpmath
    import sympy as sp

    values = []
    for order in (1, 2):
        function = sp.lambdify([x], sp.diff(ell, x, order), modules="mpmath")
        with mpmath.workdps(dps):
            try:
                value = function(mpmath.mpf(at))
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                return None
            if isinstance(value, mpmath.mpc):
                if value.imag != 0:
                    return None
                value = value.real
            value = float(value)
        if not math.isfinite(value):
            return None
        values.append(value)
    return values[0], values[1]


def jax_derivatives(ell, x, at: float) -> tuple[float, float] | None:
    """(dℓ/dx, d²ℓ/dx²) by JAX autodiff in float64; None without JAX."""
    try:
        import jax
    except ImportError:
        return None
    import sympy as sp

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    compiled = sp.lambdify([x], ell, modules="jax")

    def function(t):
        return jnp.asarray(compiled(t), dtype=jnp.float64) + 0.0 * t  # a constant ℓ still has a gradient (0)

    first = jax.grad(function)
    return float(first(float(at))), float(jax.grad(first)(float(at)))


def random_expression(rng, variables: tuple[str, ...], max_leaves: int) -> str:
    """The same grammar drawn with a plain ``random.Random`` (for the fuzz script,
    which wants a fixed, reproducible stream of thousands of inputs)."""
    if max_leaves <= 1 or rng.random() < 0.3:
        kind = rng.random()
        if kind < 0.55:
            return rng.choice(variables)
        return rng.choice(NUMBERS) if kind < 0.9 else rng.choice(("pi", "E"))
    shape = rng.random()
    if shape < 0.35:
        return f"{rng.choice(FUNCTION_NAMES)}({random_expression(rng, variables, max_leaves - 1)})"
    if shape < 0.8:
        left_leaves = rng.randint(1, max_leaves - 1)
        left = random_expression(rng, variables, left_leaves)
        right = random_expression(rng, variables, max_leaves - left_leaves)
        return f"({left} {rng.choice('+-*/')} {right})"
    if shape < 0.93:
        return f"({random_expression(rng, variables, max_leaves - 1)})**{rng.choice(EXPONENTS)}"
    return f"-{random_expression(rng, variables, max_leaves - 1)}"


def random_point(rng) -> float:
    return rng.choice(POINTS) if rng.random() < 0.25 else rng.uniform(-3.0, 3.0)
