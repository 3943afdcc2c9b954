"""`symderiv train` (Problem 3): digits, IDX files, determinism, plots, --check.

References are independent of the code under test: IDX bytes are packed here
with ``struct`` from the format's definition, the network's forward loss is
recomputed in plain numpy, and gradients are judged by finite differences and
exact SymPy derivatives (in symderiv.train.gradcheck, itself tested below by
breaking a backward rule on purpose).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from symderiv.cli import main
from symderiv.engine.ops import default_registry
from symderiv.train.data import DIGITS_TEST_SIZE, load_digits
from symderiv.train.gradcheck import check_network
from symderiv.train.idx import read_idx, write_idx
from symderiv.train.loop import RunSettings, train_run
from symderiv.train.model import MLP, Architecture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_json(capsys, *argv: str) -> dict:
    code = main(["train", *argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def run_error(capsys, *argv: str) -> tuple[int, str]:
    code = main(["train", *argv])
    err = capsys.readouterr().err
    return code, err


# ---------------------------------------------------------------------------
# IDX bytes written from the format's definition, independently of symderiv

def idx_bytes(type_code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def uint8_idx(array: np.ndarray) -> bytes:
    return idx_bytes(0x08, array.shape, array.astype(np.uint8).tobytes())


def synthetic_digits(n: int, side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten classes of side×side uint8 images: a fixed random stroke pattern per class plus noise."""
    prototypes = np.random.default_rng(1234).random((10, side, side)) < 0.35
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    noise = rng.integers(0, 60, size=(n, side, side))
    images = np.clip(prototypes[labels] * 190 + noise, 0, 255).astype(np.uint8)
    return images, labels


def write_mnist_dir(directory: Path, *, compress: bool, n_train: int = 300, n_test: int = 100, side: int = 6) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    train_x, train_y = synthetic_digits(n_train, side, seed=1)
    test_x, test_y = synthetic_digits(n_test, side, seed=2)
    files = {
        "train-images-idx3-ubyte": uint8_idx(train_x),
        "train-labels-idx1-ubyte": uint8_idx(train_y),
        "t10k-images-idx3-ubyte": uint8_idx(test_x),
        "t10k-labels-idx1-ubyte": uint8_idx(test_y),
    }
    for name, data in files.items():
        if compress:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)


# ---------------------------------------------------------------------------
# the IDX parser

@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "type_code, dtype",
    [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")],
)
def test_read_idx_every_type_code(tmp_path, type_code, dtype, compress):
    rng = np.random.default_rng(type_code)
    values = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    data = idx_bytes(type_code, values.shape, values.tobytes())
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    path.write_bytes(gzip.compress(data) if compress else data)
    got = read_idx(path)
    assert got.shape == (3, 4, 5)
    assert got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, values)


def test_write_idx_matches_the_format(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", images)
    expected = b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 3, 4) + bytes(range(24))
    assert (tmp_path / "x").read_bytes() == expected
    write_idx(tmp_path / "x.gz", images, compress=True)
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == expected


CORRUPTIONS = {
    "bad magic": (lambda good: b"\x12\x34" + good[2:], "magic number"),
    "unknown type code": (lambda good: good[:2] + b"\x07" + good[3:], "element type 0x07"),
    "zero dimensions": (lambda good: good[:3] + b"\x00" + good[4:], "0 dimensions"),
    "truncated header": (lambda good: good[:9], "truncated"),
    "truncated data": (lambda good: good[:-5], "truncated"),
    "size mismatch (trailing data)": (lambda good: good + b"\x00\x01", "size mismatch"),
    "empty file": (lambda good: b"", "truncated"),
}


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_idx_exits_2_naming_the_file(tmp_path, capsys, corruption, compress):
    write_mnist_dir(tmp_path, compress=compress)
    name = "train-images-idx3-ubyte" + (".gz" if compress else "")
    path = tmp_path / name
    good = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
    damage, expected_words = CORRUPTIONS[corruption]
    bad = damage(good)
    path.write_bytes(gzip.compress(bad) if compress else bad)
    code, err = run_error(capsys, "--dataset", "mnist", "--data", str(tmp_path), "--epochs", "1")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("symderiv: error: ")
    assert str(path) in err
    assert expected_words in err
    assert "Traceback" not in err


