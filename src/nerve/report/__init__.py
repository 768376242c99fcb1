"""Analysis results rendered as one self-contained HTML page (plotly.js inlined; opens offline),
and :func:`analyze`, which runs every analysis of a run and writes its results and report."""

from nerve.report._html import (
    barcode_figure,
    diagrams_figure,
    llc_calibration_figure,
    llc_figure,
    render_report,
    write_report,
)
from nerve.report._pipeline import Analysed, analyze
from nerve.report._sweep import render_universality, write_universality

__all__ = [
    "Analysed",
    "analyze",
    "barcode_figure",
    "diagrams_figure",
    "llc_calibration_figure",
    "llc_figure",
    "render_report",
    "render_universality",
    "write_report",
    "write_universality",
]
