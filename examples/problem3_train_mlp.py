# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Problem 3: train a multilayer perceptron with the engine
#
# Problem 3 of the course: build the network
# **Affine → Sigmoid → Affine → Softmax → NLL** out of graph nodes, check that
# its backward pass computes the gradient, and train it by minibatch SGD on
# handwritten digits. Everything here runs on symderiv's own numpy engine
# (`symderiv.engine`); no autodiff library is involved.
#
# For a minibatch $X \in \mathbb{R}^{B \times 64}$ of $B$ images with labels
# $t_1, \dots, t_B$:
#
# $$
# Z_1 = X W_1 + b_1, \qquad H = \sigma(Z_1), \qquad Z_2 = H W_2 + b_2, \qquad
# Y = \operatorname{softmax}(Z_2), \qquad
# L = -\frac{1}{B} \sum_{b=1}^{B} \log Y_{b, t_b}
# $$
#
# (each bias added to every row), with $\sigma(z) = 1/(1 + e^{-z})$ elementwise and
# $\operatorname{softmax}(z)_j = e^{z_j} / \sum_k e^{z_k}$ along each row.
# One SGD step on a minibatch is $\theta \leftarrow \theta - \eta\,\nabla_\theta L$
# for every parameter $\theta \in \{W_1, b_1, W_2, b_2\}$.
#
# The cells below assert what they show, so running this notebook is also a
# test (`python -m pytest` runs it with nbmake). It needs the `notebook`
# extra, `pip install -e ".[notebook]"` from the repository (scikit-learn for
# the digits, matplotlib for the plots), and takes about 10 seconds of CPU
# time.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np
import sympy

from symderiv import Graph, check_backward, default_registry
from symderiv.engine.optim import SGDStep
from symderiv.train.data import load_digits
from symderiv.train.gradcheck import check_network
from symderiv.train.loop import SHUFFLE_STREAM, RunSettings, single_threaded_blas, train_run
from symderiv.train.model import MLP, Architecture, initial_parameters
from symderiv.train.plot import learning_curves_figure

# %% [markdown]
# ## The data: scikit-learn's bundled 8×8 digits
#
# 1,797 real handwritten digits ship inside scikit-learn, so nothing is
# downloaded. `load_digits` scales the 4-bit pixels to $[0, 1]$ (float32)
# and holds out 360 images (20 %, stratified by class, with a fixed seed) for
# testing — the same split `symderiv train` uses.

# %%
digits = load_digits()
print(f"{digits.x_train.shape[0]} training / {digits.x_test.shape[0]} test images, "
      f"{digits.n_features} pixels, {digits.n_classes} classes ({digits.source})")
assert digits.x_train.shape == (1437, 64) and digits.x_test.shape == (360, 64)
assert digits.x_train.dtype == np.float32 and 0 <= digits.x_train.min() and digits.x_train.max() <= 1

figure, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for digit, ax in enumerate(axes):
    first = int(np.flatnonzero(digits.y_train == digit)[0])
    ax.imshow(digits.x_train[first].reshape(8, 8), cmap="gray_r")
    ax.set_title(str(digit))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## The network, node by node
#
# A `Graph` is an explicit object that owns its nodes: *inputs* (fed at each
# run), *parameters* (arrays kept on the node, updated in place by SGD) and
# op nodes made with `g.apply(op_name, *inputs)`. The initial weights are
# Glorot-uniform and the biases zero, drawn from a seed by
# `initial_parameters` (the same arrays `symderiv train --seed 0` starts
# from).
#
# The course's loss is written literally as softmax, then log, then NLL, then
# the mean over the batch. Training uses the engine's fused node
# `mean_cross_entropy` instead: the same function, computed stably
# ($\log \sum_k e^{z_k}$ with the row maximum subtracted, so no probability
# underflows to $\log 0$), with the backward rule
# $\nabla_{Z_2} L = (Y - T)/B$, where $T$ is the one-hot matrix of the labels.

