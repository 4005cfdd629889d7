"""The same-board table: AOT, TFLM reference and TFLM + CMSIS-NN flashed on one emulated board.

A real measurement of hello_world on qemu-m4 (TFLM's qemu-m4 libraries come from the cache,
built once), the failure path of a board whose TFLM library does not build (without building
one), the suite's orchestration with the measuring stubbed out, and the Markdown rendered from
documents: every expected cell is computed from the documents fed in.
"""

from __future__ import annotations

import re
import sys

import pytest

from conftest import ROOT, run
from tflite_edge import benchmark
from tflite_edge.benchmark import SAME_BOARD_RUNTIMES, same_board_row
from tflite_edge.benchmark.documents import Run, document, load_results
from tflite_edge.errors import ToolchainError

HELLO = "hello_world_int8"
KEYS = [key for key, *_ in SAME_BOARD_RUNTIMES]


def _run(tmp_path, messages=None) -> Run:
    out = tmp_path / "results"
    out.mkdir(parents=True, exist_ok=True)
    return Run(out, tmp_path / "work", benchmark.SMOKE, (messages or []).append)


# --------------------------------------------------------------------------- measured


@pytest.fixture(scope="module")
def hello_row(tmp_path_factory, models_dir, tflm_dir):
    """hello_world on qemu-m4: AOT, TFLM reference and TFLM + CMSIS-NN, as the suite does it."""
    base = tmp_path_factory.mktemp("same_board")
    r = _run(base)
    row = same_board_row(
        r, "qemu-m4", HELLO, models_dir / f"{HELLO}.tflite", source="test", tflm_dir=tflm_dir
    )
    return row, r, base


@pytest.mark.slow  # QEMU, three firmwares
@pytest.mark.timeout(3600)  # a cold cache builds TFLM's two qemu-m4 libraries: minutes
def test_hello_world_on_qemu_m4_gives_the_interpreters_output_three_times(hello_row, models_dir):
    from tflite_edge.model import load_model
    from tflite_edge.reference import Reference

    row, _, _ = hello_row
    model = load_model(models_dir / f"{HELLO}.tflite")
    interpreter = Reference(model).output_crc32()
    assert row["errors"] == {}
    assert row["tflm_output_crc32"] == interpreter
    for key, runtime, kernels, _ in SAME_BOARD_RUNTIMES:
        r = row[key]
        assert r["runtime"] == runtime and r["kernels"] == kernels
        assert r["tflm_kernels"] == kernels  # what the firmware said it runs
        assert r["output_crc32"] == interpreter and r["output_matches_interpreter"] is True
    assert row["crc_equal"] is True and row["crc_equals_interpreter"] is True
    assert row["model_sha256"] == model.sha256


@pytest.mark.slow  # QEMU, three firmwares
@pytest.mark.timeout(3600)  # a cold cache builds TFLM's two qemu-m4 libraries: minutes
def test_instructions_repeat_and_the_ratios_are_their_quotients(hello_row, models_dir):
    from tflite_edge.model import load_model
    from tflite_edge.model.macs import count_macs

    row, _, _ = hello_row
    macs = count_macs(load_model(models_dir / f"{HELLO}.tflite"))
    assert row["macs"] == macs > 0
    medians = {}
    for key in KEYS:
        i = row[key]["instructions"]
        assert i["runs"] == benchmark.SMOKE.emulated_runs and i["identical"] is True
        assert i["min"] == i["median"] == i["max"] > 0
        assert row[key]["instructions_per_mac"] == pytest.approx(i["median"] / macs)
        medians[key] = i["median"]
    aot, *tflm = KEYS
    assert set(row["ratios"]) == set(tflm)
    for key in tflm:
        assert row["ratios"][key] == pytest.approx(medians[key] / medians[aot])
    # the interpreter runs more instructions than the compiled model, on the same board
    assert all(row["ratios"][key] > 1 for key in tflm)


@pytest.mark.slow  # QEMU, three firmwares
@pytest.mark.timeout(3600)  # a cold cache builds TFLM's two qemu-m4 libraries: minutes
def test_sizes_are_the_elfs_and_ram_is_what_each_runtime_reports(hello_row, models_dir, tmp_path):
    from tflite_edge.builder import image_usage
    from tflite_edge.compiler import compile_aot

    row, r, _ = hello_row
    for key in KEYS:
        (elf,) = (r.work / "same_board" / "qemu-m4" / HELLO / key).rglob("*.elf")
        flash, ram, _ = image_usage(elf)
        assert (row[key]["image_flash_bytes"], row[key]["image_ram_bytes"]) == (flash, ram)
        assert 0 < row[key]["device_ram_bytes"] <= ram
    aot = compile_aot(models_dir / f"{HELLO}.tflite", tmp_path)
    assert row["aot"]["device_ram_bytes"] == aot.ram_bytes


