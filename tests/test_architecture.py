"""The architecture is a contract, checked here so that `.ci/run` holds it:

- the layering (import-linter, configured in pyproject.toml): foundations know
  nothing above them, domains stand alone, only combiners and commands combine;
- the linter (ruff, configured in pyproject.toml) finds nothing;
- no file of the repository names a path outside it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.support import REPO


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(__import__("pathlib").Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def test_the_layering_contract_holds():
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_linter_finds_nothing():
    result = subprocess.run([_tool("ruff"), "check", "--quiet", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


_OUTSIDE = re.compile(r"/work/|\.\./shared|/root/|/home/|/tmp/[A-Za-z]")


def test_no_file_names_a_path_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    for name in tracked.stdout.split():
        path = REPO / name
        if path.suffix not in {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".tex", ".cfg", ".ini", ".json"} \
                and name != ".ci/run":
            continue
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if _OUTSIDE.search(line) and "test_architecture.py" not in name and "hostile input" not in line:
                offenders.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders[:20])
