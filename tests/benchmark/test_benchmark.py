"""The benchmark suite, in its smoke version: structure of the JSON and Markdown, and every
figure checked against the reference it claims to be compared with. No test asserts on a time."""

from __future__ import annotations

import json
import os
import re
import shutil
import zlib

import numpy as np
import pytest

from conftest import ROOT, run
from tflite_edge import benchmark
from tflite_edge.errors import BoardError, DataError, ModelError, TFLiteEdgeError

# the smoke run's same-board table builds TFLM's two qemu-m4 libraries on a cold cache: minutes
pytestmark = pytest.mark.timeout(3600)

SMOKE_BOARD = "qemu-m4"
HELLO = "hello_world_int8"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, models_dir, tflm_dir):
    """One smoke run of the whole suite (a few minutes; TFLM's qemu-m4 libraries come from the
    cache, built once): the result, its folder, progress."""
    base = tmp_path_factory.mktemp("bench")
    messages: list[str] = []
    # Relative paths, as `make bench` passes them; the build trees go next to the results.
    cwd = os.getcwd()
    os.chdir(base)
    try:
        result = benchmark.bench(
            out="results",
            markdown="BENCHMARKS.md",
            boards=(SMOKE_BOARD, "qemu-m7"),
            smoke=True,
            progress=messages.append,
            models_dir=models_dir,
            tflm_dir=tflm_dir,
        )
    finally:
        os.chdir(cwd)
    return result, base, messages


def _rows(result, table):
    return result.table(table)


# --------------------------------------------------------------------------- structure


@pytest.mark.slow  # the smoke run is a whole bench
def test_every_row_is_a_json_file_written_in_out(smoke):
    result, base, _ = smoke
    out = base / "results"
    files = sorted(p.name for p in out.glob("*.json"))
    assert files == sorted(p.name for p in result.files)
    on_disk = benchmark.load_results(out)
    assert {d["_file"] for d in on_disk} == set(files)
    for d in on_disk:
        assert d["suite"] == benchmark.SUITE and d["schema"] == benchmark.SCHEMA_VERSION
        assert d["table"] in (*benchmark.TABLES, "run")
    # no temp files left behind by the atomic writes
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.slow  # the smoke run is a whole bench
def test_smoke_covers_every_table(smoke):
    result, _, _ = smoke
    assert [d["board"] for d in _rows(result, "emulated")] == [SMOKE_BOARD]  # one board only
    assert [d["model"] for d in _rows(result, "emulated")] == [HELLO]
    assert [d["model"] for d in _rows(result, "host")] == [HELLO]
    same = _rows(result, "same_board")
    assert [(d["board"], d["model"]) for d in same] == [(SMOKE_BOARD, HELLO)]
    assert same[0]["errors"] == {} and same[0]["crc_equals_interpreter"] is True
    variants = [
        d["variant"] for d in sorted(_rows(result, "compression"), key=lambda d: d["order"])
    ]
    assert variants == ["float", "int8_ptq", "pruned50"]
    assert len(_rows(result, "pipeline")) == 1


@pytest.mark.slow  # the smoke run is a whole bench
def test_progress_counts_every_step(smoke):
    _, _, messages = smoke
    steps = [m for m in messages if m.startswith("[")]
    total = int(re.match(r"\[1/(\d+)\]", steps[0]).group(1))
    assert [int(re.match(r"\[(\d+)/", m).group(1)) for m in steps] == list(range(1, total + 1))


@pytest.mark.slow  # the smoke run is a whole bench
def test_run_document_names_machine_and_plan(smoke):
    result, _, _ = smoke
    (run_doc,) = [d for d in result.docs if d["table"] == "run"]
    assert run_doc["smoke"] is True
    assert run_doc["boards"] == [SMOKE_BOARD]
    assert run_doc["same_board_boards"] == [SMOKE_BOARD] and run_doc["tflm_dir"]
    assert run_doc["machine"]["cpus"] >= 1
    assert "QEMU" in run_doc["machine"]["qemu"]
    assert run_doc["determinism"] == {"compared": 0, "differences": []}


# --------------------------------------------------------------------------- figures vs references


