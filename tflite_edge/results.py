"""The result documents that flash, validate and convert write and report reads: one schema.

Each document is a JSON object, and `FLASH`, `VALIDATION` and `CONVERSION` below declare each
key once: its type, whether it is required, what it means, how the stage writes it
(`FlashResult.to_dict()` and `ValidationResult.to_dict()` are built from the declaration) and
how a reader checks it (`read_document()`, which `tflite_edge.reporting` uses). Adding a key is
one `Field` line; `describe()` prints the declaration.

The top-level key ``kind`` says what a document is; a document without ``kind`` is recognised
by its keys (``bit_exact`` -> validation, ``cycles`` + ``board`` -> flash, ``tflite_bytes`` ->
conversion), so the plain output of ``tflite-edge flash --json`` works too. Optional keys may
be absent or ``null``. A key of the wrong type is a `ResultsError` naming the document and the
key. "int" means a non-negative JSON integer, "number" a non-negative integer or float,
"fraction" a number in [0, 1] (accuracies and shares are fractions, not percent). Dicts passed
from Python may hold numpy scalars and 1-D arrays where numbers and lists are expected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fields import (  # ResultsError, Checked, describe_value: imported from here too
    FLAG,
    FRACTION,
    INT,
    INT_MAP,
    INTS,
    NUMBER,
    NUMBERS,
    OWN,
    STRS,
    TEXT,
    Checked,
    Field,
    ResultsError,
    Schema,
    ValueType,
    _Reader,
    describe_value,
    items,
    obj,
)
from .files import write_json

if TYPE_CHECKING:  # types only: reading results must not import the build machinery
    from .builder import BuildResult
    from .protocol import Session


def _one_per_run(series: tuple, values: dict[str, Any], r: _Reader, key: str) -> None:
    runs = values["runs"]
    if series and len(series) != runs:
        r.fail(
            key,
            f"a list of {runs} values (one per run, runs={runs})",
            f"a list of {len(series)} values",
        )


def _positive(value: int | None, values: dict[str, Any], r: _Reader) -> None:
    if value == 0:
        r.fail("clock_hz", "a positive integer", 0)


def _at_most_samples(value: int, values: dict[str, Any], r: _Reader) -> None:
    if value > values["samples"]:
        r.fail("bit_exact", f"at most samples ({values['samples']})", value)


def _p90(values: tuple) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), 90))


def _finish_flash(doc: Checked) -> Checked:
    """p90s filled in from the series, per-layer cycles reduced to their median over runs."""
    import numpy as np

    cycles, us = doc.cycles, doc.us
    if cycles.p90 is None and doc.cycles_all:
        cycles = cycles.replace(p90=_p90(doc.cycles_all))
    if us is not None and us.p90 is None:
        p90 = None
        if doc.us_all:
            p90 = _p90(doc.us_all)
        elif doc.clock_hz and cycles.p90 is not None:
            p90 = cycles.p90 * 1e6 / doc.clock_hz
        us = us.replace(p90=p90)
    per_idx: dict[int, tuple[str, list[float]]] = {}
    for layer in doc.layers:
        per_idx.setdefault(layer.idx, (layer.op, []))[1].append(layer.cycles)
    layers = tuple(
        Checked(
            doc.source,
            {"idx": idx, "op": op, "cycles": float(np.median(v)) if len(v) > 1 else v[0]},
        )
        for idx, (op, v) in sorted(per_idx.items())
    )
    return doc.replace(cycles=cycles, us=us, layers=layers)


def _stats(unit: str) -> ValueType:
    return obj(
        Field("min", NUMBER, required=True),
        Field("median", NUMBER, required=True),
        Field("max", NUMBER, required=True),
        Field("p90", NUMBER, f"from numpy.percentile({unit}_all, 90) when absent"),
    )


def _layers(r: Any) -> list[dict[str, Any]]:
    return [
        {"i": x["i"], "idx": x["idx"], "op": x["op"], "cycles": x["cycles"]}
        for x in r.session.layers
    ]


def _latency(key: str) -> Callable[[FlashResult], Any]:
    return lambda r: r.session.latency()[key]


def _build(attr: str) -> Callable[[FlashResult], Any]:
    return lambda r: getattr(r.build, attr) if r.build else None


def _runs(series: str) -> Callable[[Any, dict[str, Any], _Reader], None]:
    return lambda value, values, r: _one_per_run(value, values, r, series)


_ONE_PER_RUN = "one per run; its length must equal runs"

# Keys are checked in the order declared, so that a document with several wrong keys is
# refused for the same key as it always was; the JSON files are written with sorted keys.
FLASH = Schema(
    "flash",
    (
        Field("board", TEXT, "the board's name", required=True, write=OWN),
        Field("runtime", TEXT, '"aot" or "tflm"', required=True, write=OWN),
        Field("runs", INT, "timed runs", required=True, write=_latency("runs")),
        Field("emulated", FLAG, "true on QEMU (figures are instruction counts)",
              required=True, write=OWN),
        Field("cycles", _stats("cycles"), "latency in cycles", required=True,
              write=_latency("cycles")),
        Field("us", _stats("us"), "microseconds (an estimate if emulated); no p90: from "
              "us_all, else the cycles p90 at clock_hz", write=_latency("us")),
        Field("cycles_all", INTS, f"every run's cycles, for the histogram ({_ONE_PER_RUN})",
              write=lambda r: [x["cycles"] for x in r.session.runs], check=_runs("cycles_all")),
        Field("us_all", NUMBERS, f"every run's microseconds ({_ONE_PER_RUN})",
              write=lambda r: [x["us"] for x in r.session.runs if "us" in x],
              check=_runs("us_all")),
        Field("clock_hz", INT, "the clock that turns cycles into us (for the us p90)",
              write=lambda r: r.session.clock_hz, check=_positive),
        Field("layers", items(Field("idx", INT, required=True), Field("op", TEXT, required=True),
                              Field("cycles", NUMBER, required=True)),
              "per-layer cycles (and run i); repeated idx values are read as their median",
              write=_layers),
        Field("tflm_arena", obj(Field("total", INT, required=True),
                                Field("head", INT, required=True),
                                Field("tail", INT, required=True)),
              "TFLM's arena for the same model (total = head + tail)",
              write=lambda r: r.tflm_arena),
        Field("sections", INT_MAP, "the image's bytes by linker section (the report counts "
              ".bss/.noinit/.heap/.stack as RAM, .data as both, .text/.rodata as flash)",
              write=lambda r: dict(r.build.sections) if r.build else {}),
        Field("model_sha256", TEXT, "the .tflite's SHA-256", write=OWN),
        Field("ram_bytes", INT, "the runtime's activation RAM (AOT plan, TFLM arena)", write=OWN),
        Field("flash_bytes", INT, "the runtime's constant bytes in flash", write=OWN),
        Field("output_crc32", TEXT, "CRC32 of the output, when every run agrees", write=OWN),
        Field("model", TEXT, "the model's name", write=lambda r: r.model_name, read=False),
        Field("cycles_unit", TEXT, "what `cycles` counts on this board", write=OWN, read=False),
        Field("image_flash_bytes", INT, "the linked image's flash",
              write=_build("flash_bytes"), read=False),
        Field("image_ram_bytes", INT, "the linked image's RAM",
              write=_build("ram_bytes"), read=False),
        Field("tflm_output_crc32", TEXT, "the TFLM interpreter's output CRC32, same input "
              "(several outputs: one CRC32 of all of them packed in order, as the board's)",
              write=lambda r: r.tflm_crc32, read=False),
        Field("output_matches_tflm", FLAG, "the board's output (every output) equals TFLM's",
              write=lambda r: r.matches_tflm, read=False),
        Field("output_crc32s", STRS, "several outputs: the CRC32 of each, in order (empty "
              "for one)", write=lambda r: r.output_crc32s, read=False),
        Field("tflm_output_crc32s", STRS, "several outputs: TFLM's CRC32 of each, same input",
              write=lambda r: list(r.tflm_crc32s or []), read=False),
        Field("port", TEXT, "the serial port read", write=OWN, read=False),
        Field("tflm_kernels", TEXT, "TFLM's kernel set, as the board said (tflm only)",
              write=lambda r: r.kernels, read=False),
        Field("runtime_reason", TEXT, "why --runtime auto chose the runtime",
              write=OWN, read=False),
        Field("notes", STRS, "resets, missing runs, garbled lines",
              write=lambda r: r.session.notes(), read=False),
    ),
    recognise=lambda doc: "cycles" in doc and "board" in doc,
    finish=_finish_flash,
)  # fmt: skip

VALIDATION = Schema(
    "validation",
    (
        Field("samples", INT, "inputs sent to the board", required=True, write=OWN),
        Field("bit_exact", INT, "outputs identical to the TFLM interpreter", required=True,
              write=OWN, check=_at_most_samples),
        Field("bit_exact_share", FRACTION, "bit_exact / samples", required=True, write=OWN),
        Field("max_abs_diff", NUMBER, "largest |board - interpreter| over all outputs",
              required=True, write=OWN),
        Field("accuracy", FRACTION, "on-device accuracy against the labels", write=OWN),
        Field("float_accuracy", FRACTION, "the float Keras model's, same samples", write=OWN),
        Field("int8_host_accuracy", FRACTION, "the int8 model's on the host (TFLM)", write=OWN),
        Field("board", TEXT, "the board's name", write=OWN),
        Field("runtime", TEXT, '"aot" or "tflm"', write=OWN),
        Field("tflm_kernels", TEXT, "TFLM's kernel set (tflm only)", write=OWN, read=False),
        Field("model_sha256", TEXT, "the .tflite's SHA-256", write=OWN, read=False),
        Field("mismatches", INTS, "indices of the samples that were not bit-exact",
              write=lambda r: list(r.mismatches), read=False),
    ),
    recognise=lambda doc: "bit_exact" in doc,
    writes_kind=True,
)  # fmt: skip

# Written by the demo from `tflite_edge.convert()`'s metrics; read by the report.
CONVERSION = Schema(
    "conversion",
    (
        Field("variants", items(Field("name", TEXT, required=True),
                                Field("bytes", INT, required=True),
                                Field("accuracy", FRACTION), Field("sparsity", FRACTION)),
              'e.g. "float", "int8", "int8 pruned 75%"; without them the model table shows '
              '"float" and "int8" from the keys below'),
        Field("tflite_bytes", INT, "size of the int8 .tflite", required=True),
        Field("model", TEXT, "a name for the model, shown in the title"),
        Field("float_accuracy", FRACTION, "accuracy of the float Keras model"),
        Field("int8_accuracy", FRACTION, "accuracy of the int8 model on the host (TFLM)"),
        Field("activations", TEXT, 'the activation type: "int8", or "int16" (16x8 model)'),
        Field("int16_accuracy", FRACTION, "accuracy of the 16x8 model on the host (TFLM)"),
        Field("sparsity", FRACTION, "share of zero int8 weights in the flatbuffer"),
        Field("float_bytes", INT, "size of the float model"),
        Field("arena_bytes", INT, "TFLM's real arena allocation"),
        Field("ops", STRS, "builtin op names"),
    ),
    recognise=lambda doc: "tflite_bytes" in doc,
)  # fmt: skip

SCHEMAS = {s.kind: s for s in (CONVERSION, FLASH, VALIDATION)}
KINDS = tuple(SCHEMAS)  # conversion, flash, validation: the order messages list them in
_RECOGNISED = (VALIDATION, FLASH, CONVERSION)  # the order a document without kind is tried


def document_kind(doc: Mapping, source: str) -> str:
    """The kind of a document: its "kind" key, else recognised by its keys."""
    kind = doc.get("kind")
    if kind is None:
        # `tflite-edge flash --json` and friends print their documents without a kind.
        for schema in _RECOGNISED:
            if schema.recognise(doc):
                return schema.kind
        raise ResultsError(
            f"{source}: a result document needs a 'kind' key (one of {', '.join(KINDS)}); found "
            f"an object with keys {', '.join(sorted(map(str, doc))) or '(none)'}",
            source=source,
            key="kind",
        )
    if kind not in KINDS:
        raise ResultsError(
            f"{source}: key 'kind' should be one of {', '.join(KINDS)} but is "
            f"{describe_value(kind)}",
            source=source,
            key="kind",
        )
    return kind


def read_document(doc: Mapping, source: str) -> tuple[str, Checked]:
    """(kind, checked document) of one result document; ResultsError naming what is wrong."""
    kind = document_kind(doc, source)
    return kind, SCHEMAS[kind].read(doc, source)


def describe(kind: str | None = None) -> str:
    """The declared keys of one kind of document (or all): key, type, required, meaning."""
    out = []
    for schema in [SCHEMAS[kind]] if kind else SCHEMAS.values():
        out.append(f'"kind": "{schema.kind}"')
        for f in schema.fields:
            what = ("required: " if f.required else "") + f.doc
            read = "" if f.read else " (not read by the report)"
            out.append(f"    {f.key:<20} {f.type.label:<16} {what}{read}".rstrip())
        out.append("")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# The stages' result objects


@dataclass
class FlashResult:
    """What a board reported after flashing: hello, timed runs, layers, output CRC32."""

    board: str
    runtime: str
    model_name: str
    model_sha256: str
    emulated: bool
    cycles_unit: str  # what `cycles` counts on this board
    session: Session
    port: str
    build: BuildResult | None = None
    project_dir: Path | None = None
    tflm_crc32: str | None = None  # the TFLM interpreter's output CRC32 on the same input
    tflm_arena: dict[str, int] | None = None  # TFLM's arena for the same model (total/head/tail)
    runtime_reason: str | None = None  # why --runtime auto chose the runtime
    tflm_crc32s: list[str] | None = None  # several outputs: TFLM's CRC32 of each, in order

    @property
    def output_crc32s(self) -> list[str]:
        """Several outputs: the CRC32 of each (the `out` records' crc32_<k>), when every run
        agrees; empty for one output or when the runs disagree."""
        rows = {
            tuple(str(o.get(f"crc32_{k}", "")) for k in range(len(self.tflm_crc32s or ())))
            for o in self.session.outs
        }
        crcs = list(rows.pop()) if len(rows) == 1 else []
        return crcs if all(crcs) else []

    @property
    def outputs_match_tflm(self) -> list[bool]:
        """Several outputs: whether each equals the TFLM interpreter's (empty otherwise)."""
        mine = self.output_crc32s
        if not mine or not self.tflm_crc32s:
            return []
        return [a == b for a, b in zip(mine, self.tflm_crc32s, strict=True)]

    @property
    def kernels(self) -> str | None:
        """The interpreter's kernel set the board reported (TFLM: cmsis_nn, reference)."""
        return self.session.hello.get("kernels")

    @property
    def matches_tflm(self) -> bool | None:
        """True when the board's output equals the TFLM interpreter's, byte for byte."""
        if self.tflm_crc32 is None or self.output_crc32 is None:
            return None
        return self.output_crc32 == self.tflm_crc32

    @property
    def runs(self) -> int:
        return len(self.session.runs)

    @property
    def output_crc32(self) -> str | None:
        return self.session.output_crc32

    @property
    def clock_hz(self) -> int:
        return self.session.clock_hz

    @property
    def ram_bytes(self) -> int | None:
        """The runtime's activation RAM, as the board reported it (AOT plan, TFLM arena)."""
        return self.session.hello.get("ram")

    @property
    def flash_bytes(self) -> int | None:
        """The runtime's constant bytes in flash, as the board reported them."""
        return self.session.hello.get("flash")

    def table(self) -> str:
        """The latency table read over serial, labelled for what the board's cycles are."""
        return self.session.table(emulated=self.emulated)

    def summary(self) -> str:
        """The model, the board, the image's memory use and the latency table."""
        lines = [
            f"{self.model_name} (sha256 {self.model_sha256[:12]}) on {self.board}, "
            f"runtime {self.runtime}"
            + (f" ({self.kernels} kernels)" if self.kernels else "")
            + f", read from {self.port}"
        ]
        if self.runtime_reason:
            lines.append(f"runtime {self.runtime_reason}")
        if self.build is not None:
            b = self.build
            lines.append(
                f"image: flash {b.flash_bytes:,} B"
                + (f" of {b.flash_budget:,}" if b.flash_budget else "")
                + f", RAM {b.ram_bytes:,} B"
                + (f" of {b.ram_budget:,}" if b.ram_budget else "")
            )
        lines.append(self.table())
        if self.matches_tflm is not None:
            lines.append(
                "the board's output "
                + ("equals" if self.matches_tflm else f"DIFFERS from (crc32 {self.tflm_crc32})")
                + " the TFLM interpreter's on the same input"
            )
        if self.outputs_match_tflm and not all(self.outputs_match_tflm):
            differ = [k for k, same in enumerate(self.outputs_match_tflm) if not same]
            lines.append(f"outputs that differ from TFLM's: {', '.join(map(str, differ))}")
        lines.append(
            f"cycles are {self.cycles_unit}"
            + (
                f"; us are an estimate at the board's nominal {self.clock_hz / 1e6:g} MHz, "
                "one instruction per cycle"
                if self.emulated and self.clock_hz
                else ""
            )
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `tflite-edge flash --json` (DESIGN.md), as FLASH declares it."""
        return FLASH.write(self)

    def save(self, path: str | Path) -> Path:
        """Write to_dict() as JSON (atomically) and return the path."""
        return write_json(path, self.to_dict())


@dataclass
class ValidationResult:
    """What the board answered, compared with TFLM and the labels."""

    board: str
    runtime: str
    model_sha256: str
    samples: int
    bit_exact: int
    bit_exact_share: float
    max_abs_diff: int
    mismatches: list[int] = field(default_factory=list)
    accuracy: float | None = None  # on-device, against the labels
    int8_host_accuracy: float | None = None  # TFLM on the host, same inputs and labels
    float_accuracy: float | None = None  # the Keras model, when given
    tflm_kernels: str | None = None  # tflm: the kernel set on the board

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `tflite-edge validate --json` (kind = validation), as declared."""
        return VALIDATION.write(self)

    def summary(self) -> str:
        """A short readable table."""
        rows = [
            (
                "board / runtime",
                f"{self.board} / {self.runtime}"
                + (f" ({self.tflm_kernels} kernels)" if self.tflm_kernels else ""),
            ),
            ("samples", str(self.samples)),
            ("bit-exact with TFLM", f"{self.bit_exact} ({self.bit_exact_share:.1%})"),
            ("max |board - TFLM|", str(self.max_abs_diff)),
        ]
        if self.float_accuracy is not None:
            rows.append(("float accuracy (Keras)", f"{self.float_accuracy:.2%}"))
        if self.int8_host_accuracy is not None:
            rows.append(("int8 accuracy (TFLM, host)", f"{self.int8_host_accuracy:.2%}"))
        if self.accuracy is not None:
            rows.append(("int8 accuracy (on device)", f"{self.accuracy:.2%}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def save(self, path: str | Path) -> Path:
        """Write the JSON document atomically."""
        return write_json(path, self.to_dict())