# %%
architecture = Architecture(n_inputs=64, hidden=(64,), n_classes=10, activation="sigmoid")
initial = dict(initial_parameters(architecture, seed=0))  # {"W1": (64, 64), "b1": (64,), ...} float32

g = Graph()
x = g.input("x")
labels = g.input("labels")
W1 = g.parameter("W1", initial["W1"].copy())
b1 = g.parameter("b1", initial["b1"].copy())
W2 = g.parameter("W2", initial["W2"].copy())
b2 = g.parameter("b2", initial["b2"].copy())

z1 = g.apply("affine", x, W1, b1)   # X W1 + b1
h = g.apply("sigmoid", z1)          # σ(Z1)
z2 = g.apply("affine", h, W2, b2)   # H W2 + b2: the logits
y = g.apply("softmax", z2)          # Y

# the course's loss, literally: mean over the batch of −log Y[b, t_b]
literal_loss = g.apply("mean", g.apply("nll", g.apply("log", y), labels))
# the fused, stable node that training uses
loss = g.apply("mean_cross_entropy", z2, labels)
# per-example losses, to evaluate a whole data set
per_example_loss = g.apply("cross_entropy", z2, labels)
parameters = [W1, b1, W2, b2]

print("literal:", " → ".join(node.op.name for node in g.schedule([literal_loss]) if node.op is not None))
print("fused:  ", " → ".join(node.op.name for node in g.schedule([loss]) if node.op is not None))

# %% [markdown]
# One forward pass on a minibatch of 16 images. At the initial parameters the
# probabilities are spread over all ten classes, so the loss is of the order
# of $\log 10 \approx 2.3$, what a uniform guess scores. The literal and the
# fused loss agree to float32 rounding, and so do their gradients.

# %%
batch_x, batch_labels = digits.x_train[:16], digits.y_train[:16]
feed = {x: batch_x, labels: batch_labels}
run = g.forward(feed, [literal_loss, loss, y, h])
print(f"literal loss {float(run[literal_loss]):.7f}, fused loss {float(run[loss]):.7f}, log 10 = {math.log(10):.7f}")
assert np.allclose(run[y].sum(axis=1), 1.0, rtol=0, atol=1e-6)
assert abs(float(run[literal_loss]) - float(run[loss])) <= 8 * np.finfo(np.float32).eps * float(run[loss])

gradients = g.backward(run, loss, parameters)
literal_gradients = g.backward(run, literal_loss, parameters)
for p in parameters:
    scale = float(np.max(np.abs(gradients[p])))
    difference = float(np.max(np.abs(gradients[p] - literal_gradients[p])))
    print(f"∇{p.name}: shape {gradients[p].shape}, max |entry| {scale:.3g}, "
          f"max |fused − literal| {difference:.2g}")
    # float32 rounding in sums of at most 64 terms
    assert difference <= 64 * np.finfo(np.float32).eps * scale

# %% [markdown]
# ### The backward pass by hand
#
# Reverse mode applies each node's vector–Jacobian product from the loss
# back to the parameters. For this network the chain rule gives
#
# $$
# \nabla_{Z_2} L = \tfrac{1}{B}(Y - T), \quad
# \nabla_{W_2} L = H^\top \nabla_{Z_2} L, \quad
# \nabla_{b_2} L = \textstyle\sum_b (\nabla_{Z_2} L)_{b,:}, \quad
# \nabla_{H} L = \nabla_{Z_2} L\, W_2^\top,
# $$
# $$
# \nabla_{Z_1} L = \nabla_H L \odot H \odot (1 - H), \quad
# \nabla_{W_1} L = X^\top \nabla_{Z_1} L, \quad
# \nabla_{b_1} L = \textstyle\sum_b (\nabla_{Z_1} L)_{b,:}.
# $$
#
# Written out in numpy (in float64), the loss and these gradients agree with
# the engine's float32 values to float32 rounding.

