"""The reference: the real TFLM interpreter from the tflite-micro package, compiled for the host.

Everything we claim about bit-exactness, arena sizes and op availability is measured here:
`Reference` runs a model (outputs, arena, the output CRC32 on the known input),
`measure_arena` measures the arena in a child process, `missing_ops` / `resolver_methods`
say which ops TFLM has kernels for, and `crc32` is the checksum the boards report.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, ModelError, TFLiteEdgeError, UnsupportedOpError
from .model import Model, load_model
from .model.reader import known_inputs
from .model.shapes import as_tflm_runs_it

# The interpreter needs an arena up front; this is only a ceiling to measure within.
_MEASURE_ARENA = 64 * 1024 * 1024


@dataclass(frozen=True)
class Arena:
    """TFLM's real allocation for a model: total = head (activations) + tail (bookkeeping)."""

    total: int
    head: int
    tail: int

    @property
    def activations(self) -> int:
        return self.head


def _runtime():
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def _capture_fd(fd: int, fn):
    """Run fn() and return (result, what the C++ side wrote to fd)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            result = fn()
        finally:
            os.dup2(saved, fd)
            os.close(saved)
        tmp.seek(0)
        return result, tmp.read().decode(errors="replace")


def crc32(data: bytes) -> str:
    """CRC32 of bytes as 8 lowercase hex digits, the form the boards' `out` records carry."""
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


class Reference:
    """A TFLM interpreter over one model; `run()` gives its outputs for a batch of inputs."""

    def __init__(self, model: str | Path | bytes | Model, *, arena_size: int = _MEASURE_ARENA):
        self.model = as_tflm_runs_it(load_model(model))
        missing = missing_ops(self.model)
        if missing:
            raise UnsupportedOpError(
                f"TFLM has no kernel for {', '.join(missing)} in model {self.model.name!r}; "
                "replace those layers or keep them out of the exported graph",
                op=missing[0],
                runtime="tflm",
            )
        runtime = _runtime()
        try:
            self._interp, _ = _capture_fd(
                2, lambda: runtime.Interpreter.from_bytes(self.model.data, arena_size=arena_size)
            )
        except Exception as err:
            raise ModelError(
                f"the TFLM interpreter could not load model {self.model.name!r}: {err}",
                path=self.model.path,
            ) from err
        self.inputs_details = [
            self._interp.get_input_details(k) for k in range(len(self.model.inputs))
        ]
        self.outputs_details = [
            self._interp.get_output_details(k) for k in range(len(self.model.outputs))
        ]
        self.input_details = self.inputs_details[0]
        self.output_details = self.outputs_details[0]

    @property
    def multi(self) -> bool:
        """More than one input or output: run_one() and run() take and give lists of arrays,
        one per input / output in the model's order."""
        return len(self.inputs_details) > 1 or len(self.outputs_details) > 1

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(s) for s in d["shape"]) for d in self.inputs_details]

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(s) for s in d["shape"]) for d in self.outputs_details]

    @property
    def input_dtypes(self) -> list[np.dtype]:
        return [np.dtype(d["dtype"]) for d in self.inputs_details]

    @property
    def output_dtypes(self) -> list[np.dtype]:
        return [np.dtype(d["dtype"]) for d in self.outputs_details]

    def _as_list(self, x) -> list:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self.inputs_details):
            raise DataError(
                f"{len(xs)} input arrays for model {self.model.name!r}, which has "
                f"{len(self.inputs_details)} inputs; pass one array per input, in order"
            )
        return xs

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.input_details["shape"])

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.output_details["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.input_details["dtype"])

    def run_one(self, x):
        """Invoke once on one input (with or without the batch dimension of 1); with several
        inputs or outputs, x is a list of arrays (one per input) and a list comes back."""
        xs = self._as_list(x)
        for k, (xk, shape, dtype) in enumerate(
            zip(xs, self.input_shapes, self.input_dtypes, strict=True)
        ):
            xk = np.asarray(xk)
            which = f"input {k}" if self.multi else "input"
            if xk.dtype != dtype:
                raise DataError(
                    f"{which} dtype is {xk.dtype}, the model expects {dtype}; "
                    "quantize the data with the input tensor's scale and zero point first"
                )
            if xk.size != int(np.prod(shape)):
                raise DataError(
                    f"{which} has shape {xk.shape}, the model expects {shape}; "
                    "reshape the data to the model's input shape"
                )
            self._interp.set_input(xk.reshape(shape), k)
        self._interp.invoke()
        ys = [
            np.array(self._interp.get_output(k)).reshape(shape)
            for k, shape in enumerate(self.output_shapes)
        ]
        return ys if self.multi else ys[0]

    def run(self, xs):
        """Invoke on each sample of a batch (first axis); returns outputs stacked the same way
        (with several inputs or outputs: one batch per input in, one per output out)."""
        batches = []
        for k, (b, shape) in enumerate(zip(self._as_list(xs), self.input_shapes, strict=True)):
            b = np.asarray(b)
            per = int(np.prod(shape))
            if b.size % per != 0:
                which = f" {k}" if self.multi else "s"
                raise DataError(
                    f"input{which} of shape {b.shape} do not split into samples of shape "
                    f"{shape}; pass an array of shape (N, *{shape[1:]})"
                )
            batches.append(b.reshape((-1, per)))
        n = len(batches[0])
        if any(len(b) != n for b in batches):
            raise DataError(
                f"the input batches hold {[len(b) for b in batches]} samples; pass the same "
                "number of samples for every input"
            )
        outs: list[list[np.ndarray]] = [[] for _ in self.outputs_details]
        for i in range(n):
            ys = self.run_one([b[i] for b in batches])
            for k, y in enumerate(ys if self.multi else [ys]):
                outs[k].append(y.reshape(self.output_shapes[k][1:]))
        stacked = [
            np.stack(o) if o else np.zeros((0, *shape[1:]), dtype)
            for o, shape, dtype in zip(outs, self.output_shapes, self.output_dtypes, strict=True)
        ]
        return stacked if self.multi else stacked[0]

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self.output_details["dtype"])

    def known_outputs(self) -> list[np.ndarray]:
        """The outputs (one array per model output) for the harness's known inputs."""
        xs = known_inputs(self.model)
        ys = self.run_one(xs if self.multi else xs[0])
        return ys if self.multi else [ys]

    def output_crc32(self, x=None) -> str:
        """CRC32 of the output bytes for one input (default: the harness's known inputs); with
        several outputs, of all of them packed one after the other, as the board's `out`."""
        if x is None:
            ys = self.known_outputs()
        else:
            ys = self.run_one(x)
            ys = ys if self.multi else [ys]
        return crc32(b"".join(np.ascontiguousarray(y).tobytes() for y in ys))

    def arena(self) -> Arena:
        """TFLM's recorded allocation (total, head, tail) after an invoke."""
        zeros = [np.zeros(s, d) for s, d in zip(self.input_shapes, self.input_dtypes, strict=True)]
        self.run_one(zeros if self.multi else zeros[0])
        _, text = _capture_fd(2, self._print_allocations)
        return parse_allocations(text)

    def _print_allocations(self) -> None:
        # print_allocations writes through the C runtime, to stdout or stderr by build.
        _, out = _capture_fd(1, self._interp.print_allocations)
        sys.stderr.write(out)
        sys.stderr.flush()


