"""Reports: every section and image is there (parsed, not grepped), values match their sources,
rendering is byte-identical, hostile strings are escaped, bad documents fail with one line."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from conftest import run
from tflite_edge.errors import TFLiteEdgeError
from tflite_edge.reporting import ResultsError, load_results, render_report, report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert('x')</script> & $\\alpha$ | `rm` [x](http://e.vil)"


# ----------------------------------------------------------------------------------------------
# Result documents built from real computations


@pytest.fixture(scope="module")
def centroids(digits):
    """A linear digits classifier: nearest centroid, as weights and bias, with the test split."""
    (x_tr, y_tr), (x_te, y_te) = digits
    x_tr, x_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    c = np.stack([x_tr[y_tr == k].mean(axis=0) for k in range(10)])
    # argmin |x - c|^2 == argmax (2 c.x - |c|^2): a linear layer
    return (2 * c).astype(np.float32), -np.sum(c**2, axis=1), x_te, y_te


@pytest.fixture(scope="module")
def conversion_doc(centroids) -> dict:
    """float vs int8 vs pruned int8 of the centroid classifier, measured here."""
    w, bias, x_te, y_te = centroids

    def int8(weights: np.ndarray) -> tuple[np.ndarray, float]:
        scale = float(np.abs(weights).max()) / 127
        return np.clip(np.round(weights / scale), -127, 127).astype(np.int8), scale

    def accuracy(weights: np.ndarray) -> float:
        logits = x_te @ weights.T + bias
        return float(np.mean(np.argmax(logits, axis=1) == y_te))

    q, scale = int8(w)
    pruned = np.where(np.abs(w) >= np.quantile(np.abs(w), 0.75), w, 0).astype(np.float32)
    qp, scale_p = int8(pruned)
    variants = [
        {"name": "float", "bytes": w.nbytes, "accuracy": accuracy(w), "sparsity": None},
        {
            "name": "int8",
            "bytes": q.nbytes,
            "accuracy": accuracy(q * scale),
            "sparsity": float(np.mean(q == 0)),
        },
        {
            "name": "int8 pruned 75%",
            "bytes": qp.nbytes,
            "accuracy": accuracy(qp * scale_p),
            "sparsity": float(np.mean(qp == 0)),
        },
    ]
    return {
        "kind": "conversion",
        "model": "digits nearest centroid",
        "float_accuracy": variants[0]["accuracy"],
        "int8_accuracy": variants[2]["accuracy"],
        "sparsity": variants[2]["sparsity"],
        "float_bytes": w.nbytes,
        "tflite_bytes": qp.nbytes,
        "ops": ["FULLY_CONNECTED", "SOFTMAX"],
        "variants": variants,
    }


@pytest.fixture(scope="module")
def kws(models_dir):
    """The DS-CNN reference model and TFLM's real arena for it."""
    from tflite_edge.model import load_model
    from tflite_edge.reference import arena

    model = load_model(models_dir / "kws_ref_model.tflite")
    return model, arena(model)


@pytest.fixture(scope="module")
def sections(tmp_path_factory) -> dict[str, int]:
    """A real object file's allocated sections, as arm-none-eabi-size -A reports them."""
    tmp = tmp_path_factory.mktemp("sections")
    src = tmp / "m.c"
    src.write_text(
        "const signed char weights[3000] = {1, 2, 3};\n"
        "int counter = 7;\n"
        "char arena[2048];\n"
        "int step(int x) { arena[x & 2047] = (char)x; return weights[x % 3000] + counter++; }\n"
    )
    obj = tmp / "m.o"
    subprocess.run(
        ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-Os", "-c", str(src), "-o", str(obj)],
        check=True,
    )
    out = subprocess.run(
        ["arm-none-eabi-size", "-A", str(obj)], check=True, capture_output=True, text=True
    ).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in (".text", ".data", ".bss", ".rodata"):
            found[parts[0]] = int(parts[1])
    assert set(found) == {".text", ".data", ".bss", ".rodata"}, out
    assert found[".bss"] >= 2048 and found[".rodata"] >= 3000, out
    return found


