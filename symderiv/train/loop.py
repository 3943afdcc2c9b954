"""Minibatch SGD on an :class:`~symderiv.train.model.MLP`, one run per settings.

Each epoch visits the training set once in a freshly shuffled order (last
minibatch may be smaller), taking one step ``θ ← θ − lr·∇θ`` per minibatch.
After the epoch the whole training set and the held-out test set are
evaluated with the epoch's final parameters: ``train_loss`` is the mean
cross-entropy over all training examples, ``test_accuracy`` the fraction of
test images whose largest logit is the true class.

Deterministic for a seed: initialisation and shuffling draw from two
independent seeded streams, and BLAS is held to one thread while training
(threaded reductions may sum in a different order from run to run; for
matrices this small one thread is also the fastest).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from symderiv.engine.ops import Registry
from symderiv.train.data import Dataset
from symderiv.train.model import MLP, Architecture

SHUFFLE_STREAM = 1  # second entropy word of the shuffling stream's seed


@dataclass(frozen=True)
class RunSettings:
    hidden: tuple[int, ...]
    activation: str
    lr: float
    batch: int
    epochs: int
    seed: int

    def label(self) -> str:
        hidden = "-".join(str(h) for h in self.hidden)
        return f"hidden={hidden} {self.activation} lr={self.lr:g}"


@dataclass(frozen=True)
class RunResult:
    settings: RunSettings
    architecture: str
    train_loss: tuple[float, ...]  # per epoch
    train_accuracy: tuple[float, ...]  # per epoch
    test_accuracy: tuple[float, ...]  # per epoch
    seconds: float
    diverged: bool  # a minibatch or epoch loss became inf/NaN; the run stopped in that epoch

    @property
    def final_test_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread if threadpoolctl is available (it comes with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _progress_bars(enabled: bool):
    """tqdm's class if progress is wanted and tqdm is installed, else None."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def train_run(
    dataset: Dataset,
    settings: RunSettings,
    *,
    show_progress: bool = False,
    description: str = "",
    registry: Registry | None = None,
) -> RunResult:
    """Train one network from its seeded initialisation; return its learning curves."""
    arch = Architecture(dataset.n_features, settings.hidden, dataset.n_classes, settings.activation)
    model = MLP.initialised(arch, settings.seed, np.float32, registry)
    shuffle_rng = np.random.default_rng(np.random.SeedSequence([settings.seed, SHUFFLE_STREAM]))
    n_train = dataset.x_train.shape[0]
    batches_per_epoch = math.ceil(n_train / settings.batch)
    tqdm = _progress_bars(show_progress)
    train_loss: list[float] = []
    train_accuracy: list[float] = []
    test_accuracy: list[float] = []
    diverged = False
    start = time.perf_counter()
    epoch_bar = (
        tqdm(total=settings.epochs, desc=description or settings.label(), unit="epoch", leave=True)
        if tqdm else None
    )
    try:
        # Overflow in a diverging run is reported as `diverged`, not as numpy warnings.
        with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(settings.epochs):
                order = shuffle_rng.permutation(n_train)
                batch_bar = (
                    tqdm(total=batches_per_epoch, desc=f"epoch {epoch + 1}/{settings.epochs}",
                         unit="batch", leave=False)
                    if tqdm else None
                )
                for first in range(0, n_train, settings.batch):
                    rows = order[first:first + settings.batch]
                    batch_loss = model.train_step(dataset.x_train[rows], dataset.y_train[rows], settings.lr)
                    if not math.isfinite(batch_loss):  # the step changed nothing
                        diverged = True
                        break
                    if batch_bar is not None:
                        batch_bar.update(1)
                if batch_bar is not None:
                    batch_bar.close()
                loss, accuracy = model.evaluate(dataset.x_train, dataset.y_train)
                _, test_acc = model.evaluate(dataset.x_test, dataset.y_test)
                train_loss.append(loss)
                train_accuracy.append(accuracy)
                test_accuracy.append(test_acc)
                if epoch_bar is not None:
                    epoch_bar.set_postfix(loss=f"{loss:.4f}", test_acc=f"{test_acc:.4f}")
                    epoch_bar.update(1)
                if diverged or not math.isfinite(loss):
                    diverged = True
                    break
    finally:
        if epoch_bar is not None:
            epoch_bar.close()
    return RunResult(
        settings=settings,
        architecture=arch.describe(),
        train_loss=tuple(train_loss),
        train_accuracy=tuple(train_accuracy),
        test_accuracy=tuple(test_accuracy),
        seconds=time.perf_counter() - start,
        diverged=diverged,
    )
