"""Parse one side of a LaTeX equation into a lark parse tree (never eval/sympify).

The grammar is deliberately about *shape* only: sums, explicit products,
juxtaposition (implicit multiplication), sub/superscripts, primes, groups,
fractions, square roots, matrices, evaluation bars and decorated
names (``\\mathbf{x}``, ``\\hat{y}``, ``\\mathrm{sech}``, ``\\text{ReLU}``, kept as
one token). What a juxtaposed list *means* (is ``g(x)`` an application or ``g``
times ``x``? is ``z^l`` a power? does ``\\frac{d}{dx}`` apply to the rest of the
product?) is decided by :mod:`symderiv.writeup.meaning`, which knows the
declarations and the document's notation.

Positions: :func:`normalize` drops spacing commands and rewrites a few
spellings, and keeps for every character of its output the offset of the
character of the input it came from (:class:`Tracked`), so an error found in
the parse tree can name the line and column of the writeup.

Input is bounded before it reaches the parser (length, brace/paren nesting,
integer literal size) so hostile text fails fast with :class:`Unsupported`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_SIDE_CHARS = 2000
MAX_NESTING = 30
MAX_INTEGER_DIGITS = 15

# Private-use characters mark an evaluation bar \left. A \right|_{x=a}; any in the input are replaced first.
EVAL_OPEN = "\ue000"
EVAL_CLOSE = "\ue001"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")

# A macro whose argument is part of one name: fonts, accents and text. Up to two levels of nested braces.
DECORATION_MACROS = (
    "mathbf|boldsymbol|bm|mathbfit|mathcal|mathscr|mathbb|mathfrak|mathsf|mathrm|mathit|mathtt|mathnormal"
    "|operatorname\\*?|text|textrm|textit|textbf|textsf|texttt|textnormal|mbox|hbox"
    "|hat|widehat|bar|overline|tilde|widetilde|vec|overrightarrow|dot|ddot|check|breve|acute|grave|underline"
)
_BRACED = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"

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
     | DECORATED               -> decorated

?base: LETTER                  -> letter
     | NUMBER                  -> number
     | CMD                     -> command
     | DECORATED               -> decorated
     | "(" expr ("," expr)* ")" -> paren
     | "[" expr "]"            -> paren
     | LBRACE_ESC expr RBRACE_ESC -> paren
     | "{" expr "}"            -> brace
     | LVERT expr RVERT        -> abs
     | NORM_OPEN expr NORM_CLOSE -> norm
     | EVAL_OPEN expr EVAL_CLOSE -> evalbar
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
NORM_OPEN.3: /\\lnormbar(?![a-zA-Z])/
NORM_CLOSE.3: /\\rnormbar(?![a-zA-Z])/
RVERT.3: /\\rvert(?![a-zA-Z])/
EVAL_OPEN: "\ue000"
EVAL_CLOSE: "\ue001"
DECORATED.4: /\\(?:DECORATIONS)(?![a-zA-Z])\s*BRACED/
MAT_BEGIN.3: /\\begin\{(?:[pbvBV]?matrix|array)\}(?:\{[^{}]*\})?/
MAT_END.3: /\\end\{(?:[pbvBV]?matrix|array)\}/
LBRACE_ESC: "\\{"
RBRACE_ESC: "\\}"
ROWSEP: "\\\\"
CMD: /\\[a-zA-Z]+/
LETTER: /[a-zA-Z]/
NUMBER: /[0-9]+(\.[0-9]+)?/
SDIGIT: /[0-9]/
PRIME: /'+/

%ignore /\s+/
""".replace("DECORATIONS", DECORATION_MACROS).replace("BRACED", _BRACED)


class Unsupported(Exception):
    """The text cannot be checked; the message says why.

    ``position`` is the offset in the side's text (as written) of the construct
    that could not be read, when known; ``kind`` is a short category for
    summaries ("unknown macro", "superscript", ...).
    """

    def __init__(self, message: str, position: int | None = None, kind: str | None = None):
        super().__init__(message)
        self.position = position
        self.kind = kind


@dataclass
class Tracked:
    """Text plus, for each character, the offset of the input character it came from."""

    text: str
    origin: list  # len(text) + 1 entries; the last one is the end of the input

    @classmethod
    def of(cls, text: str) -> "Tracked":
        return cls(text, list(range(len(text) + 1)))

    def sub(self, pattern: re.Pattern, replacement) -> "Tracked":
        """``re.sub`` with ``replacement(match) -> str``; replaced characters map to the match's start."""
        pieces, origin = [], []
        last = 0
        for match in pattern.finditer(self.text):
            pieces.append(self.text[last:match.start()])
            origin.extend(self.origin[last:match.start()])
            new = replacement(match)
            pieces.append(new)
            origin.extend([self.origin[match.start()]] * len(new))
            last = match.end()
        pieces.append(self.text[last:])
        origin.extend(self.origin[last:])
        return Tracked("".join(pieces), origin)

    def strip(self) -> "Tracked":
        start = len(self.text) - len(self.text.lstrip())
        end = len(self.text.rstrip())
        return Tracked(self.text[start:end], self.origin[start:end] + [self.origin[end]])

    def source_offset(self, position: int | None) -> int | None:
        if position is None:
            return None
        return self.origin[max(0, min(position, len(self.origin) - 1))]