@pytest.mark.slow  # QEMU, three firmwares
@pytest.mark.timeout(3600)  # a cold cache builds TFLM's two qemu-m4 libraries: minutes
def test_the_row_is_saved_as_measured(hello_row):
    row, r, base = hello_row
    (on_disk,) = load_results(base / "results")
    assert on_disk == row and on_disk["_file"] == "same_board-qemu-m4-hello_world_int8.json"
    assert on_disk["table"] == "same_board" and on_disk["suite"] == benchmark.SUITE
    assert r.tflm_libraries == {("qemu-m4", "reference"): None, ("qemu-m4", "cmsis_nn"): None}


# --------------------------------------------------------------------------- failures


@pytest.mark.slow  # AOT on QEMU
def test_a_board_whose_tflm_library_fails_gets_a_row_with_the_error(tmp_path, models_dir):
    """qemu-m55's TFLM libraries are not built here: the run already knows they failed."""
    r = _run(tmp_path)
    why = {k: f"TFLM's Makefile failed to build its library ({k}):\nx.cc:1: error: no" for k in
           ("reference", "cmsis_nn")}  # fmt: skip
    r.tflm_libraries.update({("qemu-m55", k): m for k, m in why.items()})
    path = models_dir / f"{HELLO}.tflite"
    row = same_board_row(r, "qemu-m55", HELLO, path, source="test", tflm_dir="/nonexistent")
    assert row["aot"]["instructions"]["median"] > 0 and "error" not in row["aot"]
    for key, _, kernels, _ in SAME_BOARD_RUNTIMES[1:]:
        assert row[key]["error"] == row["errors"][key] == why[kernels]
        assert row["ratios"][key] is None
    assert row["crc_equal"] is None and row["crc_equals_interpreter"] is None
    assert load_results(r.out)[0]["errors"] == row["errors"]
    text = benchmark.render_markdown(load_results(r.out))
    assert text.count("- Not measured: qemu-m55 `hello_world_int8`") == 2
    assert "`x.cc:1: error: no`" in text


def test_a_library_that_fails_is_tried_once_per_run(tmp_path, monkeypatch):
    from tflite_edge.benchmark import same_board
    from tflite_edge.runtimes import tflm

    calls = []

    def failing(board, kernels, tree, **kw):
        calls.append((board.name, kernels))
        raise ToolchainError(f"no library for {board.name}", tool="make")

    monkeypatch.setattr(tflm, "board_library", failing)
    r = _run(tmp_path)
    for _ in range(3):
        why = same_board._tflm_library(r, "qemu-m55", "cmsis_nn", "/tree")
        assert why == "no library for qemu-m55"
    assert calls == [("qemu-m55", "cmsis_nn")]


# --------------------------------------------------------------------------- the suite


@pytest.fixture
def stubbed(monkeypatch):
    """bench() with every measurement replaced by a stub that records what it was asked."""
    from tflite_edge.benchmark import suite

    asked: list[tuple] = []

    def host_row(r, name, path):
        return document("host", name, model=name, runs=None, aot_median_us=None,
                        tflm_median_us=None, speedup=None, outputs_equal=None)  # fmt: skip

    def same(r, board, name, path, *, source, tflm_dir):
        asked.append((name, board, source, tflm_dir))
        return r.save(document("same_board", f"{board}-{name}", board=board, model=name,
                               macs=None, ratios={}))  # fmt: skip

    monkeypatch.setattr(suite, "emulated_row", lambda *a, **k: None)
    monkeypatch.setattr(suite, "compression_and_pipeline", lambda r: r.work / "demo.tflite")
    monkeypatch.setattr(suite, "host_row", host_row)
    monkeypatch.setattr(suite, "valgrind_counts", lambda *a: (None, "stubbed"))
    monkeypatch.setattr(suite, "same_board_row", same)
    monkeypatch.setattr(suite, "machine_info", lambda: {})
    return asked


def _steps(messages, plan):
    """The progress steps, numbered one by one; the stubbed compression_and_pipeline makes
    none of its own, so the count stops that many short of the total."""
    from tflite_edge.benchmark.compression import variants

    steps = [m for m in messages if m.startswith("[")]
    total = int(re.match(r"\[1/(\d+)\]", steps[0]).group(1))
    assert [int(re.match(r"\[(\d+)/", m).group(1)) for m in steps] == list(range(1, len(steps) + 1))
    assert total - len(steps) == 1 + len(variants(plan)) + 1
    return steps


