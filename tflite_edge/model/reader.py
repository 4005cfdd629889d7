"""A read-only view of a .tflite flatbuffer: tensors, quantization, operators, constants.

Shared by inspect, render and the AOT compiler. Parsing uses the TFLite schema classes that
ship with the tflite-micro package, so the reader follows the same schema as the runtime.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

_TFLITE_IDENT = b"TFL3"

# TensorType enum of the schema -> numpy dtype of the values the reader gives. Every type
# TFLM's ConvertTensorType accepts is read: the packed ones (INT4, UINT4, INT2) are unpacked
# to one value per byte as TFLM's kernels do; the ones numpy has no type for (BFLOAT16,
# FLOAT8_*) are kept as their raw bits and STRING / RESOURCE / VARIANT as raw bytes.
# `Tensor.type` names the schema type whenever it matters.
_DTYPES = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    5: np.uint8,  # STRING: raw bytes
    6: np.bool_,
    7: np.int16,
    8: np.complex64,
    9: np.int8,
    10: np.float64,
    11: np.complex128,
    12: np.uint64,
    13: np.uint8,  # RESOURCE: raw bytes
    14: np.uint8,  # VARIANT: raw bytes
    15: np.uint32,
    16: np.uint16,
    17: np.int8,  # INT4, unpacked
    18: np.uint16,  # BFLOAT16 bits
    19: np.int8,  # INT2, unpacked
    20: np.uint8,  # UINT4, unpacked
    21: np.uint8,  # FLOAT8_E4M3FN bits
    22: np.uint8,  # FLOAT8_E5M2 bits
}
# Types stored packed several values a byte: bits per value, signed.
_PACKED = {17: (4, True), 19: (2, True), 20: (4, False)}
# Types whose buffer is not one fixed-size value per element (no size check applies).
_UNSIZED = {"STRING", "RESOURCE", "VARIANT"}


def _unpack(raw: bytes, count: int, bits: int, signed: bool) -> np.ndarray:
    """Packed values, lowest bits first (TFLM's UnpackPackedIntToInt8)."""
    b = np.frombuffer(raw, dtype=np.uint8)
    per = 8 // bits
    fields = np.stack([(b >> (bits * k)) & ((1 << bits) - 1) for k in range(per)], axis=1)
    vals = fields.reshape(-1)[:count].astype(np.int16)
    if signed:
        vals = np.where(vals >= 1 << (bits - 1), vals - (1 << bits), vals)
    return vals.astype(np.int8 if signed else np.uint8)


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _enum_names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass(frozen=True)
class Quantization:
    """Affine int8 quantization of one tensor: per tensor (one scale) or per channel."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass(frozen=True)
class Tensor:
    """One tensor of the model's main subgraph."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quantization: Quantization | None
    data: np.ndarray | None  # constant contents, or None for activations
    is_variable: bool = False
    type: str = ""  # the schema's TensorType name ("INT8", "INT4", ...); "" when built by hand

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor as TFLM stores it (packed INT4/INT2 take a fraction of a byte)."""
        bits = {"INT4": 4, "UINT4": 4, "INT2": 2}.get(self.type)
        if bits is not None:
            return (self.size * bits + 7) // 8
        return self.size * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Operator:
    """One operator: its builtin name, tensor indices (-1 = absent) and options."""

    index: int
    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1


class Model:
    """A parsed .tflite model. Build it with `load_model()`."""

    def __init__(self, data: bytes, *, name: str = "model", path: str | None = None) -> None:
        self.data = bytes(data)
        self.name = name
        self.path = path
        self._parse()

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def _parse(self) -> None:
        try:
            self._parse_unchecked()
        except ModelError:
            raise
        except Exception as err:  # garbage offsets surface as Index/Value/struct errors
            raise ModelError(
                f"{self.path or 'the model bytes'} is a corrupt TFLite flatbuffer "
                f"({type(err).__name__}: {err}); re-export the model or check the file was "
                "copied completely",
                path=self.path,
            ) from err
        check_structure(self)

    def _parse_unchecked(self) -> None:
        where = self.path or "the model bytes"
        if len(self.data) < 8 or self.data[4:8] != _TFLITE_IDENT:
            raise ModelError(
                f"{where} is not a TFLite flatbuffer (expected the 'TFL3' identifier at "
                f"byte 4, found {self.data[4:8]!r}); pass a .tflite file written by "
                "TFLiteConverter or tflite-edge convert",
                path=self.path,
            )
        schema = _schema()
        try:
            root = schema.Model.GetRootAsModel(self.data, 0)
            mt = schema.ModelT.InitFromObj(root)
        except Exception as err:  # flatbuffers raises plain struct/index errors on garbage
            raise ModelError(
                f"{where} is a corrupt TFLite flatbuffer ({type(err).__name__}: {err}); "
                "re-export the model or check the file was copied completely",
                path=self.path,
            ) from err
        if not mt.subgraphs:
            raise ModelError(f"{where} has no subgraph; it holds no model", path=self.path)
        self.schema_version = mt.version
        self.subgraph_count = len(mt.subgraphs)
        opnames = _enum_names(schema.BuiltinOperator)
        types = _enum_names(schema.TensorType)
        self._opcodes: list[str] = []
        for oc in mt.operatorCodes or []:
            code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
            if code == schema.BuiltinOperator.CUSTOM:
                self._opcodes.append(f"CUSTOM:{oc.customCode.decode() if oc.customCode else '?'}")
            else:
                self._opcodes.append(opnames.get(code, f"BUILTIN_{code}"))
        self._opversions = [oc.version for oc in mt.operatorCodes or []]
        sg = mt.subgraphs[0]
        buffers = mt.buffers or []
        tensors = []
        for i, t in enumerate(sg.tensors or []):
            name = t.name.decode(errors="replace") if isinstance(t.name, bytes) else (t.name or "")
            label = f"tensor {i} ({name!r})" if name else f"tensor {i}"
            if t.type not in _DTYPES:
                raise ModelError(
                    f"{where}: {label} has tensor type {t.type}, which the TFLite schema does "
                    "not define; re-export the model",
                    path=self.path,
                )
            tname = types.get(t.type, str(t.type))
            dtype = np.dtype(_DTYPES[t.type])
            shape = tuple(int(s) for s in (t.shape if t.shape is not None else []))
            data = None
            buf = buffers[t.buffer] if 0 < t.buffer < len(buffers) else None
            if buf is not None:
                raw = None
                if buf.data is not None and len(buf.data):
                    raw = np.asarray(buf.data, dtype=np.uint8).tobytes()
                elif getattr(buf, "offset", 0) > 1:
                    raw = self.data[buf.offset : buf.offset + buf.size]
                if raw is not None:
                    data = _constant(raw, t.type, tname, dtype, shape, f"{where}: {label}")
            quant = _quantization(t.quantization, shape)
            tensors.append(Tensor(i, name, shape, dtype, quant, data, bool(t.isVariable), tname))
        self.tensors: list[Tensor] = tensors
        ops = []
        for i, o in enumerate(sg.operators or []):
            ops.append(
                Operator(
                    index=i,
                    op=self._opcodes[o.opcodeIndex],
                    inputs=tuple(int(x) for x in (o.inputs if o.inputs is not None else [])),
                    outputs=tuple(int(x) for x in (o.outputs if o.outputs is not None else [])),
                    options=_options_dict(o.builtinOptions, schema),
                    version=self._opversions[o.opcodeIndex],
                )
            )
        self.operators: list[Operator] = ops
        self.inputs: tuple[int, ...] = tuple(int(x) for x in sg.inputs)
        self.outputs: tuple[int, ...] = tuple(int(x) for x in sg.outputs)

    @property
    def ops(self) -> list[str]:
        """Distinct builtin op names, in order of first use."""
        return list(dict.fromkeys(op.op for op in self.operators))

    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]

    @property
    def weight_bytes(self) -> int:
        """Bytes of constant tensors (weights, biases, shapes)."""
        return sum(t.nbytes for t in self.tensors if t.is_constant)

    def c_identifier(self) -> str:
        """The model's name turned into a valid, injection-free C identifier."""
        return c_identifier(self.name)


def tensor_label(t: Tensor) -> str:
    """How messages name a tensor: its index and, when it has one, its name."""
    return f"tensor {t.index} ({t.name!r})" if t.name else f"tensor {t.index}"


def check_structure(model: Model) -> None:
    """Reject flatbuffers whose indices or sizes are inconsistent (TFLM would crash on them)
    and quantization scales no arithmetic is defined for (`check_scales`)."""
    n = len(model.tensors)

    def bad(what: str) -> ModelError:
        return ModelError(
            f"{model.path or 'the model bytes'} is a corrupt TFLite flatbuffer: {what}; "
            "re-export the model or check the file was copied completely",
            path=model.path,
        )

    if not model.inputs or not model.outputs:
        raise bad("the subgraph names no input or no output tensor")
    for i in (*model.inputs, *model.outputs):
        if not 0 <= i < n:
            raise bad(f"subgraph input/output tensor {i} does not exist ({n} tensors)")
    for o in model.operators:
        if not o.outputs:
            raise bad(f"operator {o.index} ({o.op}) has no output")
        for i in o.inputs:
            if not -1 <= i < n:
                raise bad(f"operator {o.index} ({o.op}) reads tensor {i}, which does not exist")
        for i in o.outputs:
            if not 0 <= i < n:
                raise bad(f"operator {o.index} ({o.op}) writes tensor {i}, which does not exist")
    for t in model.tensors:
        if any(d < 0 for d in t.shape) or t.size > 1 << 31:
            raise bad(f"{tensor_label(t)} has shape {list(t.shape)}")
    check_scales(model)


def check_scales(model: Model) -> None:
    """A one-line ModelError naming the first tensor whose quantization scale is NaN,
    infinite, negative, or zero on an activation (TFLM divides by it: its multipliers and
    its float-to-int conversions are undefined then). A zero scale of a constant (an
    all-zero weight channel, its bias) is well defined and accepted."""
    for t in model.tensors:
        q = t.quantization
        if q is None:
            continue
        scale = q.scale.astype(np.float64)
        bad = ~np.isfinite(scale) | (scale < 0)
        if not t.is_constant:
            bad |= scale == 0
        if bad.any():
            k = int(np.argmax(bad))
            where = f" (channel {k} of {scale.size})" if scale.size > 1 else ""
            raise ModelError(
                f"{model.path or 'the model bytes'}: {tensor_label(t)} has the quantization "
                f"scale {float(q.scale[k])}{where}; a scale must be finite and positive: "
                "re-export the model with TFLiteConverter",
                path=model.path,
            )


def _constant(
    raw: bytes, ttype: int, tname: str, dtype: np.dtype, shape: tuple[int, ...], label: str
) -> np.ndarray:
    """A constant's values from its buffer bytes, shaped like the tensor when they fit.

    A buffer longer than the tensor is cut to the tensor's values (TFLM reads only those); a
    shorter one, or a size that is not whole values, is a ModelError naming the tensor.
    """
    if any(d < 0 for d in shape):
        raise ModelError(f"{label} is a constant of shape {list(shape)}; re-export the model")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if tname in _UNSIZED:
        return np.frombuffer(raw, dtype=np.uint8)
    if ttype in _PACKED:
        bits, signed = _PACKED[ttype]
        need = (count * bits + 7) // 8
        if len(raw) < need:
            raise ModelError(
                f"{label} of type {tname} and shape {list(shape)} needs {need} B (packed) "
                f"but its buffer has {len(raw)} B; re-export the model"
            )
        return _unpack(raw[:need], count, bits, signed).reshape(shape)
    if len(raw) < count * dtype.itemsize:
        raise ModelError(
            f"{label} of type {tname} and shape {list(shape)} needs {count * dtype.itemsize} B "
            f"but its buffer has {len(raw)} B; re-export the model"
        )
    return np.frombuffer(raw[: count * dtype.itemsize], dtype=dtype).reshape(shape)


def _quantization(q: Any, shape: tuple[int, ...]) -> Quantization | None:
    """A tensor's quantization as TFLM reads it (micro_allocator.cc): present only with both
    scales and zero points; one zero point per scale, else the first one for every channel;
    the quantized dimension as stored (TFLM's kernels ignore it), except that a 1-D tensor
    with one scale per value is quantized along axis 0 (a bias carrying its filter's axis 3,
    as in TFLM's person_detect.tflite)."""
    if q is None or q.scale is None or not len(q.scale):
        return None
    if q.zeroPoint is None or not len(q.zeroPoint):
        return None
    scale = np.asarray(q.scale, dtype=np.float32).ravel()
    zp = np.asarray(q.zeroPoint, dtype=np.int64).ravel()
    if zp.size != scale.size:
        zp = np.full(scale.size, zp[0], dtype=np.int64)
    axis = int(q.quantizedDimension)
    fits = 0 <= axis < len(shape) and shape[axis] == scale.size
    if scale.size > 1 and not fits and len(shape) == 1 and shape[0] == scale.size:
        axis = 0
    return Quantization(scale=scale, zero_point=zp, axis=axis)


def _options_dict(opts: Any, schema: Any) -> dict[str, Any]:
    if opts is None:
        return {}
    out = {}
    for key, value in vars(opts).items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        out[key] = value
    # Name the enums a reader needs (padding and activation) instead of their numbers.
    if "padding" in out:
        out["padding"] = _enum_names(schema.Padding).get(out["padding"], out["padding"])
    if "fusedActivationFunction" in out:
        out["fusedActivationFunction"] = _enum_names(schema.ActivationFunctionType).get(
            out["fusedActivationFunction"], out["fusedActivationFunction"]
        )
    return out


_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while bool true false class namespace new delete template "
    "this operator private public protected virtual friend using".split()
)


