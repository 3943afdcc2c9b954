"""Find the math in a Markdown or LaTeX writeup and split it into claimed steps.

Contract: every display that holds a relation yields at least one :class:`Step`
(a step that cannot be split carries a ``problem`` and is reported unchecked),
so nothing is dropped silently. What is read:

- display math (``$$…$$``, ``\\[…\\]``, equation/align/alignat/flalign/multline/
  gather/eqnarray/split/aligned/gathered/dmath/displaymath/IEEEeqnarray, starred
  or not) and inline ``$…$`` containing ``=`` or ``\\neq``;
- ``a = b = c`` and aligned ``&=`` rows are the steps a=b and b=c; a row (or a
  whole display) that starts with a relation continues the chain of the
  previous row (display); ``\\boxed{}``, ``\\tag``, ``\\label``, ``\\nonumber`` are
  transparent; an ``array`` that holds relations is read as rows of equations
  (``\\left\\{\\begin{array}…\\end{array}\\right.`` as ``cases``);
- ``,\\quad``, ``\\qquad``, ``\\text{ and }``, ``\\Rightarrow``, ``\\implies``, ``\\iff``,
  ``\\therefore`` separate statements, each checked on its own;
- conditions: a statement after ``\\text{if}``/``\\text{for}``/``\\text{when}``, or
  one shaped like a condition (``i = j``, ``i \\neq j``, ``x > 0``) after a
  separator, restricts the statement before it; a ``cases`` row is checked
  under its condition (``otherwise``: the negation of the other rows); inline
  math after "if/for/when/whenever" right before a display (same paragraph)
  restricts that display, right after one restricts its last statement;
- facts: inline math after "since/because/as" is a fact for the rest of its
  section (Markdown heading or ``\\section``), as well as a step.

Each step records the file offsets of its two sides and of its relation sign.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace

MAX_BLOCK_CHARS = 5000
MAX_STEPS = 400

_ENV_NAMES = (r"equation|align|alignat|flalign|multline|gather|eqnarray|split|aligned|gathered|alignedat"
              r"|dmath|dgroup|displaymath|IEEEeqnarray|IEEEeqnarraybox")
_OPENER = re.compile(
    r"(?P<mathfence>^[ \t]*```[ \t]*math[ \t]*$)|(?P<fence>^[ \t]*(?:```|~~~))|(?P<html><!--)|(?P<display>\$\$)"
    r"|(?P<script><script type=\"math/tex; ?mode=display\">)|(?P<scriptinline><script type=\"math/tex\">)"
    r"|(?P<kramdisplay>\\\\\[)|(?P<kraminline>\\\\\()|(?P<bracket>\\\[)|(?P<paren>\\\()"
    r"|(?P<env>\\begin\{(?P<name>" + _ENV_NAMES + r")(?P<star>\*?)\})|(?P<code>`)|(?P<inline>(?<!\\)\$)",
    re.M,
)
# Delimiter kind -> (closing text, block kind). ```math fences (GitHub), MathJax <script> tags and
# kramdown's escaped \\( \\) / \\[ \\] are math in Markdown; in LaTeX \\[ is a row break.
_CLOSERS = {"html": ("-->", None), "display": ("$$", "display"), "bracket": ("\\]", "display"),
            "code": ("`", None), "inline": ("$", "inline"), "script": ("</script>", "display"),
            "scriptinline": ("</script>", "inline"), "kramdisplay": ("\\\\]", "display"),
            "kraminline": ("\\\\)", "inline"), "paren": ("\\)", "inline")}
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_TEX_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
_WRAPPER = re.compile(r"\\(?:begin|end)\{(?:" + _ENV_NAMES + r")\*?\}(?:\{[^{}]*\})?")
_LABELS = re.compile(r"\\(?:label|tag)\*?\{[^{}]*\}|\\(?:nonumber|notag)(?![a-zA-Z])")
_DECLARATION_COMMENT = re.compile(r"^[ \t]*%+[ \t]*symderiv:(?P<tex>[^\n]*)|<!--\s*symderiv:(?P<md>.*?)-->", re.S | re.M)
_SECTION = re.compile(r"^[ \t]{0,3}(?P<hashes>#{1,6})[ \t]|\\(?P<command>part|chapter|section|subsection|subsubsection)\*?\{",
                      re.M)
_TEX_NOT_MATH = re.compile(r"\\begin\{(verbatim\*?|lstlisting|minted|comment)\}.*?\\end\{\1\}|\\iffalse(?![a-zA-Z]).*?\\fi(?![a-zA-Z])"
                           r"|\\verb\*?(?P<d>[^a-zA-Z\s]).*?(?P=d)", re.S)
_LATEX_LEVELS = {"part": 0, "chapter": 1, "section": 2, "subsection": 3, "subsubsection": 4}
CONDITION_WORDS = {"if", "for", "when", "whenever", "unless", "provided", "where", "at", "such that", "iff",
                   "exactly where", "with"}
SENTENCE_CONDITION_WORDS = {"if", "for", "when", "whenever", "provided"}
FACT_WORDS = {"since", "because", "using"}
_CONTEXT_WORD = re.compile(r"\b(where|whenever|when|if|iff|at|such that|for|unless|exactly where|since|because"
                           r"|using|provided|provided that|with)\s*[,:]?\s*$", re.I)
_RELATION = re.compile(r"\\neq(?![a-zA-Z])|\\ne(?![a-zA-Z])|\\not\s*=|≠|≤|≥|:=|=:|\\coloneqq?(?![a-zA-Z])|\\equiv(?![a-zA-Z])"
                       r"|\\(?:triangleq|eqqcolon|eqcolon|doteq|leftarrow|gets|longleftarrow|stackrel\{[^{}]*\}\{=\}"
                       r"|overset\{[^{}]*\}\{=\}|defeq|eqdef)(?![a-zA-Z])|="
                       r"|\\(?:approx|leq?|geq?|leqslant|geqslant|lt|gt|sim|simeq|propto|to|mapsto|in|notin|subset"
                       r"|subseteq|ll|gg|cong)(?![a-zA-Z])|<|>")
_CONNECTIVES = {"and", "or", "where", "with", "for", "if", "when", "whenever", "since", "because", "so", "hence",
                "thus", "then", "otherwise", "i.e.", "e.g.", "for all", "and so", "which gives", "gives", "that is",
                "unless", "provided", "as", "using", "by"}
# \text{...} holding a phrase (a space) or a connective word separates statements; \text{ReLU} is a name.
_TEXT_PHRASE = re.compile(r",?\s*\\(?:text|textrm|textit|mbox)\{(?P<words>[^{}]*\s[^{}]*|(?:"
                          + "|".join(sorted((re.escape(w) for w in _CONNECTIVES), key=len, reverse=True))
                          + r")[.,:]?)\}")
# ",\quad S = ..." or "\qquad b = c" separate statements; "\quad + c" continues an expression.
_STATEMENT_SEPARATOR = re.compile(
    r",?\s*\\q?quad(?![a-zA-Z])(?!\s*(?:[-+=]|\\cdot|\\times))"
    r"|,?\s*\\(?:Rightarrow|Longrightarrow|implies|impliedby|iff|Leftrightarrow|Longleftrightarrow|Leftarrow"
    r"|Longleftarrow|therefore|because|rightarrow|longrightarrow)(?![a-zA-Z])"
    r"|,?\s*\\hspace\*?\{[^{}]*\}"
    r"|" + _TEXT_PHRASE.pattern + r"|,\s*(?=\\text)"
)
_LEADING_SPACE = re.compile(r"^(?:\s|\\q?quad(?![a-zA-Z])|\\[ ,;:!]|~)+")
_INDEX_LETTERS = set("ijklmnpqrst")
_CONDITION_SHAPE = re.compile(
    r"^\s*(?P<a>[a-zA-Z0-9](?:\s*[+-]\s*\d+)?)\s*(?P<rel>=|\\neq?(?![a-zA-Z])|\\not\s*=|≠)\s*(?P<b>[a-zA-Z0-9](?:\s*[+-]\s*\d+)?)"
    r"\s*[.,;]?\s*$")
_INEQUALITY = re.compile(r"(?<![<>])(?:<|>|≤|≥)|\\(?:leq?|geq?|leqslant|geqslant|lt|gt|in|notin)(?![a-zA-Z])")


@dataclass(frozen=True)
class Declaration:
    line: int
    text: str


@dataclass(frozen=True)
class Condition:
    """A condition on a step: ``text`` as written, where it was found, and how (case/beside/sentence)."""

    text: str
    offset: int
    origin: str  # "case" | "beside" | "sentence" | "otherwise"


@dataclass(frozen=True)
class Fact:
    """A fact the text relies on (``since \\sum_i y_i = 1``), valid from ``offset`` to the end of its section."""

    text: str
    offset: int
    section_end: int
    origin: str  # "since" | "because" | ...


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
    lhs_offset: int = 0  # file offsets of the sides as written (stripped) and of the relation sign
    rhs_offset: int = 0
    relation_offset: int = 0
    conditions: tuple = ()  # Condition: beside the display, in the sentence, or a case row
    block: int = 0  # index of the math block in the file
    continues_previous: bool = False  # the display started with a relation
    last_in_chain: bool = True
    end_offset: int | None = None  # for an unread block: where it ends (the step's text is only its start)

    @property
    def span(self) -> tuple[int, int]:
        end = self.end_offset if self.end_offset is not None else self.rhs_offset + len(self.rhs)
        return (min(self.lhs_offset, self.rhs_offset), end)


@dataclass(frozen=True)
class Extraction:
    steps: tuple
    declarations: tuple
    skipped_blocks: tuple  # (line, reason) for blocks that could not even be split
    facts: tuple = ()
    displays: int = 0  # display blocks found (with or without relations)
    sections: tuple = ()  # (offset, level) where sections start (a lower level is a larger section)
    memberships: tuple = ()  # (line, name text, set text) for "W \\in \\mathbb{R}^{m \\times n}" anywhere in the math


class Lines:
    """Offsets to 1-based (line, column)."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect_right(self.starts, offset)

    def column(self, offset: int) -> int:
        return offset - self.starts[self.line(offset) - 1] + 1


