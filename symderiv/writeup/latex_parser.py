"""Parse one side of a LaTeX equation into a lark parse tree (never eval/sympify).

The grammar is deliberately about *shape* only: sums, explicit products,
juxtaposition (implicit multiplication), sub/superscripts, primes, groups,
fractions, square roots and matrices. What a juxtaposed list *means* (is
``g(x)`` an application or ``g`` times ``x``? does ``\\frac{d}{dx}`` apply to
the rest of the product? is ``\\frac{\\partial^2 f}{\\partial x^2}`` a
derivative?) is decided by :mod:`symderiv.writeup.meaning`, which knows the
declarations.

Input is bounded before it reaches the parser (length, brace/paren nesting,
integer literal size) so hostile text fails fast with :class:`Unsupported`.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_SIDE_CHARS = 2000
MAX_NESTING = 30
MAX_INTEGER_DIGITS = 15

# Embedded (not a .lark file) so it ships in every wheel without package-data.
GRAMMAR = r"""
?start: expr

?expr: expr "+" product        -> add
     | expr "-" product        -> sub
     | expr PM product         -> add
     | "-" product             -> neg
     | "+" product
     | product

?product: product MULOP juxt   -> mul_explicit
        | product "/" juxt     -> div
        | juxt

juxt: item+

item: base script*

script: "_" sarg               -> sub_script
      | "^" sarg               -> sup_script
      | PRIME                  -> prime

?sarg: "{" expr "}"
     | "{" LETTER "=" expr "}" -> limit
     | "{" expr ("," expr)+ "}" -> index_list
     | SDIGIT                  -> number
     | LETTER                  -> letter
     | CMD                     -> command

?base: LETTER                  -> letter
     | NUMBER                  -> number
     | CMD                     -> command
     | "(" expr ("," expr)* ")" -> paren
     | "[" expr "]"            -> paren
     | LBRACE_ESC expr RBRACE_ESC -> paren
     | "{" expr "}"            -> brace
     | LVERT expr RVERT        -> abs
     | FRAC "{" expr "}" "{" expr "}" -> frac
     | FRAC SDIGIT SDIGIT      -> frac
     | SQRT ("[" expr "]")? "{" expr "}" -> sqrt
     | MAT_BEGIN mrow (ROWSEP mrow)* ROWSEP? MAT_END -> matrix

mrow: expr ("&" expr)*

PM: "\\pm"
MULOP.2: /\\(cdot|times|ast)(?![a-zA-Z])/
FRAC.3: /\\[dt]?frac(?![a-zA-Z])/
SQRT.3: /\\sqrt(?![a-zA-Z])/
LVERT.3: /\\lvert(?![a-zA-Z])/
RVERT.3: /\\rvert(?![a-zA-Z])/
MAT_BEGIN.3: /\\begin\{[pbvBV]?matrix\}/
MAT_END.3: /\\end\{[pbvBV]?matrix\}/
LBRACE_ESC: "\\{"
RBRACE_ESC: "\\}"
ROWSEP: "\\\\"
CMD: /\\[a-zA-Z]+/
LETTER: /[a-zA-Z]/
NUMBER: /[0-9]+(\.[0-9]+)?/
SDIGIT: /[0-9]/
PRIME: /'+/

%ignore /\s+/
"""


class Unsupported(Exception):
    """The text cannot be checked; the message says why and where."""


_SPACING = re.compile(
    r"(?<!\\)\\(?:quad|qquad|displaystyle|textstyle|limits|nolimits|nonumber|notag|left\.|right\.|[,;:!> ])"
    r"|(?<!\\)\\(?:left|right|[bB]ig{1,2}[lrm]?)(?![a-zA-Z])|~"
)
_DROP_WITH_ARGUMENT = re.compile(r"\\(?:label|tag|hspace|vspace|phantom)\*?\{[^{}]*\}")
_TEXT = re.compile(r"\\(?:text|textrm|textit|mbox)\{[^{}]*\}")
_FONT = re.compile(r"\\(?:mathbf|mathrm|mathit|boldsymbol|bm|mathsf|mathcal|operatorname)\{([^{}]*)\}")
_PRIME_MACRO = re.compile(r"\^\{((?:\\prime\s*)+)\}|\^\\prime(?![a-zA-Z])")


def normalize(text: str) -> str:
    """Drop spacing/sizing/labels/text, unwrap font macros, turn ``^{\\prime}`` into ``'``."""
    text = _DROP_WITH_ARGUMENT.sub(" ", text)
    text = _TEXT.sub(" ", text)
    text = re.sub(r"\\left\|", r"\\lvert ", text)
    text = re.sub(r"\\right\|", r"\\rvert ", text)
    text = _SPACING.sub(" ", text)
    text = _PRIME_MACRO.sub(lambda m: "'" * (m.group(1).count("\\prime") if m.group(1) else 1), text)
    # \operatorname{foo} -> \foo so known function names keep working.
    text = re.sub(r"\\operatorname\{([a-zA-Z]+)\}", r"\\\1", text)
    for _ in range(3):
        text = _FONT.sub(lambda m: m.group(1), text)
    return text.strip()


def check_bounds(text: str) -> None:
    if len(text) > MAX_SIDE_CHARS:
        raise Unsupported(f"expression too long ({len(text)} characters; limit {MAX_SIDE_CHARS})")
    depth = deepest = 0
    for position, char in enumerate(text):
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                raise Unsupported(f"nesting deeper than {MAX_NESTING} levels at column {position + 1}")
        elif char in "})]":
            depth -= 1
    for match in re.finditer(r"[0-9]{%d,}" % (MAX_INTEGER_DIGITS + 1), text):
        raise Unsupported(f"number with more than {MAX_INTEGER_DIGITS} digits at column {match.start() + 1}")


@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


def parse_side(text: str):
    """Return the lark tree of one side of an equation, or raise :class:`Unsupported`."""
    from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    text = normalize(text)
    check_bounds(text)
    if not text:
        raise Unsupported("empty expression")
    try:
        return _parser().parse(text)
    except UnexpectedToken as exc:
        token = str(exc.token) if exc.token.type != "$END" else "end of expression"
        raise Unsupported(f"cannot parse at column {exc.column}: unexpected {token!r} in {_snippet(text)}") from None
    except UnexpectedCharacters as exc:
        raise Unsupported(
            f"cannot parse at column {exc.column}: unexpected character {text[exc.pos_in_stream]!r} in {_snippet(text)}"
        ) from None
    except (UnexpectedInput, LarkError) as exc:
        raise Unsupported(f"cannot parse {_snippet(text)}: {type(exc).__name__}") from None
    except RecursionError:
        raise Unsupported("expression nested too deeply") from None


def _snippet(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 3] + "...")