def c_identifier(name: str) -> str:
    """Turn any string into a valid C identifier made of [A-Za-z0-9_] only."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    ident = re.sub(r"_+", "_", ident).strip("_") or "model"
    if ident[0].isdigit():
        ident = "m_" + ident
    if ident in _C_KEYWORDS:
        ident += "_model"
    return ident


def load_model(src: str | Path | bytes | bytearray | Model, *, name: str | None = None) -> Model:
    """Read a .tflite model from a path or bytes (a Model passes through).

    A `ConversionResult` from `convert()` is taken too: its `.tflite` bytes are the model.
    """
    if isinstance(src, Model):
        return src
    converted = getattr(src, "tflite", None)  # a ConversionResult, without importing TF here
    if isinstance(converted, (bytes, bytearray)):
        src = converted
    if isinstance(src, (bytes, bytearray, memoryview)):
        return Model(bytes(src), name=name or "model")
    if not isinstance(src, (str, os.PathLike)):
        hint = (
            "convert it first with tflite_edge.convert()"
            if hasattr(src, "layers")
            else "pass the path of a .tflite file, its bytes or the result of tflite_edge.convert()"
        )
        raise TypeError(f"expected a .tflite model, got {type(src).__name__}: {hint}")
    path = Path(src)
    if not path.exists():
        raise ModelError(
            f"model file {str(path)!r} does not exist; pass the path of a .tflite file",
            path=str(path),
        )
    if path.is_dir():
        raise ModelError(
            f"{str(path)!r} is a directory; pass the path of a .tflite file", path=str(path)
        )
    return Model(path.read_bytes(), name=name or path.stem, path=str(path))


def known_input(model: Model) -> np.ndarray:
    """The fixed input the firmware harness runs at boot: seeded, so host and board agree.

    Shape is the model's input shape; values cover the whole integer range of the input type.
    """
    t = model.input_tensors[0]
    info = np.iinfo(t.dtype) if np.issubdtype(t.dtype, np.integer) else None
    if info is None:
        raise ModelError(
            f"model {model.name!r} takes {t.dtype} input; tflite-edge runs models with integer "
            "(int8) inputs: convert with full-integer quantization",
            path=model.path,
        )
    rng = np.random.default_rng(int(model.sha256[:8], 16))
    return rng.integers(info.min, info.max + 1, size=t.shape, dtype=t.dtype)


def known_inputs(model: Model) -> list[np.ndarray]:
    """The fixed inputs the firmware harness runs at boot, one per model input, in order.

    Seeded by the model's sha256 and drawn one after the other from one generator, so the
    first of an integer-input model is `known_input(model)`. Integer inputs cover the whole
    range of their type; float inputs are uniform over the range of the QUANTIZE op that
    reads them (its output's int8/int16 range, dequantized), else over [-1, 1).
    """
    rng = np.random.default_rng(int(model.sha256[:8], 16))
    out = []
    for t in model.input_tensors:
        dtype = np.dtype(t.dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out.append(rng.integers(info.min, info.max + 1, size=t.shape, dtype=dtype))
        elif dtype == np.bool_:
            out.append(rng.integers(0, 2, size=t.shape).astype(np.bool_))
        elif np.issubdtype(dtype, np.floating):
            lo, hi = _float_input_range(model, t.index)
            out.append(rng.uniform(lo, hi, size=t.shape).astype(dtype))
        else:
            raise ModelError(
                f"model {model.name!r} takes {dtype} input {t.name!r}; tflite-edge runs models "
                "with integer or float inputs",
                path=model.path,
            )
    return out


def _float_input_range(model: Model, tensor: int) -> tuple[float, float]:
    """What a float input's first QUANTIZE reader represents (its int range, dequantized)."""
    for op in model.operators:
        if op.op == "QUANTIZE" and op.inputs and op.inputs[0] == tensor:
            q = model.tensors[op.outputs[0]]
            qz = q.quantization
            if qz is not None and qz.scale.size and np.issubdtype(q.dtype, np.integer):
                info = np.iinfo(q.dtype)
                scale, zp = float(qz.scale[0]), int(qz.zero_point[0])
                return scale * (info.min - zp), scale * (info.max - zp)
    return -1.0, 1.0
