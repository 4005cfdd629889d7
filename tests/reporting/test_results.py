"""The one result schema (tflite_edge.results): the stages write and the report reads the same
declaration, so a key added there is written by the stage and checked by the reader."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tflite_edge import results
from tflite_edge.builder import BuildResult
from tflite_edge.protocol import Session, parse_line
from tflite_edge.reporting import load_results, render_report
from tflite_edge.results import (
    FLASH,
    INT,
    TEXT,
    Field,
    FlashResult,
    ResultsError,
    Schema,
    ValidationResult,
    read_document,
)

RUNS = 4


def _session() -> Session:
    lines = [
        "TFLE 1 hello board=qemu-m4 runtime=aot model=1a2b3c4d ram=16000 flash=61234 "
        "clock_hz=25000000 in_bytes=8 out_bytes=4"
    ]
    for i in range(RUNS):
        lines += [
            f"TFLE 1 run i={i} cycles={1000 + 7 * i} us={40 + i}",
            f"TFLE 1 layer i={i} idx=0 op=CONV_2D cycles={500 + i}",
            f"TFLE 1 layer i={i} idx=1 op=SOFTMAX cycles=90",
            f"TFLE 1 out i={i} crc32=deadbeef",
        ]
    lines.append(f"TFLE 1 done runs={RUNS}")
    return Session.from_records([parse_line(line) for line in lines], port="/dev/pts/9")


@pytest.fixture
def flashed() -> FlashResult:
    build = BuildResult(
        Path("/p"), "qemu-m4", Path("/p/fw.elf"), 7000, 3000, 100_000, 50_000, {".text": 5000}
    )
    return FlashResult(
        "qemu-m4",
        "aot",
        "m.tflite",
        "ab" * 32,
        True,
        "emulated instructions",
        _session(),
        "/dev/pts/9",
        build=build,
        tflm_crc32="deadbeef",
        tflm_arena={"total": 9000, "head": 7000, "tail": 2000},
    )


def test_flash_document_is_the_declared_keys(flashed):
    doc = flashed.to_dict()
    assert list(doc) == [f.key for f in FLASH.fields]
    assert doc["runs"] == RUNS and doc["cycles_all"] == [1000, 1007, 1014, 1021]
    assert doc["image_flash_bytes"] == 7000 and doc["sections"] == {".text": 5000}
    assert doc["output_matches_tflm"] is True
    # what the report reads back is what the stage wrote
    kind, checked = read_document(json.loads(json.dumps(doc)), "flash.json")
    assert kind == "flash"
    assert (checked.board, checked.runs, checked.cycles_all) == (
        "qemu-m4",
        RUNS,
        tuple(doc["cycles_all"]),
    )
    assert [(layer.idx, layer.op, layer.cycles) for layer in checked.layers] == [
        (0, "CONV_2D", 501.5),
        (1, "SOFTMAX", 90),
    ]
    assert checked.cycles.p90 == doc["cycles"]["p90"]
    assert checked.tflm_arena.total == 9000


def test_validation_document_writes_every_field_of_the_result():
    v = ValidationResult("qemu-m4", "aot", "ab", 10, 9, 0.9, 3, [4], 0.8, 0.85, None)
    doc = v.to_dict()
    assert doc["kind"] == "validation"
    assert set(doc) == {"kind", *(f.name for f in dataclasses.fields(ValidationResult))}
    assert doc == {"kind": "validation", **dataclasses.asdict(v)}
    kind, checked = read_document(doc, "v.json")
    assert kind == "validation" and checked.bit_exact == 9 and checked.float_accuracy is None


def test_a_field_added_to_a_schema_is_written_and_checked():
    schema = Schema(
        "flash",
        (*FLASH.fields, Field("flash_hz", INT, "new", required=True, write=lambda r: 48)),
        recognise=FLASH.recognise,
        finish=FLASH.finish,
    )

    class Stub:
        pass

    assert Schema("x", (Field("a", TEXT, write=lambda r: "A"),), lambda d: False).write(Stub()) == {
        "a": "A"
    }
    doc = {
        "board": "b",
        "runtime": "aot",
        "runs": 1,
        "emulated": False,
        "cycles": {"min": 1, "median": 1, "max": 1},
    }
    with pytest.raises(ResultsError, match="key 'flash_hz' should be a non-negative integer"):
        schema.read(doc, "d.json")
    assert schema.read({**doc, "flash_hz": 48}, "d.json").flash_hz == 48


def test_describe_lists_every_declared_key():
    text = results.describe()
    for schema in results.SCHEMAS.values():
        assert f'"kind": "{schema.kind}"' in text
        for f in schema.fields:
            assert f"    {f.key} " in text
    assert "not read by the report" in results.describe("flash")


def test_report_reads_what_flash_writes(flashed):
    md = render_report([flashed.to_dict()], format="md")
    assert "## Latency: qemu-m4 aot" in md
    assert len(load_results([flashed.to_dict()]).flashes) == 1


def test_checked_documents_are_read_only(flashed):
    _, checked = read_document(flashed.to_dict(), "f.json")
    with pytest.raises(AttributeError):
        checked.board = "other"
    with pytest.raises(AttributeError):
        _ = checked.no_such_key