@pytest.mark.slow  # the smoke run is a whole bench
def test_emulated_row_agrees_with_tflm_and_the_model(smoke, models_dir):
    from tflite_edge.model import known_input, load_model
    from tflite_edge.reference import Reference

    result, _, _ = smoke
    (row,) = _rows(result, "emulated")
    model = load_model(models_dir / f"{HELLO}.tflite")
    ref = Reference(model)
    arena = ref.arena()
    assert row["tflm_arena"] == {
        "total": arena.total,
        "activations": arena.head,
        "tail": arena.tail,
    }
    out = np.ascontiguousarray(ref.run_one(known_input(model)))
    assert row["tflm_output_crc32"] == f"{zlib.crc32(out.tobytes()):08x}"
    # the board's output, read over serial, is TFLM's output
    assert row["output_crc32"] == row["tflm_output_crc32"] and row["bit_exact"] is True
    assert row["model_sha256"] == model.sha256
    i = row["instructions"]
    assert i["runs"] == benchmark.SMOKE.emulated_runs and i["identical"] is True
    assert i["min"] == i["median"] == i["max"] > 0
    assert row["instructions_per_mac"] == pytest.approx(i["median"] / row["macs"])
    assert row["ram_ratio"] == pytest.approx(row["aot_ram_bytes"] / arena.total)
    assert row["estimate_ms_at_120mhz"] == pytest.approx(i["median"] / 120e3)
    assert row["published_ms"] is None  # MLPerf Tiny publishes no figure for hello_world


@pytest.mark.slow  # the smoke run is a whole bench
def test_same_board_aot_is_the_emulated_measurement(smoke):
    result, _, _ = smoke
    (emu,) = _rows(result, "emulated")
    (same,) = _rows(result, "same_board")
    assert same["aot"]["instructions"] == emu["instructions"]
    assert same["aot"]["image_flash_bytes"] == emu["image_flash_bytes"]
    assert same["aot"]["device_ram_bytes"] == emu["aot_ram_bytes"]
    assert same["tflm_output_crc32"] == emu["tflm_output_crc32"]
    for key, *_ in benchmark.SAME_BOARD_RUNTIMES:
        assert same[key]["output_crc32"] == emu["tflm_output_crc32"]
    tflm = [key for key, _, kernels, _ in benchmark.SAME_BOARD_RUNTIMES if kernels]
    for key in tflm:
        i = same[key]["instructions"]["median"]
        assert same["ratios"][key] == pytest.approx(i / emu["instructions"]["median"])


@pytest.mark.slow  # the smoke run is a whole bench
def test_emulated_sizes_agree_with_compile_aot(smoke, models_dir, tmp_path):
    from tflite_edge.compiler import compile_aot

    result, _, _ = smoke
    (row,) = _rows(result, "emulated")
    aot = compile_aot(models_dir / f"{HELLO}.tflite", tmp_path)
    assert row["aot_ram_bytes"] == aot.ram_bytes
    assert row["weight_bytes"] == aot.weight_bytes
    # the linked object holds at least the weights as constants; the image holds the object
    assert row["object"]["constants"] >= aot.weight_bytes
    assert row["object"]["bss"] >= aot.ram_bytes
    assert row["image_flash_bytes"] > row["object"]["flash"]


@pytest.mark.slow  # the smoke run is a whole bench
def test_host_row_times_both_runtimes_on_equal_outputs(smoke):
    result, _, _ = smoke
    (row,) = _rows(result, "host")
    assert row["outputs_equal"] is True
    assert row["runs"] == benchmark.SMOKE.host_runs
    assert row["aot_median_us"] > 0 and row["tflm_median_us"] > 0
    assert row["speedup"] == pytest.approx(row["tflm_median_us"] / row["aot_median_us"])
    vg = row["valgrind"]
    if shutil.which("valgrind"):
        assert row["valgrind_note"] is None
        assert vg["aot"] > 0 and vg["tflm"] > 0
    else:
        assert vg is None and row["valgrind_note"] == "Valgrind is not installed"


@pytest.mark.slow  # the smoke run is a whole bench
def test_compression_rows_agree_with_tflm_and_keras(smoke, digits):
    from tflite_edge.data import quantize_inputs
    from tflite_edge.model import load_model
    from tflite_edge.reference import Reference

    result, base, _ = smoke
    rows = {d["variant"]: d for d in _rows(result, "compression")}
    _, (x_test, y_test) = digits
    for key in ("int8_ptq", "pruned50"):
        row = rows[key]
        path = base / "work" / "models" / f"digits_{key}.tflite"
        data = path.read_bytes()
        assert row["tflite_bytes"] == len(data)
        model = load_model(data)
        assert row["tflite_sha256"] == model.sha256
        # int8 accuracy as the TFLM interpreter gives it on the test split
        out = Reference(model).run(quantize_inputs(model, x_test))
        assert row["accuracy"] == pytest.approx(np.mean(np.argmax(out, -1) == y_test))
        assert row["test_samples"] == len(y_test)
        assert row["dense"]["sparse_layers"] == 0
        assert row["sparse"]["sparse_layers"] > 0
        for mode in ("dense", "sparse"):
            assert row[mode]["instructions"] > 0 and row[mode]["instructions_identical"]
            assert row[mode]["flash_bytes"] == row[mode]["object"]["flash"]
    assert rows["pruned50"]["sparsity"] == pytest.approx(0.5, abs=0.02)
    assert rows["float"]["tflite_bytes"] > rows["int8_ptq"]["tflite_bytes"]


