"""The bench result documents: one JSON file per measured row, read back, compared between runs.

`Run` is one run's state: the plan, where files go, progress, and the documents written so far.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_atomic, write_json
from .plan import SAME_BOARD_RUNTIMES, SCHEMA_VERSION, SUITE, TABLES, Plan


@dataclass
class BenchResult:
    """What a bench run measured and where it wrote it."""

    out_dir: Path
    markdown: Path
    files: list[Path]
    docs: list[dict[str, Any]]
    determinism: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> list[dict[str, Any]]:
        """The rows of one table (emulated, same_board, host, compression, pipeline)."""
        return [d for d in self.docs if d.get("table") == name]

    def summary(self) -> str:
        """One line per table and the determinism check."""
        lines = [f"wrote {len(self.files)} result files to {self.out_dir} and {self.markdown}"]
        for name in TABLES:
            lines.append(f"  {name}: {len(self.table(name))} rows")
        d = self.determinism
        if d.get("compared"):
            verdict = "identical" if not d["differences"] else f"{len(d['differences'])} differ"
            lines.append(
                f"  against the previous results: {d['compared']} deterministic figures, {verdict}"
            )
        return "\n".join(lines)


def document(table: str, key: str, **fields: Any) -> dict[str, Any]:
    """A row's document: the suite, the schema version, its table and key, then its figures."""
    return {"suite": SUITE, "schema": SCHEMA_VERSION, "table": table, "key": key, **fields}


def board_model_document(
    table: str, board: Any, model: Any, name: str, source: str, macs: int, **fields: Any
) -> dict[str, Any]:
    """The document of a row measuring one model on one emulated board: the board's CPU and
    QEMU machine, the model's name, source, SHA-256 and MACs, then the row's figures."""
    return document(
        table,
        f"{board.name}-{name}",
        board=board.name,
        cpu=board.cpu,
        qemu_machine=board.qemu_machine,
        model=name,
        source=source,
        model_sha256=model.sha256,
        macs=macs,
        **fields,
    )


def file_name(doc: dict[str, Any]) -> str:
    """Where a row is written in the results folder: <table>-<key>.json."""
    return f"{doc['table']}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', doc['key'])}.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_doc(path: Path, doc: dict[str, Any]) -> Path:
    """Write one JSON document atomically (temp file in the same folder, then a rename)."""
    return write_json(path, _jsonable(doc), parents=True)


def write_text(path: Path, text: str) -> Path:
    """Write a text file (the Markdown) atomically, creating its folder."""
    return write_atomic(path, text, parents=True)


def load_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every bench result document in out_dir (files that are not ours are ignored)."""
    docs = []
    for path in sorted(Path(out_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(doc, dict) and doc.get("suite") == SUITE:
            doc["_file"] = path.name
            docs.append(doc)
    return docs


# Fields whose values must repeat exactly from one run to the next (per table).
_DETERMINISTIC = {
    "emulated": ("model_sha256", "macs", "instructions.median", "aot_ram_bytes",
                 "weight_bytes", "image_flash_bytes", "image_ram_bytes", "output_crc32",
                 "tflm_arena.total"),
    "same_board": ("model_sha256", "macs", "tflm_output_crc32",
                   *(f"{r}.{f}" for r, *_ in SAME_BOARD_RUNTIMES
                     for f in ("instructions.median", "image_flash_bytes", "image_ram_bytes",
                               "device_ram_bytes", "output_crc32"))),
    "host": ("model_sha256", "outputs_equal", "valgrind.aot", "valgrind.tflm"),
    "compression": ("tflite_sha256", "tflite_bytes", "accuracy", "dense.flash_bytes",
                    "sparse.flash_bytes", "dense.instructions", "sparse.instructions"),
    "pipeline": ("model_sha256",),
}  # fmt: skip


def _get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def compare_runs(old: Iterable[dict], new: Iterable[dict]) -> dict[str, Any]:
    """Deterministic figures of two runs, row by row: how many compared, which differ."""
    before = {(d["table"], d["key"]): d for d in old if d.get("table") in _DETERMINISTIC}
    compared, differences = 0, []
    for d in new:
        prev = before.get((d.get("table"), d.get("key")))
        if prev is None:
            continue
        for f in _DETERMINISTIC[d["table"]]:
            a, b = _get(prev, f), _get(d, f)
            if a is None and b is None:
                continue
            compared += 1
            if a != b:
                differences.append(
                    {"table": d["table"], "row": d["key"], "field": f, "before": a, "now": b}
                )
    return {"compared": compared, "differences": differences}


class Run:
    """One bench run: the plan, where files go, progress, and the documents written so far."""

    def __init__(self, out: Path, work: Path, plan: Plan, progress: Callable[[str], None]):
        self.out = out
        self.work = work
        self.plan = plan
        self.progress = progress
        self.docs: list[dict[str, Any]] = []
        self.files: list[Path] = []
        self.step = 0
        self.steps = 0
        self.tflm_cache: dict[str, dict[str, Any]] = {}  # TFLM's facts per model sha256
        # TFLM's library per (board, kernel set): None once it is there, else why it is not
        # (a failed build is not retried for every model of the run)
        self.tflm_libraries: dict[tuple[str, str], str | None] = {}

    def tick(self, message: str) -> None:
        """Report the next step of the run."""
        self.step += 1
        self.progress(f"[{self.step}/{self.steps}] {message}")

    def save(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Write a row's document (replacing an earlier one of the same file) and keep it."""
        doc = {k: v for k, v in doc.items() if k != "_file"}
        path = write_doc(self.out / file_name(doc), doc)
        doc = {**doc, "_file": path.name}
        self.docs = [d for d in self.docs if d.get("_file") != path.name] + [doc]
        if path not in self.files:
            self.files.append(path)
        return doc
