"""The ahead-of-time compiler: an int8 .tflite becomes straight-line C calling our int8 kernels.

`compile_aot()` reads the model, plans one static activation arena from tensor lifetimes,
asks one *emitter* per operator for the C statement that runs it, and renders
`tfle_model.h` / `tfle_model.c` (the API in firmware/README.md) with jinja2.

Adding an op (how tflite_edge/aot_extra.py plugs in)
----------------------------------------------------
Register a function with `@register_op("NAME")`; it receives an `EmitContext` and returns
the C statement text for one layer::

    @register_op("RELU")
    def _relu(ctx: EmitContext) -> str:
        x, y = ctx.inputs[0], ctx.outputs[0]
        ctx.require_header("tfle_extra.h")
        p = ctx.const_struct("relu", "tfle_relu_params", f"{{{y.size}, ...}}")
        return f"tfle_relu_s8(&{p}, {x.expr}, {y.expr});"

What the context gives an emitter:

- `ctx.op` (tflite_edge.model.Operator: `.op`, `.index`, `.options`, `.inputs`, ...),
  `ctx.options` (the op's builtin options dict), `ctx.model`, `ctx.layer` (layer number).
- `ctx.inputs` / `ctx.outputs`: one `TensorView` per operator input/output (None for an
  absent optional input, index -1). A view has `.shape`, `.dtype`, `.ctype` ("int8_t", ...),
  `.size` (elements), `.nbytes`, `.scale` / `.zero_point` (per tensor; `.quant` for
  per-channel), `.is_constant`, `.data` (numpy array of a constant), and `.expr`: a C
  expression of type `<ctype> *` for the tensor's buffer. For an activation it points into
  the static arena (`((int8_t *)(tfle_arena + 1024))`); for a constant, reading `.expr`
  emits the tensor's data as a `static const` array in flash and names it.
- `ctx.const_array(hint, values, ctype=None, *, align=1) -> str`: emit a `static const` array
  (dtype of `values` picks the C type unless `ctype` is given; identical arrays are shared;
  `align=4` for data a kernel reads a word at a time) and return its C name.
- `ctx.const_struct(hint, ctype, initializer) -> str`: emit `static const <ctype> name =
  <initializer>;` (a kernel parameter block in flash) and return its name.
- `ctx.scratch(nbytes) -> str`: scratch memory for this layer only, planned into the arena;
  a C expression of type `int8_t *`, 4-byte aligned (cast it as needed).
- `ctx.require_header("tfle_extra.h")`: `#include` it in tfle_model.c.
- `ctx.unsupported(reason)`: raise UnsupportedOpError naming the op (suggests --runtime tflm).
- Helpers in this module: `quantize_multiplier`, `per_channel_multipliers` (from quant.py),
  `activation_range(activation, view)`, `conv_padding(...)`, `c_list(values)`.

Rules: emitters are called twice (a planning pass, then the real pass; expressions differ
between the passes), so they must be deterministic and act only through the context.
An op whose output is its input's bytes reinterpreted (RESHAPE, SQUEEZE, EXPAND_DIMS) is
registered with `register_op("NAME", alias=True)`: its output 0 shares input 0's arena
bytes, no layer is counted and its emitter should return "" (it may still validate).

How the core ops are compiled (each choice is covered by a bit-exactness test against TFLM):
CONV_2D whose windows hold at most GATHER_BYTES / 2 values, pointwise ones included, and
DEPTHWISE_CONV_2D with one input channel become `tfle_conv2d_packed_s8`: windows gathered two
pixels at a time on the stack, weights packed at compile time (`pack_pairs`); larger windows
take `tfle_conv2d_rows_s8` (dilation 1 across) or the general `tfle_conv2d_s8` (grouped).
DEPTHWISE_CONV_2D with depth multiplier 1 takes `tfle_depthwise_conv2d_dm1_s8`
(`pack_depthwise`), other multipliers the general kernel. FULLY_CONNECTED takes
`tfle_fully_connected_packed_s8`. Sparse convolutions with windows of at most SPARSE_WINDOW
values list nonzeros by tap position (`tfle_conv2d_sparse_taps_s8`). Biases are folded with the
input offset at compile time (`tfle_kernels.h`).

Kernels live in firmware/kernels/*.c (`kernel_sources()`), headers in the same folder
(`kernel_include_dir()`). `build_host_runner(out_dir)` compiles a generated model with the
host gcc into a ctypes library so tests can run it on many inputs.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ModelError, TFLiteEdgeError, ToolchainError, UnsupportedOpError
from ..files import write_atomic
from ..model import Model, Operator, Tensor, c_identifier, load_model
from ..model.quant import per_channel_multipliers, quantize_multiplier
from ..resources import firmware_dir, templates_dir

__all__ = [
    "AotResult",
    "EMITTERS",
    "EmitContext",
    "HostRunner",
    "TensorView",
    "activation_range",
    "build_host_runner",
    "c_list",
    "compile_aot",
    "conv_padding",
    "kernel_include_dir",
    "kernel_objects",
    "kernel_sources",
    "pack_depthwise",
    "pack_pairs",
    "per_channel_multipliers",
    "quantize_multiplier",
    "register_op",
]

# Arena offsets are aligned so that int16/int32/float tensors and scratch can live there.
ALIGN = 4
# sparse="auto" encodes a weight tensor with at least this share of zeros.
SPARSE_MIN_ZEROS = 0.5
# TFLE_GATHER_BYTES of firmware/kernels/tfle_kernels.h: the packed GEMM kernels gather windows
# of up to half this many bytes (rounded up to a multiple of 4) on the stack.
GATHER_BYTES = 512
# TFLE_SPARSE_WINDOW: the largest window of the sparse convolution by tap positions.
SPARSE_WINDOW = 256

_C_TYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.uint16): "uint16_t",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.uint32): "uint32_t",
    np.dtype(np.int64): "int64_t",
    np.dtype(np.float32): "float",
    np.dtype(np.bool_): "uint8_t",
}
_C_SIZES = {
    "int8_t": 1,
    "uint8_t": 1,
    "int16_t": 2,
    "uint16_t": 2,
    "int32_t": 4,
    "uint32_t": 4,
    "int64_t": 8,
    "float": 4,
}


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Emitter:
    """A registered op: the function that writes its C, and whether it aliases its input."""

    op: str
    fn: Callable[[EmitContext], str]
    alias: bool = False


EMITTERS: dict[str, Emitter] = {}


def register_op(op: str, *, alias: bool = False) -> Callable[[Callable], Callable]:
    """Decorator: register `fn(ctx: EmitContext) -> str` as the C emitter of builtin `op`."""

    def deco(fn: Callable[[EmitContext], str]) -> Callable[[EmitContext], str]:
        EMITTERS[op] = Emitter(op, fn, alias)
        return fn

    return deco


# --------------------------------------------------------------------------- views, context


class TensorView:
    """What an emitter sees of one tensor: shape, type, quantization, and its C expression."""

    def __init__(self, tensor: Tensor, ctx: EmitContext, base: str | None) -> None:
        self.tensor = tensor
        self._ctx = ctx
        self._base = base  # the arena expression of an activation; None for a constant

    index = property(lambda self: self.tensor.index)
    name = property(lambda self: self.tensor.name)
    shape = property(lambda self: self.tensor.shape)
    dtype = property(lambda self: np.dtype(self.tensor.dtype))
    size = property(lambda self: self.tensor.size)
    nbytes = property(lambda self: self.tensor.nbytes)
    data = property(lambda self: self.tensor.data)
    is_constant = property(lambda self: self._base is None)
    quant = property(lambda self: self.tensor.quantization)

    @property
    def ctype(self) -> str:
        return _ctype(self.dtype)

    @property
    def scale(self) -> float:
        """The per-tensor scale (the first one of a per-channel tensor); 0.0 if unquantized."""
        q = self.tensor.quantization
        return float(q.scale.ravel()[0]) if q is not None else 0.0

    @property
    def zero_point(self) -> int:
        q = self.tensor.quantization
        return int(q.zero_point.ravel()[0]) if q is not None else 0

    @property
    def expr(self) -> str:
        """A C expression of type `<ctype> *` for this tensor's data (emits a constant)."""
        if self._base is None:
            return self._ctx._constant_tensor(self.tensor)
        if self.ctype == "int8_t":
            return f"({self._base})"
        return f"(({self.ctype} *)({self._base}))"

    def __repr__(self) -> str:
        return f"TensorView({self.index}, {self.shape}, {self.dtype})"