def _flash_doc(kws, sections, *, board="qemu-m4", runtime="aot", runs=40, seed=0) -> dict:
    model, tflm_arena = kws
    rng = np.random.default_rng(seed)
    cycles_all = rng.integers(900_000, 1_100_000, size=runs).tolist()
    clock_hz = 25_000_000
    us_all = [c * 1_000_000 / clock_hz for c in cycles_all]
    # three profiled runs per layer: the report shows each layer's median
    layers = [
        {"i": i, "idx": op.index, "op": op.op, "cycles": int(rng.integers(1_000, 90_000))}
        for i in range(3)
        for op in model.operators
    ]
    return {
        "kind": "flash",
        "board": board,
        "runtime": runtime,
        "model_sha256": model.sha256,
        "runs": runs,
        "emulated": True,
        "clock_hz": clock_hz,
        "cycles": {
            "min": min(cycles_all),
            "median": float(np.median(cycles_all)),
            "max": max(cycles_all),
        },
        "us": {"min": min(us_all), "median": float(np.median(us_all)), "max": max(us_all)},
        "cycles_all": cycles_all,
        "ram_bytes": tflm_arena.head // 2,
        "flash_bytes": model.weight_bytes,
        "layers": layers,
        "output_crc32": "89abcdef",
        "tflm_arena": {"total": tflm_arena.total, "head": tflm_arena.head, "tail": tflm_arena.tail},
        "sections": sections,
    }


@pytest.fixture(scope="module")
def flash_doc(kws, sections) -> dict:
    return _flash_doc(kws, sections)


@pytest.fixture(scope="module")
def validation_doc(centroids) -> dict:
    """Board outputs = the host's int8 logits with three samples disturbed, compared here."""
    w, bias, x_te, y_te = centroids
    logits = x_te @ w.T + bias
    host = np.clip(np.round(logits / (np.abs(logits).max() / 127)), -128, 127).astype(np.int8)
    board = host.copy()
    bad = np.random.default_rng(1).choice(len(board), size=3, replace=False)
    board[bad] = np.clip(board[bad].astype(np.int16) + 2, -128, 127).astype(np.int8)
    same = np.all(board == host, axis=1)
    return {
        "kind": "validation",
        "board": "qemu-m4",
        "runtime": "aot",
        "samples": len(board),
        "bit_exact": int(same.sum()),
        "bit_exact_share": float(same.mean()),
        "max_abs_diff": int(np.abs(board.astype(np.int16) - host).max()),
        "accuracy": float(np.mean(np.argmax(board, axis=1) == y_te)),
        "int8_host_accuracy": float(np.mean(np.argmax(host, axis=1) == y_te)),
    }


@pytest.fixture(scope="module")
def docs(conversion_doc, flash_doc, validation_doc) -> list[dict]:
    return [conversion_doc, flash_doc, validation_doc]


@pytest.fixture(scope="module")
def html(docs) -> str:
    return render_report(docs)


# ----------------------------------------------------------------------------------------------
# Reading the output back