# %%
X64 = batch_x.astype(np.float64)
H64 = 1 / (1 + np.exp(-(X64 @ initial["W1"].astype(np.float64) + initial["b1"])))
Z2_64 = H64 @ initial["W2"].astype(np.float64) + initial["b2"]
Y64 = np.exp(Z2_64 - Z2_64.max(axis=1, keepdims=True))
Y64 /= Y64.sum(axis=1, keepdims=True)
T = np.eye(10)[batch_labels]
dZ2 = (Y64 - T) / len(batch_labels)
dZ1 = (dZ2 @ initial["W2"].T.astype(np.float64)) * H64 * (1 - H64)
by_hand = {W1: X64.T @ dZ1, b1: dZ1.sum(axis=0), W2: H64.T @ dZ2, b2: dZ2.sum(axis=0)}
loss_by_hand = -np.mean(np.log(Y64[np.arange(len(batch_labels)), batch_labels]))
print(f"loss: engine {float(run[loss]):.7f}, by hand {loss_by_hand:.7f}")
assert abs(float(run[loss]) - loss_by_hand) <= 8 * np.finfo(np.float32).eps * loss_by_hand
for p in parameters:
    error = float(np.max(np.abs(gradients[p] - by_hand[p])))
    print(f"∇{p.name}: max |engine − by hand| {error:.2g} (max |entry| {np.max(np.abs(by_hand[p])):.3g})")
    assert error <= 64 * np.finfo(np.float32).eps * float(np.max(np.abs(by_hand[p])))

# %% [markdown]
# ## Is the gradient right? `symderiv train --check`
#
# `symderiv train` builds this network with the class `MLP` (the same nodes,
# from the same seeded initial parameters), and `--check` runs
# `check_network` before training. First, that `MLP` is exactly the graph
# built above: the same ops in the same order, and bit-for-bit the same loss
# and gradients.

# %%
model = MLP.initialised(architecture, seed=0)
our_ops = tuple(dict.fromkeys(node.op.name for node in g.schedule([loss]) if node.op is not None))
print("MLP ops:", model.ops_used())
assert model.ops_used() == our_ops
model_loss, model_gradients = model.loss_and_gradients(batch_x, batch_labels)
assert model_loss == float(run[loss])
assert all(np.array_equal(model_gradients[q], gradients[p]) for q, p in zip(model.parameters, parameters))

# %% [markdown]
# `check_network` then checks, in float64 at the seeded initial parameters:
#
# 1. **every entry** of $\nabla W_1, \nabla b_1, \nabla W_2, \nabla b_2$ from
#    the backward pass on 8 training images against a central difference of
#    the forward loss, $\big(L(\theta + h e_i) - L(\theta - h e_i)\big) / 2h$
#    with $h = u^{1/3} \max(1, |\theta_i|)$ ($u = 2^{-52}$), where truncation
#    and rounding errors are both about $u^{2/3} \approx 4 \cdot 10^{-11}$; an
#    entry passes if $|\text{backward} - \text{fd}| \le 10^{-8} + 10^{-6}\,|\text{fd}|$;
# 2. that one training step (`SGDStep`, which has its own planned backward
#    pass) moves every parameter by $\eta \nabla_\theta L$, for each learning
#    rate we train with below;
# 3. each op of the network (affine, sigmoid, the fused cross-entropy)
#    against the exact SymPy derivative of an independently written formula,
#    with `check_backward`.

# %%
learning_rates = [0.5, 2.0]
hidden_sizes = [(16,), (64,)]
for hidden in hidden_sizes:
    gradient_check = check_network(digits, Architecture(64, hidden, 10, "sigmoid"), seed=0,
                                   learning_rates=learning_rates)
    print(f"{gradient_check.architecture} on {gradient_check.batch_size} images: "
          f"{'ok' if gradient_check.ok else 'FAILED'}")
    for p in gradient_check.parameters:
        print(f"  {p.name:<3} {'x'.join(map(str, p.shape)):>6}: {p.entries_checked}/{p.entries_total} entries, "
              f"max |backward − fd| {p.max_abs_error:.2g} (max |grad| {p.max_abs_gradient:.2g}), "
              f"{p.failures} outside the tolerance")
    for step in gradient_check.steps:
        print(f"  SGDStep lr={step.learning_rate:g}: max error/tolerance {step.max_error_over_tolerance:.2g}")
    for op in gradient_check.ops:
        print(f"  op {op.op}: {'ok' if op.ok else 'FAILED'}: {op.detail}")
    assert gradient_check.ok
    assert all(p.entries_checked == p.entries_total for p in gradient_check.parameters)
    assert [s.learning_rate for s in gradient_check.steps] == learning_rates and gradient_check.ops