class EmitContext:
    """Everything one op's emitter may use; see the module docstring."""

    def __init__(
        self,
        compiler: _Compiler,
        op: Operator,
        layer: int,
        views: dict[int, TensorView],
        scratch_base: Callable[[int], str],
    ) -> None:
        self._compiler = compiler
        self.op = op
        self.model = compiler.model
        self.layer = layer
        self.options = op.options
        self.sparse = compiler.sparse
        self.inputs: list[TensorView | None] = [views[i] if i >= 0 else None for i in op.inputs]
        self.outputs: list[TensorView] = [views[i] for i in op.outputs]
        self._scratch_base = scratch_base
        self.scratch_bytes = 0
        self.sparse_layer = False  # an emitter sets this when it chose a sparse encoding

    @property
    def prefix(self) -> str:
        """A short C identifier prefix unique to this layer (op index based)."""
        return f"op{self.op.index}"

    def const_array(
        self, hint: str, values: Any, ctype: str | None = None, *, align: int = 1
    ) -> str:
        """Emit a `static const` array in flash (aligned to `align` bytes); returns its C name."""
        return self._compiler.const_array(f"{self.prefix}_{hint}", values, ctype, align=align)

    def const_struct(self, hint: str, ctype: str, initializer: str) -> str:
        """Emit `static const <ctype> name = <initializer>;`; returns its name."""
        return self._compiler.const_struct(f"{self.prefix}_{hint}", ctype, initializer)

    def scratch(self, nbytes: int) -> str:
        """Arena scratch memory live during this layer only; an `int8_t *` C expression."""
        self.scratch_bytes = max(self.scratch_bytes, int(nbytes))
        return self._scratch_base(int(nbytes))

    def require_header(self, header: str) -> None:
        """`#include "<header>"` in tfle_model.c."""
        self._compiler.require_header(header)

    def unsupported(self, reason: str) -> UnsupportedOpError:
        """Raise UnsupportedOpError for this op (returns its type only for `raise` clarity)."""
        raise unsupported_error(self.op.op, f"op {self.op.index} ({self.op.op}): {reason}")

    def _constant_tensor(self, tensor: Tensor) -> str:
        return self._compiler.constant_tensor(tensor)


def unsupported_error(op: str, what: str) -> UnsupportedOpError:
    """The error for something the AOT runtime cannot compile, naming the op."""
    return UnsupportedOpError(
        f"the AOT compiler does not support {what}; build this model with `--runtime tflm` "
        "instead, or change the layer",
        op=op,
        runtime="aot",
    )


# --------------------------------------------------------------------------- helpers


def _ctype(dtype: np.dtype) -> str:
    try:
        return _C_TYPES[np.dtype(dtype)]
    except KeyError:
        raise ModelError(
            f"tensors of type {dtype} cannot be laid out in C by tflite-edge"
        ) from None


def c_list(values: Any, per_line: int = 16) -> str:
    """Comma-separated C literals of a numpy array, `per_line` to a line (deterministic)."""
    arr = np.asarray(values).ravel()
    if arr.dtype.kind == "f":
        items = [repr(float(np.float32(v))) + "f" for v in arr]
    elif arr.dtype == np.int32 or arr.dtype == np.int64:
        # -2147483648 is not an int literal in C; write it as an expression
        items = [str(int(v)) if int(v) != -(2**31) else "(-2147483647 - 1)" for v in arr]
    else:
        items = [str(int(v)) for v in arr]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def activation_range(activation: str | None, view: TensorView) -> tuple[int, int]:
    """Clamp range of a fused activation in the output's quantized domain, as TFLM computes it.

    TFLM: act_min = max(qmin, zp + round(0 / scale)) and so on, with float32 division and
    round-half-away-from-zero.
    """
    info = np.iinfo(view.dtype)
    qmin, qmax = int(info.min), int(info.max)
    scale, zp = np.float32(view.scale), view.zero_point

    def q(x: float) -> int:
        r = float(np.float32(x) / scale)
        return zp + int(np.sign(r) * np.floor(abs(r) + 0.5))

    act = activation or "NONE"
    if act == "NONE":
        return qmin, qmax
    if act == "RELU":
        return max(qmin, q(0.0)), qmax
    if act == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise unsupported_error(str(act), f"the fused activation {act}")


