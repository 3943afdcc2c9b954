"""The Problem 3 notebook (``examples/problem3_train_mlp.ipynb``).

The notebook is kept as a pair (jupytext): the ``.py`` in percent format is
what a diff shows, the ``.ipynb`` is what Jupyter opens. The ``.ipynb`` is
committed without outputs: every CI run regenerates them, so no stale number
or base64 image lives in the repository.

Running it is a test: nbmake executes a copy in a fresh Jupyter kernel, and
the notebook's own cells assert what they show (gradient check passed,
hand-written SGD loop equal to the library's, test accuracy above its floor,
the wrong softmax rule failed with a counterexample that a central difference
confirms). This file then checks the executed copy's outputs: every figure
was drawn inline and the reports were printed.

nbmake, jupytext and ipykernel come with the ``dev`` extra.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOK = EXAMPLES / "problem3_train_mlp.ipynb"
SCRIPT = EXAMPLES / "problem3_train_mlp.py"


def _code_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def test_notebook_and_its_paired_script_are_in_sync():
    jupytext = pytest.importorskip("jupytext", reason='jupytext comes with the dev extra: pip install -e ".[dev]"')
    from jupytext.compare import compare_notebooks

    from_script = jupytext.read(SCRIPT, fmt="py:percent")
    from_ipynb = jupytext.read(NOTEBOOK)
    try:  # raises with the first differing cell (source, type or metadata)
        compare_notebooks(from_script, from_ipynb, fmt="py:percent")
    except AssertionError as difference:
        raise AssertionError(
            f"{NOTEBOOK.name} and {SCRIPT.name} differ; after editing one, run "
            f"`jupytext --sync examples/{SCRIPT.name}` (or the .ipynb):{difference}"
        ) from None
    assert from_ipynb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert len(from_script.cells) == len(from_ipynb.cells)


def test_committed_notebook_has_no_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in _code_cells(notebook):
        assert cell["outputs"] == [] and cell["execution_count"] is None, (
            f"commit {NOTEBOOK.name} without outputs (Jupyter: Edit > Clear Outputs of All Cells, then save; "
            f"or `jupyter nbconvert --clear-output --inplace examples/{NOTEBOOK.name}`): {_source(cell)[:60]!r}"
        )


@pytest.fixture(scope="module")
def executed_notebook(tmp_path_factory) -> dict:
    """The notebook run by nbmake in a fresh kernel; its outputs written back to a copy."""
    pytest.importorskip("nbmake", reason='nbmake comes with the dev extra: pip install -e ".[dev]"')
    pytest.importorskip("ipykernel", reason='ipykernel comes with the dev extra: pip install -e ".[dev]"')
    workdir = tmp_path_factory.mktemp("notebook")
    copy = workdir / NOTEBOOK.name
    shutil.copyfile(NOTEBOOK, copy)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend draws the figures
    # this environment's kernelspec (python3 -> this interpreter) before any user-wide one
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "--overwrite", "-p", "no:cacheprovider", "-q", copy.name],
        cwd=workdir, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    return json.loads(copy.read_text(encoding="utf-8"))


def _cell_running(notebook: dict, fragment: str) -> dict:
    matches = [cell for cell in _code_cells(notebook) if fragment in _source(cell)]
    assert len(matches) == 1, fragment
    return matches[0]


def _text(cell: dict) -> str:
    return "".join(
        "".join(output.get("text", "")) for output in cell["outputs"] if output["output_type"] == "stream"
    )


def test_notebook_runs_every_cell_without_error(executed_notebook):
    cells = _code_cells(executed_notebook)
    assert cells and all(cell["execution_count"] is not None for cell in cells)
    errors = [output for cell in cells for output in cell["outputs"] if output["output_type"] == "error"]
    assert errors == []


def test_notebook_draws_the_digits_and_the_learning_curves_inline(executed_notebook):
    for fragment in ("ax.imshow(", "learning_curves_figure(runs"):
        cell = _cell_running(executed_notebook, fragment)
        images = [output for output in cell["outputs"] if "image/png" in output.get("data", {})]
        assert len(images) == 1, fragment


def test_notebook_shows_the_gradient_check_training_and_softmax_check(executed_notebook):
    check = _text(_cell_running(executed_notebook, "check_network("))
    assert "64-64-10 sigmoid on 8 images: ok" in check and "4096/4096 entries" in check
    assert "op mean_cross_entropy (label 0): ok" in check
    assert "final test accuracy" in _text(_cell_running(executed_notebook, "final = library.final_test_accuracy"))
    wrong = _text(_cell_running(executed_notebook, "wrong = check_backward("))
    assert wrong.startswith("BackwardCheck: FAILED") and "counterexample (" in wrong