# %% [markdown]
# ## Minibatch SGD, written out
#
# An epoch visits the training images once in a freshly shuffled order, one
# step $\theta \leftarrow \theta - \eta \nabla_\theta L$ per minibatch of 16.
# `SGDStep` is the engine's training step: forward, backward and the in-place
# update in one call, planned once. After each epoch we record the mean
# cross-entropy over the whole training set and the test accuracy (the
# fraction of test images whose largest logit is the true class).
#
# The shuffling stream and the BLAS thread count are the ones `symderiv train`
# uses, so this loop must reproduce the library's `train_run` exactly.

# %%
def evaluate(images, targets):
    """(mean cross-entropy, accuracy) of the network's current parameters."""
    run = g.forward({x: images, labels: targets}, [per_example_loss, z2])
    mean_loss = float(np.sum(run[per_example_loss], dtype=np.float64)) / len(targets)
    return mean_loss, float(np.mean(np.argmax(run[z2], axis=1) == targets))


lr, batch, epochs, seed = 2.0, 16, 50, 0
step = SGDStep(g, loss, parameters, learning_rate=lr)
shuffle = np.random.default_rng(np.random.SeedSequence([seed, SHUFFLE_STREAM]))
train_loss, test_accuracy = [], []
with single_threaded_blas():  # one BLAS thread: the same sums in the same order on every run
    for epoch in range(epochs):
        order = shuffle.permutation(len(digits.y_train))
        for first in range(0, len(order), batch):
            rows = order[first:first + batch]
            step({x: digits.x_train[rows], labels: digits.y_train[rows]})
        train_loss.append(evaluate(digits.x_train, digits.y_train)[0])
        test_accuracy.append(evaluate(digits.x_test, digits.y_test)[1])
print(f"epoch 1: training loss {train_loss[0]:.4f}, test accuracy {test_accuracy[0]:.4f}")
print(f"epoch {epochs}: training loss {train_loss[-1]:.4g}, test accuracy {test_accuracy[-1]:.4f} "
      f"({round(test_accuracy[-1] * len(digits.y_test))}/{len(digits.y_test)})")
assert train_loss[-1] < 0.05 < train_loss[0] and test_accuracy[-1] >= 0.95

# %% [markdown]
# ## Learning curves for a few learning rates and hidden sizes
#
# `train_run` is the loop above as `symderiv train` runs it (`RunSettings`
# holds one run's settings). Every combination of hidden size $\in \{16, 64\}$
# and $\eta \in \{0.5, 2\}$ is trained from seed 0 for 50 epochs — the
# command line equivalent is
# `symderiv train --hidden 16 64 --lr 0.5 2 --plot curves.png`.

# %%
runs = [train_run(digits, RunSettings(hidden, "sigmoid", rate, batch, epochs, seed))
        for hidden in hidden_sizes for rate in learning_rates]
for r in runs:
    print(f"{r.settings.label()}: final test accuracy {r.final_test_accuracy:.4f}, "
          f"training loss {r.train_loss[-1]:.4g}")
    assert not r.diverged and r.epochs_run == epochs and r.train_loss[-1] < r.train_loss[0]

# the hand-written loop above is the same run as hidden 64, lr 2
library = next(r for r in runs if r.settings.hidden == (64,) and r.settings.lr == lr)
assert list(library.train_loss) == train_loss and list(library.test_accuracy) == test_accuracy

learning_curves_figure(runs, "Problem 3 on the bundled digits: sigmoid MLP, batch 16, seed 0")

