"""The real-writeup corpus (``tests/writeups/real``): read its headers, check it, print its coverage.

Contract: a corpus file starts with a provenance header (an HTML comment in
Markdown, ``%`` lines in LaTeX) of ``key: value`` lines; :func:`read_header`
returns the declarations a student would pass (``let:``, ``assume:``), the
lines that are wrong in the source itself (``source-error: line N: …``) and,
for a single-mistake variant, the changed line (``mutation: line N: kind: …``).
:func:`check_file` checks a file with those declarations; :func:`wrong_steps`
finds the steps of a variant whose source covers the changed characters
(found by comparing the variant's line with the original's).

``python -m symderiv.writeup.corpus [DIR] [--json | --markdown]`` prints the coverage table:
steps, proved, holds, false, unchecked grouped by reason, over the originals,
and the outcome on the variants' wrong steps (``--markdown``: the same as Markdown tables,
without timings, as docs/check.md shows them). :func:`tally` computes the figures from
reports already checked (the tests check the corpus once and reuse the reports).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from symderiv.errors import InputError

_HEADER_LINE = re.compile(r"^\s*%?\s*(?P<key>[a-z-]+):\s*(?P<value>.*?)\s*$")
_LINE_REFERENCE = re.compile(r"^line\s+(?P<line>\d+)\s*:\s*(?P<rest>.*)$", re.S)


@dataclass
class Header:
    lets: list = field(default_factory=list)
    assumes: list = field(default_factory=list)
    source_errors: dict = field(default_factory=dict)  # line -> what is wrong
    mutation: tuple | None = None  # (line, kind, description)
    fields: dict = field(default_factory=dict)


def read_header(text: str, is_latex: bool) -> Header:
    if is_latex:
        lines = []
        for line in text.splitlines():
            if not line.startswith("%"):
                break
            lines.append(line.lstrip("%"))
    else:
        match = re.match(r"\s*<!--(.*?)-->", text, re.S)
        lines = match.group(1).splitlines() if match else []
    header = Header()
    for line in lines:
        found = _HEADER_LINE.match(line)
        if not found:
            continue
        key, value = found.group("key"), found.group("value")
        header.fields.setdefault(key, []).append(value)
        if key == "let":
            header.lets.append(value)
        elif key == "assume":
            header.assumes.append(value)
        elif key in ("source-error", "mutation"):
            reference = _LINE_REFERENCE.match(value)
            if reference is None:
                continue
            number = int(reference.group("line"))
            if key == "source-error":
                header.source_errors[number] = reference.group("rest")
            else:
                kind, _, description = reference.group("rest").partition(":")
                header.mutation = (number, kind.strip(), description.strip())
    return header


def is_latex_path(path: Path) -> bool:
    return path.suffix.lower() in (".tex", ".ltx", ".latex")


def check_file(path: Path, step_seconds: float = 5.0, extra_lets=()):
    """(report, header) for one corpus file, checked with its header's declarations."""
    from symderiv.writeup.verdicts import check_text

    text = path.read_text(encoding="utf-8")
    latex = is_latex_path(path)
    header = read_header(text, latex)
    report = check_text(text, latex, header.lets + list(extra_lets), str(path), step_seconds=step_seconds,
                        assume=header.assumes)
    return report, header


def original_of(variant: Path) -> Path:
    slug = variant.name.split("--", 1)[0]
    return variant.parent.parent / (slug + variant.suffix)


def changed_range(original_text: str, variant_text: str, line: int) -> tuple[int, int]:
    """File offsets (in the variant) of the characters of line ``line`` that differ from the original.

    Body line k of the original is line k + 1 of the variant (the variant has one more header line)."""
    variant_lines = variant_text.split("\n")
    original_lines = original_text.split("\n")
    new, old = variant_lines[line - 1], original_lines[line - 2]
    prefix = 0
    while prefix < min(len(new), len(old)) and new[prefix] == old[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(new), len(old)) - prefix and new[-1 - suffix] == old[-1 - suffix]:
        suffix += 1
    start = sum(len(text) + 1 for text in variant_lines[:line - 1])
    return start + prefix, start + max(prefix, len(new) - suffix)