class ReferenceRefused(TFLiteEdgeError):
    """The interpreter declined the model cleanly (unsupported, multi-input, ...): a finding."""


# Measures the arena in a child process: TFLM trusts the flatbuffer, and a corrupt one can
# crash the interpreter (a segfault would take the caller's process with it).
_ARENA_CHILD = """
import json, sys
from tflite_edge import reference
from tflite_edge.errors import TFLiteEdgeError
data = sys.stdin.buffer.read()
try:
    a = reference.Reference(data).arena()
    doc = {"total": a.total, "head": a.head, "tail": a.tail}
except TFLiteEdgeError as err:
    doc = {"error": str(err)}
sys.stdout.write("\\nTFLE-ARENA " + json.dumps(doc) + "\\n")
"""


def measure_arena(model: Model) -> Arena:
    """TFLM's arena for a model, measured by the real interpreter in a child process."""
    import subprocess

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", _ARENA_CHILD],
        input=as_tflm_runs_it(model).data,
        capture_output=True,
        env=env,
        check=False,
    )
    where = model.path or "the model bytes"
    if proc.returncode < 0:
        raise ModelError(
            f"the TFLM interpreter crashed (signal {-proc.returncode}) loading {where}: the "
            "flatbuffer is corrupt or inconsistent; re-export the model with TFLiteConverter",
            path=model.path,
        )
    lines = [
        ln
        for ln in proc.stdout.decode(errors="replace").splitlines()
        if ln.startswith("TFLE-ARENA ")
    ]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ModelError(
            f"the TFLM interpreter failed on {where} ({tail[0]}); the flatbuffer is probably "
            "corrupt: re-export the model with TFLiteConverter",
            path=model.path,
        )
    doc = json.loads(lines[-1].split(" ", 1)[1])
    if "error" in doc:
        raise ReferenceRefused(doc["error"])
    return Arena(total=doc["total"], head=doc["head"], tail=doc["tail"])


def parse_allocations(text: str) -> Arena:
    """Read the total/head/tail lines that TFLM's RecordingMicroAllocator prints."""
    found = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if not m:
            raise RuntimeError(f"TFLM printed no 'Arena allocation {key}' line:\n{text}")
        found[key] = int(m.group(1))
    return Arena(**found)


def arena(model: str | Path | bytes | Model) -> Arena:
    """Measure TFLM's arena for a model with the real interpreter."""
    return Reference(model).arena()


def run(model: str | Path | bytes | Model, xs: np.ndarray) -> np.ndarray:
    """TFLM's outputs for a batch of inputs."""
    return Reference(model).run(xs)


