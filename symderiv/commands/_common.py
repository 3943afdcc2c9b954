"""Small helpers shared by the command modules (standard library only)."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from symderiv.errors import InputError

MAX_LIST_LENGTH = 64
MAX_ABS_VALUE = 1e300


# re.ASCII: \d alone would also match other scripts' digits ("١٠")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.IGNORECASE | re.ASCII)
_INTEGER = re.compile(r"[+-]?\d{1,30}", re.ASCII)


def parse_number(text: str, what: str) -> float:
    """A finite decimal number such as ``-1000``, ``2.5`` or ``1e-3``, in ASCII
    digits (``float()`` alone would also take ``1_000`` and ``١٠``)."""
    stripped = text.strip()
    if len(stripped) > 64:
        raise InputError(f"{what}: number too long")
    if not _NUMBER.fullmatch(stripped):
        raise InputError(f"{what}: {stripped!r} is not a number")
    value = float(stripped)
    if not math.isfinite(value):
        raise InputError(f"{what}: {stripped!r} is not a finite number")
    if abs(value) > MAX_ABS_VALUE:
        raise InputError(f"{what}: {stripped!r} is too large")
    return value


def ascii_number(text: str) -> float:
    """argparse ``type`` for a plain decimal number (see :func:`parse_number`)."""
    import argparse

    try:
        return parse_number(text, "value")
    except InputError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain decimal number") from None


def ascii_int(text: str) -> int:
    """argparse ``type`` for a plain decimal integer (``int()`` would also take
    ``1_0`` and ``١٠``)."""
    import argparse

    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain decimal integer")
    return int(stripped)


def parse_number_list(text: str, what: str) -> list[float]:
    """Comma-separated finite numbers, e.g. ``-1000,2,3``."""
    items = text.split(",")
    if len(items) > MAX_LIST_LENGTH:
        raise InputError(f"{what}: at most {MAX_LIST_LENGTH} values")
    values = []
    for position, item in enumerate(items, start=1):
        if not item.strip():
            raise InputError(f"{what}: value {position} is empty")
        values.append(parse_number(item, f"{what} value {position}"))
    return values


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, -0.0 to 0.0, non-finite floats to null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _clean(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return value + 0.0
    return value


def print_json(payload: dict) -> None:
    sys.stdout.write(json.dumps(_clean(payload), indent=2, ensure_ascii=False) + "\n")


def fmt(value: float) -> str:
    return f"{value + 0.0:.15g}"
