"""`symderiv chain` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from symderiv.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise InputError("'symderiv chain' is not available in this version")
