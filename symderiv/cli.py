"""The ``symderiv`` command line: a thin dispatcher over ``symderiv.commands``.

Only the standard library is imported here and in the command modules' top
level, so ``symderiv --help`` is instant; each command imports SymPy / numpy
inside its ``run``.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one-line message, no
traceback), 3 internal error (a bug in symderiv; one line, set
``SYMDERIV_DEBUG=1`` for the traceback).

Bounds (see docs/limits.md): each command runs under a CPU-time
budget (``CPU_LIMIT_S`` of its module; CPU time, never wall-clock time, so a
busy machine does not change the outcome) and, when ``symderiv`` runs as its
own process, an address-space cap of ``MEMORY_LIMIT_BYTES`` (more only if
start-up alone reserved more, as BLAS threads do on many-core machines).
Exceeding either is exit 2 with one line naming the bound. The modules a
command needs (its ``PRELOAD`` names, and what its ``preload(args)`` returns)
are imported before the CPU budget starts, so a budget never expires halfway
through an import.

A command whose module sets ``FIXED_HASH_SEED`` (``check``) re-executes the
``symderiv`` process once with that ``PYTHONHASHSEED``, so the same input gives
the same verdicts in every process (string hashing decides the order of
SymPy's terms, and so the work a step needs).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import NoReturn, Sequence

from symderiv.budget import BudgetExceeded, address_space_bytes, cpu_time_limit, limit_memory
from symderiv.errors import EXIT_BAD_INPUT, InputError

# subcommand -> (module in symderiv.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "chain": ("chain", "Problem 1: a scalar reaching the loss along two paths (1st/2nd order, naive rule)"),
    "softmax": ("softmax", "Problem 2: the softmax Jacobian and its backward rule"),
    "verify": ("verify", "run every proof and numeric check; exit 1 if any verdict is unexpected"),
    "latex": ("latex", "write the derivations as a standalone LaTeX document (optionally a PDF)"),
    "check": ("check", "check every equation in your own Markdown/LaTeX writeup"),
    "train": ("train", "Problem 3: train an MLP on handwritten digits with the engine"),
}

DEFAULT_CPU_LIMIT_S = 120
#: the address-space cap of the ``symderiv`` process (start-up needs ~0.2 GB,
#: the heaviest built-in work ~0.5 GB)
MEMORY_LIMIT_BYTES = 3 * 2**29  # 1.5 GiB
#: room on top of what start-up reserved, where that is already near the cap
MEMORY_HEADROOM_BYTES = 2**30


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints usage plus a message; bad input here gets one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"symderiv: error: {message} (see: {self.prog} --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``selected``'s command module is imported (None: all), so
    ``symderiv --help`` imports no command module at all."""
    parser = _OneLineErrorParser(
        prog="symderiv",
        description="Verify backpropagation derivations exactly (SymPy) and numerically (numpy engine).",
        epilog="Exit codes: 0 ok, 1 a check failed, 2 bad input, 3 internal error.",
    )
    from symderiv import __version__

    parser.add_argument("--version", action="version", version=f"symderiv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if selected is None or name == selected:
            _command_module(module_name).add_arguments(command_parser)
    return parser


def _selected_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first non-option token)."""
    for token in argv:
        if not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def _command_module(module_name: str):
    return importlib.import_module(f"symderiv.commands.{module_name}")


def _join_negative_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Rewrite ``--at -1000,2,3`` as ``--at=-1000,2,3`` and ``--loss -log(y)*z``
    as ``--loss=-log(y)*z``.

    argparse only accepts a value that starts with '-' when it looks like a
    single number, so a list such as ``-1000,2,3`` or an expression such as
    ``-log(y)*z`` would be taken for an option. A token right after an option
    that takes a value is that option's value unless it is itself one of the
    parser's option names. Options that take a value are read off the parser.
    """
    takes_value: set[str] = set()
    option_names: set[str] = set()
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action_group in [parser] + [p for s in subparsers for p in s.choices.values()]:
        for action in action_group._actions:
            option_names.update(action.option_strings)
            if action.option_strings and action.nargs in (None, 1):
                takes_value.update(action.option_strings)
    joined: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        value = argv[i + 1] if i + 1 < len(argv) else ""
        if token in takes_value and value.startswith("-") and value != "--" and value.split("=")[0] not in option_names:
            joined.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        joined.append(token)
        i += 1
    return joined


