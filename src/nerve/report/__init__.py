"""Analysis results rendered as one self-contained HTML page (plotly.js inlined; opens offline),
:func:`analyze`, which runs every analysis of a run and writes its results and report, and
:func:`render`, which rebuilds the report from the saved results alone."""

from nerve.report._html import (
    barcode_figure,
    diagrams_figure,
    key_numbers,
    llc_calibration_figure,
    llc_figure,
    render_report,
    write_report,
)
from nerve.report._pipeline import Analysed, analyze, render
from nerve.report._sweep import render_universality, write_universality

__all__ = [
    "Analysed",
    "analyze",
    "barcode_figure",
    "diagrams_figure",
    "key_numbers",
    "llc_calibration_figure",
    "llc_figure",
    "render",
    "render_report",
    "render_universality",
    "write_report",
    "write_universality",
]