def test_without_a_tree_the_table_is_skipped_and_said_so(
    tmp_path, models_dir, stubbed, monkeypatch
):
    monkeypatch.delenv("TFLM_DIR", raising=False)
    messages: list[str] = []
    result = benchmark.bench(
        out=tmp_path / "r", markdown=tmp_path / "B.md", smoke=True, progress=messages.append,
        models_dir=models_dir, work_dir=tmp_path / "w",
    )  # fmt: skip
    assert stubbed == [] and result.table("same_board") == []
    (run_doc,) = result.table("run")
    assert run_doc["tflm_dir"] is None and run_doc["same_board_boards"] == []
    (skipped,) = [m for m in messages if "same board" in m]
    assert skipped in _steps(messages, benchmark.SMOKE) and "table skipped" in skipped
    section = (tmp_path / "B.md").read_text().split("### Same board")[1].split("\n#")[0]
    (line,) = [x for x in section.splitlines()[1:] if x.strip()]
    assert "no TFLM tree" in line and "--tflm-dir" in line


def test_with_a_tree_every_model_and_the_demo_get_a_row_on_m4_and_m55(
    tmp_path, models_dir, tflm_dir, stubbed, monkeypatch
):
    monkeypatch.delenv("TFLM_DIR", raising=False)
    messages: list[str] = []
    result = benchmark.bench(
        out=tmp_path / "r", markdown=tmp_path / "B.md", progress=messages.append,
        models_dir=models_dir, work_dir=tmp_path / "w", tflm_dir=tflm_dir,
    )  # fmt: skip
    models = [p.stem for p in sorted(models_dir.glob("*.tflite"))] + ["digits_demo"]
    boards = [b for b in benchmark.DEFAULT_BOARDS if b in benchmark.SAME_BOARD_BOARDS]
    assert boards == ["qemu-m4", "qemu-m55"]
    assert [(n, b) for n, b, _, _ in stubbed] == [(n, b) for n in models for b in boards]
    assert {t for *_, t in stubbed} == {tflm_dir.resolve()}
    assert {s for n, _, s, _ in stubbed if n != "digits_demo"} == {
        f"../shared/models/{n}.tflite" for n in models[:-1]
    }
    assert len([m for m in _steps(messages, benchmark.FULL) if "same board:" in m]) == len(stubbed)
    (run_doc,) = result.table("run")
    assert run_doc["tflm_dir"] == str(tflm_dir) and run_doc["same_board_boards"] == boards
    assert f"same_board: {len(stubbed)} rows" in result.summary()


