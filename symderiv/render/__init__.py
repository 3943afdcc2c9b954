"""Renderers: result dataclasses in, text out (HTML with MathML, LaTeX, annotated documents).

Contract: every renderer here takes a result dataclass (``CheckReport``,
``ProofResult``, ``ChainDerivation``, ...) and returns text; none of them runs
a check, and none looks inside the checkers. They stand on the dataclasses'
fields and on the project's printing code only, and tolerate fields added to
those dataclasses later. Each module imports its optional dependencies
(latex2mathml for MathML) when called, so importing ``symderiv`` or a result
class costs nothing until something is displayed.

- :mod:`symderiv.render.mathml`: LaTeX to sanitised MathML (latex2mathml).
- :mod:`symderiv.render.html`: the self-contained HTML report of ``symderiv check``.
- :mod:`symderiv.render.notebook`: ``_repr_html_`` / ``_repr_latex_`` bodies for Jupyter.
- :mod:`symderiv.render.annotate`: a user's LaTeX document with a margin mark beside each checked step.
"""