def test_huge_declared_size_is_rejected_before_reading(tmp_path, capsys):
    write_mnist_dir(tmp_path, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(0x08, (4_000_000_000, 4_000_000_000, 4), b""))
    code, err = run_error(capsys, "--dataset", "mnist", "--data", str(tmp_path))
    assert code == 2 and str(path) in err and "limit" in err


def test_corrupt_gzip_stream_exits_2(tmp_path, capsys):
    write_mnist_dir(tmp_path, compress=True)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])  # cut off the gzip trailer and some data
    code, err = run_error(capsys, "--dataset", "mnist", "--data", str(tmp_path))
    assert code == 2 and str(path) in err


@pytest.mark.parametrize(
    "file_name, content, expected_words",
    [
        ("train-labels-idx1-ubyte", uint8_idx(np.zeros(299, np.uint8)), "299 labels for 300 images"),
        ("train-labels-idx1-ubyte", uint8_idx(np.full(300, 10, np.uint8)), "label 10 at index 0"),
        ("train-labels-idx1-ubyte", uint8_idx(np.zeros((300, 1), np.uint8)), "1 dimension"),
        ("t10k-images-idx3-ubyte", idx_bytes(0x0D, (100, 6, 6), np.zeros(3600, ">f4").tobytes()), "uint8 images"),
        ("t10k-images-idx3-ubyte", uint8_idx(np.zeros((100, 5, 5), np.uint8)), "36 pixels but test images have 25"),
    ],
)
def test_inconsistent_mnist_files_exit_2(tmp_path, capsys, file_name, content, expected_words):
    write_mnist_dir(tmp_path, compress=False)
    (tmp_path / file_name).write_bytes(content)
    code, err = run_error(capsys, "--dataset", "mnist", "--data", str(tmp_path))
    assert code == 2, err
    assert expected_words in err
    assert err.count("\n") == 1


