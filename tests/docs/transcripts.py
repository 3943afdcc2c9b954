"""The docs are tested: every console transcript and Python example in README.md and docs/*.md runs.

Collected by Sybil (the root ``conftest.py`` hands it to pytest; ``testpaths``
in pyproject.toml names README.md and docs/), one test per example, in the
order of the page. The conventions, also stated in docs/development.md:

- **```console blocks** are transcripts. A line starting with ``$ `` is a
  command (a line ending in ``\\`` continues on the next); the lines after it,
  up to the next ``$ ``, are its output, stdout and stderr together as a
  terminal shows them. Each command runs under ``bash`` in a scratch copy of
  the repository (one per page, shared by the page's examples in order), with
  this interpreter's ``bin`` first on PATH, so ``symderiv`` and ``python`` are
  the ones under test. Nothing is written into the checkout.
- **Output is compared exactly**, trailing spaces aside, with doctest's
  ELLIPSIS: ``...`` stands for a part that varies between runs (timings,
  CPU seconds) and only for that, never for a verdict or a number that a
  seed fixes.
- **```python blocks** run in one namespace per page, in the same scratch
  copy as the working directory; a block that starts with ``>>>`` is a
  doctest (ELLIPSIS on).
- **Skipping** uses Sybil's directive with a visible reason, just before the
  block: ``<!-- skip: next "why" -->``, or a condition evaluated in the page's
  namespace, ``<!-- skip: next if(not HAVE_TORCH, reason="needs PyTorch") -->``
  (``HAVE_TORCH``, ``HAVE_JAX`` and ``HAVE_PDFLATEX`` are set up here).
- **Output shown as prose** (a Markdown table a command prints) is compared
  with ``<!-- doc-test: output-of $ COMMAND -->`` ... ``<!-- doc-test: end -->``:
  the text between the two comments, with the fence lines of any plain code
  block dropped, must be the command's output.

Every command also runs under a CPU-time limit of its own
(``COMMAND_CPU_SECONDS``), so a transcript that loops fails instead of
stalling CI; no test here asserts how fast anything is.
"""

from __future__ import annotations

import doctest
import difflib
import importlib.util
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import traceback
import unittest
from dataclasses import dataclass
from pathlib import Path

from sybil import Document, Example, Region, Sybil
from sybil.example import NotEvaluated
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

from tests.support import REPO

#: CPU seconds one transcript command may use (the slowest, the real-writeup
#: corpus, needs about a minute on a busy 2-core machine).
COMMAND_CPU_SECONDS = 300

#: What the scratch copy of the repository leaves out: version control,
#: virtual environments, caches and build output.
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".ci-venv", "site", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", "build", "dist"
)

_CHECKER = doctest.OutputChecker()


@dataclass(frozen=True)
class Command:
    """One ``$ ...`` line of a transcript (continuations joined) and the output shown after it."""

    line: str
    expected: str


def parse_transcript(text: str) -> list[Command]:
    """The commands of a ```console block, each with the output written under it."""
    commands: list[Command] = []
    lines = text.splitlines()
    i = 0
    if lines and not lines[0].startswith("$ "):
        raise ValueError(f"a console block must start with a '$ ' command line, not {lines[0]!r}")
    while i < len(lines):
        command = lines[i][2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command + "\n" + lines[i]
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        commands.append(Command(command, "\n".join(output)))
    return commands


def _limit_cpu() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (COMMAND_CPU_SECONDS, COMMAND_CPU_SECONDS + 5))


def run_command(line: str, workdir: Path) -> str:
    """Run one transcript command as a terminal would, stdout and stderr interleaved."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("SYMDERIV_DEBUG", None)
    result = subprocess.run(
        ["bash", "-c", line],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_limit_cpu,
    )
    return result.stdout


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


def compare_output(command: str, expected: str, got: str) -> str | None:
    """None when ``got`` matches ``expected`` (ELLIPSIS), else a message with a diff."""
    want, have = _normalise(expected), _normalise(got)
    if _CHECKER.check_output(want, have, doctest.ELLIPSIS):
        return None
    diff = "\n".join(
        difflib.unified_diff(want.splitlines(), have.splitlines(), "documented", "actual", lineterm="", n=2)
    )
    return f"the output of `$ {command}` differs from the docs:\n{diff}"


def _workdir(example: Example) -> Path:
    return example.namespace["DOCS_WORKDIR"]


def evaluate_console(example: Example) -> str | None:
    """Run every command of a ```console block in order; report the first that differs."""
    for command in parse_transcript(str(example.parsed)):
        got = run_command(command.line, _workdir(example))
        message = compare_output(command.line, command.expected, got)
        if message:
            return message
    return None


_OUTPUT_OF = re.compile(
    r"<!-- doc-test: output-of \$ (?P<command>.+?) -->\n(?P<shown>.*?)<!-- doc-test: end -->", re.DOTALL
)
_FENCE = re.compile(r"^```[a-z]*$")


class OutputOfParser:
    """``<!-- doc-test: output-of $ COMMAND -->`` ... ``<!-- doc-test: end -->``: prose that is a command's output."""

    def __call__(self, document: Document):
        for match in _OUTPUT_OF.finditer(document.text):
            shown = "\n".join(line for line in match["shown"].splitlines() if not _FENCE.match(line.strip()))
            yield Region(match.start(), match.end(), (match["command"], shown), self.evaluate)

    @staticmethod
    def evaluate(example: Example) -> str | None:
        command, shown = example.parsed
        got = run_command(command, _workdir(example))
        return compare_output(command, shown, got)


class ReportingErrors:
    """A parser whose examples report an exception as a failure (with its traceback) instead of raising it.

    Sybil's pytest integration cannot format the traceback of an exception
    raised inside a Markdown example (an INTERNALERROR that stops the run);
    a returned message is shown as the example's failure, and the run goes on.
    """

    def __init__(self, parser):
        self.parser = parser

    def __call__(self, document: Document):
        for region in self.parser(document):
            region.evaluator = self._reporting(region.evaluator)
            yield region

    @staticmethod
    def _reporting(evaluator):
        def evaluate(example: Example) -> str | None:
            try:
                return evaluator(example)
            except (NotEvaluated, unittest.SkipTest):
                raise
            except Exception:  # noqa: BLE001 - the failure of a docs example, shown in full
                return traceback.format_exc()

        return evaluate


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def setup(namespace: dict) -> None:
    """A scratch copy of the repository for one page; its Python examples run there too."""
    scratch = Path(tempfile.mkdtemp(prefix="symderiv-docs-"))
    workdir = scratch / "repo"
    shutil.copytree(REPO, workdir, ignore=_NOT_COPIED, symlinks=True)
    namespace.update(
        DOCS_WORKDIR=workdir,
        DOCS_PREVIOUS_CWD=os.getcwd(),
        HAVE_TORCH=_installed("torch"),
        HAVE_JAX=_installed("jax"),
        HAVE_PDFLATEX=shutil.which("pdflatex") is not None,
    )
    os.chdir(workdir)


def teardown(namespace: dict) -> None:
    os.chdir(namespace["DOCS_PREVIOUS_CWD"])
    shutil.rmtree(namespace["DOCS_WORKDIR"].parent, ignore_errors=True)


DOCS = Sybil(
    parsers=[
        CodeBlockParser("console", evaluate_console),
        ReportingErrors(PythonCodeBlockParser(doctest_optionflags=doctest.ELLIPSIS)),
        OutputOfParser(),
        SkipParser(),
    ],
    path=str(REPO),
    patterns=["README.md", "docs/*.md"],
    setup=setup,
    teardown=teardown,
    name="docs",
)
