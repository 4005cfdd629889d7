"""`inspect()`: what is inside a .tflite model, and whether TFLM can run it.

Tensors, operators (each marked with its TFLM availability), quantization, sizes, the int8
weight sparsity and TFLM's real arena, measured with the tflite-micro interpreter.
No TensorFlow import: this stays fast for the CLI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..reference import ReferenceRefused, measure_arena, missing_ops
from .reader import Model, Tensor, load_model

# Ops whose input 1 is the weight tensor that pruning makes sparse.
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def printable(text: str) -> str:
    """Text from a model file as it may reach a terminal: control and other non-printing
    characters (escape sequences, carriage returns, bidirectional overrides) as \\xNN /
    \\uNNNN, so a tensor name cannot move the cursor, retitle or clear the terminal."""
    return "".join(
        ch if ch.isprintable() else (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in str(text)
    )


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the report shows it."""

    index: int
    name: str
    kind: str  # input, output, weight, constant or activation
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    scale: list[float] | None = None
    zero_point: list[int] | None = None
    sparsity: float | None = None  # share of zero values, for weight tensors only

    @property
    def quantization(self) -> str:
        """Scale and zero point in a few characters ("per-channel x16" when per channel)."""
        if self.scale is None:
            return "-"
        if len(self.scale) > 1:
            return f"per-channel x{len(self.scale)}"
        return f"s={self.scale[0]:.6g} zp={self.zero_point[0]}"


@dataclass(frozen=True)
class OpInfo:
    """One operator: builtin name, version, tensors, and whether TFLM has a kernel for it."""

    index: int
    op: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tflm: bool


