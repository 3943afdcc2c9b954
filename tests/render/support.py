"""Shared by the renderer tests: the shipped example's check report (computed once per run) and an HTML reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "writeup-sample.md"
WRITEUPS = ROOT / "tests" / "writeups"


@lru_cache(maxsize=None)
def sample_report():
    """``symderiv check examples/writeup-sample.md`` as a CheckReport (no --let: it has FALSE steps)."""
    from symderiv.writeup.verdicts import check_text

    return check_text(SAMPLE.read_text(encoding="utf-8"), False, [], "examples/writeup-sample.md")


@dataclass
class Element:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)  # Elements and strings, in document order

    @property
    def text(self) -> str:
        """The element's own text (not its children's)."""
        return "".join(c for c in self.children if isinstance(c, str))

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def all_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.all_text() for c in self.children)

    def find_all(self, tag: str, css_class: str | None = None) -> list["Element"]:
        return [e for e in self.iter() if e.tag == tag
                and (css_class is None or css_class in e.attrs.get("class", "").split())]


_VOID = {"meta", "br", "img", "hr", "link", "input", "mspace", "none", "mprescripts"}


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: (v or "") for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: (v or "") for k, v in attrs}))

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(page: str) -> Element:
    """A tree of the page; asserts every element is closed where it should be (well-formed output)."""
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], f"unclosed: {[e.tag for e in builder.stack[1:]]}"
    return builder.root
