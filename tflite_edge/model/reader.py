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

# TensorType enum of the schema -> numpy dtype (only the types a TinyML model carries).
_DTYPES = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    6: np.bool_,
    7: np.int16,
    9: np.int8,
    10: np.float64,
    15: np.uint32,
    16: np.uint16,
}


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

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
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
            if t.type not in _DTYPES:
                raise ModelError(
                    f"{where}: tensor {i} has type {types.get(t.type, t.type)}, which tflite-edge "
                    "does not handle (expected int8, uint8, int16, int32 or float32)",
                    path=self.path,
                )
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
                    data = np.frombuffer(raw, dtype=dtype)
                    if data.size == int(np.prod(shape, dtype=np.int64)):
                        data = data.reshape(shape)
            q = t.quantization
            quant = None
            if q is not None and q.scale is not None and len(q.scale):
                quant = Quantization(
                    scale=np.asarray(q.scale, dtype=np.float32),
                    zero_point=np.asarray(
                        q.zeroPoint if q.zeroPoint is not None else [0] * len(q.scale),
                        dtype=np.int64,
                    ),
                    axis=int(q.quantizedDimension),
                )
            name = t.name.decode(errors="replace") if isinstance(t.name, bytes) else (t.name or "")
            tensors.append(Tensor(i, name, shape, dtype, quant, data, bool(t.isVariable)))
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


def check_structure(model: Model) -> None:
    """Reject flatbuffers whose indices or sizes are inconsistent (TFLM would crash on them)."""
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
            raise bad(f"tensor {t.index} has shape {list(t.shape)}")
        if t.data is not None and t.data.size != t.size:
            raise bad(
                f"tensor {t.index} has shape {list(t.shape)} ({t.size} values) but its buffer "
                f"holds {t.data.size}"
            )
        q = t.quantization
        if q is not None and q.scale.size > 1:
            if not 0 <= q.axis < len(t.shape) or t.shape[q.axis] != q.scale.size:
                raise bad(
                    f"tensor {t.index} has {q.scale.size} per-channel scales on axis {q.axis} "
                    f"of shape {list(t.shape)}"
                )
        if q is not None and q.zero_point.size not in (1, q.scale.size):
            raise bad(
                f"tensor {t.index} has {q.scale.size} scales but {q.zero_point.size} zero points"
            )


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