@pytest.mark.slow  # the smoke run is a whole bench
def test_pipeline_stages_add_up(smoke):
    result, _, _ = smoke
    (row,) = _rows(result, "pipeline")
    names = [s["stage"] for s in row["stages"]]
    assert names == ["train", "optimize + convert", "render", "build", "flash + measure"]
    assert row["total_seconds"] == pytest.approx(sum(s["seconds"] for s in row["stages"]))
    assert row["board"] == benchmark.PIPELINE_BOARD
    compression = {d["variant"]: d for d in _rows(result, "compression")}
    assert row["model_sha256"] == compression["pruned50"]["tflite_sha256"]


# --------------------------------------------------------------------------- Markdown


@pytest.mark.slow  # the smoke run is a whole bench
def test_markdown_is_regenerated_from_the_json(smoke):
    result, base, _ = smoke
    text = (base / "BENCHMARKS.md").read_text()
    assert text == benchmark.render_markdown(benchmark.load_results(base / "results"))
    again = benchmark.write_markdown(base / "results", base / "again.md")
    assert again.read_text() == text


def _tables(text: str) -> dict[str, list[list[str]]]:
    """Markdown tables by the heading above them: rows of cells (header row first)."""
    tables: dict[str, list[list[str]]] = {}
    heading = None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not re.match(r"\|\s*-", line):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            tables.setdefault(heading, []).append(cells)
    return tables


@pytest.mark.slow  # the smoke run is a whole bench
def test_markdown_has_the_five_tables_with_the_measured_figures(smoke):
    result, base, _ = smoke
    text = (base / "BENCHMARKS.md").read_text()
    assert f"{os.cpu_count()}-core" in text
    assert "QEMU 7.2" in text and "-icount" in text
    assert "Smoke run" in text
    tables = _tables(text)
    headings = list(tables)
    assert [h.split(":")[0] for h in headings] == [
        "1. Emulated boards",
        "Same board",
        "2. Host",
        "3. Compression",
        "4. Pipeline",
    ]
    (emu,) = _rows(result, "emulated")
    header, row = tables[headings[0]]
    cell = dict(zip(header, row, strict=True))
    assert cell["instructions / inference"] == f"{emu['instructions']['median']:,}"
    assert cell["MACs"] == f"{emu['macs']:,}"
    assert cell["TFLM arena total / activations (B)"] == (
        f"{emu['tflm_arena']['total']:,} / {emu['tflm_arena']['activations']:,}"
    )
    (same,) = _rows(result, "same_board")
    header, row = tables[headings[1]]
    cell = dict(zip(header, row, strict=True))
    for key, *_, label in benchmark.SAME_BOARD_RUNTIMES:
        assert cell[f"{label} instructions"] == f"{same[key]['instructions']['median']:,}"
    assert cell["CRC32 equal"] == cell["= TFLM interpreter"] == "yes"
    comp = tables[headings[3]]
    assert len(comp) == 1 + len(_rows(result, "compression"))
    pipe = tables[headings[4]]
    assert pipe[-1][0] == "**total**"


@pytest.mark.slow  # the smoke run is a whole bench
def test_published_table_appears_beside_kws_and_quotes_the_readme(smoke, models_dir):
    readme = " ".join((models_dir / "README.md").read_text().split())
    tflm = re.search(r"KWS ([\d.]+) ms, AD ([\d.]+) ms", readme)
    cube = re.search(r"X-CUBE-AI 9\.0 KWS ([\d.]+) ms / AD ([\d.]+) ms", readme)
    plumerai = re.search(r"Plumerai KWS ([\d.]+) ms / AD ([\d.]+) ms", readme)
    quoted = {
        name: {"TFLM reference": float(tflm[i]), "X-CUBE-AI 9.0": float(cube[i]),
               "Plumerai": float(plumerai[i])}
        for i, name in ((1, "kws_ref_model"), (2, "ad01_int8"))
    }  # fmt: skip
    assert benchmark.PUBLISHED_MS == quoted
    assert "120 MHz" in readme and "NUCLEO-L4R5ZI" in benchmark.PUBLISHED_SOURCE
    # a kws row (taken from the smoke row, renamed) brings the published table along
    result, _, _ = smoke
    (emu,) = _rows(result, "emulated")
    kws = {**emu, "model": "kws_ref_model", "published_ms": benchmark.PUBLISHED_MS["kws_ref_model"]}
    text = benchmark.render_markdown([*result.docs, kws])
    tables = _tables(text)
    published = tables["Beside the MLPerf Tiny published latencies"]
    assert published[1][0] == "`kws_ref_model`"
    assert "181.90" in published[1] and "estimate" in text
    assert "../shared/models/README.md" in text


