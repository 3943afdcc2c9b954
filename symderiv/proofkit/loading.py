"""Loading proofs: the built-in ones (the package
``symderiv.proofs``, folder symderiv/proofs/) and a user's proof file (a Python module defining ``PROOF``)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Sequence

from symderiv.errors import InputError
from symderiv.proofkit.types import METHODS, RELATIONS, Proof, Step

#: Built-in proofs, in presentation order: (name, module in symderiv.proofs).
BUILTIN_PROOFS: tuple[tuple[str, str], ...] = (
    ("p1a-backprop-first-order", "p1a_backprop_first_order"),
    ("p1b-second-derivative", "p1b_second_derivative"),
    ("p1b-naive-differs", "p1b_naive_differs"),
    ("p2-softmax-jacobian", "p2_softmax_jacobian"),
    ("p2-softmax-vjp-fixed-n", "p2_softmax_vjp_fixed_n"),
    ("p2-softmax-vjp-symbolic-n", "p2_softmax_vjp_symbolic_n"),
    ("sigmoid-derivative", "sigmoid_derivative"),
    ("logsoftmax-nll-gradient", "logsoftmax_nll_gradient"),
)

MAX_STEPS = 200

def builtin_names() -> tuple[str, ...]:
    return tuple(name for name, _ in BUILTIN_PROOFS)


def load_proofs(selection: Sequence[str] | None = None) -> list[Proof]:
    """Built-in proofs by name (None: all of them) or a user's proof file by path."""
    if selection is None:
        return [_load_builtin(module) for _, module in BUILTIN_PROOFS]
    proofs: list[Proof] = []
    by_name = dict(BUILTIN_PROOFS)
    by_module = {module: module for _, module in BUILTIN_PROOFS}
    for item in selection:
        if not isinstance(item, str) or not item.strip():
            raise InputError("proof: empty proof name")
        item = item.strip()
        if item in by_name:
            proofs.append(_load_builtin(by_name[item]))
        elif item in by_module:
            proofs.append(_load_builtin(item))
        elif item.endswith(".py") or "/" in item or "\\" in item:
            proofs.append(load_proof_file(item))
        else:
            known = ", ".join(builtin_names())
            raise InputError(f"unknown proof {item!r} (built-in: {known}; or a path to a .py proof file)")
    return proofs


def _load_builtin(module_name: str) -> Proof:
    module = importlib.import_module(f"symderiv.proofs.{module_name}")
    proof = getattr(module, "PROOF")
    return _validated(proof, f"symderiv.proofs.{module_name}")


def load_proof_file(path_text: str) -> Proof:
    """Import a user's proof file (Python, defining ``PROOF = Proof(...)``)."""
    path = Path(path_text)
    if not path.is_file():
        raise InputError(f"no such proof file: {path_text}")
    if path.suffix != ".py":
        raise InputError(f"proof file {path_text}: a proof file is a Python module ending in .py")
    if path.stat().st_size > 1_000_000:
        raise InputError(f"proof file {path_text}: file too large for a proof (over 1 MB)")
    module_name = f"_symderiv_user_proof_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"proof file {path_text}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise InputError(f"proof file {path_text}, line {exc.lineno}: syntax error: {exc.msg}") from None
    except InputError as exc:
        raise InputError(f"proof file {path_text}: {exc}") from None
    except SystemExit as exc:  # a proof file must define a proof, not end the program
        raise InputError(f"proof file {path_text}: called exit({exc.code!r}) while loading") from None
    except Exception as exc:  # the user's module failed while defining its proof
        line = _user_line(exc, path)
        where = f", line {line}" if line else ""
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(f"proof file {path_text}{where}: {type(exc).__name__}: {message}") from None
    finally:
        sys.modules.pop(module_name, None)
    proof = getattr(module, "PROOF", None)
    if proof is None:
        raise InputError(f"proof file {path_text}: defines no PROOF (expected PROOF = Proof(...))")
    return _validated(proof, path_text)


def _user_line(exc: BaseException, path: Path) -> int | None:
    traceback = exc.__traceback__
    line = None
    resolved = str(path.resolve())
    while traceback is not None:
        if str(Path(traceback.tb_frame.f_code.co_filename).resolve()) == resolved:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _validated(proof: Any, origin: str) -> Proof:
    if not isinstance(proof, Proof):
        raise InputError(f"proof {origin}: PROOF is a {type(proof).__name__}, expected symderiv.proofkit.Proof")
    if not proof.name or not isinstance(proof.name, str):
        raise InputError(f"proof {origin}: the proof needs a non-empty name")
    if proof.method not in METHODS:
        raise InputError(f"proof {origin}: method {proof.method!r} is not one of {', '.join(METHODS)}")
    steps = proof.steps
    if not isinstance(steps, tuple) or len(steps) < 2:
        raise InputError(f"proof {origin}: steps must be a tuple of at least two Step objects")
    if len(steps) > MAX_STEPS:
        raise InputError(f"proof {origin}: too many steps ({len(steps)} > {MAX_STEPS})")
    for position, step in enumerate(steps, start=1):
        if not isinstance(step, Step):
            raise InputError(f"proof {origin}: step {position} is a {type(step).__name__}, expected Step")
        if step.relation not in RELATIONS:
            raise InputError(f"proof {origin}: step {position} has relation {step.relation!r} (use '=', '!=' or 'start')")
        if not _is_sympy_value(step.expr):
            raise InputError(f"proof {origin}: step {position} is not a SymPy expression or Matrix")
    if proof.method == "softmax" and not proof.softmax_inputs:
        raise InputError(f"proof {origin}: method 'softmax' needs softmax_inputs")
    if proof.method == "indexed" and proof.size_symbol is None:
        raise InputError(f"proof {origin}: method 'indexed' needs size_symbol")
    if proof.for_each_n is not None and not proof.sizes:
        raise InputError(f"proof {origin}: for_each_n needs sizes")
    if proof.source:
        return proof
    from dataclasses import replace

    return replace(proof, source=origin)


def _is_sympy_value(value: Any) -> bool:
    import sympy as sp

    return isinstance(value, (sp.Basic, sp.MatrixBase))
