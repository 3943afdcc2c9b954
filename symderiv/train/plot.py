"""Learning curves as a PNG (matplotlib, optional extra ``[plot]``).

Two panels side by side, one line per run in the same colour on both:
training loss per epoch (log scale: it falls over orders of magnitude) and
test accuracy per epoch. The figure is drawn on matplotlib's Agg canvas
directly (``matplotlib.figure.Figure``), so no GUI backend or pyplot global
state is ever touched.

:func:`learning_curves_figure` returns that figure (a notebook displays it
inline); :func:`plot_learning_curves` saves it as the PNG of ``--plot``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from symderiv.errors import InputError
from symderiv.train.loop import RunResult

INSTALL_PLOT_HINT = 'pip install "symderiv[plot]"'


def check_plot_path(path: str | Path, force: bool = False) -> Path:
    """Fail before training, not after, if the PNG cannot be written there
    (wrong suffix, no such or unwritable directory, an existing file without
    ``force``: see :mod:`symderiv.files`)."""
    from symderiv.files import check_output_path

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"--plot {path}: the learning curves are written as PNG; use a .png file name")
    check_output_path(path, "--plot", force=force)
    require_matplotlib()
    return path


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(f"--plot needs matplotlib, which is not installed: {INSTALL_PLOT_HINT}") from None


def learning_curves_figure(runs: Sequence[RunResult], title: str):
    """Every run's training loss and test accuracy per epoch, as a ``matplotlib.figure.Figure``."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(11, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for index, run in enumerate(runs):
        epochs = range(1, run.epochs_run + 1)
        colour = f"C{index % 10}"
        label = run.settings.label() + (" (diverged)" if run.diverged else "")
        marker = "o" if run.epochs_run <= 30 else None
        loss_axes.plot(epochs, run.train_loss, color=colour, marker=marker, markersize=3, label=label)
        accuracy_axes.plot(
            epochs, run.test_accuracy, color=colour, marker=marker, markersize=3,
            label=f"{label}: final {run.final_test_accuracy:.4f}",
        )
    loss_axes.set_yscale("log")
    loss_axes.set_title("Training loss (mean cross-entropy, whole training set)")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("loss (log scale)")
    accuracy_axes.set_title("Test accuracy (held-out images)")
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axes.grid(True, which="major", alpha=0.35)
        axes.legend(fontsize="small")
    figure.suptitle(title)
    return figure


def plot_learning_curves(runs: Sequence[RunResult], path: str | Path, title: str, force: bool = False) -> Path:
    """Draw every run's training loss and test accuracy per epoch; save as PNG at
    ``path``, whole or not at all (an existing file only with ``force``)."""
    import io

    from symderiv.files import write_atomically

    image = io.BytesIO()
    learning_curves_figure(runs, title).savefig(image, format="png")
    return write_atomically(path, image.getvalue(), "--plot", force=force)