# --------------------------------------------------------------------------- determinism


@pytest.mark.slow  # the smoke run is a whole bench
def test_compare_runs_names_each_changed_figure(smoke):
    result, _, _ = smoke
    docs = [d for d in result.docs if d["table"] != "run"]
    same = benchmark.compare_runs(docs, docs)
    assert same["compared"] > 0 and same["differences"] == []
    (emu,) = _rows(result, "emulated")
    changed = {**emu, "instructions": {**emu["instructions"], "median": 1}}
    diff = benchmark.compare_runs(docs, [changed])
    assert diff["differences"] == [
        {
            "table": "emulated",
            "row": emu["key"],
            "field": "instructions.median",
            "before": emu["instructions"]["median"],
            "now": 1,
        }
    ]
    text = benchmark.render_markdown(
        [{**d, "determinism": diff} if d["table"] == "run" else d for d in result.docs]
    )
    assert "1 of" in text and "instructions.median" in text


# --------------------------------------------------------------------------- bad input


def test_unknown_board_lists_known_ones_and_writes_nothing(tmp_path, models_dir):
    with pytest.raises(BoardError) as err:
        benchmark.bench(
            out=tmp_path / "r", markdown=tmp_path / "B.md", boards=("nope",), models_dir=models_dir
        )
    assert "qemu-m4" in str(err.value)
    assert not (tmp_path / "r").exists() and not (tmp_path / "B.md").exists()


def test_non_emulated_board_is_refused(tmp_path, models_dir):
    with pytest.raises(TFLiteEdgeError, match="not emulated"):
        benchmark.bench(
            out=tmp_path / "r", markdown=tmp_path / "B.md", boards=("host",), models_dir=models_dir
        )
    with pytest.raises(TFLiteEdgeError, match="no boards"):
        benchmark.bench(
            out=tmp_path / "r", markdown=tmp_path / "B.md", boards=(), models_dir=models_dir
        )
    assert not (tmp_path / "r").exists()


def test_missing_models_dir_says_where_to_look(tmp_path):
    with pytest.raises(DataError, match="models_dir"):
        benchmark.bench(
            out=tmp_path / "r", markdown=tmp_path / "B.md", models_dir=tmp_path / "missing"
        )
    assert not (tmp_path / "r").exists()


def test_corrupt_model_stops_before_earlier_results_are_touched(tmp_path, models_dir):
    models = tmp_path / "models"
    models.mkdir()
    good = models_dir / "hello_world_int8.tflite"
    (models / good.name).write_bytes(good.read_bytes()[:500])  # truncated
    out = tmp_path / "r"
    out.mkdir()
    earlier = {"table": "emulated", "name": "earlier", "figure": 1}
    (out / "emulated-earlier.json").write_text(json.dumps(earlier))
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ModelError, match=good.name):
        benchmark.bench(
            out=out, markdown=tmp_path / "B.md", models_dir=models, work_dir=tmp_path / "w"
        )
    assert sorted(p.name for p in out.iterdir()) == before
    assert not (tmp_path / "w").exists() and not (tmp_path / "B.md").exists()


def test_markdown_only_without_results_fails_cleanly(tmp_path):
    with pytest.raises(DataError, match="no benchmark results"):
        benchmark.write_markdown(tmp_path, tmp_path / "B.md")
    assert not (tmp_path / "B.md").exists()


def test_cli_errors_are_one_line_exit_2(tmp_path, models_dir):
    import sys

    cmd = [
        sys.executable,
        "-m",
        "tflite_edge",
        "bench",
        "--out",
        str(tmp_path / "r"),
        "--markdown",
        str(tmp_path / "B.md"),
        "--models-dir",
        str(models_dir),
    ]
    proc = run([*cmd, "--boards", "nope"], cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "qemu-m4" in proc.stderr
    proc = run([*cmd[:-2], "--models-dir", str(tmp_path / "none"), "--smoke"], cwd=ROOT)
    assert proc.returncode == 2 and "models" in proc.stderr
    proc = run([*cmd, "--markdown-only"], cwd=ROOT)
    assert proc.returncode == 2 and "no benchmark results" in proc.stderr


@pytest.mark.slow  # the smoke run is a whole bench
def test_cli_markdown_only_regenerates_from_json(smoke, tmp_path):
    import sys

    _, base, _ = smoke
    md = tmp_path / "B.md"
    proc = run(
        [
            sys.executable,
            "-m",
            "tflite_edge",
            "bench",
            "--out",
            str(base / "results"),
            "--markdown",
            str(md),
            "--markdown-only",
        ],
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert md.read_text() == (base / "BENCHMARKS.md").read_text()
    assert json.loads((base / "results" / "run-run.json").read_text())["smoke"] is True