def wrong_steps(report, original_text: str, variant_text: str, line: int) -> list:
    """The steps whose source covers the changed characters (or, failing that, the steps on that line)."""
    start, end = changed_range(original_text, variant_text, line)
    while start > 0 and variant_text[start - 1].isspace():  # a deletion right after a side still changes it
        start -= 1
    covering = [s for s in report.equations if s.span[0] <= end and start <= s.span[1]]
    return covering or [s for s in report.equations if s.line == line]


@dataclass
class Coverage:
    files: int = 0
    steps: int = 0
    verdicts: dict = field(default_factory=lambda: {"proved": 0, "holds": 0, "false": 0, "unchecked": 0})
    unchecked_by_reason: dict = field(default_factory=dict)
    false_alarms: list = field(default_factory=list)  # (file, line, lhs = rhs)
    source_error_false: int = 0
    variants: int = 0
    variant_outcomes: dict = field(default_factory=lambda: {"false": 0, "unchecked": 0, "missed": 0, "no step": 0})
    missed: list = field(default_factory=list)  # (variant, line, verdict)
    cpu_seconds: list = field(default_factory=list)  # per original file
    rejected: list = field(default_factory=list)  # (file, error) when a header declaration is refused


def corpus_paths(directory: Path) -> tuple[list, list]:
    """(originals, variants) of a corpus directory, in name order."""
    originals = sorted(p for p in directory.iterdir() if p.suffix in (".md", ".tex") and p.name != "README.md")
    variants_dir = directory / "variants"
    variants = sorted(variants_dir.iterdir()) if variants_dir.is_dir() else []
    return originals, variants


def checked(paths, step_seconds: float = 5.0) -> dict:
    """path -> (report, header), or path -> InputError when a header declaration is refused."""
    found = {}
    for path in paths:
        try:
            found[path] = check_file(path, step_seconds)
        except InputError as exc:
            found[path] = exc
    return found


def coverage(directory: Path, step_seconds: float = 5.0) -> Coverage:
    originals, variants = corpus_paths(directory)
    return tally(checked(originals, step_seconds), checked(variants, step_seconds))


def tally(originals: dict, variants: dict) -> Coverage:
    """The figures of checked originals and variants (each path -> (report, header) or an InputError)."""
    found = Coverage()
    for path, outcome in originals.items():
        if isinstance(outcome, InputError):
            found.rejected.append((path.name, str(outcome)))
            continue
        report, header = outcome
        found.files += 1
        found.cpu_seconds.append(report.cpu_seconds)
        for step in report.equations:
            found.steps += 1
            found.verdicts[step.verdict] += 1
            if step.verdict == "unchecked":
                kind = step.reason_kind or "other"
                found.unchecked_by_reason[kind] = found.unchecked_by_reason.get(kind, 0) + 1
            if step.verdict == "false":
                if step.line in header.source_errors:
                    found.source_error_false += 1
                else:
                    found.false_alarms.append((path.name, step.line, f"{step.lhs_source} = {step.rhs_source}"))
    for path, outcome in variants.items():
        if isinstance(outcome, InputError):
            found.rejected.append((path.name, str(outcome)))
            continue
        report, header = outcome
        found.variants += 1
        steps = wrong_steps(report, original_of(path).read_text(encoding="utf-8"), path.read_text(encoding="utf-8"),
                            header.mutation[0])
        verdicts = {s.verdict for s in steps}
        if not steps:
            found.variant_outcomes["no step"] += 1
            found.missed.append((path.name, header.mutation[0], "no step"))
        elif verdicts & {"proved", "holds"}:
            found.variant_outcomes["missed"] += 1
            found.missed.append((path.name, header.mutation[0], ", ".join(sorted(verdicts))))
        elif "false" in verdicts:
            found.variant_outcomes["false"] += 1
        else:
            found.variant_outcomes["unchecked"] += 1
    return found


