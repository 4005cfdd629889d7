"""Helpers of the extra-op tests: models edited in their flatbuffer, the TFLM interpreter, the
kernels called through ctypes, shapes and the Cortex-M compiler command."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge import reference
from tflite_edge.compiler import params as kernel_params
from tflite_edge.model import load_model

KERNELS = aot.kernel_include_dir()
# the kernels of the ops declared in tfle_extra.h (one file per op family)


EXTRA_SOURCES = sorted(p for p in KERNELS.glob("*.c") if '#include "tfle_extra.h"' in p.read_text())


ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


def tflite_schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def edit_model(data: bytes, fn) -> bytes:
    """Apply fn(ModelT) to a parsed .tflite and serialize it again."""
    import flatbuffers

    schema = tflite_schema()
    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    fn(mt)
    builder = flatbuffers.Builder(1024)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def requantized(data: bytes, quant: dict[int, tuple[float, int]], types: dict | None = None):
    """The model with tensors' (scale, zero point) replaced, and optionally their types."""

    def fn(mt):
        tensors = mt.subgraphs[0].tensors
        for idx, (scale, zp) in quant.items():
            q = tensors[idx].quantization
            if q is None:
                q = tensors[idx].quantization = tflite_schema().QuantizationParametersT()
            q.scale, q.zeroPoint = [float(scale)], [int(zp)]
        for idx, ttype in (types or {}).items():
            tensors[idx].type = ttype

    return edit_model(data, fn)


def only_op(data: bytes, index: int) -> bytes:
    """The model cut down to operator `index`: its inputs and outputs become the model's."""

    def fn(mt):
        sg = mt.subgraphs[0]
        op = sg.operators[index]
        variable = [
            i for i in op.inputs if i >= 0 and mt.buffers[sg.tensors[i].buffer].data is None
        ]
        sg.operators, sg.inputs, sg.outputs = [op], variable, list(op.outputs)

    return edit_model(data, fn)


def reshape_to_squeeze(data: bytes) -> bytes:
    """The model with each RESHAPE that drops one size-1 dimension turned into a SQUEEZE.

    The converter always writes RESHAPE for a static squeeze; TFLM runs SQUEEZE as well.
    """
    schema = tflite_schema()

    def fn(mt):
        sg = mt.subgraphs[0]
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SQUEEZE
        code.version = 1
        mt.operatorCodes.append(code)
        for op in sg.operators:
            if mt.operatorCodes[op.opcodeIndex].builtinCode != schema.BuiltinOperator.RESHAPE:
                continue
            src = list(sg.tensors[op.inputs[0]].shape)
            dst = list(sg.tensors[op.outputs[0]].shape)
            dims = [d for d in range(len(src)) if src[:d] + src[d + 1 :] == dst and src[d] == 1]
            if len(src) == len(dst) + 1 and dims:
                op.opcodeIndex = len(mt.operatorCodes) - 1
                op.inputs = op.inputs[:1]
                op.builtinOptionsType = schema.BuiltinOptions.SqueezeOptions
                op.builtinOptions = schema.SqueezeOptionsT()
                op.builtinOptions.squeezeDims = [dims[0]]

    return edit_model(data, fn)


