"""The docs site builds strictly, and nothing in the docs escapes the doc tests.

- ``mkdocs build --strict`` (mkdocs.yml at the root) into a temporary
  directory: a broken link, a missing anchor or a page left out of the nav is a
  warning, and strict turns every warning into a failure.
- Every fenced block holding a ``$ `` command line is a ```console block, so
  tests/docs/transcripts.py runs it (a transcript in a plain block would be
  shown but never run).
- A Python block whose first line is ``# examples/NAME.py`` is that shipped
  file (after its docstring), so the code the docs show is the code their
  transcripts run.
- The layer diagram of docs/architecture.md names every package of the
  layering contract in pyproject.toml, in the contract's order.
- The README stays short, and its first fenced block holds exactly the two
  commands .ci/run runs.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCED = re.compile(r"^```(?P<language>[^\n`]*)\n(?P<body>.*?)^```$", re.DOTALL | re.MULTILINE)


def test_the_site_builds_strictly(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs-material is not installed (pip install -e '.[docs]')")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path, capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1", "PATH": ""},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stderr, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()


def test_the_doc_tests_can_run():
    if importlib.util.find_spec("sybil") is None:
        pytest.skip("sybil is not installed (pip install -e '.[dev]'): the docs' examples are not run")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_transcript_is_a_console_block(page: Path):
    text = page.read_text(encoding="utf-8")
    for block in _FENCED.finditer(text):
        commands = [line for line in block["body"].splitlines() if line.startswith("$ ")]
        if commands:
            line = text[: block.start()].count("\n") + 1
            assert block["language"] == "console", (
                f"{page.name}:{line}: a block with the command {commands[0]!r} must be ```console to be run"
            )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_block_naming_an_example_file_is_that_file(page: Path):
    text = page.read_text(encoding="utf-8")
    for block in _FENCED.finditer(text):
        first, _, code = block["body"].partition("\n")
        if block["language"] == "python" and first.startswith("# examples/"):
            shipped = (REPO / first[2:].strip()).read_text(encoding="utf-8")
            _docstring, _, shipped_code = shipped.partition('"""\n\n')
            assert shipped_code == code, f"{page.name}: the block {first!r} differs from {first[2:]}"


def test_the_readme_is_short_and_starts_with_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    first = _FENCED.search(readme)
    commands = first["body"].strip().splitlines()
    assert commands == ['pip install -e ".[dev]" && symderiv verify', "python -m pytest -q -n auto --dist loadfile"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").replace(" -q", "")   # CI runs them quietly
    for command in commands:
        assert command.replace(" -q", "") in ci


def test_the_architecture_diagram_follows_the_layering_contract():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    contract = [name.strip() for layer in layers for name in layer.split("|")]
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = page.split("```mermaid\n", 1)[1].split("```", 1)[0]
    drawn = re.findall(r'\["(symderiv\.[a-z_]+)', diagram)
    assert sorted(drawn) == sorted(contract)
    # top to bottom as in the contract (siblings within one layer in any order)
    rank = {name: depth for depth, layer in enumerate(layers) for name in (n.strip() for n in layer.split("|"))}
    assert [rank[name] for name in drawn] == sorted(rank[name] for name in drawn)