def test_a_tree_that_is_not_one_stops_before_any_work(tmp_path, models_dir):
    with pytest.raises(ToolchainError, match="not a tflite-micro tree"):
        benchmark.bench(
            out=tmp_path / "r", markdown=tmp_path / "B.md", models_dir=models_dir,
            tflm_dir=tmp_path, work_dir=tmp_path / "w",
        )  # fmt: skip
    assert not (tmp_path / "r").exists() and not (tmp_path / "w").exists()
    cmd = [sys.executable, "-m", "tflite_edge", "bench", "--out", str(tmp_path / "r"),
           "--markdown", str(tmp_path / "B.md"), "--models-dir", str(models_dir),
           "--tflm-dir", str(tmp_path)]  # fmt: skip
    proc = run(cmd, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "--tflm-dir" in proc.stderr and not (tmp_path / "r").exists()


def test_cli_help_names_the_tree_and_its_default():
    proc = run([sys.executable, "-m", "tflite_edge", "bench", "--help"], cwd=ROOT)
    assert proc.returncode == 0
    assert "--tflm-dir DIR" in proc.stdout and "$TFLM_DIR" in proc.stdout


# --------------------------------------------------------------------------- Markdown


def _measured(median: int, kernels: str | None, macs: int, crc: str) -> dict:
    return {
        "kernels": kernels,
        "instructions": {"min": median, "median": median, "max": median, "runs": 2,
                         "identical": True},
        "instructions_per_mac": median / macs,
        "image_flash_bytes": 40_000 + 7 * median,
        "image_ram_bytes": 9_000 + 3 * median,
        "device_ram_bytes": 1_000 + median // 100,
        "output_crc32": crc,
    }  # fmt: skip


def _docs() -> list[dict]:
    rows = []
    for k, (board, model, macs) in enumerate(
        [("qemu-m55", "kws_ref_model", 2_650_000), ("qemu-m4", "kws_ref_model", 2_650_000),
         ("qemu-m4", "digits_demo", 123_456), ("qemu-m4", "ad01_int8", 264_000)]
    ):  # fmt: skip
        per = {
            key: _measured(macs * (3 + 5 * i + k), kernels, macs, "0badcafe")
            for i, (key, _, kernels, _) in enumerate(SAME_BOARD_RUNTIMES)
        }
        aot = per[KEYS[0]]["instructions"]["median"]
        rows.append(document(
            "same_board", f"{board}-{model}", board=board, model=model, macs=macs, **per,
            ratios={key: per[key]["instructions"]["median"] / aot for key in KEYS[1:]},
            crc_equal=True, crc_equals_interpreter=k != 1, errors={},
        ))  # fmt: skip
    run_doc = document("run", "run", boards=["qemu-m4", "qemu-m7", "qemu-m55"],
                       tflm_dir="../tflm", tflm_tree_sha256="ab" * 32)  # fmt: skip
    return [run_doc, *rows]


def _table_under(text: str, heading: str) -> list[dict[str, str]]:
    section = text.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    lines = [x for x in section.splitlines() if x.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split(" | ")]
    assert re.fullmatch(r"\|( ---:? \|)+", lines[1])
    return [dict(zip(header, (c.strip() for c in x.strip("|").split(" | ")), strict=True))
            for x in lines[2:]]  # fmt: skip


def test_markdown_renders_the_section_from_the_documents():
    docs = _docs()
    text = benchmark.render_markdown(docs)
    rows = _table_under(text, "Same board: AOT vs TFLM vs TFLM + CMSIS-NN")
    # ordered by model (the digits demo last), then by the run's board order
    want = sorted(docs[1:], key=lambda d: (d["model"] == "digits_demo", d["model"],
                                           docs[0]["boards"].index(d["board"])))  # fmt: skip
    assert [(r["model"], r["board"]) for r in rows] == [
        (f"`{d['model']}`", d["board"]) for d in want
    ]
    labels = [label for *_, label in SAME_BOARD_RUNTIMES]
    for cells, d in zip(rows, want, strict=True):
        assert cells["MACs"] == f"{d['macs']:,}"
        for key, label in zip(KEYS, labels, strict=True):
            m = d[key]
            assert cells[f"{label} instructions"] == f"{m['instructions']['median']:,}"
            assert cells[f"{label} instr. / MAC"] == f"{m['instructions_per_mac']:,.2f}"
            assert cells[f"{label} image flash (B)"] == f"{m['image_flash_bytes']:,}"
            assert cells[f"{label} image RAM (B)"] == f"{m['image_ram_bytes']:,}"
        for key, label in zip(KEYS[1:], labels[1:], strict=True):
            assert cells[f"{label} / AOT"] == f"{d['ratios'][key]:,.2f}"
            assert cells[f"{label} arena used (B)"] == f"{d[key]['device_ram_bytes']:,}"
        assert cells["AOT plan RAM (B)"] == f"{d['aot']['device_ram_bytes']:,}"
        assert cells["CRC32 equal"] == "yes"
        assert cells["= TFLM interpreter"] == ("yes" if d["crc_equals_interpreter"] else "**no**")
    assert "`../tflm`" in text and "ab" * 6 in text
    assert "Not measured" not in text


def test_the_section_comes_before_the_published_latencies():
    docs = _docs()
    kws = document("emulated", "qemu-m4-kws_ref_model", board="qemu-m4", model="kws_ref_model",
                   macs=1, instructions={"median": 10}, instructions_per_mac=10.0,
                   aot_ram_bytes=1, tflm_arena={"total": 2, "activations": 1}, ram_ratio=0.5,
                   ram_ratio_activations=1.0, weight_bytes=1, code_bytes=1,
                   image_flash_bytes=1, bit_exact=True, estimate_ms_at_120mhz=1e-4,
                   published_ms=benchmark.PUBLISHED_MS["kws_ref_model"])  # fmt: skip
    text = benchmark.render_markdown([*docs, kws])
    headings = [x for x in text.splitlines() if x.startswith("#")]
    emulated = next(k for k, h in enumerate(headings) if h.startswith("## 1. Emulated boards"))
    assert headings[emulated + 1 : emulated + 3] == [
        "### Same board: AOT vs TFLM vs TFLM + CMSIS-NN",
        "### Beside the MLPerf Tiny published latencies",
    ]
    assert headings[emulated + 3].startswith("## 2. Host")


def test_without_rows_the_section_says_none_or_skipped():
    assert "### Same board" in benchmark.render_markdown([])
    skipped = benchmark.render_markdown([document("run", "run", tflm_dir=None)])
    assert skipped.count("no TFLM tree was given") == 1
    # an older run document that predates the table says nothing about a tree
    assert "no TFLM tree" not in benchmark.render_markdown([document("run", "run")])
