"""Exceptions that map onto the CLI's exit codes (0 ok, 1 check failed, 2 bad input)."""

from __future__ import annotations


class InputError(ValueError):
    """User input is invalid: the CLI prints ``symderiv: error: <message>`` and exits 2.

    The message is one line and says what is wrong and where (an option name,
    a column in an expression, a file and line).
    """


EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