def _cap_memory() -> int | None:
    """Cap the address space of this process (the CLI only: a library must not
    change the limits of the process that imported it). numpy is imported
    first, so the BLAS threads it starts are counted in the baseline."""
    import numpy  # noqa: F401

    baseline = address_space_bytes() or 0
    cap = max(MEMORY_LIMIT_BYTES, baseline + MEMORY_HEADROOM_BYTES)
    limit_memory(cap)
    return cap


def _preload(module, args: argparse.Namespace) -> None:
    """Import what the command will need before its CPU budget starts. A budget
    that expires inside an import leaves that module half-initialised for any
    later call in the same process (scipy's ``_ndimage_api`` NameError in the
    fuzz tests); imports are start-up, not work on the input. A missing
    optional package is left for the command to report."""
    names = getattr(module, "PRELOAD", ())
    hook = getattr(module, "preload", None)
    for name in tuple(names) + (tuple(hook(args)) if hook is not None else ()):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _command_cpu_limit(module) -> float | None:
    limit = getattr(module, "CPU_LIMIT_S", getattr(module, "TIME_LIMIT_S", DEFAULT_CPU_LIMIT_S))
    return limit or None


def main(argv: Sequence[str] | None = None, *, cap_memory: bool | None = None) -> int:
    """Run one command. ``cap_memory`` (default: only when ``argv`` is None, i.e.
    this process is the ``symderiv`` command) applies the address-space cap."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    for position, token in enumerate(args_list, start=1):
        if "\x00" in token:  # no OS passes one; a caller of main() might, and paths cannot hold it
            _fail(f"argument {position} contains a NUL character")
            return EXIT_BAD_INPUT
        if token.startswith("-") and token.endswith("=--"):
            # argparse drops a '--' value and stores [] unconverted (--n=-- became a list)
            _fail(f"{token.split('=')[0]}: '--' is not a value")
            return EXIT_BAD_INPUT
    selected = _selected_command(args_list)
    parser = build_parser(selected if selected is not None else "")
    args = parser.parse_args(_join_negative_values(parser, args_list))
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    module = _command_module(COMMANDS[args.command][0])
    if argv is None and getattr(module, "FIXED_HASH_SEED", None) is not None:
        _run_with_fixed_hash_seed(module.FIXED_HASH_SEED)  # returns only where re-executing is impossible
    cpu_limit = _command_cpu_limit(module)
    memory_cap = None
    try:
        if cap_memory if cap_memory is not None else argv is None:
            memory_cap = _cap_memory()
        _preload(module, args)
        with cpu_time_limit(cpu_limit), warnings.catch_warnings():
            if not os.environ.get("SYMDERIV_DEBUG"):
                # stderr carries one line at most (numpy's ComplexWarning leaked before)
                warnings.simplefilter("ignore")
            return int(module.run(args))
    except InputError as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except BudgetExceeded as exc:
        _fail(f"gave up: the CPU-time bound of {exc.limit:g} s for '{args.command}' was exceeded "
              "(the input is too expensive to process; see docs/limits.md)")
        return EXIT_BAD_INPUT
    except MemoryError:
        bound = f" of {memory_cap / 2**30:.3g} GiB" if memory_cap else ""
        _fail(f"gave up: the memory bound{bound} for '{args.command}' was exceeded "
              "(the input is too large to process; see docs/limits.md)")
        return EXIT_BAD_INPUT
    except (RecursionError, OverflowError) as exc:
        _fail(f"input too large or too deeply nested ({type(exc).__name__})")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug in symderiv, not the user's fault
        if os.environ.get("SYMDERIV_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set SYMDERIV_DEBUG=1 for a traceback)")
        return 3


def _run_with_fixed_hash_seed(seed: str) -> None:
    """Re-execute this process once with ``PYTHONHASHSEED=seed`` unless it already runs with it.

    Hash randomisation changes the order of SymPy's terms from process to process, and so the work
    a step needs: a command whose verdicts are decided by a work budget (``FIXED_HASH_SEED`` in its
    module) must not depend on it. Only the ``symderiv`` process itself does this (``main()`` with
    no ``argv``); where the interpreter cannot be re-executed (not POSIX, no ``sys.executable``)
    the command runs as it is."""
    if os.environ.get("PYTHONHASHSEED") == seed or os.name != "posix" or not sys.executable:
        return
    environment = dict(os.environ, PYTHONHASHSEED=seed)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, list(sys.orig_argv), environment)
    except OSError:
        return


def _fail(message: str) -> None:
    first_line = message.strip().splitlines()[0] if message.strip() else "error"
    sys.stderr.write(f"symderiv: error: {first_line}\n")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