class Page(HTMLParser):
    """Headings, tables and images of a report, each filed under its <h2> section."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.headings: list[tuple[str, str]] = []
        self.sections: dict[str, dict] = {}
        self.start_tags: list[str] = []
        self._text: list[str] | None = None
        self._section: dict | None = None
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.start_tags.append(tag)
        attrs = dict(attrs)
        if tag in ("h1", "h2", "h3", "td", "th"):
            self._text = []
        elif tag == "p" and attrs.get("class") in ("note", "source"):
            self._text, self._p_class = [], attrs["class"]
        elif tag == "title":
            self._in_title = True
        elif tag == "table" and self._section is not None:
            self._section["tables"].append([])
        elif tag == "tr" and self._section is not None:
            self._section["tables"][-1].append([])
        elif tag == "img":
            assert self._section is not None, "image outside a section"
            self._section["images"].append(attrs)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if self._text is None or tag not in ("h1", "h2", "h3", "td", "th", "p"):
            return
        text, self._text = "".join(self._text).strip(), None
        if tag in ("h1", "h2", "h3"):
            self.headings.append((tag, text))
        if tag == "h2":
            self._section = self.sections.setdefault(
                text, {"tables": [], "images": [], "notes": [], "sources": []}
            )
        elif tag == "p":
            self._section[self._p_class + "s"].append(text)
        elif tag in ("td", "th"):
            self._section["tables"][-1][-1].append(text)

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._text is not None:
            self._text.append(data)


def png_of(img: dict) -> bytes:
    prefix = "data:image/png;base64,"
    assert img["src"].startswith(prefix), img["src"][:40]
    data = base64.b64decode(img["src"][len(prefix) :], validate=True)
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (int(img["width"]), int(img["height"]))
    from PIL import Image

    Image.open(io.BytesIO(data)).verify()
    return data


def table_with(section: dict, first_header: str) -> list[list[str]]:
    tables = [t for t in section["tables"] if t and t[0] and t[0][0] == first_header]
    assert len(tables) == 1, [t[0] for t in section["tables"] if t]
    return tables[0]


def number(cell: str) -> float:
    return float(cell.replace(",", "").replace("%", "").strip())


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every pipe table of a Markdown text as rows of cells (escaped pipes stay in cells)."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if current is None:
                current = []
                tables.append(current)
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        else:
            current = None
    return tables


# ----------------------------------------------------------------------------------------------
# HTML


def test_html_has_every_section_with_valid_images(html, flash_doc):
    page = Page(html)
    h2 = [text for tag, text in page.headings if tag == "h2"]
    board_rt = f"{flash_doc['board']} {flash_doc['runtime']}"
    assert h2 == [
        "Summary",
        "Model: digits nearest centroid",
        "Memory",
        f"Latency: {board_rt}",
        "Validation: qemu-m4 aot",
    ]
    assert page.title == "tflite-edge report: digits nearest centroid"
    assert [len(page.sections[h]["images"]) for h in h2] == [0, 1, 1, 2, 0]
    for h in h2:
        for img in page.sections[h]["images"]:
            png_of(img)
            assert img["alt"]
    # self-contained: no external resources, no scripts
    assert not {"script", "link", "iframe"} & set(page.start_tags)
    assert all(
        img["src"].startswith("data:") for s in page.sections.values() for img in s["images"]
    )


def test_model_table_matches_the_variants(html, conversion_doc):
    rows = table_with(Page(html).sections["Model: digits nearest centroid"], "variant")
    assert rows[0] == ["variant", "bytes", "KiB", "of float", "accuracy", "sparsity"]
    variants = conversion_doc["variants"]
    assert [r[0] for r in rows[1:]] == [v["name"] for v in variants]
    for row, v in zip(rows[1:], variants, strict=True):
        assert number(row[1]) == v["bytes"]
        assert number(row[3]) == pytest.approx(100 * v["bytes"] / variants[0]["bytes"], abs=0.05)
        assert number(row[4]) == pytest.approx(100 * v["accuracy"], abs=0.005)
        if v["sparsity"] is None:
            assert row[5] == "—"
        else:
            assert number(row[5]) == pytest.approx(100 * v["sparsity"], abs=0.005)


def test_latency_table_from_the_runs(html, flash_doc):
    section = Page(html).sections[f"Latency: {flash_doc['board']} {flash_doc['runtime']}"]
    rows = table_with(section, "")
    assert rows[0] == ["", "instructions (emulated)", "µs (estimate)"]
    cycles = np.asarray(flash_doc["cycles_all"], dtype=np.float64)
    us = cycles * 1e6 / flash_doc["clock_hz"]
    expected = {
        "min": np.min,
        "median": np.median,
        "p90": lambda a: np.percentile(a, 90),
        "max": np.max,
    }
    assert [r[0] for r in rows[1:]] == list(expected)
    for row in rows[1:]:
        fn = expected[row[0]]
        assert number(row[1]) == pytest.approx(fn(cycles), abs=0.05)
        assert number(row[2]) == pytest.approx(fn(us), abs=0.05)


def test_emulated_figures_are_labelled(html, flash_doc):
    [note] = Page(html).sections["Latency: qemu-m4 aot"]["notes"]
    mhz = flash_doc["clock_hz"] / 1e6
    assert "instruction counts, not silicon cycles" in note
    assert f"µs is an estimate at {mhz:g} MHz" in note
    silicon = Page(render_report([dict(flash_doc, emulated=False)]))
    section = silicon.sections["Latency: qemu-m4 aot"]
    assert table_with(section, "")[0] == ["", "cycles", "µs"]
    assert section["notes"] == []


def test_per_layer_table_is_the_median_of_the_runs(html, flash_doc, kws):
    model, _ = kws
    section = Page(html).sections["Latency: qemu-m4 aot"]
    rows = table_with(section, "idx")
    assert [r[1] for r in rows[1:]] == [op.op for op in model.operators]
    per_idx = {}
    for layer in flash_doc["layers"]:
        per_idx.setdefault(layer["idx"], []).append(layer["cycles"])
    medians = [float(np.median(per_idx[op.index])) for op in model.operators]
    assert [number(r[2]) for r in rows[1:]] == pytest.approx(medians, abs=0.05)
    assert sum(number(r[3]) for r in rows[1:]) == pytest.approx(100, abs=0.1 * len(medians))


def test_memory_beside_tflm_arena_and_sections(html, flash_doc, kws, sections):
    _, tflm_arena = kws
    page = Page(html).sections["Memory"]
    rows = table_with(page, "board")
    assert rows[1][:2] == ["qemu-m4", "aot"]
    assert [number(c) for c in rows[1][2:7]] == [
        flash_doc["flash_bytes"],
        flash_doc["ram_bytes"],
        tflm_arena.total,
        tflm_arena.head,
        tflm_arena.tail,
    ]
    assert number(rows[1][7]) == pytest.approx(flash_doc["ram_bytes"] / tflm_arena.total, abs=0.005)
    srows = {r[0]: r for r in table_with(page, "section")[1:]}
    for name, nbytes in sections.items():
        assert number(srows[name][1]) == nbytes
    assert (
        number(srows["flash total"][1])
        == sections[".text"] + sections[".rodata"] + sections[".data"]
    )
    assert number(srows["RAM total"][1]) == sections[".data"] + sections[".bss"]


def test_validation_section(html, validation_doc):
    rows = Page(html).sections["Validation: qemu-m4 aot"]["tables"][0]
    facts = {r[0]: r[1] for r in rows}
    n, exact = validation_doc["samples"], validation_doc["bit_exact"]
    assert facts["samples"] == f"{n:,}"
    assert facts["bit-exact with the TFLM interpreter"].startswith(f"{exact:,} of {n:,}")
    assert number(facts["max |board − interpreter|"]) == validation_doc["max_abs_diff"]
    assert number(facts["on-device accuracy"]) == pytest.approx(
        100 * validation_doc["accuracy"], abs=0.005
    )
    assert facts["float model accuracy"] == "—"  # not given: shown as absent, not as 0


def test_rendering_twice_is_byte_identical(docs, tmp_path):
    import matplotlib

    first = report(docs, out=tmp_path / "a.html")
    # A user's own matplotlib settings must not leak into the plots.
    with matplotlib.rc_context(
        {"font.size": 20, "figure.facecolor": "black", "lines.linewidth": 5}
    ):
        second = report(docs, out=tmp_path / "b.html")
        assert matplotlib.rcParams["font.size"] == 20  # and we leave them as we found them
    assert first.read_bytes() == second.read_bytes()
    md_a = report(docs, out=tmp_path / "a.md", format="md")
    md_b = report(docs, out=tmp_path / "b.md", format="md")
    assert md_a.read_bytes() == md_b.read_bytes()


def test_hostile_strings_are_escaped(conversion_doc, flash_doc, validation_doc):
    docs = [
        dict(conversion_doc, model=HOSTILE),
        dict(flash_doc, board=HOSTILE, runtime=HOSTILE),
        dict(validation_doc, board=HOSTILE),
    ]
    text = render_report(docs, title=HOSTILE)
    page = Page(text)
    assert "script" not in page.start_tags
    assert page.title == HOSTILE
    assert ("h1", HOSTILE) in page.headings
    assert f"Latency: {HOSTILE} {HOSTILE}" in page.sections
    assert sum(len(s["images"]) for s in page.sections.values()) == 4  # no injected <img>
    for section in page.sections.values():
        for img in section["images"]:
            png_of(img)
    md = render_report(docs, format="md", title=HOSTILE)
    assert "<script>" not in md
    memory = next(t for t in markdown_tables(md) if t[0][0] == "board")
    assert len(memory[1]) == len(memory[0])  # a pipe in a name does not add a column


# ----------------------------------------------------------------------------------------------
# Markdown


def test_markdown_has_the_tables(docs, flash_doc, conversion_doc):
    md = render_report(docs, format="md")
    assert "data:image" not in md and "<img" not in md
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Model: digits nearest centroid",
        "## Memory",
        "## Latency: qemu-m4 aot",
        "## Validation: qemu-m4 aot",
    ]
    tables = {t[0][0]: t for t in markdown_tables(md)}
    variants = tables["variant"]
    assert [r[0] for r in variants[1:]] == [v["name"] for v in conversion_doc["variants"]]
    assert all(len(r) == len(variants[0]) for r in variants)
    latency = tables[""]
    cycles = np.asarray(flash_doc["cycles_all"], dtype=np.float64)
    assert latency[0] == ["", "instructions (emulated)", "µs (estimate)"]
    assert {r[0]: number(r[1]) for r in latency[1:]} == pytest.approx(
        {
            "min": cycles.min(),
            "median": np.median(cycles),
            "p90": np.percentile(cycles, 90),
            "max": cycles.max(),
        },
        abs=0.05,
    )
    assert len(tables["idx"]) == 1 + len({layer["idx"] for layer in flash_doc["layers"]})
    assert "> Emulated board" in md


# ----------------------------------------------------------------------------------------------
# Lenient about what is optional, strict about types


def test_only_required_keys(validation_doc):
    cycles = [1200, 1100, 1300]
    minimal_flash = {
        "board": "host",
        "runtime": "aot",
        "runs": 3,
        "emulated": False,
        "cycles": {"min": min(cycles), "median": float(np.median(cycles)), "max": max(cycles)},
    }
    minimal_conversion = {"kind": "conversion", "tflite_bytes": 4096}
    minimal_validation = {
        k: validation_doc[k] for k in ("samples", "bit_exact", "bit_exact_share", "max_abs_diff")
    }
    page = Page(render_report([minimal_conversion, minimal_flash, minimal_validation]))
    h2 = [text for tag, text in page.headings if tag == "h2"]
    assert h2 == ["Summary", "Model", "Latency: host aot", "Validation"]  # no memory data
    assert [len(page.sections[h]["images"]) for h in h2] == [0, 1, 0, 0]  # no histogram
    rows = table_with(page.sections["Latency: host aot"], "")
    assert {r[0]: r[1] for r in rows[1:]} == {
        "min": "1,100",
        "median": "1,200",
        "p90": "—",
        "max": "1,300",
    }


def test_identical_runs_still_get_a_histogram(flash_doc):
    # -icount: every emulated run may count exactly the same instructions
    same = [flash_doc["cycles_all"][0]] * flash_doc["runs"]
    doc = dict(
        flash_doc, cycles_all=same, cycles={"min": same[0], "median": same[0], "max": same[0]}
    )
    section = Page(render_report([doc])).sections["Latency: qemu-m4 aot"]
    assert len(section["images"]) == 2
    for img in section["images"]:
        png_of(img)
    rows = table_with(section, "")
    assert {r[0]: number(r[1]) for r in rows[1:]} == dict.fromkeys(
        ["min", "median", "p90", "max"], same[0]
    )


def test_kind_is_inferred_for_plain_cli_json(flash_doc, validation_doc, conversion_doc):
    plain = [
        {k: v for k, v in d.items() if k != "kind"}
        for d in (flash_doc, validation_doc, conversion_doc)
    ]
    results = load_results(plain)
    assert (len(results.flashes), len(results.validations), len(results.conversions)) == (1, 1, 1)


def test_numpy_values_from_python_are_numbers(docs, html):
    conversion, flash, validation = (json.loads(json.dumps(d)) for d in docs)
    flash.update(
        cycles_all=np.asarray(flash["cycles_all"]),
        runs=np.int64(flash["runs"]),
        ram_bytes=np.uint32(flash["ram_bytes"]),
        emulated=np.bool_(True),
    )
    flash["cycles"]["median"] = np.float64(flash["cycles"]["median"])
    conversion["variants"][1]["bytes"] = np.int64(conversion["variants"][1]["bytes"])
    validation["accuracy"] = np.float64(validation["accuracy"])
    assert render_report([conversion, flash, validation]) == html


BAD = [
    ("flash", ("cycles", "median"), "12", "cycles.median", "a non-negative number"),
    ("flash", ("runs",), -1, "runs", "a non-negative integer"),
    ("flash", ("emulated",), "yes", "emulated", "true or false"),
    ("flash", ("board",), None, "board", "a string but is null"),
    ("flash", ("cycles_all",), [1, 2], "cycles_all", "a list of 40 values"),
    ("flash", ("layers", 1, "op"), 3, "layers[1].op", "a string"),
    ("flash", ("sections", ".text"), 1.5, 'sections[".text"]', "a non-negative integer"),
    ("flash", ("tflm_arena",), [1, 2], "tflm_arena", "an object"),
    ("validation", ("accuracy",), 97.5, "accuracy", "a fraction in [0, 1]"),
    ("validation", ("bit_exact",), 10_000, "bit_exact", "at most samples"),
    ("conversion", ("variants", 0, "bytes"), "big", "variants[0].bytes", "integer"),
    ("conversion", ("tflite_bytes",), True, "tflite_bytes", "a non-negative integer"),
]


@pytest.mark.parametrize("kind, path, value, key, expected", BAD, ids=[b[3] for b in BAD])
def test_wrong_types_name_the_document_and_key(docs, tmp_path, kind, path, value, key, expected):
    doc = json.loads(json.dumps(next(d for d in docs if d["kind"] == kind)))
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(doc))
    with pytest.raises(ResultsError) as err:
        load_results([file])
    assert err.value.source == str(file)
    assert err.value.key == key
    assert str(file) in str(err.value) and f"'{key}'" in str(err.value)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"kind": "bench"}, "key 'kind' should be one of conversion, flash, validation"),
        ({"hello": 1}, "needs a 'kind' key"),
        ([1], "[0]: a result document should be a JSON object but is the integer 1"),
        ("just text", ": a result document should be a JSON object but is the string"),
    ],
)
def test_unknown_documents(tmp_path, doc, words):
    file = tmp_path / "results.json"
    file.write_text(json.dumps(doc))
    with pytest.raises(
        ResultsError, match=re.escape(f"{file}{words}" if words[0] in "[:" else words)
    ):
        load_results([file])


def test_nothing_is_written_for_bad_input(docs, tmp_path):
    out = tmp_path / "report.html"
    out.write_text("previous report")
    bad = dict(docs[1], runs="ten")
    with pytest.raises(ResultsError):
        report([docs[0], bad], out=out)
    assert out.read_text() == "previous report"
    fresh = tmp_path / "sub" / "new.html"
    with pytest.raises(ResultsError):
        report([bad], out=fresh)
    assert not fresh.parent.exists()
    with pytest.raises(ResultsError, match="no result documents"):
        report([], out=fresh)
    with pytest.raises(TFLiteEdgeError, match="is a directory; name a file"):
        report(docs, out=tmp_path)
    with pytest.raises(TFLiteEdgeError, match="format should be one of html, md but is 'pdf'"):
        report(docs, out=fresh, format="pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temp files left


# ----------------------------------------------------------------------------------------------
# CLI


def cli(*args: str, cwd: Path | None = None):
    return run([sys.executable, "-m", "tflite_edge", "report", *args], cwd=cwd)


def test_cli_writes_html_and_markdown(docs, tmp_path):
    files = []
    for d in docs:
        files.append(tmp_path / f"{d['kind']}.json")
        files[-1].write_text(json.dumps(d))
    out = tmp_path / "out" / "report.html"
    res = cli(*map(str, files), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert out.read_text() == render_report(files)
    page = Page(out.read_text())
    assert page.sections["Latency: qemu-m4 aot"]["sources"] == [f"from {files[1]}"]
    assert Page(render_report(docs)).sections["Latency: qemu-m4 aot"]["sources"] == []
    res = cli(*map(str, files), "--markdown")
    assert res.returncode == 0, res.stderr
    assert res.stdout == render_report(files, format="md")
    res = cli(*map(str, files), "-o", str(tmp_path / "r.md"))  # .md: Markdown without a flag
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r.md").read_text() == render_report(files, format="md")


def test_cli_one_list_file(docs, tmp_path):
    file = tmp_path / "all.json"
    file.write_text(json.dumps(docs))
    res = cli(str(file), "--markdown")
    assert res.returncode == 0, res.stderr
    assert res.stdout == render_report(docs, format="md")


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        (b"\xff\xfe{}", "is not UTF-8"),
        ('{"kind": "flash", "board": 7}', "key 'board' should be a string"),
    ],
)
def test_cli_bad_results_file_is_one_line_exit_2(tmp_path, content, words):
    file = tmp_path / "results.json"
    if isinstance(content, str):
        file.write_text(content)
    elif isinstance(content, bytes):
        file.write_bytes(content)
    out = tmp_path / "report.html"
    res = cli(str(file), "-o", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("tflite-edge report: error: ")
    assert str(file) in lines[0] and words in lines[0]
    assert not out.exists()


def test_cli_html_needs_an_output_file(docs, tmp_path):
    file = tmp_path / "v.json"
    file.write_text(json.dumps(docs[2]))
    res = cli(str(file))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "-o report.html" in res.stderr
