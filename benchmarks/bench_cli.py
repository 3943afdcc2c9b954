"""Target 5: CLI latency, whole process, against ``python -c pass`` run in turn with it.

``symderiv`` is looked up on PATH as a user would type it (under pyenv that
is a bash shim that re-executes pyenv); the console script next to the
interpreter is timed too, so the shim's share is visible.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from benchmarks.rows import Config, Row, ratio_row
from benchmarks.timing import interleaved, ratio

BUDGETS_S = {"help": 0.1, "chain": 1.0, "verify": 10.0}


def _runner(argv: Sequence[str]):
    def run_once() -> None:
        completed = subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if completed.returncode not in (0, 1):  # 1: a check failed (still a full run)
            raise RuntimeError(f"{' '.join(argv)} exited {completed.returncode}: {completed.stderr.strip()[-300:]}")

    return run_once


def executables() -> dict[str, list[str]]:
    """How ``symderiv`` can be started: on PATH, the console script itself, ``python -m``."""
    found = {}
    on_path = shutil.which("symderiv")
    if on_path:
        found["PATH"] = [on_path]
    script = Path(sys.executable).parent / "symderiv"
    if script.exists() and (not on_path or Path(on_path).resolve() != script.resolve()):
        found["console script"] = [str(script)]
    found["python -m"] = [sys.executable, "-m", "symderiv"]
    # Under pyenv, a shell finds a bash shim first (``pyenv exec`` puts the real
    # bin directory on this process's PATH, so shutil.which does not see it).
    pyenv_root = os.environ.get("PYENV_ROOT")
    shim = Path(pyenv_root, "shims", "symderiv") if pyenv_root else None
    if shim is not None and shim.exists():
        found["pyenv shim"] = [str(shim)]
    return found


def _portable(command: str) -> str:
    """The command as recorded in results.json: executables by name, not by this machine's path."""
    return " ".join(Path(part).name if part.startswith("/") else part for part in command.split(" "))


def _row(name: str, command: str, samples, baseline, budget: float | None, note: str = "") -> Row:
    """A ratio row against ``python -c pass`` whose target is an absolute budget in seconds."""
    row = ratio_row(
        "5 cli", name, "python -c pass", samples, baseline, ratio(samples, baseline),
        note=note, detail={"command": _portable(command), "quartiles_s": list(samples.quartiles)},
    )
    return dataclasses.replace(
        row,
        figure=samples.median,
        unit="s",
        target="" if budget is None else f"<= {budget:g} s",
        met=None if budget is None else samples.median <= budget,
    )


def run(config: Config) -> list[Row]:
    python_pass = _runner([sys.executable, "-c", "pass"])
    starters = executables()
    primary_label = next(iter(starters))
    primary = starters[primary_label]
    rows: list[Row] = []
    if "help" in config.cli_commands:
        contenders = {"pass": python_pass}
        for label, argv in starters.items():
            contenders[label] = _runner([*argv, "--help"])
        samples = interleaved(contenders, config.cli_rounds, warmup=1)
        for label, argv in starters.items():
            rows.append(_row(
                f"symderiv --help ({label})",
                " ".join([*argv, "--help"]), samples[label], samples["pass"],
                BUDGETS_S["help"] if label in (primary_label, "pyenv shim") else None,
                note="bash shim + pyenv exec, outside the project" if label == "pyenv shim" else "",
            ))
    for command, args, rounds in (
        ("chain", ["chain"], config.cli_rounds),
        ("verify", ["verify"], config.cli_verify_rounds),
    ):
        if command not in config.cli_commands or rounds < 1:
            continue
        samples = interleaved(
            {"pass": python_pass, command: _runner([*primary, *args])}, rounds, warmup=1
        )
        rows.append(_row(
            f"symderiv {' '.join(args)} ({'abstract f(g(x), h(x))' if command == 'chain' else 'default proofs'})",
            " ".join([*primary, *args]), samples[command], samples["pass"], BUDGETS_S[command],
        ))
    return rows