@dataclass
class ModelReport:
    """Everything `inspect()` found in one model; `summary()` for people, `to_dict()` for JSON."""

    name: str
    path: str | None
    sha256: str
    size_bytes: int
    schema_version: int
    subgraphs: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    tensors: list[TensorInfo]
    operators: list[OpInfo]
    ops: list[str]
    tflm_missing_ops: list[str]
    weight_bytes: int
    weight_sparsity: float | None
    arena_bytes: int | None
    arena_head_bytes: int | None
    arena_tail_bytes: int | None
    arena_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Filled by tflite_edge.support.inspect (model/ does not import the compiler): per op
    # {"aot", "tflm", "dtypes", "aot_dtypes"}, and why compile_aot refuses the model.
    aot_ops: dict[str, dict[str, Any]] | None = None
    aot_error: str | None = None

    @property
    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.operators:
            counts[o.op] = counts.get(o.op, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        doc = asdict(self)
        doc["op_counts"] = self.op_counts
        doc["tflm_ok"] = not self.tflm_missing_ops and self.arena_error is None
        if self.aot_ops is not None:
            doc["aot_ok"] = self.aot_error is None
        return doc

    def summary(self) -> str:
        """A readable multi-line report."""
        lines = [
            f"model     {printable(self.name)}  ({printable(self.path or 'bytes')})",
            f"sha256    {self.sha256}",
            f"size      {self.size_bytes:,} B  (constants {self.weight_bytes:,} B)",
            f"schema    v{self.schema_version}, {self.subgraphs} subgraph(s), "
            f"{len(self.tensors)} tensors, {len(self.operators)} operators",
        ]
        for label, ts in (("input", self.inputs), ("output", self.outputs)):
            for t in ts:
                lines.append(
                    f"{label:<9} {printable(t.name)}  {t.dtype}{list(t.shape)}  {t.quantization}"
                )
        if self.weight_sparsity is not None:
            lines.append(f"sparsity  {self.weight_sparsity:.1%} of int8 weights are zero")
        if self.arena_bytes is not None:
            lines.append(
                f"arena     {self.arena_bytes:,} B TFLM total "
                f"(head/activations {self.arena_head_bytes:,} B, tail {self.arena_tail_bytes:,} B)"
            )
        else:
            lines.append(f"arena     not measured: {self.arena_error}")
        lines.append("")
        counts = self.op_counts
        if self.aot_ops is None:
            lines.append("ops (count, TFLM kernel):")
        else:
            lines.append(f"  {'op':<28} {'count':<5} {'TFLM':<18} AOT")
        for op in self.ops:
            mark = "yes" if op not in self.tflm_missing_ops else "NO - not in TFLM"
            if self.aot_ops is None:
                lines.append(f"  {op:<28} x{counts[op]:<4} {mark}")
            else:
                lines.append(
                    f"  {op:<28} x{counts[op]:<4} {mark:<18} {_aot_mark(self.aot_ops[op])}"
                )
        if self.aot_ops is not None:
            verdict = "compiles" if self.aot_error is None else f"refuses: {self.aot_error}"
            lines.append(f"AOT compiler: {verdict}")
        lines.append("")
        lines.append("tensors:")
        header = (
            f"  {'#':>3}  {'kind':<10} {'dtype':<7} {'shape':<18} {'bytes':>8}  {'quant':<24} name"
        )
        lines.append(header)
        for t in self.tensors:
            quant = t.quantization
            if t.sparsity is not None:
                quant = f"{quant}, {t.sparsity:.0%} zero"
            lines.append(
                f"  {t.index:>3}  {t.kind:<10} {t.dtype:<7} {str(list(t.shape)):<18} "
                f"{t.bytes:>8,}  {quant:<24} {printable(t.name)}"
            )
        for w in self.warnings:
            lines.append(f"warning: {w}")
        return "\n".join(lines)


def _aot_mark(entry: dict[str, Any]) -> str:
    """An op's AOT column: yes (types), or why not."""
    if not entry["aot_dtypes"]:
        return "NO - no AOT emitter"
    used = "/".join(entry["dtypes"])
    if entry["aot"]:
        return f"yes ({used})"
    return f"NO - {used} (AOT compiles {'/'.join(entry['aot_dtypes'])})"


def weight_tensors(model: Model) -> list[Tensor]:
    """The constant int8 weight tensors (input 1 of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED)."""
    seen: dict[int, Tensor] = {}
    for o in model.operators:
        if o.op in WEIGHT_OPS and len(o.inputs) > 1 and o.inputs[1] >= 0:
            t = model.tensors[o.inputs[1]]
            if t.is_constant and t.dtype == np.int8:
                seen[t.index] = t
    return list(seen.values())


def _zeros(t: Tensor) -> int:
    # A weight is zero when its integer equals the zero point (int8 weights use 0, but be exact).
    data = np.asarray(t.data).reshape(t.shape) if t.data.size == t.size else np.asarray(t.data)
    zp = t.quantization.zero_point if t.quantization is not None else np.zeros(1, np.int64)
    axis = t.quantization.axis if t.quantization is not None else 0
    if zp.size > 1 and 0 <= axis < data.ndim and data.shape[axis] == zp.size:
        shape = [1] * data.ndim
        shape[axis] = zp.size
        return int(np.count_nonzero(data.astype(np.int64) == zp.reshape(shape)))
    return int(np.count_nonzero(data.astype(np.int64) == int(zp.ravel()[0])))


def weight_sparsity(model: str | Path | bytes | Model) -> float | None:
    """Share of zero values over all int8 weight tensors of the flatbuffer (None if there are none)."""
    ws = weight_tensors(load_model(model))
    total = sum(t.size for t in ws)
    if total == 0:
        return None
    return sum(_zeros(t) for t in ws) / total


def inspect(tflite: str | Path | bytes | Model) -> ModelReport:
    """Read a .tflite model and measure it: tensors, ops, quantization, sizes, TFLM arena."""
    model = load_model(tflite)  # a corrupt or inconsistent flatbuffer is a ModelError
    weights = {t.index: t for t in weight_tensors(model)}
    ins, outs = set(model.inputs), set(model.outputs)
    tensors = []
    for t in model.tensors:
        if t.index in ins:
            kind = "input"
        elif t.index in outs:
            kind = "output"
        elif t.index in weights:
            kind = "weight"
        elif t.is_constant:
            kind = "constant"
        else:
            kind = "activation"
        q = t.quantization
        tensors.append(
            TensorInfo(
                index=t.index,
                name=t.name,
                kind=kind,
                shape=tuple(t.shape),
                dtype=np.dtype(t.dtype).name,
                bytes=t.nbytes,
                scale=[float(s) for s in q.scale] if q is not None else None,
                zero_point=[int(z) for z in q.zero_point] if q is not None else None,
                sparsity=_zeros(t) / t.size if t.index in weights and t.size else None,
            )
        )
    missing = missing_ops(model)
    operators = [
        OpInfo(o.index, o.op, o.version, o.inputs, o.outputs, o.op not in missing)
        for o in model.operators
    ]
    warnings = []
    arena = None
    arena_error = None
    if missing:
        arena_error = f"TFLM has no kernel for {', '.join(missing)}"
        warnings.append(
            f"TFLM has no kernel for {', '.join(missing)}: this model will not run on the "
            "board's TFLM runtime; replace those layers before converting"
        )
    else:
        try:
            arena = measure_arena(model)
        except ReferenceRefused as err:
            arena_error = str(err)
            warnings.append(f"the TFLM interpreter cannot run this model: {err}")
    if model.subgraph_count > 1:
        warnings.append(f"the model has {model.subgraph_count} subgraphs; only the first is shown")
    by_index = {t.index: t for t in tensors}
    return ModelReport(
        name=model.name,
        path=model.path,
        sha256=model.sha256,
        size_bytes=len(model.data),
        schema_version=int(model.schema_version),
        subgraphs=model.subgraph_count,
        inputs=[by_index[i] for i in model.inputs],
        outputs=[by_index[i] for i in model.outputs],
        tensors=tensors,
        operators=operators,
        ops=model.ops,
        tflm_missing_ops=missing,
        weight_bytes=model.weight_bytes,
        weight_sparsity=weight_sparsity(model),
        arena_bytes=arena.total if arena else None,
        arena_head_bytes=arena.head if arena else None,
        arena_tail_bytes=arena.tail if arena else None,
        arena_error=arena_error,
        warnings=warnings,
    )
