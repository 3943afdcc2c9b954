"""`symderiv train`: Problem 3 — an MLP trained on handwritten digits with the engine.

Every combination of the ``--hidden`` and ``--lr`` values is one run, trained
one after another from the same seed. Progress bars (tqdm, stderr) appear only
on a terminal and never with ``--json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys

from symderiv.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError

CPU_LIMIT_S = None  # a long MNIST run is legitimate; the user can interrupt it

DEFAULT_HIDDEN = "64"
DEFAULT_ACTIVATION = "sigmoid"
DEFAULT_LR = 2.0
DEFAULT_BATCH = 16
DEFAULT_EPOCHS = 50
DEFAULT_SEED = 0

MAX_LAYER_WIDTH = 4096
MAX_LAYERS = 8
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
MAX_RUNS = 64
MAX_LR = 1e6  # far past divergence; keeps lr representable in float32
MAX_SEED = 2**63 - 1


def _hidden_layers(text: str) -> tuple[int, ...]:
    """'64' is one hidden layer of 64 units; '128,64' two layers."""
    parts = text.split(",")
    if len(parts) > MAX_LAYERS:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_LAYERS} hidden layers")
    sizes = []
    for part in parts:
        part = part.strip()
        if not part.isdigit() or not part.isascii():
            raise argparse.ArgumentTypeError(f"{text!r}: layer sizes must be positive integers (e.g. 64 or 128,64)")
        size = int(part)
        if not 1 <= size <= MAX_LAYER_WIDTH:
            raise argparse.ArgumentTypeError(f"{text!r}: a layer needs 1 to {MAX_LAYER_WIDTH} units, got {size}")
        sizes.append(size)
    return tuple(sizes)


def _positive_float(text: str) -> float:
    from symderiv.commands._common import ascii_number

    value = ascii_number(text)
    if not math.isfinite(value) or not 0 < value <= MAX_LR:
        raise argparse.ArgumentTypeError(f"{text!r}: the learning rate must be a number > 0 and <= {MAX_LR:g}")
    return value


def _bounded_int(low: int, high: int):
    def parse(text: str) -> int:
        stripped = text.strip()
        digits = stripped[1:] if stripped[:1] in "+-" else stripped
        if not digits.isdigit() or not digits.isascii() or len(digits) > 30:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
        value = int(stripped)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {value}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                        help="digits: scikit-learn's bundled 8x8 digits (default); mnist: IDX files from --data")
    parser.add_argument("--data", metavar="DIR",
                        help="directory with train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each may be .gz)")
    parser.add_argument("--hidden", nargs="+", type=_hidden_layers, metavar="N[,N...]",
                        help=f"hidden layer sizes; several values = several runs (default {DEFAULT_HIDDEN})")
    parser.add_argument("--activation", choices=("sigmoid", "relu"), default=DEFAULT_ACTIVATION,
                        help=f"hidden-layer activation (default {DEFAULT_ACTIVATION})")
    parser.add_argument("--lr", nargs="+", type=_positive_float, metavar="LR",
                        help=f"SGD learning rate(s); several values = several runs (default {DEFAULT_LR:g})")
    parser.add_argument("--batch", type=_bounded_int(1, MAX_BATCH), default=DEFAULT_BATCH,
                        help=f"minibatch size (default {DEFAULT_BATCH})")
    parser.add_argument("--epochs", type=_bounded_int(1, MAX_EPOCHS), default=DEFAULT_EPOCHS,
                        help=f"passes over the training set (default {DEFAULT_EPOCHS})")
    parser.add_argument("--seed", type=_bounded_int(0, MAX_SEED), default=DEFAULT_SEED,
                        help=f"seed of the initialisation and shuffling (default {DEFAULT_SEED})")
    parser.add_argument("--check", action="store_true",
                        help="first verify the network's gradient (finite differences, check_backward); "
                             "exit 1 without training if it is wrong")
    parser.add_argument("--plot", metavar="FILE.png", help="save learning curves (needs matplotlib)")
    parser.add_argument("--force", action="store_true", help="replace the --plot file if it already exists")
    parser.add_argument("--json", action="store_true", help="print the results as JSON; no progress bars")


def preload(args: argparse.Namespace) -> tuple[str, ...]:
    """Modules to import before the CPU budget (see symderiv.cli)."""
    names = ("numpy", "sklearn.datasets", "tqdm")
    if args.plot is not None:
        names += ("matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.ticker")
    if args.check:
        names += ("sympy", "mpmath")
    return names


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _settings_list(args: argparse.Namespace):
    from symderiv.train.loop import RunSettings

    hidden_values = args.hidden or [_hidden_layers(DEFAULT_HIDDEN)]
    lr_values = args.lr or [DEFAULT_LR]
    combinations = list(itertools.product(hidden_values, lr_values))
    if len(combinations) > MAX_RUNS:
        raise InputError(f"{len(combinations)} runs requested (--hidden x --lr); at most {MAX_RUNS}")
    return [
        RunSettings(hidden, args.activation, lr, args.batch, args.epochs, args.seed)
        for hidden, lr in combinations
    ]


def _format_check(check) -> list[str]:
    undecided_only = not check.ok and all(p.failures == 0 for p in check.parameters) and not check.backward_error \
        and all(step.ok for step in check.steps) and all(op.ok for op in check.ops)
    verdict = "ok" if check.ok else "INCONCLUSIVE" if undecided_only else "FAILED"
    lines = [f"gradient check of {check.architecture} on {check.batch_size} training images (float64): {verdict}"]
    for p in check.parameters:
        status = ("ok" if p.ok else f"FAILED ({p.failures} entries)" if p.failures
                  else f"INCONCLUSIVE ({p.inconclusive} entries the finite difference cannot decide)")
        lines.append(
            f"  {p.name:<4} {'x'.join(map(str, p.shape)):>8}: {p.entries_checked}/{p.entries_total} entries vs "
            f"central differences, max |error| {p.max_abs_error:.2g} (max |grad| {p.max_abs_gradient:.2g}), "
            f"max error/bound {p.max_error_over_bound:.2g}"
            + (f", {p.inconclusive} inconclusive" if p.inconclusive else "") + f": {status}"
        )
        if not p.ok:
            index = ",".join(map(str, p.worst_index))
            lines.append(
                f"       worst {p.name}[{index}]: backward {p.worst_backward:.10g}, "
                f"finite difference {p.worst_finite_difference:.10g}"
            )
    if check.backward_error:
        lines.append(f"  FAILED: {check.backward_error}")
    for step in check.steps:
        lines.append(
            f"  training step (SGDStep), lr={step.learning_rate:g}: moves every parameter by lr x gradient, "
            f"max error/tolerance {step.max_error_over_tolerance:.2g}: {'ok' if step.ok else 'FAILED'}"
            + ("" if step.ok else f" (worst: {step.worst_parameter})")
        )
    if check.ops_unavailable:
        lines.append(f"  op checks skipped: {check.ops_unavailable}")
    for o in check.ops:
        lines.append(f"  op {o.op}: check_backward {'ok' if o.ok else 'FAILED'}: {o.detail}")
    return lines


def _check_as_json(check) -> dict:
    return {
        "ok": check.ok,
        "architecture": check.architecture,
        "batch_size": check.batch_size,
        "parameters": [
            {
                "name": p.name, "shape": list(p.shape), "ok": p.ok,
                "entries_checked": p.entries_checked, "entries_total": p.entries_total,
                "failures": p.failures, "inconclusive": p.inconclusive,
                "max_error_over_bound": _finite_or_none(p.max_error_over_bound),
                "max_abs_error": _finite_or_none(p.max_abs_error),
                "max_abs_gradient": _finite_or_none(p.max_abs_gradient),
            }
            for p in check.parameters
        ],
        "steps": [
            {"learning_rate": t.learning_rate, "ok": t.ok,
             "max_error_over_tolerance": _finite_or_none(t.max_error_over_tolerance),
             "worst_parameter": t.worst_parameter}
            for t in check.steps
        ],
        "ops": [{"op": o.op, "ok": o.ok, "detail": o.detail} for o in check.ops],
        "ops_unavailable": check.ops_unavailable,
        "backward_error": check.backward_error,
    }


def _run_as_json(run) -> dict:
    s = run.settings
    return {
        "settings": {
            "hidden": list(s.hidden), "activation": s.activation, "lr": s.lr,
            "batch": s.batch, "epochs": s.epochs, "seed": s.seed,
        },
        "architecture": run.architecture,
        "train_loss": [_finite_or_none(v) for v in run.train_loss],
        "train_accuracy": list(run.train_accuracy),
        "test_accuracy": list(run.test_accuracy),
        "final_test_accuracy": _finite_or_none(run.final_test_accuracy),
        "epochs_run": run.epochs_run,
        "diverged": run.diverged,
        "seconds": round(run.seconds, 3),
    }


def run(args: argparse.Namespace) -> int:
    from symderiv.train.data import load_dataset
    from symderiv.train.loop import train_run
    from symderiv.train.model import Architecture

    settings = _settings_list(args)
    plot_path = None
    if args.plot is not None:
        from symderiv.train.plot import check_plot_path

        plot_path = check_plot_path(args.plot, force=args.force)
    dataset = load_dataset(args.dataset, args.data)
    report: dict = {
        "dataset": {
            "name": dataset.name, "source": dataset.source,
            "train_examples": int(dataset.x_train.shape[0]), "test_examples": int(dataset.x_test.shape[0]),
            "features": dataset.n_features, "classes": dataset.n_classes,
        }
    }
    out = sys.stdout
    if not args.json:
        print(
            f"{dataset.name}: {dataset.x_train.shape[0]} training / {dataset.x_test.shape[0]} test images, "
            f"{dataset.n_features} pixels, {dataset.n_classes} classes ({dataset.source})",
            file=out,
        )

    if args.check:
        from symderiv.train.gradcheck import check_network

        checks = []
        for hidden in dict.fromkeys(s.hidden for s in settings):
            arch = Architecture(dataset.n_features, hidden, dataset.n_classes, args.activation)
            check = check_network(dataset, arch, args.seed, learning_rates=[s.lr for s in settings])
            checks.append(check)
            if not args.json:
                print("\n".join(_format_check(check)), file=out)
        report["check"] = [_check_as_json(c) for c in checks]
        if not all(c.ok for c in checks):
            if args.json:
                print(json.dumps(report, indent=2), file=out)
            else:
                print("gradient check failed: not training", file=out)
            return EXIT_CHECK_FAILED

    show_progress = not args.json and sys.stderr.isatty()
    runs = []
    for index, s in enumerate(settings, start=1):
        result = train_run(
            dataset, s, show_progress=show_progress,
            description=f"run {index}/{len(settings)} {s.label()}",
        )
        runs.append(result)
        if not args.json:
            correct = round(result.final_test_accuracy * dataset.x_test.shape[0]) if not result.diverged else 0
            status = (
                f"diverged at epoch {result.epochs_run} (training loss {result.train_loss[-1]})"
                if result.diverged
                else f"final test accuracy {result.final_test_accuracy:.4f} ({correct}/{dataset.x_test.shape[0]}), "
                     f"training loss {result.train_loss[-1]:.4g}"
            )
            print(
                f"run {index}/{len(settings)}: {result.architecture}, lr={s.lr:g}, batch={s.batch}, "
                f"epochs={s.epochs}, seed={s.seed}: {status}, {result.seconds:.2f} s",
                file=out,
            )
    report["runs"] = [_run_as_json(r) for r in runs]

    if plot_path is not None:
        from symderiv.train.plot import plot_learning_curves

        title = (
            f"{dataset.name}: {args.activation} MLP, batch {args.batch}, seed {args.seed} "
            f"({dataset.x_train.shape[0]} train / {dataset.x_test.shape[0]} test images)"
        )
        plot_learning_curves(runs, plot_path, title, force=args.force)
        report["plot"] = str(plot_path)
        if not args.json:
            print(f"learning curves written to {plot_path}", file=out)

    if args.json:
        print(json.dumps(report, indent=2), file=out)
    return EXIT_OK
