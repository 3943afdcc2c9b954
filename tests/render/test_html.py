"""The HTML report of `symderiv check` (symderiv.render.html / .mathml) and `check --html`.

The page is read back with an HTML parser: every step is a section with its
line and badge, the summary counts are the report's, the math is MathML made
by latex2mathml from the report's LaTeX (compared against latex2mathml called
directly), hostile LaTeX cannot inject markup, and nothing is fetched.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("latex2mathml", reason="the [html] extra (latex2mathml) is not installed")

from tests.render.support import SAMPLE, WRITEUPS, parse_html, sample_report  # noqa: E402

from symderiv.cli import main  # noqa: E402
from symderiv.render import mathml  # noqa: E402
from symderiv.render.html import render_report, report_fragment  # noqa: E402
from symderiv.writeup.report import CheckReport, StepResult  # noqa: E402
from symderiv.writeup.verdicts import check_text  # noqa: E402


@pytest.fixture(scope="module")
def sample_page():
    report = sample_report()
    return report, render_report(report)


def _sections(tree):
    return [s for s in tree.find_all("section") if "step" in s.attrs.get("class", "")]


def test_every_step_is_a_section_with_its_line_and_badge(sample_page):
    report, page = sample_page
    sections = _sections(parse_html(page))
    assert len(sections) == len(report.equations) > 10
    for index, (section, step) in enumerate(zip(sections, report.equations), start=1):
        assert section.attrs["id"] == f"step-{index}"
        assert section.attrs["data-line"] == str(step.line)
        badges = section.find_all("span", "badge")
        assert [b.attrs["data-verdict"] for b in badges] == [step.verdict]
        assert badges[0].all_text().endswith({"proved": "proved", "holds": "holds",
                                              "false": "FALSE", "unchecked": "unchecked"}[step.verdict])
        assert f"line {step.line}" in section.find_all("a", "where")[0].all_text()


def test_summary_counts_and_links_match_the_report(sample_page):
    report, page = sample_page
    tree = parse_html(page)
    table = tree.find_all("table", "summary")[0]
    counts = report.counts()
    assert set(counts) == {"proved", "holds", "false", "unchecked"} and counts["false"] > 0
    step_ids = {s.attrs["id"] for s in _sections(tree)}
    for verdict, expected in counts.items():
        row = next(r for r in table.find_all("tr") if r.attrs.get("class") == f"verdict {verdict}")
        assert row.find_all("td", "count")[0].all_text() == str(expected)
        targets = [a.attrs["href"][1:] for a in row.find_all("td", "links")[0].find_all("a")]
        assert len(targets) == expected and set(targets) <= step_ids
        assert all(tree_step_verdict(tree, t) == verdict for t in targets)
    reason_rows = [r for r in table.find_all("tr") if r.attrs.get("class") == "reason"]
    assert sum(int(r.find_all("td", "count")[0].all_text()) for r in reason_rows) == counts["unchecked"]
    by_kind = {}
    for step in report.equations:
        if step.verdict == "unchecked":
            kind = getattr(step, "reason_kind", "") or "other"
            by_kind[kind] = by_kind.get(kind, 0) + 1
    assert {r.children[0].all_text(): int(r.find_all("td", "count")[0].all_text()) for r in reason_rows} == by_kind


def tree_step_verdict(tree, step_id: str) -> str:
    section = next(s for s in _sections(tree) if s.attrs["id"] == step_id)
    return section.find_all("span", "badge")[0].attrs["data-verdict"]


def test_math_is_latex2mathml_of_the_reports_latex(sample_page):
    from latex2mathml.converter import convert

    report, page = sample_page
    sections = _sections(parse_html(page))
    assert 'class="math-source"' not in page, "every formula of the sample converts"
    for section, step in zip(sections, report.equations):
        claim = section.find_all("div", "claim")[0]
        maths = claim.find_all("math")
        assert len(maths) == 1 and maths[0].attrs["display"] == "block"
        # same identifiers and numbers as latex2mathml's own conversion of the source
        source = f"{step.lhs_source} {'=' if step.relation in ('=', ':=') else step.relation} {step.rhs_source}"
        reference = parse_html(convert(source))
        assert _tokens(maths[0]) == _tokens(reference)
        if step.difference is not None:
            difference = section.find_all("div", "difference")[0].find_all("math")[0]
            assert _tokens(difference) == _tokens(parse_html(convert(step.difference)))


def _tokens(tree) -> list[tuple[str, str]]:
    return [(e.tag, e.text) for e in tree.iter() if e.tag in ("mi", "mn", "mo", "mtext") and e.text.strip()]


def test_counterexamples_are_typeset_with_their_values(sample_page):
    report, page = sample_page
    sections = _sections(parse_html(page))
    false_steps = [(s, step) for s, step in zip(sections, report.equations) if step.verdict == "false"]
    assert false_steps
    for section, step in false_steps:
        example = step.counterexample
        box = section.find_all("div", "counterexample")[0]
        numbers = [e.text for e in box.iter() if e.tag == "mn"]
        assert example.lhs_value.lstrip("-") in numbers and example.rhs_value.lstrip("-") in numbers
        identifiers = {e.text for e in box.iter() if e.tag == "mi"}
        for name, _ in example.point:
            plain = re.sub(r"[{}_\\]|left|right", "", name)[:1]
            assert plain in identifiers
        assert len(box.find_all("math")) >= 1 + bool(example.point)
        assert str(example.precision_digits) in box.all_text() or example.exact


def test_self_contained_no_script_no_network(sample_page):
    _, page = sample_page
    tree = parse_html(page)
    tags = {e.tag for e in tree.iter()}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert "src=" not in page and "@import" not in page and "url(" not in page
    for anchor in tree.find_all("a"):
        assert anchor.attrs["href"].startswith("#step-")
    # the only URL is the MathML namespace name, which browsers never fetch
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/1998/Math/MathML"}
    assert "@media print" in page and "@media (max-width" in page and "viewport" in page


def test_output_is_deterministic(sample_page):
    report, page = sample_page
    assert render_report(report) == page
    fragment = report_fragment(report)
    assert fragment.startswith("<style>") and 'class="symderiv-report"' in fragment and "<html" not in fragment


def _step(lhs, rhs, verdict="unchecked", **extra):
    return StepResult(line=3, lhs=lhs, rhs=rhs, relation="=", verdict=verdict, lhs_source=lhs, rhs_source=rhs, **extra)


def test_hostile_latex_and_text_cannot_inject_markup():
    steps = (
        _step(r"\text{<script>alert(1)</script>}", "1"),
        _step(r"\href{javascript:alert(1)}{x}", "x"),
        _step("x", r"\color{red}{y}"),
        _step(r"</math><script>alert(2)</script>", "y", reason="<img src=x onerror=alert(3)>"),
        _step(r"\unicode{x41}", r"\text{a & b}"),
        _step("{" * 3000 + "x" + "}" * 3000, "x"),
        _step(r"\foo{x}", "y"),
    )
    report = CheckReport(path="<b>evil</b>.md", equations=steps, warnings=("<script>w</script>",))
    page = render_report(report)
    tree = parse_html(page)
    assert not [e for e in tree.iter() if e.tag in ("script", "img")]
    assert "javascript:" not in page and "onerror=" not in page.replace("onerror=alert", "")
    assert not any(k.startswith("on") or k in ("href", "mathcolor", "style") for e in tree.iter()
                   if e.tag not in ("a",) for k in e.attrs)
    notes = [e.all_text() for e in tree.find_all("span", "note")]
    assert any("unknown command \\foo" in n for n in notes)
    assert any("nested too deeply" in n for n in notes)
    assert "&lt;b&gt;evil&lt;/b&gt;" in page and "&lt;img src=x onerror=alert(3)&gt;" in page
    # the source of an unconverted formula is shown, escaped, in a code element
    assert any("\\foo{x}" in e.all_text() for e in tree.find_all("pre", "latex"))


def test_unknown_command_is_never_shown_as_typeset():
    result = mathml.typeset(r"\frac{a}{b} + \mysterymacro{c}")
    assert not result.ok and "\\mysterymacro" in result.problem
    assert mathml.typeset(r"a \label{eq:1} = b \nonumber").ok


def test_fences_have_no_inner_space_and_disallowed_attributes_are_dropped():
    result = mathml.typeset(r"\color{red}{\sigma{\left(u \right)}}", display=True)
    assert result.ok and 'display="block"' in result.mathml and "mathcolor" not in result.mathml
    assert result.mathml.count('lspace="0em" rspace="0em"') == 2


def test_renderer_tolerates_older_and_newer_report_shapes():
    old_style = SimpleNamespace(line=4, lhs="a", rhs="b", relation="=", verdict="false", reason="r",
                                condition="i \\neq j", counterexample=SimpleNamespace(
                                    functions=(), point=(("a", "1"), ("b", "2")), lhs_value="1",
                                    rhs_value="2", precision_digits=30),
                                difference="a - b", lhs_source="", rhs_source="")
    newer = SimpleNamespace(**{**vars(old_style), "verdict": "holds", "counterexample": None,
                               "column": 7, "reason_kind": "x", "added_later": object(), "condition": "otherwise"})
    report = SimpleNamespace(path="p.md", equations=(old_style, newer), warnings=())
    tree = parse_html(render_report(report))
    sections = _sections(tree)
    assert [s.find_all("span", "badge")[0].attrs["data-verdict"] for s in sections] == ["false", "holds"]
    assert "line 4:7" in sections[1].all_text() and "otherwise" in sections[1].all_text()


def test_empty_report_renders():
    page = render_report(CheckReport(path="empty.md", equations=()))
    assert "no equations found" in page and not _sections(parse_html(page))


# ---------------------------------------------------------------- every shipped writeup


WRITEUP_FILES = sorted(p for p in WRITEUPS.glob("*.*") if p.suffix in (".md", ".tex")) + sorted(
    p for p in (WRITEUPS / "real").glob("*.*") if p.suffix in (".md", ".tex") and p.name != "README.md")


@pytest.mark.parametrize("path", WRITEUP_FILES, ids=lambda p: p.name)
def test_every_writeup_renders(path):
    # A small CPU budget keeps this fast: later steps are "unchecked (budget)", and
    # every step's own LaTeX is still typeset, which is what this test exercises.
    report = check_text(path.read_text(encoding="utf-8"), path.suffix == ".tex", [], str(path),
                        budget_seconds=1.0)
    page = render_report(report)
    tree = parse_html(page)
    assert len(_sections(tree)) == len(report.equations)
    for element in tree.iter():
        if element.tag.startswith("m") and element.tag not in ("meta",):
            assert "\\" not in element.text, (element.tag, element.text)
    for section in _sections(tree):
        claim = section.find_all("div", "claim")[0]
        typeset, shown_as_source = claim.find_all("math"), claim.find_all("span", "math-source")
        assert len(typeset) + len(shown_as_source) == 1
        if shown_as_source:  # the source, and why it was not typeset
            assert claim.find_all("pre", "latex")[0].all_text().strip()
            assert claim.find_all("span", "note")[0].all_text().startswith("not typeset: ")


# ---------------------------------------------------------------- the command


TINY = "Expand:\n\n$$(x+1)^2 = x^2 + 2x + 1$$\n\nand wrongly\n\n$$(x+1)^2 = x^2 + 1$$\n"


def _run(capsys, *argv):
    code = main(["check", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_html_writes_the_report(capsys, tmp_path):
    source = tmp_path / "tiny.md"
    source.write_text(TINY)
    target = tmp_path / "report.html"
    code, out, err = _run(capsys, source, "--html", target)
    assert code == 1 and "FALSE" in out and f"wrote {target}" in err
    page = target.read_text(encoding="utf-8")
    verdicts = [s.find_all("span", "badge")[0].attrs["data-verdict"] for s in _sections(parse_html(page))]
    assert verdicts == ["proved", "false"]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_check_html_refuses_to_overwrite_without_force(capsys, tmp_path):
    source = tmp_path / "tiny.md"
    source.write_text(TINY)
    target = tmp_path / "report.html"
    target.write_text("keep me")
    code, out, err = _run(capsys, source, "--html", target)
    assert code == 2 and out == "" and "--force" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "keep me"
    code, _, _ = _run(capsys, source, "--html", target, "--force")
    assert code == 1 and target.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("bad, message", [
    ("report.txt", "must end in .html"),
    ("missing-dir/report.html", "does not exist"),
])
def test_check_html_bad_paths_fail_before_checking(capsys, tmp_path, monkeypatch, bad, message):
    import symderiv.writeup.verdicts as verdicts

    monkeypatch.setattr(verdicts, "check_text", lambda *a, **k: pytest.fail("the check ran"))
    source = tmp_path / "tiny.md"
    source.write_text(TINY)
    code, out, err = _run(capsys, source, "--html", tmp_path / bad)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_check_html_without_latex2mathml_says_how_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(mathml, "available", lambda: False)
    code, out, err = _run(capsys, SAMPLE, "--html", tmp_path / "r.html")
    assert code == 2 and out == "" and 'pip install "symderiv[html]"' in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()


def test_help_mentions_the_new_options(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "--html" in out and "--annotate" in out and "--force" in out


def test_writeup_file_paths_exist():
    assert SAMPLE.exists() and all(Path(p).exists() for p in WRITEUP_FILES) and len(WRITEUP_FILES) > 30