# %% [markdown]
# ## Final test accuracy
#
# The default of `symderiv train` (64 hidden sigmoid units, $\eta = 2$,
# batch 16, 50 epochs, seed 0), judged once on the 360 held-out images with
# the parameters of the last epoch (no early stopping):

# %%
final = library.final_test_accuracy
print(f"final test accuracy {final:.4f} ({round(final * 360)}/360 test images)")
assert final >= 0.95  # seed 0 reaches 0.9778 (352/360); chance is 0.1

# %% [markdown]
# ## The softmax backward rule, checked exactly
#
# Problem 2 of the course: for $y = \operatorname{softmax}(x)$ the Jacobian is
# $J = \operatorname{diag}(y) - y y^\top$ (symmetric), so the backward rule is
#
# $$
# \nabla_x = J^\top \nabla_y = y \odot \big(\nabla_y - (y \cdot \nabla_y)\,\mathbf{1}\big),
# $$
#
# EDF's rule, whose scalar $y \cdot \nabla_y$ is called `gvdot`.
# `check_backward` compares a rule written in numpy with the exact
# vector–Jacobian product that SymPy derives from the forward expression, on
# random minibatches, with a tolerance derived from float64 rounding.

# %%
def softmax(xs):  # the forward, as SymPy expressions of n symbols
    total = sum(sympy.exp(v) for v in xs)
    return [sympy.exp(v) / total for v in xs]


def edf_rule(x, y, gy):  # numpy in, numpy out, each (batch, n)
    gvdot = np.sum(y * gy, axis=1, keepdims=True)
    return y * (gy - gvdot)


def engine_rule(x, y, gy):  # the engine's own softmax op
    return default_registry()["softmax"].vjp(gy, y, (x,), (True,))[0]


right = check_backward(softmax, edf_rule, 4)
print(right)
assert right.ok and right.max_error_over_tolerance < 1
assert check_backward(softmax, engine_rule, 4).ok

# %% [markdown]
# Drop the `gvdot` term and the rule becomes $y \odot \nabla_y$, the
# diagonal of $J$ only. `check_backward` fails it and reports the worst row
# it found:

# %%
def without_gvdot(x, y, gy):
    return y * gy


wrong = check_backward(softmax, without_gvdot, 4)
print(wrong)
assert not wrong.ok and wrong.counterexample is not None

# %% [markdown]
# The counterexample can be checked by hand: from its $x$ and $\nabla_y$,
# recompute $y$, the exact $J^\top \nabla_y$ with $J = \operatorname{diag}(y) - y y^\top$,
# and, independently of any formula for $J$, a central difference of the
# scalar $x \mapsto \nabla_y \cdot \operatorname{softmax}(x)$, whose gradient
# is $J^\top \nabla_y$.

# %%
c = wrong.counterexample
cx, cgy = np.array(c.x), np.array(c.gy)


def softmax_numpy(v):
    e = np.exp(v - v.max())
    return e / e.sum()


cy = softmax_numpy(cx)
jacobian_product = (np.diag(cy) - np.outer(cy, cy)).T @ cgy
step_size = 1e-5
central_difference = np.array([
    (cgy @ softmax_numpy(cx + step_size * e) - cgy @ softmax_numpy(cx - step_size * e)) / (2 * step_size)
    for e in np.eye(len(cx))
])
print("y                    ", np.round(cy, 6))
print("J^T gy  (exact)      ", np.round(jacobian_product, 6))
print("central difference   ", np.round(central_difference, 6))
print("y * gy  (the rule)   ", np.round(cy * cgy, 6))
assert np.allclose(cy, c.y, rtol=1e-14, atol=0)
assert np.allclose(jacobian_product, c.expected, rtol=1e-12, atol=1e-15)
assert np.allclose(central_difference, c.expected, rtol=0, atol=1e-8)
assert np.allclose(cy * cgy, c.got, rtol=1e-14, atol=0)
assert abs(c.got[c.coordinate] - c.expected[c.coordinate]) > 0.1
