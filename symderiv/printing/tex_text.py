"""Plain text for LaTeX text mode: TeX's special characters escaped, math names typeset.

:func:`escape_plain` makes any string safe inside ``\\text{}`` or a paragraph
(``\\``, ``{``, ``%``, ``$`` … escaped; a few unicode math characters mapped to
math); :func:`escape_text` also typesets ``f_yz``-style names as math. Used by
the LaTeX writeup, the annotated PDF and the notebook displays.
"""

from __future__ import annotations

import re

_SUBSCRIPTED = re.compile(r"(?<![A-Za-z\\])([A-Za-zδσℓΣ∇])(²?)_([A-Za-z0-9ℓ]{1,4})(?![A-Za-z0-9])")


_GREEK = {"δ": r"\delta", "σ": r"\sigma", "ℓ": r"\ell", "Σ": r"\sum", "∇": r"\nabla "}


def escape_text(text: str) -> str:
    """Plain text (justifications, titles) for LaTeX text mode.

    ``f_yz``-style names become math ($f_{yz}$); unicode math characters are mapped.
    """
    pieces = []
    last = 0
    for match in _SUBSCRIPTED.finditer(text):
        pieces.append(escape_plain(text[last : match.start()]))
        letter = _GREEK.get(match.group(1), match.group(1))
        power = "^2" if match.group(2) else ""
        subscript = "".join(_GREEK.get(c, c) for c in match.group(3))
        pieces.append(f"${letter}{power}_{{{subscript}}}$")
        last = match.end()
    pieces.append(escape_plain(text[last:]))
    return "".join(pieces)


def escape_plain(text: str) -> str:
    replacements = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "<": r"$<$",
        ">": r"$>$",
        "|": r"$|$",
    }
    out = "".join(replacements.get(c, c) for c in text)
    unicode_math = {
        "δ": r"$\delta$",
        "Δ": r"$\Delta$",
        "ℓ": r"$\ell$",
        "σ": r"$\sigma$",
        "Σ": r"$\Sigma$",
        "∂": r"$\partial$",
        "→": r"$\to$",
        "≠": r"$\neq$",
        "≤": r"$\le$",
        "≥": r"$\ge$",
        "′": r"$'$",
        "″": r"$''$",
        "²": r"$^2$",
        "³": r"$^3$",
        "⁴": r"$^4$",
        "⁵": r"$^5$",
        "⁻": r"$^-$",
        "¹": r"$^1$",
        "ᵀ": r"$^{\mathsf T}$",
        "⊙": r"$\odot$",
        "·": r"$\cdot$",
        "√": r"$\surd$",
        "−": r"$-$",
        "—": "---",
        "–": "--",
        "…": r"\dots{}",
        "∈": r"$\in$",
        "∇": r"$\nabla$",
        "⁰": r"$^0$",
        "₀": r"$_0$",
        "₁": r"$_1$",
        "₂": r"$_2$",
        "λ": r"$\lambda$",
        "μ": r"$\mu$",
        "π": r"$\pi$",
        "ξ": r"$\xi$",
        "×": r"$\times$",
        "≈": r"$\approx$",
    }
    # anything else outside ASCII would stop pdflatex: shown as '?'
    return "".join(unicode_math.get(c, c if ord(c) < 128 else "?") for c in out)

