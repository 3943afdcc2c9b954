"""The same verdicts as recorded: every command decides today as it decided in ``verdicts.json``.

The record was taken before the exact core (issue 13, item 1) replaced the several zero tests,
rings, normal forms and witness searches; a difference here is a change of decision, to be
either fixed or, when the old verdict was unsound, re-recorded with the reason in the commit
(``python -m tests.golden.verdicts --write``).

Cost: every section runs in CI except the single-mistake variants of the real corpus
(``tests/writeups/real/variants/``), which run under the ``slow`` marker.
"""

from __future__ import annotations

import pytest

from tests.golden import verdicts as golden


@pytest.fixture(scope="module")
def recorded() -> dict:
    return golden.committed()


def _same(recorded_section, found, name: str) -> None:
    lines = golden.differences(recorded_section, found, name)
    assert not lines, "\n".join(lines)


SECTIONS = {
    "verify": golden.verify_verdicts,  # every row
    "latex": golden.latex_verdicts,  # each built-in proof's step verdicts
    "chain": golden.chain_verdicts,
    "chain --latex": golden.chain_latex_verdicts,
    "softmax": golden.softmax_verdicts,
    "softmax --latex": golden.softmax_latex_verdicts,
}


@pytest.mark.parametrize("section", SECTIONS)
def test_same_verdicts(recorded, section):
    _same(recorded[section], SECTIONS[section](), section)


def _is_variant(path) -> bool:
    return path.parent.name == "variants"


def _check_section(recorded, runs) -> None:
    keys = {golden.check_key(path, lets) for path, lets in runs}
    _same({k: v for k, v in recorded["check"].items() if k in keys}, golden.check_verdicts(runs), "check")


def test_check_originals_and_examples(recorded):
    _check_section(recorded, [run for run in golden.check_runs() if not _is_variant(run[0])])


@pytest.mark.slow
def test_check_variants(recorded):
    _check_section(recorded, [run for run in golden.check_runs() if _is_variant(run[0])])


def test_every_run_is_recorded(recorded):
    """The record covers exactly the files the tests use (a new writeup is recorded when added)."""
    keys = {golden.check_key(path, lets) for path, lets in golden.check_runs()}
    assert keys == set(recorded["check"])
