"""Collect the examples of the docs (README.md, docs/*.md) as tests: see tests/docs/transcripts.py.

At the root because README.md is; ``testpaths`` in pyproject.toml names the
files. Without Sybil (not installed: pip install -e ".[dev]") nothing is
collected from them, and tests/docs/test_site.py says so by skipping.
"""

try:
    from tests.docs.transcripts import DOCS
except ModuleNotFoundError as error:  # pragma: no cover - only without the dev extra
    if error.name != "sybil":
        raise
else:
    pytest_collect_file = DOCS.pytest()