def test_missing_idx_file_exits_2_naming_it(tmp_path, capsys):
    write_mnist_dir(tmp_path, compress=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    code, err = run_error(capsys, "--dataset", "mnist", "--data", str(tmp_path))
    assert code == 2 and "t10k-labels-idx1-ubyte" in err and "no such file" in err


# ---------------------------------------------------------------------------
# training end to end

@pytest.mark.parametrize("compress", [False, True])
def test_synthetic_idx_dataset_trains_end_to_end(tmp_path, capsys, compress):
    write_mnist_dir(tmp_path, compress=compress)
    report = run_json(
        capsys, "--dataset", "mnist", "--data", str(tmp_path), "--hidden", "16", "--epochs", "8", "--lr", "1",
    )
    assert report["dataset"]["train_examples"] == 300
    assert report["dataset"]["test_examples"] == 100
    assert report["dataset"]["features"] == 36
    (run,) = report["runs"]
    assert len(run["train_loss"]) == len(run["test_accuracy"]) == 8
    assert run["train_loss"][-1] < run["train_loss"][0]
    # the classes are far apart; chance is 0.1
    assert run["final_test_accuracy"] >= 0.9


def test_digits_one_hidden_layer_of_64_sigmoid_units(capsys):
    report = run_json(capsys, "--hidden", "64", "--activation", "sigmoid", "--epochs", "15")
    assert report["dataset"]["test_examples"] == DIGITS_TEST_SIZE
    (run,) = report["runs"]
    assert run["settings"]["hidden"] == [64] and run["settings"]["activation"] == "sigmoid"
    assert len(run["test_accuracy"]) == 15
    assert run["final_test_accuracy"] == run["test_accuracy"][-1]
    assert run["final_test_accuracy"] >= 0.95
    assert run["train_loss"][-1] < 0.1 * run["train_loss"][0]
    assert run["seconds"] > 0


def test_digits_split_is_fixed_stratified_and_scaled():
    first, second = load_digits(), load_digits()
    np.testing.assert_array_equal(first.x_test, second.x_test)
    assert first.x_train.dtype == np.float32 and first.x_test.dtype == np.float32
    assert first.x_train.min() == 0.0 and first.x_train.max() == 1.0
    # stratified: each class keeps its share of the 1,797 images (to within rounding)
    counts_all = np.bincount(np.concatenate([first.y_train, first.y_test]), minlength=10)
    expected = DIGITS_TEST_SIZE * counts_all / counts_all.sum()
    assert np.all(np.abs(np.bincount(first.y_test, minlength=10) - expected) <= 1)
    assert first.x_train.shape[0] + first.x_test.shape[0] == 1797


def test_several_lr_and_hidden_values_run_every_combination(capsys):
    report = run_json(capsys, "--hidden", "8", "16,8", "--lr", "0.5", "2", "--epochs", "2")
    settings = [(tuple(r["settings"]["hidden"]), r["settings"]["lr"]) for r in report["runs"]]
    assert settings == [((8,), 0.5), ((8,), 2.0), ((16, 8), 0.5), ((16, 8), 2.0)]
    assert [r["architecture"] for r in report["runs"]][2] == "64-16-8-10 sigmoid"


def test_same_seed_same_curves_different_seed_different_curves(capsys):
    args = ("--hidden", "32", "--activation", "relu", "--lr", "0.5", "--epochs", "3")
    first = run_json(capsys, *args, "--seed", "7")["runs"][0]
    second = run_json(capsys, *args, "--seed", "7")["runs"][0]
    other = run_json(capsys, *args, "--seed", "8")["runs"][0]
    assert first["train_loss"] == second["train_loss"]
    assert first["test_accuracy"] == second["test_accuracy"]
    assert first["train_loss"] != other["train_loss"]


def test_a_diverging_run_is_reported_in_strict_json_without_warnings(capsys, monkeypatch):
    # With the engine's exact, stable cross-entropy backward even lr = 1e6 stays
    # finite on digits, so the blow-up is injected where a too-large step would
    # cause it: after the first SGD step the float32 weights overflow to inf.
    from symderiv.train import model as model_module

    def exploding_step(self, x, labels, lr):
        for node in self.parameters:
            node.value *= np.float32(1e30)
            node.value *= np.float32(1e30)
        return 1.0

    monkeypatch.setattr(model_module.MLP, "train_step", exploding_step)
    code = main(["train", "--epochs", "3", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""  # no numpy overflow warnings

    def reject(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    (run,) = json.loads(captured.out, parse_constant=reject)["runs"]
    assert run["diverged"] is True
    assert run["epochs_run"] == 1 and run["train_loss"] == [None]


def test_network_forward_matches_plain_numpy():
    data = load_digits()
    arch = Architecture(64, (20,), 10, "sigmoid")
    model = MLP.initialised(arch, seed=3, dtype=np.float64)
    w1, b1, w2, b2 = (node.value for node in model.parameters)
    x, y = data.x_train[:50].astype(np.float64), data.y_train[:50]
    hidden = 1.0 / (1.0 + np.exp(-(x @ w1 + b1)))
    logits = hidden @ w2 + b2
    m = logits.max(axis=1, keepdims=True)
    log_probs = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    expected = -log_probs[np.arange(50), y].mean()
    loss, _ = model.loss_and_gradients(x, y)
    assert loss == pytest.approx(expected, rel=1e-13)


def test_float32_training_stays_float32():
    data = load_digits()
    model = MLP.initialised(Architecture(64, (16,), 10, "relu"), seed=0)
    _, gradients = model.loss_and_gradients(data.x_train[:16], data.y_train[:16])
    assert all(g.dtype == np.float32 for g in gradients.values())
    model.train_step(data.x_train[:16], data.y_train[:16], 0.5)
    assert all(node.value.dtype == np.float32 for node in model.parameters)


def test_progress_bar_only_when_asked(capsys):
    data = load_digits()
    small = dataclasses.replace(data, x_train=data.x_train[:64], y_train=data.y_train[:64])
    settings = RunSettings((8,), "sigmoid", 0.5, 16, 2, 0)
    train_run(small, settings, show_progress=False)
    assert capsys.readouterr().err == ""
    train_run(small, settings, show_progress=True, description="run 1/1")
    err = capsys.readouterr().err
    assert "run 1/1" in err and "2/2" in err


def test_json_run_prints_nothing_on_stderr(capsys):
    report = run_json(capsys, "--hidden", "8", "--epochs", "1")
    assert set(report["runs"][0]) >= {"settings", "train_loss", "test_accuracy", "final_test_accuracy", "seconds"}


# ---------------------------------------------------------------------------
# learning-curve PNG

def test_plot_writes_a_valid_png(tmp_path, capsys):
    path = tmp_path / "curves.png"
    report = run_json(capsys, "--hidden", "16", "--lr", "0.5", "2", "--epochs", "4", "--plot", str(path))
    assert report["plot"] == str(path)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 350
    assert len(data) > 20_000
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.05  # not a blank canvas


def test_learning_curves_figure_draws_each_run_on_both_panels():
    pytest.importorskip("matplotlib")
    from symderiv.train.loop import RunResult
    from symderiv.train.plot import learning_curves_figure

    runs = [
        RunResult(RunSettings((16,), "sigmoid", 0.5, 16, 3, 0), "64-16-10 sigmoid",
                  (0.9, 0.4, 0.2), (0.7, 0.8, 0.9), (0.6, 0.75, 0.85), 0.1, False),
        RunResult(RunSettings((64,), "sigmoid", 2.0, 16, 2, 0), "64-64-10 sigmoid",
                  (0.5, math.inf), (0.8, 0.1), (0.8, 0.1), 0.1, True),
    ]
    figure = learning_curves_figure(runs, "a title")
    loss_axes, accuracy_axes = figure.axes
    assert loss_axes.get_yscale() == "log" and figure.get_suptitle() == "a title"
    for axes, curve in ((loss_axes, "train_loss"), (accuracy_axes, "test_accuracy")):
        lines = axes.get_lines()
        assert len(lines) == len(runs)
        for line, run in zip(lines, runs):
            assert list(line.get_xdata()) == list(range(1, run.epochs_run + 1))
            assert list(line.get_ydata()) == list(getattr(run, curve))
    labels = [text.get_text() for text in accuracy_axes.get_legend().get_texts()]
    assert labels == ["hidden=16 sigmoid lr=0.5: final 0.8500", "hidden=64 sigmoid lr=2 (diverged): final 0.1000"]


def test_plot_path_is_checked_before_training(tmp_path, capsys):
    code, err = run_error(capsys, "--plot", str(tmp_path / "missing" / "c.png"))
    assert code == 2 and "does not exist" in err


# ---------------------------------------------------------------------------
# --check

def test_check_passes_on_the_real_network(capsys):
    report = run_json(capsys, "--check", "--hidden", "64", "--epochs", "1")
    (check,) = report["check"]
    assert check["ok"]
    assert [p["name"] for p in check["parameters"]] == ["W1", "b1", "W2", "b2"]
    assert all(p["entries_checked"] == p["entries_total"] for p in check["parameters"])
    assert {o["op"].split(" ")[0] for o in check["ops"]} == {"affine", "sigmoid", "mean_cross_entropy"}
    assert check["ops_unavailable"] is None
    assert [(t["learning_rate"], t["ok"]) for t in check["steps"]] == [(2.0, True)]
    assert len(report["runs"]) == 1


def test_check_catches_a_training_step_that_ignores_the_learning_rate(capsys, monkeypatch):
    # the gradient is right, but the step seeds its backward pass with 1, not lr
    from symderiv.engine.optim import SGDStep

    monkeypatch.setattr(SGDStep, "_seed", lambda self, loss: np.array(1.0, dtype=np.asarray(loss).dtype))
    code = main(["train", "--check", "--lr", "0.5", "--epochs", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "training step (SGDStep), lr=0.5" in out and "FAILED" in out
    assert "gradient check failed: not training" in out
    w1_line = next(line for line in out.splitlines() if line.startswith("  W1 "))
    assert w1_line.endswith(": ok")  # the gradient itself is right


def test_each_learning_rate_gets_its_own_step():
    data = load_digits()
    model = MLP.initialised(Architecture(64, (8,), 10, "sigmoid"), seed=1, dtype=np.float64)
    x, y = data.x_train[:16].astype(np.float64), data.y_train[:16]
    for lr in (0.1, 0.5, 0.1):
        _, gradients = model.loss_and_gradients(x, y)
        before = [node.value.copy() for node in model.parameters]
        model.train_step(x, y, lr)
        for node, old in zip(model.parameters, before):
            np.testing.assert_allclose(old - node.value, lr * gradients[node], rtol=1e-10, atol=1e-15)


def test_the_loop_stops_at_the_first_non_finite_minibatch(monkeypatch):
    from symderiv.train import model as model_module

    real = model_module.MLP.train_step
    calls = []

    def step(self, x, labels, lr):
        calls.append(1)
        return math.nan if len(calls) == 3 else real(self, x, labels, lr)

    monkeypatch.setattr(model_module.MLP, "train_step", step)
    data = load_digits()
    result = train_run(data, RunSettings((8,), "sigmoid", 0.5, 16, 3, 0), show_progress=False)
    assert len(calls) == 3  # nothing after the failing minibatch
    assert result.diverged and len(result.test_accuracy) == 1


def _break(monkeypatch, op_name: str, vjp) -> None:
    registry = default_registry()
    monkeypatch.setitem(registry.ops, op_name, dataclasses.replace(registry[op_name], vjp=vjp))


def test_check_fails_and_refuses_to_train_with_a_broken_sigmoid_backward(capsys, monkeypatch):
    # y instead of y(1 - y): the textbook slip
    _break(monkeypatch, "sigmoid", lambda g, out, inputs, needs: (g * out,))
    code = main(["train", "--check", "--hidden", "8", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "runs" not in report
    (check,) = report["check"]
    by_name = {p["name"]: p["ok"] for p in check["parameters"]}
    assert by_name == {"W1": False, "b1": False, "W2": True, "b2": True}
    assert {o["op"]: o["ok"] for o in check["ops"]}["sigmoid"] is False


def test_check_catches_a_weight_gradient_off_by_a_tenth_of_a_percent(capsys, monkeypatch):
    original = default_registry()["affine"].vjp

    def slightly_wrong(g, out, inputs, needs):
        gx, gw, gb = original(g, out, inputs, needs)
        return gx, None if gw is None else gw * 1.001, gb

    _break(monkeypatch, "affine", slightly_wrong)
    code = main(["train", "--check", "--hidden", "8", "--activation", "relu"])
    out = capsys.readouterr().out
    assert code == 1
    assert "gradient check failed: not training" in out
    assert "run 1/1" not in out


def test_check_fails_on_nan_gradients_and_on_a_crashing_backward(capsys, monkeypatch):
    _break(monkeypatch, "sigmoid", lambda g, out, inputs, needs: (g * np.nan,))
    code = main(["train", "--check", "--hidden", "8", "--json"])
    report = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert code == 1
    assert {p["name"]: p["ok"] for p in report["check"][0]["parameters"]} == {
        "W1": False, "b1": False, "W2": True, "b2": True,
    }

    def crash(g, out, inputs, needs):
        raise FloatingPointError("boom")

    _break(monkeypatch, "sigmoid", crash)
    code = main(["train", "--check", "--hidden", "8"])
    out = capsys.readouterr().out
    assert code == 1
    assert "backward pass raised FloatingPointError: boom" in out
    assert "op sigmoid: check_backward FAILED" in out


def test_gradcheck_localises_the_broken_parameter(monkeypatch):
    original = default_registry()["affine"].vjp

    def wrong_bias(g, out, inputs, needs):
        gx, gw, gb = original(g, out, inputs, needs)
        return gx, gw, None if gb is None else 2.0 * gb

    _break(monkeypatch, "affine", wrong_bias)
    result = check_network(load_digits(), Architecture(64, (8,), 10, "sigmoid"), seed=0)
    assert not result.ok
    # a doubled bias cotangent corrupts only the biases: gx (hence W1) and gW are intact
    assert {p.name: p.ok for p in result.parameters} == {"W1": True, "b1": False, "W2": True, "b2": False}


# ---------------------------------------------------------------------------
# bad input and missing extras

@pytest.mark.parametrize(
    "argv, words",
    [
        (["--lr", "-0.5"], "--lr"),
        (["--lr", "0"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--hidden", "0"], "--hidden"),
        (["--hidden", "64,0"], "--hidden"),
        (["--hidden", "1e3"], "--hidden"),
        (["--batch", "0"], "--batch"),
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "ten"], "--epochs"),
        (["--seed", "-1"], "--seed"),
        (["--dataset", "cifar"], "--dataset"),
        (["--activation", "tanh"], "--activation"),
        (["--dataset", "mnist"], "--data"),
        (["--data", "/tmp"], "--data"),
        (["--dataset", "mnist", "--data", "/nonexistent/dir"], "not a directory"),
        (["--plot", "curves.svg"], "PNG"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys, argv, words):
    code = exit_code(["train", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("symderiv: error: ")
    assert words in err


def exit_code(argv: list[str]) -> int:
    """main()'s return value, or the status of argparse's SystemExit for option errors."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_missing_scikit_learn_gives_the_install_hint(capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    code, err = run_error(capsys, "--epochs", "1")
    assert code == 2
    assert 'pip install "symderiv[train]"' in err


def test_missing_matplotlib_gives_the_install_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, err = run_error(capsys, "--epochs", "1", "--plot", str(tmp_path / "c.png"))
    assert code == 2
    assert 'pip install "symderiv[plot]"' in err
