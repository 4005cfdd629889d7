"""`make demo`'s job end to end: train, prune + PQAT, int8, qemu-m4, validate, report."""

from __future__ import annotations

import json
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from conftest import run
from tflite_edge.reference import Reference


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images = 0
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self._in_h2 = tag == "h2"
        if tag == "img" and dict(attrs).get("src", "").startswith("data:image/png;base64,"):
            self.images += 1

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.strip())
            self._in_h2 = False


@pytest.mark.slow
def test_demo_cli_end_to_end(tmp_path):
    out = tmp_path / "demo"
    res = run(
        [
            sys.executable,
            "-m",
            "tflite_edge",
            "demo",
            "--out",
            str(out),
            "--epochs",
            "4",
            "--runs",
            "3",
            "--quiet",
        ]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    model = out / "digits_int8.tflite"
    conv = json.loads((out / "conversion.json").read_text())
    flash = json.loads((out / "flash.json").read_text())
    val = json.loads((out / "validation.json").read_text())
    test = np.load(out / "digits_test.npz")

    # the board ran the file we wrote, and agreed with the TFLM interpreter on every sample
    assert flash["model_sha256"] == __import__("hashlib").sha256(model.read_bytes()).hexdigest()
    assert flash["output_matches_tflm"] is True and flash["runs"] == 3
    assert len(set(flash["cycles_all"])) == 1  # emulated: identical instruction counts
    assert val["samples"] == len(test["y"]) and val["bit_exact"] == val["samples"]
    assert val["accuracy"] == val["int8_host_accuracy"] == pytest.approx(conv["int8_accuracy"])
    assert flash["tflm_arena"]["total"] == Reference(model).arena().total
    assert conv["sparsity"] >= 0.70 and conv["tflite_bytes"] <= 0.30 * conv["float_bytes"]
    assert [v["name"] for v in conv["variants"]][0] == "float" and len(conv["variants"]) == 3

    # the summary a newcomer reads, and the report with its plots
    for row in (
        "float accuracy (Keras)",
        "int8 accuracy (on device)",
        "bit-exact with TFLM",
        "activation RAM",
        "latency (median)",
    ):
        assert row in res.stdout
    page = _Images()
    page.feed((out / "report.html").read_text())
    assert page.images >= 4  # size/accuracy, memory, latency histogram, per layer
    assert any(h.startswith("Latency") for h in page.headings)
    assert any(h.startswith("Validation") for h in page.headings)