# The builtin ops that TFLM registers (MicroMutableOpResolver's Add...() methods): op name ->
# the method's suffix. Availability is still confirmed by loading the model in the interpreter.
TFLM_OPS: dict[str, str] = {
    "ABS": "Abs",
    "ADD": "Add",
    "ADD_N": "AddN",
    "ARG_MAX": "ArgMax",
    "ARG_MIN": "ArgMin",
    "ASSIGN_VARIABLE": "AssignVariable",
    "AVERAGE_POOL_2D": "AveragePool2D",
    "BATCH_MATMUL": "BatchMatMul",
    "BATCH_TO_SPACE_ND": "BatchToSpaceNd",
    "BROADCAST_ARGS": "BroadcastArgs",
    "BROADCAST_TO": "BroadcastTo",
    "CALL_ONCE": "CallOnce",
    "CAST": "Cast",
    "CEIL": "Ceil",
    "CONCATENATION": "Concatenation",
    "CONV_2D": "Conv2D",
    "COS": "Cos",
    "CUMSUM": "CumSum",
    "DEPTH_TO_SPACE": "DepthToSpace",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2D",
    "DEQUANTIZE": "Dequantize",
    "DIV": "Div",
    "ELU": "Elu",
    "EMBEDDING_LOOKUP": "EmbeddingLookup",
    "EQUAL": "Equal",
    "EXP": "Exp",
    "EXPAND_DIMS": "ExpandDims",
    "FILL": "Fill",
    "FLOOR": "Floor",
    "FLOOR_DIV": "FloorDiv",
    "FLOOR_MOD": "FloorMod",
    "FULLY_CONNECTED": "FullyConnected",
    "GATHER": "Gather",
    "GATHER_ND": "GatherNd",
    "GREATER": "Greater",
    "GREATER_EQUAL": "GreaterEqual",
    "HARD_SWISH": "HardSwish",
    "IF": "If",
    "L2_NORMALIZATION": "L2Normalization",
    "L2_POOL_2D": "L2Pool2D",
    "LEAKY_RELU": "LeakyRelu",
    "LESS": "Less",
    "LESS_EQUAL": "LessEqual",
    "LOG": "Log",
    "LOG_SOFTMAX": "LogSoftmax",
    "LOGICAL_AND": "LogicalAnd",
    "LOGICAL_NOT": "LogicalNot",
    "LOGICAL_OR": "LogicalOr",
    "LOGISTIC": "Logistic",
    "MAX_POOL_2D": "MaxPool2D",
    "MAXIMUM": "Maximum",
    "MEAN": "Mean",
    "MINIMUM": "Minimum",
    "MIRROR_PAD": "MirrorPad",
    "MUL": "Mul",
    "NEG": "Neg",
    "NOT_EQUAL": "NotEqual",
    "PACK": "Pack",
    "PAD": "Pad",
    "PADV2": "PadV2",
    "PRELU": "Prelu",
    "QUANTIZE": "Quantize",
    "READ_VARIABLE": "ReadVariable",
    "REDUCE_MAX": "ReduceMax",
    "REDUCE_MIN": "ReduceMin",
    "RELU": "Relu",
    "RELU6": "Relu6",
    "RESHAPE": "Reshape",
    "RESIZE_BILINEAR": "ResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighbor",
    "ROUND": "Round",
    "RSQRT": "Rsqrt",
    "SELECT_V2": "SelectV2",
    "SHAPE": "Shape",
    "SIN": "Sin",
    "SLICE": "Slice",
    "SOFTMAX": "Softmax",
    "SPACE_TO_BATCH_ND": "SpaceToBatchNd",
    "SPACE_TO_DEPTH": "SpaceToDepth",
    "SPLIT": "Split",
    "SPLIT_V": "SplitV",
    "SQRT": "Sqrt",
    "SQUARE": "Square",
    "SQUARED_DIFFERENCE": "SquaredDifference",
    "SQUEEZE": "Squeeze",
    "STRIDED_SLICE": "StridedSlice",
    "SUB": "Sub",
    "SUM": "Sum",
    "SVDF": "Svdf",
    "TANH": "Tanh",
    "TRANSPOSE": "Transpose",
    "TRANSPOSE_CONV": "TransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTM",
    "UNPACK": "Unpack",
    "VAR_HANDLE": "VarHandle",
    "WHILE": "While",
    "ZEROS_LIKE": "ZerosLike",
}


def missing_ops(model: str | Path | bytes | Model) -> list[str]:
    """The model's ops that TFLM has no kernel for (empty when all are available)."""
    return [op for op in load_model(model).ops if op not in TFLM_OPS]


def resolver_methods(model: str | Path | bytes | Model) -> list[str]:
    """`Add...` method names of MicroMutableOpResolver for exactly the model's ops."""
    m = load_model(model)
    missing = missing_ops(m)
    if missing:
        raise UnsupportedOpError(
            f"TFLM has no kernel for {', '.join(missing)}; it cannot run model {m.name!r}",
            op=missing[0],
            runtime="tflm",
        )
    return ["Add" + TFLM_OPS[op] for op in m.ops]
