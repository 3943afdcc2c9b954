"""The check_backward examples of docs/check-backward.md: run `python examples/check_backward_demo.py`."""

import numpy as np
import sympy
from symderiv import check_backward, check_double_backward, shared

def softmax(xs):                      # xs: list of n sympy Symbols
    total = sum(sympy.exp(x) for x in xs)
    return [sympy.exp(x) / total for x in xs]

def edf_backward(x, y, gy):           # numpy in, numpy out: (batch, n), (batch, m), (batch, m)
    return y * (gy - np.sum(y * gy, axis=1, keepdims=True))

def diagonal_only(x, y, gy):          # a classic mistake
    return gy * y * (1 - y)

print(check_backward(softmax, edf_backward, 4))
print(check_backward(softmax, diagonal_only, 4))

# Several named inputs: x per example, a shared weight W and bias b.
def affine(x, W, b):                  # x: 1 x 3 row, W: 3 x 2, b: 1 x 2 (sympy Matrices)
    return x * W + b

def affine_backward(x, W, b, y, gy):  # x (batch, 3), W (3, 2), b (2,), y and gy (batch, 2)
    return {"x": gy @ W.T, "W": x.T @ gy / len(x), "b": gy.sum(axis=0)}  # bug: W's gradient averaged

print(check_backward(affine, affine_backward, inputs={"x": 3, "W": shared(3, 2), "b": shared(2)}))

# Second order: the naive rule (each output's own second derivative only).
def naive_double_backward(x, y, gy, x_dot, gy_dot):
    naive = y * (1 - 2 * y) * (gy - np.sum(gy * y, axis=1, keepdims=True))
    return edf_backward(x, y, gy_dot) + naive * x_dot

print(check_double_backward(softmax, naive_double_backward, 4))
