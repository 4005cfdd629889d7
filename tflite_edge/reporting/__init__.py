"""Reports: the JSON results of the pipeline's stages as one self-contained HTML file or Markdown.

`report(results, out=..., format="html"|"md")` reads result documents, checks them, draws the
plots with matplotlib and writes one file atomically. The HTML embeds its images as base64 PNG
(no external assets, no scripts); the Markdown variant has the same tables and no images, for
terminals and CI logs. Rendering the same results twice gives byte-identical output: no dates,
fixed matplotlib settings, PNGs saved without a "Software" tag.

A results file holds one document or a list of them. The documents (conversion, flash,
validation) and how each key is checked are declared once in tflite_edge.results; print them
with `python -c "import tflite_edge.results as r; print(r.describe())"`.

documents.py reads and checks them, cells.py formats figures into table cells, charts.py draws
the plots, render.py builds the templates' context and writes the report.
"""

from __future__ import annotations

from ..results import KINDS, ResultsError
from .documents import Results, load_results
from .render import FORMATS, render_report, report

__all__ = [
    "FORMATS",
    "KINDS",
    "Results",
    "ResultsError",
    "load_results",
    "render_report",
    "report",
]