_SPACING = re.compile(
    r"(?<!\\)\\(?:quad|qquad|displaystyle|ds(?![a-zA-Z])|textstyle|scriptstyle|limits|nolimits|nonumber|notag"
    r"|left\.|right\."
    r"|[,;:!> ])"
    r"|(?<!\\)\\(?:left|right|[bB]ig{1,2}[lrm]?)(?![a-zA-Z])|~"
)
_DROP_WITH_ARGUMENT = re.compile(r"\\(?:label|tag|hspace|vspace|phantom|hphantom|vphantom)\*?\{[^{}]*\}")
_PRIME_MACRO = re.compile(r"\^\{((?:\\prime\s*)+)\}|\^\\prime(?![a-zA-Z])")
_OLD_FONT = re.compile(r"\{\s*\\(rm|bf|it|cal|sf|tt)\s+([^{}]*)\}")
_OLD_FONT_NAMES = {"rm": "mathrm", "bf": "mathbf", "it": "mathit", "cal": "mathcal", "sf": "mathsf", "tt": "mathtt"}
_BARE_OLD_FONT = re.compile(r"\\(?:rm|bf|it|cal|sf|tt)(?![a-zA-Z])")
_UNBRACED_DECORATION = re.compile(r"\\(hat|bar|tilde|vec|dot|ddot|check|breve|mathbf|boldsymbol|bm|mathcal|mathrm|mathbb)"
                                  r"(?![a-zA-Z])\s*([a-zA-Z0-9]|\\[a-zA-Z]+)")
_BOXED = re.compile(r"\\boxed(?![a-zA-Z])")
# \hat{y_i} is the name \hat{y} with index i: the subscript moves outside the decoration.
_INNER_SUBSCRIPT = re.compile(r"\\(hat|widehat|bar|overline|tilde|widetilde|vec|mathbf|boldsymbol|bm|mathcal)\s*"
                              r"\{\s*([a-zA-Z]|\\[a-zA-Z]+)\s*_\s*(\{[^{}]*\}|[a-zA-Z0-9])\s*\}")
_NORM_SPELLINGS = re.compile(r"\\(?:lVert|rVert|Vert)(?![a-zA-Z])|\\left\\\||\\right\\\||\\[bB]ig{1,2}[lr]?\\\|")
_TRAILING_TEXT = re.compile(r"\\(?:text|textrm|textit|mbox)\{[^{}]*\s[^{}]*\}\s*$|\\(?:text|textrm|textit|mbox)\{\s*\}")
_DELIMITER = re.compile(r"\\(left|right)(?![a-zA-Z])\s*(\\[a-zA-Z]+|\\.|.)", re.S)


def _mark_evaluation_bars(tracked: Tracked) -> Tracked:
    """``\\left. A \\right|_{x=a}`` (also ``\\right\\vert``, ``\\right\\rvert``) -> EVAL_OPEN A EVAL_CLOSE _{x=a}."""
    text = tracked.text
    stack: list = []
    marks: dict[int, tuple[int, str]] = {}
    for match in _DELIMITER.finditer(text):
        side, delimiter = match.group(1), match.group(2)
        if side == "left":
            stack.append(match)
        elif stack:
            opener = stack.pop()
            if opener.group(2) == "." and delimiter in ("|", "\\vert", "\\rvert", "\\Vert"):
                marks[opener.start()] = (opener.end(), EVAL_OPEN)
                marks[match.start()] = (match.end(), EVAL_CLOSE)
    if not marks:
        return tracked
    starts = sorted(marks)
    pattern = re.compile("|".join(re.escape(text[s:marks[s][0]]) for s in starts))
    remaining = iter(starts)
    wanted = next(remaining)

    def replace(match):
        nonlocal wanted
        if match.start() != wanted:
            return match.group()
        marker = marks[wanted][1]
        wanted = next(remaining, -1)
        return marker

    return tracked.sub(pattern, replace)


_BAR = re.compile(r"(?<!\\)\|")


def _pair_bars(tracked: Tracked) -> Tracked:
    """Exactly two plain bars ``|x - y|`` are an absolute value; more are ambiguous and left to fail."""
    bars = [m.start() for m in _BAR.finditer(tracked.text)]
    if len(bars) != 2:
        return tracked
    which = iter(("\\lvert ", "\\rvert "))
    return tracked.sub(_BAR, lambda m: next(which))


_NORM_BAR = re.compile(r"\\\|")


