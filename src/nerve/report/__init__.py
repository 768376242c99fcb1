"""Analysis results rendered as one self-contained HTML page (plotly.js inlined; opens offline),
:func:`analyze`, which runs the registered analyses of a run and writes their results and its
report, and :func:`render`, which rebuilds the report from the saved results alone."""

from nerve.report._html import curves_figure, key_numbers, render_report, write_report
from nerve.report._pipeline import Analysed, analyze, render
from nerve.report._sweep import render_universality, write_universality

__all__ = [
    "Analysed",
    "analyze",
    "curves_figure",
    "key_numbers",
    "render",
    "render_report",
    "render_universality",
    "write_report",
    "write_universality",
]
