"""Find the math in a Markdown or LaTeX writeup and split it into claimed steps.

Display math (``$$…$$``, ``\\[…\\]``, equation/align/split/multline/gather/
eqnarray, starred or not) and inline ``$…$`` containing ``=`` are read.
``a = b = c`` and aligned ``&=`` rows are the steps a=b and b=c; ``\\\\``
continues the current chain when the next row starts with a relation (or
with + / -); ``,\\quad`` separates statements; a side that is a whole
``cases`` environment gives one step per case, checked under its condition.
Each step records the source line of its relation sign.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

MAX_BLOCK_CHARS = 5000
MAX_STEPS = 400

_ENV_NAMES = r"equation|align|alignat|flalign|multline|gather|eqnarray|split|aligned|gathered"
_OPENER = re.compile(
    r"(?P<fence>^[ \t]*```)|(?P<html><!--)|(?P<display>\$\$)|(?P<bracket>\\\[)"
    r"|(?P<env>\\begin\{(?P<name>" + _ENV_NAMES + r")(?P<star>\*?)\})|(?P<code>`)|(?P<inline>(?<!\\)\$)",
    re.M,
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_TEX_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
_WRAPPER = re.compile(r"\\(?:begin|end)\{(?:" + _ENV_NAMES + r")\*?\}(?:\{\d+\})?")
_LABELS = re.compile(r"\\(?:label|tag)\*?\{[^{}]*\}|\\(?:nonumber|notag)(?![a-zA-Z])")
_DECLARATION_COMMENT = re.compile(r"^[ \t]*%+[ \t]*symderiv:(?P<tex>[^\n]*)|<!--\s*symderiv:(?P<md>.*?)-->", re.S | re.M)
_CONDITION_WORDS = re.compile(r"\b(where|whenever|when|if|iff|at|such that|for|unless|exactly where)\s*$", re.I)
_RELATION = re.compile(r"\\neq(?![a-zA-Z])|\\ne(?![a-zA-Z])|:=|\\coloneqq(?![a-zA-Z])|\\equiv(?![a-zA-Z])|="
                       r"|\\(?:approx|leq?|geq?|leqslant|geqslant|sim|simeq|propto|to|mapsto|in|subset)(?![a-zA-Z])|<|>")
# ",\quad S = ..." or "\qquad b = c" separate statements; "\quad + c" continues an expression.
_STATEMENT_SEPARATOR = re.compile(
    r",?\s*\\q?quad(?![a-zA-Z])(?!\s*(?:[-+=]|\\cdot|\\times))|\\text\{\s*(?:and|where|with|for)\s*\}|,\s*(?=\\text)"
)
_LEADING_SPACE = re.compile(r"^(?:\s|\\q?quad(?![a-zA-Z])|\\[,;:!]|~)+")


@dataclass(frozen=True)
class Declaration:
    line: int
    text: str


@dataclass(frozen=True)
class Step:
    """One claimed relation ``lhs REL rhs`` at a source line."""

    line: int
    lhs: str
    rhs: str
    relation: str  # "=", "\\neq", ":=", or another relation (reported unchecked)
    condition: str | None = None  # a cases condition, e.g. "i = j"
    first_in_chain: bool = True
    chain_length: int = 1
    inline: bool = False
    context_word: str | None = None  # "where", "if", ... right before inline math
    problem: str | None = None  # set when the block cannot be read at all (reported unchecked)


@dataclass(frozen=True)
class Extraction:
    steps: tuple
    declarations: tuple
    skipped_blocks: tuple  # (line, reason) for blocks that could not even be split


class _Lines:
    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect_right(self.starts, offset)


def read_declarations(text: str) -> list[Declaration]:
    lines = _Lines(text)
    found = []
    for match in _DECLARATION_COMMENT.finditer(text):
        body = match.group("tex") if match.group("tex") is not None else match.group("md")
        for part in re.split(r"(?:^|\s|;)let\s+", " " + body):
            part = part.strip().rstrip(";").strip()
            if part:
                found.append(Declaration(lines.line(match.start()), part))
    return found


def _blocks(text: str):
    """(kind, content start, content) for every math block, skipping code and HTML comments.

    One left-to-right scan; a delimiter that never closes marks its kind as
    exhausted, so hostile input with many unclosed openers stays linear.
    """
    exhausted: set[str] = set()
    position = 0
    while True:
        match = _OPENER.search(text, position)
        if match is None:
            return
        kind = match.lastgroup if match.lastgroup not in ("name", "star") else "env"
        if kind == "env":
            closer_text = f"\\end{{{match.group('name')}{match.group('star')}}}"
            key = "env:" + closer_text
        else:
            closer_text = {"fence": None, "html": "-->", "display": "$$", "bracket": "\\]", "code": "`", "inline": "$"}[kind]
            key = kind
        if key in exhausted:
            position = match.end()
            continue
        body_start = match.end()
        if kind == "fence":
            closing = re.compile(r"^[ \t]*```", re.M).search(text, body_start)
            end, after = (closing.start(), closing.end()) if closing else (-1, -1)
        elif kind == "inline":
            end = body_start
            while True:
                end = text.find("$", end)
                if end == -1 or text[end - 1] != "\\":
                    break
                end += 1
            after = end + 1
        else:
            end = text.find(closer_text, body_start)
            after = end + len(closer_text)
        if end == -1:
            exhausted.add(key)
            position = match.end()
            continue
        if kind == "code" and "\n" in text[body_start:end]:
            position = match.end()
            continue
        if kind == "inline" and (end == body_start or _BLANK_LINE.search(text, body_start, end)):
            position = match.end()  # "$5 and $10" across paragraphs is not math
            continue
        if kind in ("display", "bracket", "env", "inline"):
            yield kind, body_start, text[body_start:end]
        position = after


def extract(text: str, is_latex: bool) -> Extraction:
    lines = _Lines(text)
    steps: list[Step] = []
    skipped: list[tuple[int, str]] = []
    for kind, start, content in _blocks(text):
        inline = kind == "inline"
        if inline and "=" not in content and "\\neq" not in content:
            continue
        if len(content) > MAX_BLOCK_CHARS:
            # One unchecked entry, so a claimed equation never silently disappears.
            head = " ".join(content[:60].split())
            steps.append(Step(lines.line(start), head + " ...", "", "", inline=inline,
                              problem=f"math block longer than {MAX_BLOCK_CHARS} characters ({len(content)}); not read"))
            continue
        if is_latex:
            content = _TEX_COMMENT.sub(lambda m: " " * len(m.group()), content)
        content = _WRAPPER.sub(lambda m: " " * len(m.group()), content)
        content = _LABELS.sub(lambda m: " " * len(m.group()), content)
        context_word = None
        if inline:
            before = text[max(0, start - 41): start - 1]
            word = _CONDITION_WORDS.search(before)
            context_word = word.group(1).lower() if word else None
        for statement_start, statement in _statements(content):
            steps.extend(_chain_steps(statement, start + statement_start, lines, inline, context_word))
        if len(steps) > MAX_STEPS:
            skipped.append((lines.line(start), f"more than {MAX_STEPS} equations; the rest is not checked"))
            steps = steps[:MAX_STEPS]
            break
    return Extraction(tuple(steps), tuple(read_declarations(text)), tuple(skipped))


# --- splitting --------------------------------------------------------------------------

def _top_level_positions(text: str, pattern: re.Pattern) -> list[re.Match]:
    """Matches of ``pattern`` outside braces, brackets and nested environments."""
    depth = 0
    env_depth = 0
    found = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            begin = re.match(r"\\begin\{[^}]*\}", text[position:])
            end = re.match(r"\\end\{[^}]*\}", text[position:])
            if begin:
                env_depth += 1
                position += begin.end()
                continue
            if end:
                env_depth -= 1
                position += end.end()
                continue
            if depth == 0 and env_depth == 0:
                match = pattern.match(text, position)
                if match and match.end() > position:
                    found.append(match)
                    position = match.end()
                    continue
            # skip the macro name or escaped char as a unit
            macro = re.match(r"\\(?:[a-zA-Z]+|.)", text[position:], re.S)
            position += macro.end() if macro else 1
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth = max(0, depth - 1)
        elif depth == 0 and env_depth == 0:
            match = pattern.match(text, position)
            if match and match.end() > position:
                found.append(match)
                position = match.end()
                continue
        position += 1
    return found


def _split(text: str, pattern: re.Pattern) -> list[tuple[int, str, str | None]]:
    """(offset, piece, separator before it) pieces of ``text`` split at top-level matches."""
    pieces = []
    last = 0
    separator = None
    for match in _top_level_positions(text, pattern):
        pieces.append((last, text[last:match.start()], separator))
        separator = match.group()
        last = match.end()
    pieces.append((last, text[last:], separator))
    return pieces


_ROW_SEPARATOR = re.compile(r"\\\\(?:\[[^\]]*\])?")
_ALIGN = re.compile(r"&")


def _statements(content: str) -> list[tuple[int, str]]:
    """Rows joined into chains, then cut at ``,\\quad``-style separators."""
    chains: list[tuple[int, str]] = []
    for row_offset, row, _ in _split(content, _ROW_SEPARATOR):
        # Remove alignment marks but keep offsets (same length).
        cleaned = _blank_top_level(row, _ALIGN)
        stripped = _LEADING_SPACE.sub("", cleaned).strip()
        if not stripped:
            continue
        previous_end = chains[-1][1].rstrip() if chains else ""
        continues = bool(chains) and (
            _RELATION.match(stripped) is not None or stripped[0] in "+-" or stripped.startswith("\\cdot")
            or previous_end.endswith(("+", "-", "=", "\\cdot", "\\times", "("))  # multline: broken mid-expression
        )
        if continues:
            previous_offset, previous = chains[-1]
            padding = row_offset - (previous_offset + len(previous))
            chains[-1] = (previous_offset, previous + " " * max(padding, 1) + cleaned)
        else:
            chains.append((row_offset, cleaned))
    statements = []
    for chain_offset, chain in chains:
        for piece_offset, piece, _ in _split(chain, _STATEMENT_SEPARATOR):
            if piece.strip():
                statements.append((chain_offset + piece_offset, piece))
    return statements


def _blank_top_level(text: str, pattern: re.Pattern) -> str:
    characters = list(text)
    for match in _top_level_positions(text, pattern):
        for k in range(match.start(), match.end()):
            characters[k] = " "
    return "".join(characters)


def _chain_steps(statement: str, offset: int, lines: _Lines, inline: bool, context_word) -> list[Step]:
    parts = _split(statement, _RELATION)
    sides = [(o, p.strip().rstrip(".,;").strip(), sep) for o, p, sep in parts]
    if len(sides) < 2:
        return []
    steps = []
    relations = len(sides) - 1
    for k in range(1, len(sides)):
        left_offset, left, _ = sides[k - 1]
        right_offset, right, relation = sides[k]
        line = lines.line(offset + right_offset - 1)
        case_rows = _cases(right)
        if case_rows is not None:
            steps.extend(_case_steps(left, case_rows, line, lines, offset + right_offset, inline))
            continue
        steps.append(Step(line, left, right, _relation_name(relation), None, k == 1, relations, inline, context_word))
    return steps


def _relation_name(relation: str) -> str:
    if relation in ("\\neq", "\\ne"):
        return "\\neq"
    if relation in (":=", "\\coloneqq", "\\equiv"):
        return ":="
    return relation


_CASES = re.compile(r"^\s*\\begin\{cases\}(?P<body>.*)\\end\{cases\}\s*$", re.S)


def _cases(side: str):
    match = _CASES.match(side)
    if not match:
        return None
    body = match.group("body")
    rows = []
    for row_offset, row, _ in _split(body, _ROW_SEPARATOR):
        if not row.strip():
            continue
        cells = _split(row, _ALIGN)
        value = cells[0][1]
        condition = cells[1][1].strip() if len(cells) > 1 else ""
        rows.append((match.start("body") + row_offset, value, condition))
    return rows


_OTHERWISE = re.compile(r"^\s*(?:\\text\{\s*)?(?:otherwise|else)\s*\}?\s*$")


def _complement_otherwise(rows):
    """With two cases, 'otherwise' is the negation of the other (index) condition."""
    if len(rows) != 2:
        return rows
    conditions = [_condition_text(c) for _, _, c in rows]
    fixed = []
    for k, (offset, value, condition) in enumerate(rows):
        other = conditions[1 - k]
        if _OTHERWISE.match(condition) and not _OTHERWISE.match(other):
            if re.fullmatch(r"[^=]*\\neq?(?![a-zA-Z])[^=]*", other):
                condition = re.sub(r"\\neq?(?![a-zA-Z])", "=", other)
            elif other.count("=") == 1 and "\\" not in other.replace("\\neq", ""):
                condition = re.sub(r"\s*=\s*", r" \\neq ", other, count=1)
        fixed.append((offset, value, condition))
    return fixed


def _case_steps(left: str, rows, line: int, lines: _Lines, offset: int, inline: bool) -> list[Step]:
    steps = []
    for row_offset, value, condition in _complement_otherwise(rows):
        row_line = lines.line(offset + row_offset)
        parts = [(o, p.strip().rstrip(".,;").strip(), sep) for o, p, sep in _split(value, _RELATION)]
        previous = left
        for k, (part_offset, part, relation) in enumerate(parts):
            steps.append(Step(row_line, previous, part, _relation_name(relation) if relation else "=",
                              _condition_text(condition), k == 0, len(parts), inline, None))
            previous = part
    return steps


def _condition_text(condition: str) -> str:
    condition = re.sub(r"\\text\{\s*(if|for|when)\s*\}", " ", condition)
    condition = re.sub(r"^\s*(if|for|when)\s+", " ", condition)
    return condition.strip().rstrip(".,;").strip()