def _pair_norms(tracked: Tracked) -> Tracked:
    """An even number of ``\\|`` bars: alternately opening and closing norms (``\\|x\\|^2``, ``\\|Xw - y\\|_2^2``)."""
    count = len(_NORM_BAR.findall(tracked.text))
    if count == 0 or count % 2:
        return tracked
    which = iter(("\\lnormbar ", "\\rnormbar ") * (count // 2))
    return tracked.sub(_NORM_BAR, lambda m: next(which))


def normalize_tracked(text: str) -> Tracked:
    """Drop spacing/sizing/labels, rewrite old font switches and ``^{\\prime}``; keep the offsets."""
    tracked = Tracked.of(text).sub(_PRIVATE_USE, lambda m: "\ufffd")
    tracked = tracked.sub(_DROP_WITH_ARGUMENT, lambda m: " ")
    tracked = tracked.sub(_TRAILING_TEXT, lambda m: " ")  # "a = b \text{ for all x}": an annotation
    tracked = tracked.sub(_BOXED, lambda m: " ")  # \boxed{A} is the group {A}
    tracked = tracked.sub(_OLD_FONT, lambda m: f"\\{_OLD_FONT_NAMES[m.group(1)]}{{{m.group(2).strip()}}}")
    tracked = tracked.sub(_BARE_OLD_FONT, lambda m: " ")
    tracked = tracked.sub(_UNBRACED_DECORATION, lambda m: f"\\{m.group(1)}{{{m.group(2)}}}")
    tracked = tracked.sub(_INNER_SUBSCRIPT, lambda m: f"\\{m.group(1)}{{{m.group(2)}}}_{m.group(3)}")
    tracked = tracked.sub(_NORM_SPELLINGS, lambda m: "\\|")
    tracked = _mark_evaluation_bars(tracked)
    tracked = tracked.sub(re.compile(r"\\left\|"), lambda m: "\\lvert ")
    tracked = tracked.sub(re.compile(r"\\right\|"), lambda m: "\\rvert ")
    tracked = _pair_bars(tracked)
    tracked = _pair_norms(tracked)
    tracked = tracked.sub(_SPACING, lambda m: " ")
    tracked = tracked.sub(_PRIME_MACRO, lambda m: "'" * (m.group(1).count("\\prime") if m.group(1) else 1))
    return tracked.strip()


def normalize(text: str) -> str:
    return normalize_tracked(text).text


def check_bounds(text: str) -> None:
    if len(text) > MAX_SIDE_CHARS:
        raise Unsupported(f"expression too long ({len(text)} characters; limit {MAX_SIDE_CHARS})", kind="too large")
    depth = deepest = 0
    for position, char in enumerate(text):
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                raise Unsupported(f"nesting deeper than {MAX_NESTING} levels at column {position + 1}",
                                  kind="too large")
        elif char in "})]":
            depth -= 1
    for match in re.finditer(r"[0-9]{%d,}" % (MAX_INTEGER_DIGITS + 1), text):
        raise Unsupported(f"number with more than {MAX_INTEGER_DIGITS} digits at column {match.start() + 1}",
                          kind="too large")


@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False, propagate_positions=True)


@dataclass
class ParsedSide:
    tree: object
    tracked: Tracked  # the normalized text and its offsets in the side as written


# Characters the grammar does not read, named in the error message.
_CHARACTER_NAMES = {"|": "a bar | (absolute value, norm or evaluation bar)", "*": "'*'", "!": "'!' (factorial)",
                    "<": "'<'", ">": "'>'", ";": "';'", "\ufffd": "a private-use character"}


def parse_side_tracked(text: str) -> ParsedSide:
    """The lark tree of one side plus its position map, or raise :class:`Unsupported`."""
    from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    tracked = normalize_tracked(text)
    normalized = tracked.text
    check_bounds(normalized)
    if not normalized:
        raise Unsupported("empty expression", kind="empty side")
    norm = normalized.find("\\|")
    if norm != -1:
        raise Unsupported("norm bars \\|...\\| that do not pair up", tracked.source_offset(norm), kind="cannot parse")
    try:
        return ParsedSide(_parser().parse(normalized), tracked)
    except UnexpectedToken as exc:
        at_end = exc.token.type == "$END"
        token = "end of expression" if at_end else str(exc.token)
        position = None if at_end else exc.token.start_pos
        raise Unsupported(f"cannot parse: unexpected {token!r} in {_snippet(normalized)}",
                          tracked.source_offset(position), kind="cannot parse") from None
    except UnexpectedCharacters as exc:
        char = normalized[exc.pos_in_stream]
        what = _CHARACTER_NAMES.get(char, repr(char))
        if char == "\\":
            macro = re.match(r"\\(?:[a-zA-Z]+|.)", normalized[exc.pos_in_stream:])
            what = f"{macro.group()!r}" if macro else what
        raise Unsupported(f"cannot parse: {what} in {_snippet(normalized)}",
                          tracked.source_offset(exc.pos_in_stream), kind="cannot parse") from None
    except (UnexpectedInput, LarkError) as exc:
        raise Unsupported(f"cannot parse {_snippet(normalized)}: {type(exc).__name__}", kind="cannot parse") from None
    except RecursionError:
        raise Unsupported("expression nested too deeply", kind="too large") from None


def parse_side(text: str):
    """Return the lark tree of one side of an equation, or raise :class:`Unsupported`."""
    return parse_side_tracked(text).tree


def _snippet(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 3] + "...")