def tflm_run(data: bytes, inputs: list[np.ndarray]) -> np.ndarray:
    """One TFLM invocation with any number of inputs (reference.Reference takes exactly one)."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(data, arena_size=1 << 20)
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    return np.array(interp.get_output(0))


def space_to_batch_padding(shape, block, pads) -> np.ndarray:
    """Which outputs of SPACE_TO_BATCH_ND are padding (True), from the op's definition."""
    real = np.pad(np.ones(shape, bool), [(0, 0), *[tuple(p) for p in pads], (0, 0)])
    b, *spatial, c = real.shape
    split = [b]
    for size, k in zip(spatial, block, strict=True):
        split += [size // k, k]
    real = real.reshape(*split, c)
    nd = len(block)  # output batch = (offsets, in block order) x input batch, as in TFLM
    order = [2 + 2 * i for i in range(nd)] + [0] + [1 + 2 * i for i in range(nd)] + [2 * nd + 1]
    return ~real.transpose(order).reshape(-1)


def space_to_batch_expected(data, x, shape, block, pads, zero_point) -> np.ndarray:
    """TFLM's output where the input lands; `zero_point` (what the compiler passes: 0) in the
    padding.

    TFLM's SPACE_TO_BATCH_ND pads with SpaceToBatchParams.output_offset, which its Prepare
    never sets: the persistent arena's bytes, 0 when fresh (a board after reset), but the host
    interpreter may reuse memory another interpreter of the process wrote."""
    pad = space_to_batch_padding(shape, block, pads)
    return np.where(pad, np.int8(zero_point), tflm_run(data, [x]).ravel())


def struct_class(name: str) -> type[ctypes.Structure]:
    """A ctypes mirror of one kernel parameter struct, from kernel_params.STRUCTS."""
    fields = []
    for field, kind, count in kernel_params.STRUCTS[name]:
        base = {"i": ctypes.c_int32, "f": ctypes.c_float, "p": ctypes.c_void_p}[kind]
        fields.append((field, base * count if count > 1 else base))
    return type(name, (ctypes.Structure,), {"_fields_": fields})


def struct(name: str, values: dict) -> ctypes.Structure:
    s = struct_class(name)()
    for field, _, count in kernel_params.STRUCTS[name]:
        v = values[field]
        setattr(s, field, (type(getattr(s, field)))(*v) if count > 1 else v)
    return s


def ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


class Kernels:
    """The tfle_extra kernels compiled for the host, called with numpy arrays and structs."""

    def __init__(self, path: Path) -> None:
        self.lib = ctypes.CDLL(str(path))

    def __call__(self, fn: str, *args) -> None:
        conv = []
        for a in args:
            if isinstance(a, np.ndarray):
                conv.append(ptr(a))
            elif isinstance(a, ctypes.Structure):
                conv.append(ctypes.byref(a))
            elif isinstance(a, int):
                conv.append(ctypes.c_int32(a))
            else:
                conv.append(a)
        getattr(self.lib, fn)(*conv)


def unary(lib: Kernels, fn: str, sname: str | None, values, x: np.ndarray, out_dtype=np.int8):
    y = np.zeros(x.size, out_dtype)
    xx = np.ascontiguousarray(x).ravel()
    if sname is None:
        lib(fn, *values, xx, y)
    else:
        lib(fn, struct(sname, values), xx, y)
    return y


def first_op(data: bytes):
    m = load_model(data)
    op = m.operators[0]
    return m, op, [m.tensors[i] if i >= 0 else None for i in op.inputs], m.tensors[op.outputs[0]]


def random_quant(rng: np.random.Generator, n: int, *, zp_low: int = -128, zp_high: int = 127):
    """n seeded (scale, zero point) pairs over four orders of magnitude of scale."""
    scales = 10.0 ** rng.uniform(-3.5, -0.5, size=n)
    zps = rng.integers(zp_low, zp_high + 1, size=n)
    return [(float(np.float32(s)), int(z)) for s, z in zip(scales, zps, strict=True)]


def keras_single(layer_fn, shape, *, name="op"):
    k = om.keras()
    inp = k.Input(shape=shape, batch_size=1)
    return k.Model(inp, layer_fn(inp), name=name)


def two_input(fn, shape1, shape2, act=None):
    k = om.keras()
    a = k.Input(shape=shape1, batch_size=1)
    b = k.Input(shape=shape2, batch_size=1)
    y = k.layers.Lambda(fn)([a, b])
    if act:
        y = k.layers.Activation(act)(y)
    return k.Model([a, b], y)


def convert_two(model, shape1, shape2, seed, ranges):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    reps = [
        [
            rng.uniform(*ranges[0], size=(1, *shape1)).astype(np.float32),
            rng.uniform(*ranges[1], size=(1, *shape2)).astype(np.float32),
        ]
        for _ in range(24)
    ]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(reps)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


BINARY_CASES = [
    # (op, shape1, shape2, activation, ranges)
    ("ADD", (4, 5, 3), (4, 5, 3), None, ((-1, 1), (-3, 2))),
    ("ADD", (4, 5, 3), (1, 1, 3), "relu", ((-2, 2), (-0.5, 0.5))),
    ("ADD", (2, 1, 6), (3, 1), None, ((0, 4), (-1, 1))),
    ("ADD", (6,), (2, 3, 6), "relu6", ((-8, 8), (-1, 3))),
    ("MUL", (4, 5, 3), (4, 5, 3), None, ((-1, 1), (-3, 2))),
    ("MUL", (3, 1, 4), (1, 5, 1), "relu", ((-2, 2), (0, 1))),
    ("MUL", (2, 3, 4), (4,), None, ((-6, 6), (-2, 1))),
]


MEAN_CASES = [
    # (function, input shape, representative range)
    (lambda tf, x: tf.reduce_mean(x, axis=[1, 2]), (5, 6, 3), (-1, 1)),
    (lambda tf, x: tf.reduce_mean(x, axis=[1, 2], keepdims=True), (7, 4, 2), (-1, 3)),
    (lambda tf, x: tf.reduce_mean(x, axis=-1), (5, 6, 3), (0, 1)),
    (lambda tf, x: tf.reduce_mean(x, axis=[0, 2], keepdims=True), (5, 6, 3), (-2, 2)),
    (lambda tf, x: tf.reduce_max(x, axis=[1, 2], keepdims=True), (4, 5, 3), (-1, 1)),
    (lambda tf, x: tf.reduce_max(x, axis=-2), (4, 5, 3), (-1, 1)),
]


ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}