def percent(part: int, whole: int) -> float:
    """part / whole in percent, rounded down to one decimal (a figure a test can hold as a lower bound)."""
    return (1000 * part // whole) / 10 if whole else 0.0


def render_markdown(found: Coverage) -> str:
    """The coverage table as Markdown (no timings: the output is the same on every run)."""
    verdicts, outcomes = found.verdicts, found.variant_outcomes
    decided = verdicts["proved"] + verdicts["holds"]
    lines = [f"Originals: {found.files} files, {found.steps} steps.", "",
             "| verdict | steps | share |", "|---|---:|---:|"]
    for label, count in (("proved", verdicts["proved"]), ("holds (numerically)", verdicts["holds"]),
                         ("false, on lines the source itself gets wrong", found.source_error_false),
                         ("false alarms (a correct line reported false)", len(found.false_alarms)),
                         ("unchecked, with a reason", verdicts["unchecked"])):
        lines.append(f"| {label} | {count} | {percent(count, found.steps)} % |")
    lines.append(f"| **proved or holds** | **{decided}** | **{percent(decided, found.steps)} %** |")
    lines += ["", "Unchecked steps by reason:", "", "| reason | steps |", "|---|---:|"]
    for kind, count in sorted(found.unchecked_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {kind} | {count} |")
    lines += ["", f"Single-mistake variants: {found.variants}; the steps holding the changed characters are:", "",
              "| outcome | variants | share |", "|---|---:|---:|"]
    for label, count in (("false (the mistake caught)", outcomes["false"]),
                         ("unchecked, with a reason", outcomes["unchecked"]),
                         ("proved or holds (a mistake missed)", outcomes["missed"]),
                         ("no step found", outcomes["no step"])):
        lines.append(f"| {label} | {count} | {percent(count, found.variants)} % |")
    problems = ([f"FALSE ALARM {name}:{line}: {text}" for name, line, text in found.false_alarms]
                + [f"REJECTED {name}: {error}" for name, error in found.rejected]
                + [f"MISSED {name}:{line}: {verdict}" for name, line, verdict in found.missed])
    if problems:
        lines += [""] + [f"- {problem}" for problem in problems]
    return "\n".join(lines)


def render(found: Coverage) -> str:
    lines = [f"originals: {found.files} files, {found.steps} steps: {found.verdicts['proved']} proved, "
             f"{found.verdicts['holds']} hold numerically, {found.verdicts['false']} false "
             f"({found.source_error_false} on lines the source itself gets wrong, {len(found.false_alarms)} "
             f"false alarms), {found.verdicts['unchecked']} unchecked"]
    lines.append("unchecked by reason:")
    for kind, count in sorted(found.unchecked_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:5d}  {kind}")
    outcomes = found.variant_outcomes
    lines.append(f"variants: {found.variants}: wrong step false in {outcomes['false']}, unchecked (with a reason) "
                 f"in {outcomes['unchecked']}, proved or holds in {outcomes['missed']}, no step in {outcomes['no step']}")
    if found.cpu_seconds:
        ordered = sorted(found.cpu_seconds)
        median = ordered[len(ordered) // 2] if len(ordered) % 2 else sum(ordered[len(ordered) // 2 - 1:][:2]) / 2
        lines.append(f"CPU per original file: median {median:.2f} s, slowest {ordered[-1]:.2f} s")
    for name, line, text in found.false_alarms:
        lines.append(f"FALSE ALARM {name}:{line}: {text}")
    for name, error in found.rejected:
        lines.append(f"REJECTED {name}: {error}")
    for name, line, verdict in found.missed:
        lines.append(f"MISSED {name}:{line}: {verdict}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symderiv.writeup.corpus",
                                     description="coverage of symderiv check on the real-writeup corpus")
    parser.add_argument("directory", nargs="?", default="tests/writeups/real")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--markdown", action="store_true", help="the coverage tables as Markdown, without timings")
    args = parser.parse_args(argv)
    found = coverage(Path(args.directory))
    if args.markdown:
        print(render_markdown(found))
    elif args.json:
        json.dump(found.__dict__, sys.stdout, indent=2, default=list)
        sys.stdout.write("\n")
    else:
        print(render(found))
    return 0 if not (found.false_alarms or found.missed or found.rejected) else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