def conv_padding(
    padding: str, in_size: int, filter_size: int, stride: int, dilation: int, out_size: int
) -> int:
    """Leading padding of one spatial dimension (TFLM's ComputePaddingHeightWidth)."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        total = (out_size - 1) * stride + effective - in_size
        return max(total, 0) // 2
    return 0


def kernel_include_dir() -> Path:
    """The folder holding the kernel headers (tfle_kernels.h, ...)."""
    return firmware_dir() / "kernels"


def kernel_sources() -> list[Path]:
    """Every kernel .c file a project must compile with tfle_model.c (sorted)."""
    return sorted(kernel_include_dir().glob("*.c"))


# --------------------------------------------------------------------------- result


@dataclass
class AotResult:
    """What compile_aot wrote and what it costs: RAM plan, constants, layers."""

    out_dir: Path
    files: list[Path]
    ram_bytes: int  # the static arena (TFLE_ARENA_BYTES)
    weight_bytes: int  # bytes of static const arrays (TFLE_WEIGHT_BYTES)
    ops: list[str]  # distinct op names of the model
    layers: list[dict]  # one dict per emitted layer: layer, op_index, op, sparse
    plan: dict[int, tuple[int, int]]  # tensor index -> (arena offset, bytes)
    sparse_layers: list[int]  # op indices whose weights were sparse-encoded
    model_sha256: str = ""
    name: str = ""

    def summary(self) -> str:
        """A short human-readable account of the compiled model."""
        return (
            f"{self.name}: {len(self.layers)} layers ({', '.join(self.ops)}), "
            f"ram_bytes={self.ram_bytes}, weight_bytes={self.weight_bytes}, "
            f"sparse layers={len(self.sparse_layers)}"
        )


# --------------------------------------------------------------------------- memory plan


@dataclass
class _Buffer:
    key: str
    size: int
    first: int
    last: int
    tensors: list[int] = field(default_factory=list)
    offset: int = -1


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_arena(buffers: list[_Buffer]) -> int:
    """Greedy placement like TFLM's GreedyMemoryPlanner: biggest first, lowest free offset.

    Two buffers may share bytes only when their lifetimes [first, last] do not overlap.
    Returns the arena size; sets each buffer's offset.
    """
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.key))
    placed: list[_Buffer] = []
    for b in order:
        live = sorted(
            (p for p in placed if p.first <= b.last and b.first <= p.last),
            key=lambda p: p.offset,
        )
        offset = 0
        for p in live:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size))
        b.offset = offset
        placed.append(b)
    return max((_align(b.offset + b.size) for b in buffers), default=0)


# --------------------------------------------------------------------------- compiler


class _Compiler:
    def __init__(self, model: Model, sparse: bool | str) -> None:
        self.model = model
        self.sparse = sparse
        self.arrays: list[dict] = []  # {name, ctype, values(text), nbytes, count}
        self._array_keys: dict[tuple, str] = {}
        self.structs: list[dict] = []
        self._struct_keys: dict[tuple, str] = {}
        self._names: set[str] = set()
        self.headers: list[str] = ["tfle_kernels.h"]
        self._tensor_arrays: dict[int, str] = {}

    def _unique(self, hint: str) -> str:
        base = "k_" + c_identifier(hint)
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def const_array(
        self, hint: str, values: Any, ctype: str | None = None, comment: str = "", align: int = 1
    ) -> str:
        arr = np.ascontiguousarray(values)
        ctype = ctype or _ctype(arr.dtype)
        key = (ctype, arr.dtype.str, arr.ravel().tobytes(), align)
        if key in self._array_keys:
            return self._array_keys[key]
        name = self._unique(hint)
        self._array_keys[key] = name
        count = max(int(arr.size), 1)
        body = c_list(arr) if arr.size else "0"
        self.arrays.append(
            {
                "name": name,
                "ctype": ctype,
                "count": count,
                "body": body,
                "nbytes": count * _C_SIZES.get(ctype, arr.dtype.itemsize),
                "align": align,
                # a tensor name may hold anything; keep it from closing the comment
                "comment": comment.replace("*/", "* /"),
            }
        )
        return name

    def const_struct(self, hint: str, ctype: str, initializer: str) -> str:
        key = (ctype, initializer)
        if key in self._struct_keys:
            return self._struct_keys[key]
        name = self._unique(hint)
        self._struct_keys[key] = name
        self.structs.append({"name": name, "ctype": ctype, "init": initializer})
        return name

    def require_header(self, header: str) -> None:
        if header not in self.headers:
            self.headers.append(header)

    def constant_tensor(self, tensor: Tensor) -> str:
        if tensor.index not in self._tensor_arrays:
            shape = "x".join(str(d) for d in tensor.shape) or "scalar"
            self._tensor_arrays[tensor.index] = self.const_array(
                f"t{tensor.index}",
                tensor.data,
                _ctype(tensor.dtype),
                comment=f"tensor {tensor.index} [{shape}]: {tensor.name}",
            )
        return self._tensor_arrays[tensor.index]

    def reset_constants(self) -> None:
        self.arrays.clear()
        self._array_keys.clear()
        self.structs.clear()
        self._struct_keys.clear()
        self._names.clear()
        self._tensor_arrays.clear()
        self.headers = ["tfle_kernels.h"]


def _emitter(op: Operator) -> Emitter:
    emitter = EMITTERS.get(op.op)
    if emitter is None:
        raise unsupported_error(op.op, f"op {op.op} (operator {op.index})")
    return emitter


def compile_aot(
    tflite: str | Path | bytes | Model,
    out_dir: str | Path,
    *,
    sparse: bool | str = "auto",
    profile: bool = False,
    name: str | None = None,
) -> AotResult:
    """Compile an int8 .tflite into tfle_model.h / tfle_model.c in out_dir (atomically).

    sparse: "auto" encodes weight tensors with >= 50% zeros sparsely (when that is smaller),
    True encodes every weight tensor that a sparse kernel handles, False keeps all dense.
    profile: compile the per-layer hook in unconditionally (otherwise only with -DTFLE_PROFILE).
    """
    if sparse not in (True, False, "auto"):
        raise TFLiteEdgeError(
            f"sparse must be True (every weight layer), False (none) or 'auto' (layers with "
            f">= {SPARSE_MIN_ZEROS:.0%} zeros), found {sparse!r}"
        )
    model = load_model(tflite, name=name)
    # a Model passed in keeps its own name; `name` only labels the generated files
    text_h, text_c, result = _compile(model, sparse, profile, name or model.name)
    out = Path(out_dir)
    files = _write_files(out, {"tfle_model.h": text_h, "tfle_model.c": text_c})
    result.out_dir = out
    result.files = files
    return result


def _check_model(model: Model) -> None:
    where = model.path or model.name
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(
            f"model {where!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            "the AOT runtime handles single-input, single-output models",
            path=model.path,
        )
    for t in (model.input_tensors[0], model.output_tensors[0]):
        if t.is_constant:
            raise ModelError(
                f"model {where!r}: tensor {t.name!r} is both a model input/output and a "
                "constant; export the model again",
                path=model.path,
            )
    if model.subgraph_count > 1:
        raise unsupported_error(
            "SUBGRAPHS", f"models with {model.subgraph_count} subgraphs (control flow)"
        )
    for op in model.operators:
        _emitter(op)


def _compile(
    model: Model, sparse: bool | str, profile: bool, name: str
) -> tuple[str, str, AotResult]:
    _check_model(model)
    comp = _Compiler(model, sparse)
    ops = model.operators
    n = len(ops)
    tin, tout = model.inputs[0], model.outputs[0]

    # Lifetimes in operator steps; the input exists before op 0, the output after the last op.
    first: dict[int, int] = {tin: -1}
    last: dict[int, int] = {tin: -1}
    for op in ops:
        for t in op.outputs:
            first.setdefault(t, op.index)
            last[t] = max(last.get(t, op.index), op.index)
        for t in op.inputs:
            if t >= 0 and not model.tensors[t].is_constant:
                if t not in first:
                    raise ModelError(
                        f"op {op.index} ({op.op}) reads tensor {t} that nothing writes",
                        path=model.path,
                    )
                last[t] = max(last[t], op.index)
    last[tout] = n

    # Alias groups: an alias op's output shares its input's bytes (unless the input is a
    # constant, in which case the output is that constant).
    root: dict[int, int] = {}
    const_alias: dict[int, int] = {}

    def find(t: int) -> int:
        while t in root:
            t = root[t]
        return t

    for op in ops:
        if _emitter(op).alias:
            src = op.inputs[0]
            if model.tensors[src].is_constant:
                const_alias[op.outputs[0]] = src
            elif model.tensors[src].nbytes == model.tensors[op.outputs[0]].nbytes:
                root[op.outputs[0]] = find(src)
    if tout in const_alias:
        raise ModelError(
            f"the model output {model.tensors[tout].name!r} is a reshaped constant", path=model.path
        )

    buffers: dict[int, _Buffer] = {}
    for t in sorted(first):
        if t in const_alias:
            continue
        r = find(t)
        size = model.tensors[t].nbytes
        b = buffers.get(r)
        if b is None:
            b = buffers[r] = _Buffer(f"t{r}", size, first[r], last[r])
        b.size = max(b.size, size)
        b.first = min(b.first, first[t])
        b.last = max(b.last, last[t])
        b.tensors.append(t)

    # Planning pass: learn each layer's scratch needs.
    scratch_need: dict[int, int] = {}
    for op in ops:
        ctx = _make_ctx(comp, op, 0, {t: "tfle_arena" for t in first}, const_alias, model)
        _emitter(op).fn(ctx)
        if ctx.scratch_bytes:
            scratch_need[op.index] = ctx.scratch_bytes
    comp.reset_constants()

    all_buffers = list(buffers.values())
    scratch_buf: dict[int, _Buffer] = {}
    for idx, size in scratch_need.items():
        scratch_buf[idx] = _Buffer(f"s{idx}", size, idx, idx)
        all_buffers.append(scratch_buf[idx])
    arena = plan_arena(all_buffers)

    bases: dict[int, str] = {}
    plan: dict[int, tuple[int, int]] = {}
    for b in buffers.values():
        for t in b.tensors:
            bases[t] = f"tfle_arena + {b.offset}"
            plan[t] = (b.offset, model.tensors[t].nbytes)
    plan_lines = []
    for b in sorted(all_buffers, key=lambda b: (b.offset, b.first, b.key)):
        what = (
            ", ".join(f"t{t}" for t in sorted(b.tensors))
            if b.tensors
            else f"scratch of op {b.first}"
        )
        live = f"ops {max(b.first, 0)}..{min(b.last, n - 1)}" if n else "-"
        plan_lines.append(f"[{b.offset:>6}, {b.offset + b.size:>6})  {live:<12} {what}")

    # Real pass.
    layers: list[dict] = []
    sparse_layers: list[int] = []
    for op in ops:
        emitter = _emitter(op)
        scratch = scratch_buf.get(op.index)
        ctx = _make_ctx(
            comp,
            op,
            len(layers),
            bases,
            const_alias,
            model,
            scratch_offset=scratch.offset if scratch else None,
        )
        code = emitter.fn(ctx).strip()
        if ctx.sparse_layer:
            sparse_layers.append(op.index)
        if emitter.alias and not code:
            continue
        layers.append(
            {
                "layer": len(layers),
                "op_index": op.index,
                "op": op.op,
                "code": code,
                "sparse": ctx.sparse_layer,
            }
        )

    weight_bytes = sum(a["nbytes"] for a in comp.arrays)
    in_t, out_t = model.tensors[tin], model.tensors[tout]
    context = {
        "generator": f"tflite-edge {__version__} (tflite_edge.compiler)",
        "model_name": c_identifier(name),
        "sha256": model.sha256,
        "sha8": model.sha256[:8],
        "input_bytes": in_t.nbytes,
        "output_bytes": out_t.nbytes,
        "arena_bytes": arena,
        "arena_words": max((arena + 3) // 4, 1),
        "weight_bytes": weight_bytes,
        "num_layers": len(layers),
        "input_offset": plan[tin][0],
        "output_offset": plan[tout][0],
        "headers": comp.headers,
        "arrays": comp.arrays,
        "structs": comp.structs,
        "layers": layers,
        "profile": profile,
        "plan_lines": plan_lines,
        "input_shape": list(in_t.shape),
        "output_shape": list(out_t.shape),
        "input_dtype": np.dtype(in_t.dtype).name,
        "output_dtype": np.dtype(out_t.dtype).name,
    }
    text_h, text_c = _render(context)
    result = AotResult(
        out_dir=Path("."),
        files=[],
        ram_bytes=arena,
        weight_bytes=weight_bytes,
        ops=model.ops,
        layers=[{k: v for k, v in lay.items() if k != "code"} for lay in layers],
        plan=dict(sorted(plan.items())),
        sparse_layers=sparse_layers,
        model_sha256=model.sha256,
        name=name,
    )
    return text_h, text_c, result


def _make_ctx(
    comp: _Compiler,
    op: Operator,
    layer: int,
    bases: dict[int, str],
    const_alias: dict[int, int],
    model: Model,
    scratch_offset: int | None = None,
) -> EmitContext:
    views: dict[int, TensorView] = {}
    ctx = EmitContext.__new__(EmitContext)
    for t in (*op.inputs, *op.outputs):
        if t < 0:
            continue
        tensor = model.tensors[t]
        if tensor.is_constant:
            views[t] = TensorView(tensor, ctx, None)
        elif t in const_alias:
            src = model.tensors[const_alias[t]]
            views[t] = TensorView(
                Tensor(t, tensor.name, tensor.shape, tensor.dtype, tensor.quantization, src.data),
                ctx,
                None,
            )
        else:
            views[t] = TensorView(tensor, ctx, bases[t])

    def scratch_base(nbytes: int) -> str:
        return f"(tfle_arena + {scratch_offset if scratch_offset is not None else 0})"

    EmitContext.__init__(ctx, comp, op, layer, views, scratch_base)
    return ctx


def _render(context: dict) -> tuple[str, str]:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "aot")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    h = env.get_template("tfle_model.h.j2").render(**context)
    c = env.get_template("tfle_model.c.j2").render(**context)
    return h, c


def _write_files(out: Path, files: dict[str, str]) -> list[Path]:
    """Write every file via a temporary file and rename, so a reader never sees half a file."""
    if out.exists() and not out.is_dir():
        raise TFLiteEdgeError(f"output directory {str(out)!r} is a file; pass a directory")
    out.mkdir(parents=True, exist_ok=True)
    return [write_atomic(out / fname, text) for fname, text in files.items()]


# --------------------------------------------------------------------------- host runner


@dataclass
class HostRunner:
    """A generated model compiled for the host as a shared library, callable from numpy."""

    path: Path
    input_bytes: int
    output_bytes: int
    input_dtype: np.dtype
    output_dtype: np.dtype
    output_shape: tuple[int, ...]
    profile: bool = False

    def __post_init__(self) -> None:
        self._lib = ctypes.CDLL(str(self.path))
        self._lib.tfle_model_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._lib.tfle_model_invoke.restype = ctypes.c_int

    def run_one(self, x: np.ndarray) -> np.ndarray:
        """Invoke once; returns the output with the model's output shape."""
        buf = np.ascontiguousarray(x, dtype=self.input_dtype).ravel()
        if buf.nbytes != self.input_bytes:
            raise ValueError(f"input has {buf.nbytes} bytes, the model takes {self.input_bytes}")
        out = np.zeros(self.output_bytes // self.output_dtype.itemsize, self.output_dtype)
        rc = self._lib.tfle_model_invoke(buf.ctypes.data, out.ctypes.data)
        if rc != 0:
            raise RuntimeError(f"tfle_model_invoke returned {rc}")
        return out.reshape(self.output_shape)

    def run(self, xs: np.ndarray) -> np.ndarray:
        """Invoke on each sample of a batch (first axis), like reference.Reference.run."""
        per = self.input_bytes // self.input_dtype.itemsize
        xs = np.asarray(xs).reshape((-1, per))
        return np.stack([self.run_one(x).reshape(self.output_shape[1:]) for x in xs])

    def profile_calls(self) -> list[tuple[int, int, str]]:
        """(layer, op_index, op_name) of each hook call during the last invoke (profile=True)."""
        n = self._lib.tfle_test_profile_count()
        get = self._lib.tfle_test_profile_entry
        get.restype = ctypes.c_char_p
        out = []
        for i in range(n):
            layer, op_index = ctypes.c_int(), ctypes.c_int()
            name = get(i, ctypes.byref(layer), ctypes.byref(op_index))
            out.append((layer.value, op_index.value, name.decode()))
        return out


_PROFILE_STUB = r"""
#include <stddef.h>
#include "tfle_model.h"
static int n_calls;
static int layers[4096], ops[4096];
static const char *names[4096];
void tfle_profile_layer(int layer, int op_index, const char *op_name) {
  if (layer == 0) n_calls = 0;
  if (n_calls < 4096) { layers[n_calls] = layer; ops[n_calls] = op_index; names[n_calls] = op_name; }
  n_calls++;
}
int tfle_test_profile_count(void) { return n_calls; }
const char *tfle_test_profile_entry(int i, int *layer, int *op_index) {
  *layer = layers[i]; *op_index = ops[i]; return names[i];
}
"""


def _kernel_cache_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"tflite-edge-kernels-{uid}"


def kernel_objects(cc: str = "gcc", cflags: tuple[str, ...] = ("-O2",)) -> list[Path]:
    """The kernels compiled with `cc cflags -c` into objects, cached by source content.

    The cache (a folder in the system temp dir) is keyed by every kernel source and header,
    the compiler and the flags, so an edited kernel is always rebuilt; objects are written
    atomically, so concurrent test runs may share it. Pass e.g.
    `cc="arm-none-eabi-gcc", cflags=("-mcpu=cortex-m4", "-mthumb", "-O2")` for a target.
    """
    if shutil.which(cc) is None:
        raise ToolchainError(f"the C compiler {cc!r} is not on PATH; install it", tool=cc)
    inc = kernel_include_dir()
    digest = hashlib.sha256(repr((cc, tuple(cflags))).encode())
    for f in sorted([*inc.glob("*.c"), *inc.glob("*.h")]):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    cache = _kernel_cache_dir() / digest.hexdigest()[:20]
    cache.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in kernel_sources():
        obj = cache / (src.stem + ".o")
        if not obj.exists():
            fd, tmp = tempfile.mkstemp(prefix=f".{src.stem}.", suffix=".o", dir=cache)
            os.close(fd)
            _run_cc([cc, "-std=c99", *cflags, "-Wall", "-Werror", f"-I{inc}",
                     "-c", str(src), "-o", tmp], cc, src, tmp)  # fmt: skip
            os.replace(tmp, obj)
        objs.append(obj)
    return objs


def _run_cc(cmd: list[str], cc: str, what: Path, tmp: str | Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise ToolchainError(
            f"{cc} failed to compile {what}:\n{' '.join(cmd)}\n{proc.stderr[-4000:]}", tool=cc
        )


def build_host_runner(
    out_dir: str | Path,
    *,
    cc: str = "gcc",
    cflags: tuple[str, ...] = ("-O2",),
    profile: bool = False,
) -> HostRunner:
    """Compile out_dir/tfle_model.c and the kernels with the host gcc into a ctypes library.

    Usage (tests): `compile_aot(m, d); runner = build_host_runner(d); y = runner.run(xs)` with
    xs shaped (N, *input_shape[1:]) like `reference.Reference.run`. Sizes come from the generated
    header, so any compiled output dir works. The kernels are compiled once and cached
    (`kernel_objects`); the library goes to out_dir/host/ under a name derived from its
    sources, so a rebuilt model never reuses a stale loaded library. profile=True defines
    TFLE_PROFILE and links a recorder of the hook calls (`HostRunner.profile_calls()`).
    """
    out = Path(out_dir)
    model_c = out / "tfle_model.c"
    model_h = out / "tfle_model.h"
    if not model_c.exists() or not model_h.exists():
        raise FileNotFoundError(f"{out} holds no tfle_model.c/.h; run compile_aot() first")
    pic_flags = (*cflags, "-fPIC")
    objs = kernel_objects(cc, pic_flags)
    digest = hashlib.sha256(repr((cc, cflags, profile)).encode())
    for f in [model_c, model_h, *objs]:
        digest.update(f.read_bytes())
    host = out / "host"
    host.mkdir(exist_ok=True)
    extra: list[Path] = []
    if profile:
        stub = host / "profile_stub.c"
        stub.write_text(_PROFILE_STUB)
        extra.append(stub)
    lib = host / f"libtfle_model_{digest.hexdigest()[:16]}.so"
    if not lib.exists():
        tmp = lib.with_suffix(".tmp")
        _run_cc(
            [cc, "-std=c99", "-shared", *pic_flags, "-Wall", "-Werror",
             *(["-DTFLE_PROFILE"] if profile else []),
             f"-I{out}", f"-I{kernel_include_dir()}",
             *map(str, [model_c, *extra, *objs]), "-o", str(tmp), "-lm"],
            cc, model_c, tmp,
        )  # fmt: skip
        os.replace(tmp, lib)
    meta = _read_header(model_h)
    return HostRunner(
        path=lib,
        input_bytes=meta["TFLE_INPUT_BYTES"],
        output_bytes=meta["TFLE_OUTPUT_BYTES"],
        input_dtype=np.dtype(meta.get("input_dtype", "int8")),
        output_dtype=np.dtype(meta.get("output_dtype", "int8")),
        output_shape=tuple(meta.get("output_shape", (1, meta["TFLE_OUTPUT_BYTES"]))),
        profile=profile,
    )


def _read_header(path: Path) -> dict:
    import re

    text = path.read_text()
    meta: dict[str, Any] = {}
    for key, value in re.findall(r"#define\s+(TFLE_\w+)\s+(\d+)\b", text):
        meta[key] = int(value)
    for side in ("input", "output"):
        m = re.search(side + r" shape \[([\d, ]*)\] (\w+)", text)
        if m:
            meta[f"{side}_shape"] = [int(v) for v in m.group(1).split(",") if v.strip()]
            meta[f"{side}_dtype"] = m.group(2)
    return meta


# --------------------------------------------------------------------------- core emitters


def _sparse_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode a 2-D int8 matrix row by row as (counts uint16, values int8, deltas uint8).

    Each row lists its nonzero weights in order; a weight's position is the previous one's
    plus its delta (the first counts from 0). A gap over 255 is bridged with zero-valued
    filler entries of delta 255, which the kernel multiplies away like any weight.
    """
    counts, values, deltas = [], [], []
    for row in rows:
        nz = np.flatnonzero(row)
        n = 0
        pos = 0
        for p in nz:
            gap = int(p) - pos
            while gap > 255:
                values.append(0)
                deltas.append(255)
                gap -= 255
                n += 1
            values.append(int(row[p]))
            deltas.append(gap)
            pos = int(p)
            n += 1
        if n > 65535:
            raise unsupported_error("SPARSE", f"a weight row with {n} nonzeros")
        counts.append(n)
    return (
        np.array(counts, dtype=np.uint16),
        np.array(values, dtype=np.int8),
        np.array(deltas, dtype=np.uint8),
    )


def _maybe_sparse(ctx: EmitContext, rows: np.ndarray) -> str | None:
    """Name of a tfle_sparse_weights block for `rows` when the sparse policy says so."""
    if ctx.sparse is False or rows.size == 0:
        return None
    counts, values, deltas = _sparse_rows(rows)
    dense_bytes = rows.size
    sparse_bytes = counts.nbytes + values.nbytes + deltas.nbytes
    if ctx.sparse == "auto":
        zeros = float(np.mean(rows == 0))
        if zeros < SPARSE_MIN_ZEROS or sparse_bytes >= dense_bytes:
            return None
    c = ctx.const_array("w_counts", counts)
    v = ctx.const_array("w_values", values if values.size else np.zeros(1, np.int8))
    d = ctx.const_array("w_deltas", deltas if deltas.size else np.zeros(1, np.uint8))
    ctx.sparse_layer = True
    return ctx.const_struct("w_sparse", "tfle_sparse_weights", f"{{{c}, {v}, {d}}}")


def _maybe_sparse_taps(ctx: EmitContext, rows: np.ndarray) -> str | None:
    """Name of a tfle_sparse_taps block (nonzeros by window position) under the sparse policy.

    For convolutions whose windows have at most SPARSE_WINDOW values; the policy is the one
    of `_maybe_sparse`, with this layout's size (two bytes a nonzero, two a channel).
    """
    if ctx.sparse is False or rows.size == 0:
        return None
    nonzero = rows != 0
    counts = nonzero.sum(axis=1).astype(np.uint16)
    sparse_bytes = counts.nbytes + 2 * int(counts.sum())
    if ctx.sparse == "auto":
        if float(np.mean(~nonzero)) < SPARSE_MIN_ZEROS or sparse_bytes >= rows.size:
            return None
    taps = np.nonzero(nonzero)[1].astype(np.uint8)
    values = rows[nonzero].astype(np.int8)
    c = ctx.const_array("w_counts", counts)
    v = ctx.const_array("w_values", values if values.size else np.zeros(1, np.int8))
    t = ctx.const_array("w_taps", taps if taps.size else np.zeros(1, np.uint8))
    ctx.sparse_layer = True
    return ctx.const_struct("w_sparse", "tfle_sparse_taps", f"{{{c}, {v}, {t}}}")


def _require_int8(ctx: EmitContext, *views: TensorView | None) -> None:
    for v in views:
        if v is not None and v.dtype != np.int8:
            ctx.unsupported(f"tensor {v.name!r} of type {v.dtype} (the AOT kernels are int8)")
        if v is not None and v.quant is None:
            ctx.unsupported(f"tensor {v.name!r} without quantization parameters")


def _folded_bias(ctx: EmitContext, bias: TensorView | None, x: TensorView, rows: np.ndarray) -> str:
    """The C name of bias + input_offset * (sum of each output channel's weights).

    TFLM accumulates sum(w * (x + input_offset)) + bias; folding the offset term in at
    compile time leaves sum(w * x) for the kernels' inner loops, and stays exact in int32
    (two's complement, as the kernels add it). rows: (channels, taps) weights.
    """
    channels = rows.shape[0]
    b = np.zeros(channels, dtype=np.int64)
    if bias is not None:
        if bias.dtype != np.int32 or not bias.is_constant:
            ctx.unsupported(f"a bias of type {bias.dtype} (expected a constant int32 bias)")
        if bias.size != channels:
            ctx.unsupported(f"a bias of {bias.size} values for {channels} output channels")
        b = np.asarray(bias.data, dtype=np.int64).ravel()
    folded = b + (-x.zero_point) * rows.astype(np.int64).sum(axis=1)
    wrapped = ((folded + 2**31) % 2**32 - 2**31).astype(np.int32)
    return ctx.const_array("bias", wrapped)


def pack_pairs(rows: np.ndarray) -> np.ndarray:
    """Weights (channels, k) in the packed layout of the GEMM kernels (tfle_kernels.h).

    Rows run on with zeros to a multiple of 4; rows 2j and 2j + 1 are interleaved 4 values at
    a time; an odd last row follows alone.
    """
    rows = np.asarray(rows, dtype=np.int8)
    channels, k = rows.shape
    k4 = (k + 3) // 4 * 4
    padded = np.zeros((channels, k4), dtype=np.int8)
    padded[:, :k] = rows
    pairs = channels // 2
    body = padded[: 2 * pairs].reshape(pairs, 2, k4 // 4, 4).transpose(0, 2, 1, 3)
    return np.concatenate([body.ravel(), padded[2 * pairs :].ravel()])


def pack_depthwise(filt: np.ndarray) -> np.ndarray:
    """A [1, kh, kw, channels] depthwise filter by blocks of 4 channels (tfle_kernels.h).

    For each block, tap after tap, the block's 4 weights; then the last channels (fewer than
    4), tap after tap.
    """
    taps = np.asarray(filt, dtype=np.int8).reshape(-1, filt.shape[-1])  # (kh * kw, channels)
    blocks = taps.shape[1] // 4
    body = taps[:, : 4 * blocks].reshape(taps.shape[0], blocks, 4).transpose(1, 0, 2)
    return np.concatenate([body.ravel(), taps[:, 4 * blocks :].ravel()])


def _fits_gather(k: int) -> bool:
    """Whether windows of k values fit the packed kernels' stack buffer."""
    return (k + 3) // 4 * 4 <= GATHER_BYTES // 2


def _raw_bias(ctx: EmitContext, bias: TensorView | None, channels: int) -> str:
    """The C name of the model's own bias (zeros without one), for windows the padding clips."""
    if bias is None:
        return ctx.const_array("bias_raw", np.zeros(channels, np.int32))
    return ctx.const_array("bias_raw", np.asarray(bias.data, dtype=np.int32).ravel())


def _window_clipped(size: int, k: int, stride: int, dilation: int, pad: int, out: int) -> bool:
    """Whether any output's window along one dimension reaches into the padding."""
    last_end = (out - 1) * stride - pad + (k - 1) * dilation + 1
    return out > 0 and (pad > 0 or last_end > size)


def _multipliers(ctx: EmitContext, x: TensorView, w: TensorView, y: TensorView, channels: int):
    """(multiplier array name, shift array name, per_channel flag) as TFLM computes them."""
    scales = np.asarray(w.quant.scale, dtype=np.float32).ravel()
    if scales.size > 1:
        if scales.size != channels:
            ctx.unsupported(f"{scales.size} filter scales for {channels} output channels")
        mult, shift = per_channel_multipliers(x.scale, scales, y.scale)
        per_channel = 1
    else:
        if ctx.op.op == "FULLY_CONNECTED":
            # TFLM's per-tensor FULLY_CONNECTED multiplies the scales in float32 first
            real = float(np.float32(x.scale) * np.float32(scales[0])) / float(np.float32(y.scale))
            m, s = quantize_multiplier(real)
            mult, shift = np.array([m], np.int32), np.array([s], np.int32)
        else:
            mult, shift = per_channel_multipliers(x.scale, scales[:1], y.scale)
        per_channel = 0
    # shifts fit in int8 (TFLM keeps them in [-31, 30]); 3 bytes of flash saved per channel
    shift8 = np.asarray(shift, dtype=np.int8)
    return ctx.const_array("mult", mult), ctx.const_array("shift", shift8), per_channel


def _conv_operands(ctx: EmitContext):
    """A convolution's input, constant filter, optional bias and output, all 4-D int8."""
    x, w, b = (ctx.inputs + [None])[:3]
    y = ctx.outputs[0]
    _require_int8(ctx, x, w, y)
    if not w.is_constant:
        ctx.unsupported("a filter that is not a constant")
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        ctx.unsupported(f"input/filter/output ranks {len(x.shape)}/{len(w.shape)}/{len(y.shape)}")
    return x, w, b, y


@register_op("CONV_2D")
def _conv2d(ctx: EmitContext) -> str:
    x, w, b, y = _conv_operands(ctx)
    n, ih, iw, ic = x.shape
    oc, kh, kw, fic = w.shape
    _, oh, ow, yc = y.shape
    if yc != oc or ic % fic != 0 or oc % (ic // fic) != 0:
        ctx.unsupported(f"filter {w.shape} for input {x.shape} and output {y.shape}")
    o = ctx.options
    sh, sw = o.get("strideH", 1), o.get("strideW", 1)
    dh, dw = o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    ph = conv_padding(o.get("padding", "VALID"), ih, kh, sh, dh, oh)
    pw = conv_padding(o.get("padding", "VALID"), iw, kw, sw, dw, ow)
    amin, amax = activation_range(o.get("fusedActivationFunction"), y)
    mult, shift, per_channel = _multipliers(ctx, x, w, y, oc)
    rows = np.asarray(w.data).reshape(oc, -1)
    bias = _folded_bias(ctx, b, x, rows)
    by_taps = fic == ic and rows.shape[1] <= SPARSE_WINDOW
    sparse = _maybe_sparse_taps(ctx, rows) if by_taps else _maybe_sparse(ctx, rows)
    if not sparse and fic == ic and _fits_gather(kh * kw * ic):
        # windows gathered two pixels at a time, one GEMM with the packed filter
        packed = ctx.const_array("filter", pack_pairs(rows), align=4)
        params = ctx.const_struct(
            "params",
            "tfle_conv_params",
            "{" + ", ".join(str(v) for v in (
                n, ih, iw, ic, oh, ow, oc, kh, kw, fic, sh, sw, dh, dw, ph, pw,
                -x.zero_point, y.zero_point, amin, amax, per_channel, 1,
            )) + "}",
        )  # fmt: skip
        return (
            f"tfle_conv2d_packed_s8(&{params}, {x.expr}, {packed}, {bias}, {mult}, {shift}, "
            f"{y.expr});"
        )
    if not sparse and kh == kw == 1 and sh == sw == 1 and fic == ic and (oh, ow) == (ih, iw):
        # a pointwise conv is a GEMM of pixels by channels: the fully connected kernel
        fc = ctx.const_struct(
            "params",
            "tfle_fc_params",
            "{" + ", ".join(str(v) for v in (
                n * oh * ow, ic, oc, -x.zero_point, 0, y.zero_point, amin, amax, per_channel,
            )) + "}",
        )  # fmt: skip
        return (
            f"tfle_fully_connected_s8(&{fc}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
            f"{y.expr});"
        )
    params = ctx.const_struct(
        "params",
        "tfle_conv_params",
        "{" + ", ".join(str(v) for v in (
            n, ih, iw, ic, oh, ow, oc, kh, kw, fic, sh, sw, dh, dw, ph, pw,
            -x.zero_point, y.zero_point, amin, amax, per_channel, 1,
        )) + "}",
    )  # fmt: skip
    if sparse and by_taps:
        return (
            f"tfle_conv2d_sparse_taps_s8(&{params}, {x.expr}, &{sparse}, {bias}, {mult}, "
            f"{shift}, {y.expr});"
        )
    if sparse:
        return f"tfle_conv2d_sparse_s8(&{params}, {x.expr}, &{sparse}, {bias}, {mult}, {shift}, {y.expr});"
    if fic == ic and dw == 1:
        # every filter row (kx, ic) is contiguous in the input: the blocked kernel
        clipped = _window_clipped(ih, kh, sh, dh, ph, oh) or _window_clipped(iw, kw, sw, 1, pw, ow)
        raw = _raw_bias(ctx, b, oc) if clipped else bias
        return (
            f"tfle_conv2d_rows_s8(&{params}, {x.expr}, {w.expr}, {bias}, {raw}, {mult}, "
            f"{shift}, {y.expr});"
        )
    return f"tfle_conv2d_s8(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, {y.expr});"


@register_op("DEPTHWISE_CONV_2D")
def _depthwise(ctx: EmitContext) -> str:
    x, w, b, y = _conv_operands(ctx)
    n, ih, iw, ic = x.shape
    _, kh, kw, oc = w.shape
    _, oh, ow, yc = y.shape
    o = ctx.options
    mult_d = o.get("depthMultiplier", 1) or 1
    if ic * mult_d != oc:
        # TFLM derives the multiplier from the shapes; the option can be stale
        if ic and oc % ic == 0:
            mult_d = oc // ic
        else:
            ctx.unsupported(f"filter {w.shape} for input {x.shape}")
    if yc != oc:
        ctx.unsupported(f"filter {w.shape} for output {y.shape}")
    sh, sw = o.get("strideH", 1), o.get("strideW", 1)
    dh, dw = o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    ph = conv_padding(o.get("padding", "VALID"), ih, kh, sh, dh, oh)
    pw = conv_padding(o.get("padding", "VALID"), iw, kw, sw, dw, ow)
    amin, amax = activation_range(o.get("fusedActivationFunction"), y)
    mult, shift, per_channel = _multipliers(ctx, x, w, y, oc)
    # rows = output channels over the (ky, kx) positions
    rows = np.asarray(w.data).reshape(kh * kw, oc).T
    bias = _folded_bias(ctx, b, x, rows)
    sparse = _maybe_sparse(ctx, rows)
    params = ctx.const_struct(
        "params",
        "tfle_conv_params",
        "{" + ", ".join(str(v) for v in (
            n, ih, iw, ic, oh, ow, oc, kh, kw, 1, sh, sw, dh, dw, ph, pw,
            -x.zero_point, y.zero_point, amin, amax, per_channel, mult_d,
        )) + "}",
    )  # fmt: skip
    if sparse:
        return (
            f"tfle_depthwise_conv2d_sparse_s8(&{params}, {x.expr}, &{sparse}, {bias}, "
            f"{mult}, {shift}, {y.expr});"
        )
    if ic == 1 and _fits_gather(kh * kw):
        # one input channel: a CONV_2D whose filter rows are the depthwise filter's channels
        packed = ctx.const_array("filter", pack_pairs(rows), align=4)
        return (
            f"tfle_conv2d_packed_s8(&{params}, {x.expr}, {packed}, {bias}, {mult}, {shift}, "
            f"{y.expr});"
        )
    clipped = _window_clipped(ih, kh, sh, dh, ph, oh) or _window_clipped(iw, kw, sw, dw, pw, ow)
    raw = _raw_bias(ctx, b, oc) if clipped and (ic == 1 and dw == 1 or mult_d == 1) else bias
    if ic == 1 and dw == 1:
        # one input channel: a CONV_2D whose filter is the depthwise one transposed to OHWI
        # (the conv kernel reads the same parameters and ignores the depth multiplier)
        filt = ctx.const_array("filter", np.transpose(np.asarray(w.data), (3, 1, 2, 0)))
        return (
            f"tfle_conv2d_rows_s8(&{params}, {x.expr}, {filt}, {bias}, {raw}, {mult}, "
            f"{shift}, {y.expr});"
        )
    if mult_d == 1:
        packed = ctx.const_array("filter", pack_depthwise(np.asarray(w.data)), align=4)
        return (
            f"tfle_depthwise_conv2d_dm1_s8(&{params}, {x.expr}, {packed}, {bias}, {raw}, "
            f"{mult}, {shift}, {y.expr});"
        )
    return (
        f"tfle_depthwise_conv2d_s8(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
        f"{y.expr});"
    )


@register_op("FULLY_CONNECTED")
def _fully_connected(ctx: EmitContext) -> str:
    x, w, b = (ctx.inputs + [None])[:3]
    y = ctx.outputs[0]
    _require_int8(ctx, x, w, y)
    if not w.is_constant:
        ctx.unsupported("weights that are not a constant")
    if ctx.options.get("weightsFormat", 0) != 0:
        ctx.unsupported("shuffled weights (weightsFormat != DEFAULT)")
    if len(w.shape) != 2:
        ctx.unsupported(f"weights of shape {w.shape}")
    out_depth, in_depth = w.shape
    if x.size % in_depth != 0 or y.size % out_depth != 0:
        ctx.unsupported(f"weights {w.shape} for input {x.shape} and output {y.shape}")
    batches = x.size // in_depth
    amin, amax = activation_range(ctx.options.get("fusedActivationFunction"), y)
    if w.zero_point != 0:
        ctx.unsupported(f"weights with zero point {w.zero_point} (TFLM's int8 weights use 0)")
    mult, shift, per_channel = _multipliers(ctx, x, w, y, out_depth)
    bias = _folded_bias(ctx, b, x, np.asarray(w.data))
    sparse = _maybe_sparse(ctx, np.asarray(w.data))
    params = ctx.const_struct(
        "params",
        "tfle_fc_params",
        "{" + ", ".join(str(v) for v in (
            batches, in_depth, out_depth, -x.zero_point, -w.zero_point, y.zero_point,
            amin, amax, per_channel,
        )) + "}",
    )  # fmt: skip
    if sparse:
        return (
            f"tfle_fully_connected_sparse_s8(&{params}, {x.expr}, &{sparse}, {bias}, "
            f"{mult}, {shift}, {y.expr});"
        )
    if in_depth % 4 == 0 or _fits_gather(in_depth):
        packed = ctx.const_array("weights", pack_pairs(np.asarray(w.data)), align=4)
        return (
            f"tfle_fully_connected_packed_s8(&{params}, {x.expr}, {packed}, {bias}, {mult}, "
            f"{shift}, {y.expr});"
        )
    return (
        f"tfle_fully_connected_s8(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
        f"{y.expr});"
    )


def _pool(ctx: EmitContext, fn: str) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _require_int8(ctx, x, y)
    if len(x.shape) != 4 or len(y.shape) != 4:
        ctx.unsupported(f"input/output ranks {len(x.shape)}/{len(y.shape)}")
    if x.scale != y.scale or x.zero_point != y.zero_point:
        ctx.unsupported("different input and output quantization")
    n, ih, iw, c = x.shape
    _, oh, ow, _ = y.shape
    o = ctx.options
    fh, fw = o.get("filterHeight", 1), o.get("filterWidth", 1)
    sh, sw = o.get("strideH", 1), o.get("strideW", 1)
    ph = conv_padding(o.get("padding", "VALID"), ih, fh, sh, 1, oh)
    pw = conv_padding(o.get("padding", "VALID"), iw, fw, sw, 1, ow)
    amin, amax = activation_range(o.get("fusedActivationFunction"), y)
    params = ctx.const_struct(
        "params",
        "tfle_pool_params",
        "{"
        + ", ".join(str(v) for v in (n, ih, iw, c, oh, ow, fh, fw, sh, sw, ph, pw, amin, amax))
        + "}",
    )
    return f"{fn}(&{params}, {x.expr}, {y.expr});"


@register_op("AVERAGE_POOL_2D")
def _average_pool(ctx: EmitContext) -> str:
    return _pool(ctx, "tfle_average_pool_s8")


@register_op("MAX_POOL_2D")
def _max_pool(ctx: EmitContext) -> str:
    return _pool(ctx, "tfle_max_pool_s8")


def _quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    m, s = quantize_multiplier(real)
    if s < 0:
        raise ValueError(f"multiplier {real} is not greater than one")
    return m, s


def softmax_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) of TFLM's int8 softmax.

    TFLM: PreprocessSoftmaxScaling with 5 integer bits of scaled difference, then
    diff_min = -CalculateInputRadius(5, left_shift).
    """
    integer_bits = 5
    real = min(
        float(beta) * float(np.float32(input_scale)) * float(1 << (31 - integer_bits)),
        float((1 << 31) - 1),
    )
    mult, shift = _quantize_multiplier_greater_than_one(real)
    radius = ((1 << integer_bits) - 1) * float(1 << (31 - integer_bits)) / float(1 << shift)
    return mult, shift, -int(np.floor(radius))


@register_op("SOFTMAX")
def _softmax(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _require_int8(ctx, x, y)
    if y.zero_point != -128 or abs(y.scale - 1.0 / 256) > 1e-8 * 256:
        ctx.unsupported(
            f"an int8 output with scale {y.scale} and zero point {y.zero_point} "
            "(TFLM requires 1/256 and -128)"
        )
    depth = x.shape[-1] if x.shape else 1
    outer = x.size // max(depth, 1)
    mult, shift, diff_min = softmax_params(x.scale, float(ctx.options.get("beta", 1.0)))
    params = ctx.const_struct(
        "params", "tfle_softmax_params", f"{{{outer}, {depth}, {mult}, {shift}, {diff_min}}}"
    )
    return f"tfle_softmax_s8(&{params}, {x.expr}, {y.expr});"


@register_op("RESHAPE", alias=True)
def _reshape(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.nbytes != y.nbytes:
        ctx.unsupported(f"a reshape from {x.shape} to {y.shape} that changes the size")
    if x.is_constant:
        return ""  # the output view already names the constant
    return ""


# Extra ops (ADD, MUL, QUANTIZE, ...) register themselves from their own module, when present;
# an error inside that module is not hidden.
importlib.import_module(f"{__name__}.extra")