def reshaped(data: bytes, shapes: dict[int, tuple], consts: dict | None = None, options=None):
    """The model with tensor shapes, int32 constant contents and op-0 options replaced."""

    def fn(mt):
        tensors = mt.subgraphs[0].tensors
        for idx, shape in shapes.items():
            tensors[idx].shape = [int(d) for d in shape]
            tensors[idx].shapeSignature = None
        for idx, values in (consts or {}).items():
            arr = np.asarray(values, dtype="<i4")
            tensors[idx].shape = list(arr.shape)
            tensors[idx].shapeSignature = None
            mt.buffers[tensors[idx].buffer].data = np.frombuffer(arr.tobytes(), np.uint8)
        opts = mt.subgraphs[0].operators[0].builtinOptions
        for key, value in (options or {}).items():
            assert hasattr(opts, key), f"{type(opts).__name__} has no option {key}"
            setattr(opts, key, value)

    return edit_model(data, fn)


def constant_input(data: bytes, tensor: int, values: np.ndarray) -> bytes:
    """The model with one of its inputs turned into a constant holding `values`."""

    def fn(mt):
        sg = mt.subgraphs[0]
        buf = tflite_schema().BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8)
        mt.buffers.append(buf)
        sg.tensors[tensor].buffer = len(mt.buffers) - 1
        sg.inputs = [i for i in sg.inputs if i != tensor]

    return edit_model(data, fn)


def compiled_matches(data: bytes, x: np.ndarray, out_dir: Path, expected=None) -> None:
    """compile_aot + host build of a single-input model gives TFLM's output for x (or
    `expected`, where TFLM's is not defined)."""
    aot.compile_aot(data, out_dir)
    ours = aot.build_host_runner(out_dir).run_one(x)
    if expected is None:
        expected = reference.Reference(data).run_one(x)
    assert np.array_equal(ours.ravel(), np.asarray(expected).ravel())


def feeds_for(m, op_inputs: list, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Model-input order of arrays given in operator-input order."""
    order = list(m.inputs)
    out = [None] * len(order)
    for t, a in zip(op_inputs, arrays, strict=True):
        out[order.index(t.index)] = a
    return out


def arm_cc(cpu: str, *extra: str) -> list[str]:
    return ["arm-none-eabi-gcc", "-std=c99", f"-mcpu={cpu}", "-mthumb", "-O2", "-Wall",
            "-Wextra", "-Werror", *extra]  # fmt: skip
