"""notebooks/quickstart.ipynb runs clean, top to bottom, in a fresh kernel."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT


@pytest.mark.slow
def test_quickstart_runs_clean(tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    # the kernel's own inline backend draws the plots; a forced MPLBACKEND would hide them
    os.environ.pop("MPLBACKEND", None)
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    # the plot cell produced an image, and the validation cell printed its summary
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert images
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "bit-exact with TFLM" in text