_Lines = Lines  # the old private name


def read_declarations(text: str) -> list[Declaration]:
    lines = Lines(text)
    found = []
    for match in _DECLARATION_COMMENT.finditer(text):
        body = match.group("tex") if match.group("tex") is not None else match.group("md")
        for part in re.split(r"(?:^|\s|;)let\s+", " " + body):
            part = part.strip().rstrip(";").strip()
            if part:
                found.append(Declaration(lines.line(match.start()), part))
    return found


def _blocks(text: str, is_latex: bool = False):
    """(kind, opener start, content start, end after the closer, content) for every math block.

    Code and HTML comments are skipped.

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
        if is_latex and kind in ("kramdisplay", "kraminline", "mathfence", "script", "scriptinline"):
            position = match.start() + 1
            continue
        if kind == "env":
            closer_text = f"\\end{{{match.group('name')}{match.group('star')}}}"
            key = "env:" + closer_text
        elif kind in ("fence", "mathfence"):
            closer_text, key = None, kind
        else:
            closer_text = _CLOSERS[kind][0]
            key = kind
        if key in exhausted:
            position = match.end()
            continue
        body_start = match.end()
        if kind in ("fence", "mathfence"):
            marker = "~~~" if "~~~" in match.group() else "```"
            closing = re.compile(r"^[ \t]*" + marker, re.M).search(text, body_start)
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
            if kind in ("display", "bracket", "env", "mathfence", "script", "kramdisplay") and key not in exhausted:
                # a display that never closes is reported once, never dropped silently
                yield "unclosed", match.start(), body_start, len(text), text[body_start:body_start + 200]
            exhausted.add(key)
            position = match.end()
            continue
        if kind == "code" and "\n" in text[body_start:end]:
            position = match.end()
            continue
        if kind == "inline" and (end == body_start or _BLANK_LINE.search(text, body_start, end)):
            position = match.end()  # "$5 and $10" across paragraphs is not math
            continue
        if kind == "env" or kind == "mathfence":
            yield "display", match.start(), body_start, after, text[body_start:end]
        elif kind in _CLOSERS and _CLOSERS[kind][1] is not None:
            yield _CLOSERS[kind][1], match.start(), body_start, after, text[body_start:end]
        position = after


@dataclass
class _Block:
    kind: str
    opened: int  # offset of the opening delimiter
    start: int
    end: int
    steps: list
    context_word: str | None = None


def extract(text: str, is_latex: bool) -> Extraction:
    lines = Lines(text)
    sections = tuple((m.start(), len(m.group("hashes")) if m.group("hashes") else _LATEX_LEVELS[m.group("command")])
                     for m in _SECTION.finditer(text))
    blocks: list[_Block] = []
    skipped: list[tuple[int, str]] = []
    previous_side = None  # (text, offset) of the last side of the previous display
    inline_blocks: list = []  # every inline block, for "\(A\) \(=\) \(B\)" tables
    memberships: list = []
    total = 0
    displays = 0
    # In LaTeX a % comment holds no math (the blanking keeps every offset).
    scanned = _TEX_COMMENT.sub(lambda m: " " * len(m.group()), text) if is_latex else text
    if is_latex:  # verbatim text and \iffalse … \fi hold no math either
        scanned = _TEX_NOT_MATH.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), scanned)
    for index, (kind, opened, start, end, content) in enumerate(_blocks(scanned, is_latex)):
        if kind == "unclosed":
            # the first display that never closes runs to the end of the file: one entry covers it
            if _RELATION.search(content) and not any(block.kind == "unclosed" for block in blocks):
                head = " ".join(content[:60].split())
                problem = f"the display opened here ({text[opened:start].strip()}) is never closed; not read"
                blocks.append(_Block(kind, opened, start, end, [Step(
                    lines.line(opened), head + " ...", "", "", lhs_offset=opened, rhs_offset=opened,
                    relation_offset=opened, block=index, problem=problem, end_offset=len(text))]))
                total += 1
            continue
        inline = kind == "inline"
        memberships.extend(_memberships(content, start, lines))
        context_word = _context_word(text, opened) if inline else None
        if inline:
            inline_blocks.append((opened, start, end, content, index))
            if _BARE_RELATION.fullmatch(content):
                continue  # "\(=\)" between two inline expressions: joined below
        if inline and "=" not in content and not re.search(r"\\ne|≠|\\equiv|\\triangleq|\\coloneq|\\eqqcolon|\\gets"
                                                           r"|\\leftarrow|\\defeq", content) and not (
                context_word in SENTENCE_CONDITION_WORDS and _INEQUALITY.search(content)):
            continue
        displays += not inline
        steps = _block_steps(content, start, lines, inline, context_word, is_latex, previous_side, index)
        if not inline:
            previous_side = _last_side(steps, content, start, is_latex, lines)
        blocks.append(_Block(kind, opened, start, end, steps, context_word))
        total += len(steps)
        if total > MAX_STEPS:
            skipped.append((lines.line(start), f"more than {MAX_STEPS} equations; the rest is not checked"))
            break
    blocks.extend(_inline_relation_tables(inline_blocks, text, lines))
    blocks.sort(key=lambda block: block.opened)
    facts = _sentence_facts(blocks, text, sections)
    _attach_values_after_display(blocks, text)
    _attach_sentence_conditions(blocks, text)
    for block in blocks:  # an inequality in prose that restricts no display is not a claim either
        if block.kind == "inline":
            block.steps[:] = [s for s in block.steps if not _INEQUALITY.fullmatch(s.relation or "=")]
    steps = [step for block in blocks for step in block.steps][:MAX_STEPS]
    return Extraction(tuple(steps), tuple(read_declarations(text)), tuple(skipped), tuple(facts), displays, sections,
                      tuple(memberships))


_MEMBERSHIP = re.compile(r"(?P<names>[^$=;:]+?)\s*\\in\s*(?P<set>\\mathbb\s*\{\s*R\s*\}\s*\^\s*"
                         r"(?:\{(?:[^{}]|\{[^{}]*\})*\}|\\?[a-zA-Z0-9]+))")


def _memberships(content: str, start: int, lines: Lines) -> list:
    """``W \\in \\mathbb{R}^{m \\times n}`` (also ``W, V \\in …``) in any math, inline or displayed: evidence
    that the names are vectors or matrices, whatever else the block holds."""
    found = []
    for match in _MEMBERSHIP.finditer(content):
        for name in match.group("names").split(","):
            name = re.sub(r"^\s*(?:\\(?:text|mathrm)\{[^{}]*\}|\\q?quad|\\[,;: ])*", "", name).strip()
            if name:
                found.append((lines.line(start + match.start()), name, match.group("set")))
    return found


_BARE_RELATION = re.compile(r"\s*(?:\\(?:ds|displaystyle)(?![a-zA-Z])\s*)?(?:=|\\neq?(?![a-zA-Z])|\\leq?(?![a-zA-Z])"
                            r"|\\geq?(?![a-zA-Z])|<|>)\s*")
_EMPTY_INLINE = re.compile(r"\s*(?:\\(?:ds|displaystyle)(?![a-zA-Z]))?\s*")


def _inline_relation_tables(inline_blocks: list, text: str, lines: Lines) -> list:
    """``\\(A\\)`` ``\\(=\\)`` ``\\(B\\)``, then ``\\(\\)`` ``\\(=\\)`` ``\\(C\\)`` (a proof laid out as a table of
    inline cells, as ProofWiki renders ``{{eqn}}``): each bare relation joins the cells around it, an
    empty left cell continuing from the previous right side."""
    found = []
    previous_right = None
    for k, (opened, start, end, content, index) in enumerate(inline_blocks):
        relation = _BARE_RELATION.fullmatch(content)
        if relation is None or k == 0 or k + 1 >= len(inline_blocks):
            continue
        left_block, right_block = inline_blocks[k - 1], inline_blocks[k + 1]
        if "$" in text[left_block[2]:opened] or "$" in text[end:right_block[0]]:
            continue
        if _EMPTY_INLINE.fullmatch(left_block[3]):
            if previous_right is None:
                continue
            left, left_offset = previous_right
        else:
            left, left_offset = left_block[3].strip(), left_block[1] + _leading(left_block[3])
        right, right_offset = right_block[3].strip(), right_block[1] + _leading(right_block[3])
        if _top_level_positions(left, _RELATION) or _top_level_positions(right, _RELATION) or not right:
            continue
        sign = content.strip().replace("\\ds", "").replace("\\displaystyle", "").strip()
        step = Step(lines.line(opened), left, right, _relation_name(sign), inline=True, lhs_offset=left_offset,
                    rhs_offset=right_offset, relation_offset=start, block=index)
        found.append(_Block("inline", opened, start, end, [step]))
        previous_right = (right, right_offset)
    return found


def _last_side(steps: list, content: str, start: int, is_latex: bool, lines: Lines) -> tuple:
    """What a following display that starts with a relation continues: (text, offset) of this display's last
    side; a display without a relation is itself that side (``$$ \\frac{d}{dx} x^3 $$`` then ``$$ = 3x^2 $$``);
    (None, line) when it cannot be read, so the continuation is unchecked rather than attached further up."""
    if steps:
        last = steps[-1]
        return (last.rhs, last.rhs_offset) if last.rhs and not last.problem else (None, last.line)
    if len(content) > MAX_BLOCK_CHARS:
        return (None, lines.line(start))
    cleaned = _same_length_cleanup(content, is_latex)
    rows = [row for _, row, _ in _split(cleaned, _ROW_SEPARATOR) if row.strip()]
    if len(rows) != 1:
        return (None, lines.line(start))
    side = _blank_top_level(rows[0], _ALIGN)
    at = _leading(side)
    text = side[at:].strip().rstrip(".,;").strip()
    if not text:
        return (None, lines.line(start))
    return (text, start + cleaned.index(rows[0]) + at)


def _context_word(text: str, opened: int) -> str | None:
    before = text[max(0, opened - 40): opened]
    word = _CONTEXT_WORD.search(before)
    return word.group(1).lower() if word else None


def _block_steps(content, start, lines, inline, context_word, is_latex, previous_side, index) -> list:
    if len(content) > MAX_BLOCK_CHARS:
        # One unchecked entry, so a claimed equation never silently disappears.
        head = " ".join(content[:60].split())
        return [Step(lines.line(start), head + " ...", "", "", inline=inline, lhs_offset=start, rhs_offset=start,
                     relation_offset=start, block=index, end_offset=start + len(content),
                     problem=f"math block longer than {MAX_BLOCK_CHARS} characters ({len(content)}); not read")]
    content = _same_length_cleanup(content, is_latex)
    steps: list[Step] = []
    claims: list[int] = []  # indices of the steps of the last statement that made claims
    for statement_start, statement, separator in _statements(content):
        absolute = start + statement_start
        if separator == AMBIGUOUS_COLUMN:
            at = absolute + _leading(statement)
            steps.append(Step(lines.line(at), " ".join(statement.split()), "", "", inline=inline, lhs_offset=at,
                              rhs_offset=at, relation_offset=at, block=index,
                              problem="this row continues a row with several aligned columns: which column it "
                                      "continues is ambiguous; not read"))
            claims = []
            continue
        if claims and _is_condition(statement, separator):
            condition = Condition(_condition_text(statement), absolute + _leading(statement), "beside")
            for k in claims:
                steps[k] = replace(steps[k], conditions=steps[k].conditions + (condition,))
            continue
        continuing = previous_side if not steps and not inline else None
        new = _chain_steps(statement, absolute, lines, inline, context_word, continuing, index)
        first = len(steps)
        steps.extend(new)
        made = [first + k for k, s in enumerate(new) if not s.problem]
        claims = made or claims
    return steps


def _same_length_cleanup(content: str, is_latex: bool) -> str:
    """Comments, wrappers, labels, \\boxed and top-level arrays removed without moving any offset."""
    blank = lambda m: " " * len(m.group())  # noqa: E731
    if is_latex:
        content = _TEX_COMMENT.sub(blank, content)
    content = _WRAPPER.sub(blank, content)
    content = _LABELS.sub(blank, content)
    content = _unwrap_command(content, "boxed")
    content = _array_cases(content)
    return _flatten_arrays(content)


def _unwrap_command(content: str, name: str) -> str:
    """``\\boxed{A}`` -> ``       A `` (same length)."""
    characters = list(content)
    for match in re.finditer(r"\\" + name + r"(?![a-zA-Z])\s*\{", content):
        close = _matching_brace(content, match.end() - 1)
        if close is None:
            continue
        for k in range(match.start(), match.end()):
            characters[k] = " "
        characters[close] = " "
    return "".join(characters)


def _matching_brace(text: str, open_at: int) -> int | None:
    depth = 0
    position = open_at
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    return None


_ARRAY_CASES = re.compile(r"\\left\s*\\\{\s*\\begin\{array\}\{[^{}]*\}(?P<body>.*?)\\end\{array\}\s*\\right\s*\.", re.S)


def _array_cases(content: str) -> str:
    """``\\left\\{\\begin{array}{ll} … \\end{array}\\right.`` is a ``cases`` environment."""
    def as_cases(match):
        head = "\\begin{cases}"
        tail = "\\end{cases}"
        body_start, body_end = match.start("body") - match.start(), match.end("body") - match.start()
        whole = match.group()
        return head + " " * (body_start - len(head)) + whole[body_start:body_end] + tail \
            + " " * (len(whole) - body_end - len(tail))

    return _ARRAY_CASES.sub(as_cases, content)


def _flatten_arrays(content: str) -> str:
    """An ``array`` at the top level of a display that holds relations is rows of equations, not a matrix."""
    characters = list(content)
    for match in re.finditer(r"\\begin\{array\}(?:\{[^{}]*\})?", content):
        before = content[:match.start()].rstrip()
        if before and not before.endswith(("=", "&", "\\\\")) and not _RELATION.search(before[-8:]):
            continue  # inside brackets or after an operand: a matrix
        close = content.find("\\end{array}", match.end())
        if close == -1 or "\\begin{array}" in content[match.end():close]:
            continue
        body = content[match.end():close]
        if not any(p for p in _top_level_positions(body.replace("&", " "), _RELATION)):
            continue
        for k in list(range(match.start(), match.end())) + list(range(close, close + len("\\end{array}"))):
            characters[k] = " "
    return "".join(characters)


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
            begin = re.match(r"\\begin\{[^}]*\}", text[position:position + 40])
            end = re.match(r"\\end\{[^}]*\}", text[position:position + 40])
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
            macro = re.match(r"\\(?:[a-zA-Z]+|.)", text[position:position + 40], re.S)
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


def _statements(content: str) -> list[tuple[int, str, str | None]]:
    """Rows joined into chains, then cut at separators; (offset, statement, separator before it)."""
    chains: list[tuple[int, str]] = []
    ambiguous: set = set()  # chains that continue a row with several columns: which column is not known
    previous_columns = 1
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
        columns, previous_columns = previous_columns, _relation_columns(row)
        if continues and columns > 1:
            ambiguous.add(len(chains))
            chains.append((row_offset, cleaned))
            continue
        if continues:
            justification = _justification_start(chains[-1][1])
            if justification is not None:
                # "&= a \quad\because \frac{d}{dx}\ln x = \frac{1}{x} \\ &= b": b continues a, not
                # the justification; the justification stays a chain of its own (its statements unchanged)
                _split_off_justification(chains, justification, ambiguous)
            previous_offset, previous = chains[-1]
            padding = row_offset - (previous_offset + len(previous))
            chains[-1] = (previous_offset, previous + " " * max(padding, 1) + cleaned)
        else:
            chains.append((row_offset, cleaned))
    statements = []
    for number, (chain_offset, chain) in enumerate(chains):
        if number in ambiguous:
            statements.append((chain_offset, chain, AMBIGUOUS_COLUMN))
            continue
        pending_separator = None
        for piece_offset, piece, separator in _split(chain, _STATEMENT_SEPARATOR):
            if separator is not None and _is_phrase_piece(separator):
                pending_separator = separator
            if piece.strip():
                for comma_offset, comma_piece, comma in _comma_statements(piece):
                    statements.append((chain_offset + piece_offset + comma_offset, comma_piece,
                                       (pending_separator or separator) if comma is None else ",\\quad"))
                pending_separator = None
    return statements


AMBIGUOUS_COLUMN = "<a row continuing one of several columns>"

_TRAILING_SPACE = re.compile(r"(?:\s|\\q?quad(?![a-zA-Z])|\\[ ,;:!]|~|,)+$")
_JUSTIFICATION_WORDS = ("since", "because", "as", "by", "using")


def _justification_start(chain: str) -> int | None:
    """Where a justification (``\because …``, ``\text{since …}``) begins in a chain, if it has one."""
    for match in _top_level_positions(chain, _STATEMENT_SEPARATOR):
        separator = match.group().lstrip(", \t\n")
        words = _separator_words(match.group()).split()
        if separator.startswith("\\because") or (words and words[0] in _JUSTIFICATION_WORDS):
            return match.start()
    return None


def _split_off_justification(chains: list, start: int, ambiguous: set) -> None:
    """The last chain becomes two: the justification from ``start`` on (placed before it, a chain
    of its own) and the claim before it, which stays last so that the next row continues it."""
    offset, chain = chains[-1]
    chains[-1] = (offset, _TRAILING_SPACE.sub("", chain[:start]))  # offsets kept: the next row is padded
    chains.insert(len(chains) - 1, (offset + start, chain[start:]))
    if len(chains) - 2 in ambiguous:  # the claim moved one place on
        ambiguous.discard(len(chains) - 2)
        ambiguous.add(len(chains) - 1)


def _relation_columns(row: str) -> int:
    """Aligned columns holding a relation: ``f &= a, & g &= b`` has 2 (``a & = & b`` in eqnarray has 1)."""
    cells = [cell for _, cell, _ in _split(row, _ALIGN)]
    return sum(1 for cell in cells[1:] if _RELATION.match(_LEADING_SPACE.sub("", cell).strip() or " "))


_COMMA = re.compile(r",")


def _comma_statements(piece: str) -> list:
    """``x = 4, y = -3``: two statements when every comma-separated part holds a relation."""
    parts = _split(piece, _COMMA)
    if len(parts) < 2 or not all(_top_level_positions(text, _RELATION) for _, text, _ in parts if text.strip()):
        return [(0, piece, None)]
    return [(offset, text, comma) for offset, text, comma in parts if text.strip()]


def _is_phrase_piece(separator: str) -> bool:
    return bool(_TEXT_PHRASE.fullmatch(separator.strip()))


def _blank_top_level(text: str, pattern: re.Pattern) -> str:
    characters = list(text)
    for match in _top_level_positions(text, pattern):
        for k in range(match.start(), match.end()):
            characters[k] = " "
    return "".join(characters)


def _separator_words(separator: str | None) -> str:
    if not separator:
        return ""
    phrase = _TEXT_PHRASE.search(separator)
    return " ".join(phrase.group("words").split()).lower() if phrase else ""


_CONDITION_PADDING = re.compile(r"^(?:\s|\\q?quad(?![a-zA-Z])|\\[ ,;:!]|~|,)+|(?:\s|[.,;]|\\[ ,;:!])+$")


def _bare_condition(statement: str) -> str:
    """``\\; (i \\neq j).`` -> ``i \\neq j``: spacing, punctuation and one pair of brackets removed."""
    text = _CONDITION_PADDING.sub("", statement)
    if text.startswith("(") and text.endswith(")") and _matching_paren(text) == len(text) - 1:
        text = _CONDITION_PADDING.sub("", text[1:-1])
    text = re.sub(r"^\\(?:text|textrm|mbox)\{\s*(?:if|for|when|whenever|for all)\s*\}\s*", "", text)
    text = re.sub(r"^\\forall(?![a-zA-Z])\s*", "", text)
    return text


def _matching_paren(text: str) -> int:
    depth = 0
    for position, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return position
    return -1


def _is_condition(statement: str, separator: str | None) -> bool:
    """A statement that restricts the one before it rather than a claim of its own."""
    if re.match(r"(?:\s|\\[,;:! ]|\\q?quad(?![a-zA-Z]))*\\forall(?![a-zA-Z])", statement) and separator is not None:
        return True  # "A_{ij} = 0, \forall i \neq j"
    statement = _bare_condition(statement)
    words = _separator_words(separator)
    if words in SENTENCE_CONDITION_WORDS or words in ("for all", "unless", "provided", "otherwise"):
        return True
    if words in ("where", "with", "and", "since", "because") or separator is None:
        return False
    if "otherwise" in statement and re.fullmatch(r"\s*(?:\\text\{\s*)?otherwise\s*\}?\s*[.,;]?\s*", statement):
        return True
    shape = _CONDITION_SHAPE.match(statement)
    if shape:
        letters = {c for c in shape.group("a") + shape.group("b") if c.isalpha()}
        if shape.group("rel") != "=" or (letters and letters <= _INDEX_LETTERS):
            return True
    parts = _split(statement, _RELATION)
    return len(parts) >= 2 and all(_INEQUALITY.fullmatch(sep.strip()) for _, _, sep in parts[1:])


def _leading(text: str) -> int:
    """Characters of spacing (whitespace, ``\\,``, ``\\ ``, ``\\quad``) before the text starts."""
    match = _LEADING_SPACE.match(text)
    return match.end() if match else 0


def _chain_steps(statement: str, offset: int, lines: Lines, inline: bool, context_word, previous_side,
                 block: int) -> list[Step]:
    parts = _split(statement, _RELATION)
    sides = [(offset + o + _leading(p), p[_leading(p):].strip().rstrip(".,;").strip(), sep) for o, p, sep in parts]
    if len(sides) < 2:
        hidden = _hidden_relation(statement)
        if hidden is None:
            return []
        text = " ".join(statement.split())
        at = offset + _leading(statement)
        return [Step(lines.line(at), text, "", "", inline=inline, lhs_offset=at, rhs_offset=at, relation_offset=at,
                     block=block, problem=f"a relation inside {hidden}, which is not read")]
    continues = False
    if not sides[0][1]:
        if previous_side is None:
            at = sides[1][0]
            return [Step(lines.line(at), "", sides[1][1], sides[1][2] or "", inline=inline, lhs_offset=at,
                         rhs_offset=at, relation_offset=at, block=block,
                         problem="the display starts with a relation but no earlier display gives its left side")]
        if previous_side[0] is None:
            at = sides[1][0]
            return [Step(lines.line(at), "", sides[1][1], sides[1][2] or "", inline=inline, lhs_offset=at,
                         rhs_offset=at, relation_offset=at, block=block,
                         problem=f"the display starts with a relation, but the display before it (line "
                                 f"{previous_side[1]}) is not read, so its left side is unknown")]
        sides[0] = (previous_side[1], previous_side[0], None)
        continues = True
    steps = []
    relations = len(sides) - 1
    for k in range(1, len(sides)):
        left_offset, left, _ = sides[k - 1]
        right_offset, right, relation = sides[k]
        relation_at = _relation_offset(statement, offset, parts, k)
        line = lines.line(relation_at)
        case_rows = _cases(right)
        if case_rows is not None:
            steps.extend(_case_steps(left, left_offset, case_rows, lines, right_offset, inline, block))
            continue
        steps.append(Step(line, left, right, _relation_name(relation), None, k == 1, relations, inline, context_word,
                          lhs_offset=left_offset, rhs_offset=right_offset, relation_offset=relation_at, block=block,
                          continues_previous=continues and k == 1, last_in_chain=k == len(sides) - 1))
    return steps


def _relation_offset(statement: str, offset: int, parts, k: int) -> int:
    """File offset of the k-th relation sign (just before side k)."""
    piece_offset = parts[k][0]
    separator = parts[k][2] or ""
    return offset + piece_offset - len(separator)


def _hidden_relation(statement: str) -> str | None:
    """A construct that holds a relation the splitter cannot reach (``\\underbrace{a = b}_{…}``)."""
    without_scripts = re.sub(r"[_^]\s*\{(?:[^{}]|\{[^{}]*\})*\}|[_^]\s*\\?[a-zA-Z0-9]", " ", statement)
    without_text = re.sub(r"\\(?:text|textrm|mbox|operatorname)\{[^{}]*\}", " ", without_scripts)
    if not re.search(r"=|\\neq?(?![a-zA-Z])|\\(?:leq?|geq?|approx)(?![a-zA-Z])", without_text):
        return None
    macro = re.search(r"\\(underbrace|overbrace|underset|overset|stackrel|begin\{[a-zA-Z*]+\}|[a-zA-Z]+)\s*\{",
                      without_text)
    return f"\\{macro.group(1)}" if macro else "braces"


def _relation_name(relation: str) -> str:
    relation = {"≠": "\\neq", "≤": "\\leq", "≥": "\\geq"}.get(relation, relation)
    if relation in ("\\neq", "\\ne") or re.fullmatch(r"\\not\s*=", relation):
        return "\\neq"
    if relation in (":=", "\\coloneqq", "\\coloneq", "\\equiv", "\\triangleq", "\\defeq") \
            or re.fullmatch(r"\\(?:stackrel|overset)\{\s*(?:\\text\{|\\mathrm\{)?\s*(?:def|\\Delta)\s*\}?\s*\}\{=\}", relation):
        return ":="
    return relation


_CASES = re.compile(r"^\s*\\begin\{cases\*?\}(?P<body>.*)\\end\{cases\*?\}\s*$", re.S)


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
        rows.append((match.start("body") + row_offset + _leading(value), value, condition))
    return rows


_OTHERWISE = re.compile(r"^\s*(?:\\text\{\s*)?(?:otherwise|else)\s*\}?\s*[.,;]?\s*$")


def is_otherwise(condition: str) -> bool:
    return bool(_OTHERWISE.match(condition))


def _case_steps(left: str, left_offset: int, rows, lines: Lines, offset: int, inline: bool, block: int) -> list[Step]:
    steps = []
    others = [_condition_text(c) for _, _, c in rows if c.strip() and not is_otherwise(c)]
    for row_offset, value, condition in rows:
        row_at = offset + row_offset
        row_line = lines.line(row_at)
        text = _condition_text(condition)
        if is_otherwise(condition):
            conditions = tuple(Condition(other, row_at, "otherwise") for other in others)
            negated = negated_text(others[0]) if len(others) == 1 else None
            shown = negated or "otherwise"
        else:
            conditions = (Condition(text, row_at, "case"),) if text else ()
            shown = text or None
        parts = [(o, p.strip().rstrip(".,;").strip(), sep) for o, p, sep in _split(value, _RELATION)]
        previous, previous_offset = left, left_offset
        for k, (part_offset, part, relation) in enumerate(parts):
            at = row_at + part_offset
            steps.append(Step(row_line, previous, part, _relation_name(relation) if relation else "=", shown, k == 0,
                              len(parts), inline, None, lhs_offset=previous_offset, rhs_offset=at, relation_offset=at,
                              conditions=conditions, block=block))
            previous, previous_offset = part, at
    return steps


_NEGATION = {"=": "\\neq", "\\neq": "=", "\\ne": "=", "≠": "=", "≤": ">", "≥": "<", "<": "\\geq", ">": "\\leq", "\\leq": ">", "\\le": ">",
             "\\geq": "<", "\\ge": "<"}


def negated_text(condition: str) -> str | None:
    """``i = k`` -> ``i \\neq k`` (one relation only), else None."""
    parts = _split(condition, _RELATION)
    if len(parts) != 2 or parts[1][2] not in _NEGATION:
        return None
    return f"{parts[0][1].strip()} {_NEGATION[parts[1][2]]} {parts[1][1].strip()}"


def _condition_text(condition: str) -> str:
    condition = _bare_condition(condition)
    condition = re.sub(r"\\(?:text|textrm|mbox)\{\s*(if|for|when|whenever|for all)\s*\}", " ", condition)
    condition = re.sub(r"^\s*,?\s*(if|for|when|whenever)\s+", " ", condition)
    condition = re.sub(r"^(?:\s|\\q?quad(?![a-zA-Z])|\\[,;:!]|~|,)+", " ", condition)
    return condition.strip().rstrip(".,;").strip()


# --- conditions and facts from the surrounding sentences ------------------------------------

def _gap_is_one_sentence(text: str, start: int, end: int, limit: int) -> bool:
    gap = text[start:end]
    return len(gap) <= limit and not _BLANK_LINE.search(gap) and "$" not in gap and "\\[" not in gap


_NAME_EQUALS_NUMBER = re.compile(r"^\s*[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?\s*$")
_NUMBER_TEXT = re.compile(r"^\s*[-+]?\s*(?:\d+(?:\.\d+)?|\\frac\{\d+\}\{\d+\}|\d+\s*/\s*\d+)\s*$")


def _sentence_condition(step: Step) -> bool:
    """After "if"/"for"/"when": an index relation, an inequality, or a name given a number (x = 4)."""
    if step.problem:
        return False
    if _is_condition(f"{step.lhs} {step.relation} {step.rhs}", ",\\quad") or _INEQUALITY.fullmatch(step.relation):
        return True
    return step.relation == "=" and bool(_NAME_EQUALS_NUMBER.match(step.lhs)) and bool(_NUMBER_TEXT.match(step.rhs))


def _attach_sentence_conditions(blocks: list[_Block], text: str) -> None:
    """``If $i = j$, $$…$$`` and ``$$…$$ for $i \\neq j$``: the inline condition restricts the display;
    ``If $x = 4$ then $f = …$``: it restricts the inline claims of the same sentence.

    An index relation in prose (``i = j``, ``i \\ne j``, ``k = 1``) is a condition whatever word comes
    before it ("Assume", "Case", "On the diagonal ($i = j$)"), never a claim; it restricts the displays of
    its sentence (``If $i = j$ then $$…$$ and $$…$$``), and ``otherwise`` between two displays gives the
    next one the negation. An index relation that restricts no display is unchecked as a condition."""
    joined: set = set()
    for position, block in enumerate(blocks):
        if block.kind != "inline" or not block.steps or position in joined:
            continue
        index_only = all(_index_condition(step) for step in block.steps)
        if block.context_word not in SENTENCE_CONDITION_WORDS and not index_only:
            continue
        if not all(_sentence_condition(step) for step in block.steps):
            continue
        group = [position] + _joined_conditions(blocks, position, text)
        joined.update(group)
        conditions = tuple(Condition(f"{s.lhs} {s.relation} {s.rhs}", s.lhs_offset, "sentence")
                           for k in group for s in blocks[k].steps)
        last = blocks[group[-1]]
        after_at = group[-1] + 1
        after = blocks[after_at] if after_at < len(blocks) else None
        before = blocks[position - 1] if position > 0 else None
        same_sentence = _inline_claims_in_sentence(blocks, group[-1], text)
        if after is not None and after.kind != "inline" and after.steps and _leads_to(text, last.end, after.opened):
            for display in _displays_of_sentence(blocks, after_at, text):
                display.steps[:] = [replace(s, conditions=s.conditions + conditions) for s in display.steps]
        elif same_sentence:
            for claim in same_sentence:
                claim.steps[:] = [replace(s, conditions=s.conditions + conditions) for s in claim.steps]
        elif before is not None and before.kind != "inline" and before.steps \
                and _gap_is_one_sentence(text, before.end, block.opened, 30):
            last_chain = _last_chain(before.steps)
            before.steps[-len(last_chain):] = [replace(s, conditions=s.conditions + conditions) for s in last_chain]
        elif index_only and all(_between_indices(s) for k in group for s in blocks[k].steps):
            for k in group:  # a condition on indices that restricts nothing: not a claim either
                blocks[k].steps[:] = [replace(s, problem=UNATTACHED_CONDITION) for s in blocks[k].steps]
            continue
        else:
            continue
        for k in group:
            blocks[k].steps[:] = []  # it is a condition, not a claim of its own
    _prose_otherwise(blocks, text)


UNATTACHED_CONDITION = "an index condition in the text that restricts no display; not a claim"


def _between_indices(step: Step) -> bool:
    """``i = j`` or ``k \\neq 1``, but not ``n = 2`` (a value, see :mod:`definitions`)."""
    return step.relation == "\\neq" or (step.lhs.strip().isalpha() and step.rhs.strip().isalpha())


def _index_condition(step: Step) -> bool:
    """``i = j``, ``i \\neq j``, ``k = 1``: a relation between index letters (or an index and a number)."""
    if step.problem or step.chain_length != 1:
        return False
    shape = _CONDITION_SHAPE.match(f"{step.lhs} {step.relation} {step.rhs}")
    if not shape:
        return False
    letters = {c for c in shape.group("a") + shape.group("b") if c.isalpha()}
    return bool(letters) and letters <= _INDEX_LETTERS


def _joined_conditions(blocks: list[_Block], position: int, text: str) -> list:
    """``For $i = j$ and $k = 1$``: the condition blocks joined to the one at ``position`` by "and" or ","."""
    found = []
    previous_end = blocks[position].end
    for k in range(position + 1, len(blocks)):
        block = blocks[k]
        if block.kind != "inline" or not block.steps or not re.fullmatch(r"\s*(?:,|and|,\s*and)\s*",
                                                                         text[previous_end:block.opened]):
            break
        if not all(_sentence_condition(step) for step in block.steps):
            break
        found.append(k)
        previous_end = block.end
    return found


def _displays_of_sentence(blocks: list[_Block], first: int, text: str) -> list:
    """The display at ``first`` and the displays after it in the same sentence (``$$…$$ and $$…$$``)."""
    found = [blocks[first]]
    for block in blocks[first + 1:]:
        previous = found[-1]
        gap = _HTML_COMMENT.sub("", text[previous.end:block.opened])
        if block.kind == "inline" or not block.steps or len(gap) > 40 or _BLANK_LINE.search(gap) \
                or re.search(r"[.?!:;]", gap) or not re.fullmatch(r"\s*(?:,?\s*(?:and|or))?\s*,?\s*", gap) \
                or text[previous.start:previous.end].rstrip("$]) \n\\").endswith("."):
            break
        found.append(block)
    return found


_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _prose_otherwise(blocks: list[_Block], text: str) -> None:
    """``$$…$$ otherwise $$…$$``: the second display holds where the first one's sentence conditions do not."""
    for previous, block in zip(blocks, blocks[1:]):
        if block.kind == "inline" or previous.kind == "inline" or not block.steps or not previous.steps:
            continue
        if not re.fullmatch(r"[\s,;]*otherwise[\s,:]*", _HTML_COMMENT.sub("", text[previous.end:block.opened]), re.I):
            continue
        others = [c for c in previous.steps[-1].conditions if c.origin == "sentence"]
        if others:
            conditions = tuple(Condition(c.text, c.offset, "otherwise") for c in others)
            block.steps[:] = [replace(s, conditions=s.conditions + conditions) for s in block.steps]


_VALUES_AFTER_DISPLAY = re.compile(r"[\s,]*(?:where|with|at|for)\s*")  # lower case: the display's sentence goes on
_MORE_VALUES = re.compile(r"\s*(?:,|and|,\s*and)\s*", re.I)


def _attach_values_after_display(blocks: list[_Block], text: str) -> None:
    """``$$ … $$ where $x = 1$ and $y = 0$ are substituted``: values stated right after a display (the
    next words, even across a blank line) are conditions of that whole display, not claims."""
    for position, block in enumerate(blocks):
        if block.kind == "inline" or not block.steps or position + 1 >= len(blocks):
            continue
        values = []
        previous_end, pattern = block.end, _VALUES_AFTER_DISPLAY
        for after in blocks[position + 1:]:
            if after.kind != "inline" or not after.steps or not pattern.fullmatch(text[previous_end:after.opened]) \
                    or not all(_is_value_step(s) for s in after.steps):
                break
            values.append(after)
            previous_end, pattern = after.end, _MORE_VALUES
        if not values:
            continue
        conditions = tuple(Condition(f"{s.lhs} = {s.rhs}", s.lhs_offset, "sentence") for v in values for s in v.steps)
        block.steps[:] = [replace(s, conditions=s.conditions + conditions) for s in block.steps]
        for value in values:
            value.steps[:] = []


def _is_value_step(step: Step) -> bool:
    return not step.problem and step.relation == "=" and step.chain_length == 1 \
        and bool(_NAME_EQUALS_NUMBER.match(step.lhs)) and bool(_NUMBER_TEXT.match(step.rhs))


def _leads_to(text: str, start: int, end: int) -> bool:
    """The condition's sentence runs into the display: a short gap, or only punctuation across a blank line."""
    gap = text[start:end]
    if _gap_is_one_sentence(text, start, end, 80):
        return True
    words = re.sub(r"\s+", " ", gap).strip()
    return len(gap) <= 200 and "$" not in gap and re.fullmatch(r"[,:;]?\s*(?:then|we have|we get)?\s*[,:]?", words) is not None


def _inline_claims_in_sentence(blocks: list[_Block], position: int, text: str) -> list:
    """The inline blocks after ``position`` up to the end of its sentence (``. ``, ``? ``, a blank line)."""
    found = []
    previous_end = blocks[position].end
    for block in blocks[position + 1:]:
        gap = text[previous_end:block.opened]
        if block.kind != "inline" or _BLANK_LINE.search(gap) or re.search(r"[.?!](?:\s|$)", gap):
            break
        if block.steps:
            found.append(block)
        previous_end = block.end
    return found


def _last_chain(steps: list[Step]) -> list[Step]:
    chain = []
    for step in reversed(steps):
        chain.insert(0, step)
        if step.first_in_chain:
            break
    return chain


def section_of(offset: int, sections: tuple, end: int) -> tuple[int, int]:
    """(start, end) of the section holding ``offset``: from its heading to the next heading of the same or
    a higher rank (a fact stated under "# Problem 1" still holds in its "### b")."""
    before = [(at, level) for at, level in sections if at <= offset]
    if not before:  # the text before the first heading is a section of its own
        return 0, sections[0][0] if sections else end
    start, level = before[-1]
    following = [at for at, other in sections if at > offset and other <= level]
    return start, following[0] if following else end


_SIMPLE_NAME = re.compile(
    r"^\s*(?:\\?[a-zA-Z]+|\\[a-zA-Z]+\{[^{}]*\})(?:\s*_\s*(?:\{[^{}]*\}|\\?[a-zA-Z0-9]+))?"
    r"(?:\s*\^\s*(?:\{[^{}]*\}|\S))?(?:\s*\([^()]*\))?\s*$")


def is_fact(step: Step) -> bool:
    """Inline math after "since"/"because"/"using", or after "where" when it is not a definition
    (``where $\\sum_i y_i = 1$`` states a fact; ``where $Z = \\sum_k e^{x_k}$`` defines Z)."""
    if not step.inline or step.relation not in ("=", ":=") or step.problem:
        return False
    if step.context_word in FACT_WORDS:
        return True
    return step.context_word == "where" and step.first_in_chain and not _SIMPLE_NAME.match(step.lhs)


def _sentence_facts(blocks: list[_Block], text: str, sections: tuple) -> list[Fact]:
    facts = []
    for block in blocks:
        if block.kind != "inline":
            continue
        _, section_end = section_of(block.start, sections, len(text) + 1)
        for step in block.steps:
            if is_fact(step):
                facts.append(Fact(f"{step.lhs} = {step.rhs}", step.lhs_offset, section_end, step.context_word))
    return facts
