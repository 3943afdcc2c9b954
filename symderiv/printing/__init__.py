"""Printing SymPy results for people: LaTeX (:mod:`~symderiv.printing.latex`, one
printer with settings) and plain text (:mod:`~symderiv.printing.text`).

A foundation: knows nothing of the domains above it.
"""
