"""pytest configuration shared by every test folder.

The folders mirror the packages (tests/engine for symderiv.engine, ...); data
lives in tests/writeups (the check corpus) and examples/. Helpers shared by
several folders are in tests/support.py. Long runs carry the ``slow`` marker
(pyproject.toml) and are not part of CI.
"""
