"""The AOT runtime's extra int8 ops (tflite_edge/compiler/ops/, firmware/kernels/, tfle_extra.h).

Every expected value comes from the real TFLM interpreter (tflite-micro package):
- kernel tests call the C kernels through ctypes with parameters computed by the op modules from a
  converted single-op model, over seeded random quantizations (rewritten into the flatbuffer)
  and every int8 input value, and two-input ADD/MUL with broadcasting;
- end-to-end tests compile single-op and small multi-op models with compile_aot, build them
  for the host and compare with TFLM on random inputs;
- the kernels and a generated model also build for Cortex-M4 and Cortex-M3.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge import reference
from tflite_edge.compiler import params as kernel_params
from tflite_edge.compiler.ops import activations as activations_op
from tflite_edge.compiler.ops import concatenation as concatenation_op
from tflite_edge.compiler.ops import elementwise as elementwise_op
from tflite_edge.compiler.ops import pad as pad_op
from tflite_edge.compiler.ops import quantize as quantize_op
from tflite_edge.compiler.ops import reduce as reduce_op
from tflite_edge.compiler.ops import space_batch as space_batch_op
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import known_input, load_model

KERNELS = aot.kernel_include_dir()
# the kernels of the ops declared in tfle_extra.h (one file per op family)
EXTRA_SOURCES = sorted(p for p in KERNELS.glob("*.c") if '#include "tfle_extra.h"' in p.read_text())
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


# --------------------------------------------------------------------------- helpers


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def edit_model(data: bytes, fn) -> bytes:
    """Apply fn(ModelT) to a parsed .tflite and serialize it again."""
    import flatbuffers

    schema = _schema()
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
                q = tensors[idx].quantization = _schema().QuantizationParametersT()
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
    schema = _schema()

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
    """TFLM's output where the input lands; the output zero point in the padding.

    TFLM's SPACE_TO_BATCH_ND pads with SpaceToBatchParams.output_offset, which its Prepare
    never sets: the value is whatever the persistent arena held (0 mostly, not always). We
    pad with the output zero point, as TensorFlow Lite does (a real-valued 0)."""
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


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Kernels:
    """libtfle_extra.so built from the kernel sources with the host gcc (warnings are errors)."""
    out = tmp_path_factory.mktemp("extra") / "libtfle_extra.so"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared",
           "-fPIC", f"-I{KERNELS}", *map(str, EXTRA_SOURCES), "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Kernels(out)


def _keras_single(layer_fn, shape, *, name="op"):
    k = om.keras()
    inp = k.Input(shape=shape, batch_size=1)
    return k.Model(inp, layer_fn(inp), name=name)


def _two_input(fn, shape1, shape2, act=None):
    k = om.keras()
    a = k.Input(shape=shape1, batch_size=1)
    b = k.Input(shape=shape2, batch_size=1)
    y = k.layers.Lambda(fn)([a, b])
    if act:
        y = k.layers.Activation(act)(y)
    return k.Model([a, b], y)


def _convert_two(model, shape1, shape2, seed, ranges):
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


@pytest.fixture(scope="module")
def unary_models() -> dict[str, bytes]:
    """One converted model per unary op, the op applied directly to the int8 input."""
    import tensorflow as tf

    k = om.keras()
    L = k.layers
    shape = (16, 16)
    builders = {
        "LOGISTIC": lambda x: L.Activation("sigmoid")(x),
        "TANH": lambda x: L.Activation("tanh")(x),
        "RELU": lambda x: L.ReLU()(x),
        "RELU6": lambda x: L.ReLU(6.0)(x),
        "LEAKY_RELU": lambda x: L.LeakyReLU(0.2)(x),
        "HARD_SWISH": lambda x: L.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0)(x),
    }
    out = {}
    for op, fn in builders.items():
        data = om.convert_keras(
            _keras_single(fn, shape), shape, data=om.representative(shape, low=-4.0, high=4.0)
        )
        assert om.op_names(data) == [op], om.op_names(data)
        out[op] = data

    def float_io(conv):
        conv.inference_input_type = tf.float32
        conv.inference_output_type = tf.float32

    # float32 -> QUANTIZE -> (RELU6 folded away) -> DEQUANTIZE -> float32
    data = om.convert_keras(
        _keras_single(lambda x: L.Dense(16)(x), (16,)), (16,), post_process=float_io
    )
    assert om.op_names(data) == ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"]
    out["FLOAT_IO"] = data
    return out


def test_struct_layouts_match_the_header(tmp_path):
    """kernel_params.STRUCTS (C initializers, ctypes mirrors) agrees with the headers' layout."""
    headers = sorted(set(kernel_params.STRUCT_HEADERS.values()))
    lines = ['#include <stdio.h>', '#include <stddef.h>',
             *[f'#include "{h}"' for h in headers], "int main(void) {"]  # fmt: skip
    for name, fields in kernel_params.STRUCTS.items():
        lines.append(f'printf("{name} %u\\n", (unsigned)sizeof({name}));')
        for field, _, _ in fields:
            lines.append(f'printf("{name}.{field} %u\\n", (unsigned)offsetof({name}, {field}));')
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    proc = subprocess.run(["gcc", "-std=c99", f"-I{KERNELS}", str(src), "-o", str(exe)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    c_side = dict(
        line.split() for line in subprocess.check_output([str(exe)], text=True).split("\n") if line
    )
    for name, fields in kernel_params.STRUCTS.items():
        cls = struct_class(name)
        assert int(c_side[name]) == ctypes.sizeof(cls), name
        for field, _, _ in fields:
            assert int(c_side[f"{name}.{field}"]) == getattr(cls, field).offset, (name, field)


# --------------------------------------------------------------------------- kernel tests


def _run_unary_case(lib, data, op, x):
    """Run op 0 of `data` in TFLM and through its kernel; returns (ours, tflm)."""
    m, o, ins, y = first_op(data)
    xt = ins[0]
    expected = reference.Reference(data).run_one(x.reshape(xt.shape))
    if op == "LOGISTIC" or op == "TANH":
        ours = unary(lib, f"tfle_{op.lower()}_s8", "tfle_sigmoid_params",
                     activations_op.sigmoid_params(xt), x)  # fmt: skip
    elif op == "RELU":
        ours = unary(lib, "tfle_requant_s8", "tfle_requant_params",
                     quantize_op.requant_params(xt, y, relu=True), x)  # fmt: skip
    elif op == "RELU6":
        lo, hi = activations_op.relu6_bounds(xt)
        ours = unary(lib, "tfle_clamp_s8", None, (x.size, lo, hi), x)
    elif op == "LEAKY_RELU":
        ours = unary(lib, "tfle_leaky_relu_s8", "tfle_leaky_relu_params",
                     activations_op.leaky_relu_params(xt, y, o.options["alpha"]), x)  # fmt: skip
    elif op == "HARD_SWISH":
        ours = unary(lib, "tfle_hard_swish_s8", "tfle_hard_swish_params",
                     activations_op.hard_swish_params(xt, y), x)  # fmt: skip
    else:
        raise AssertionError(op)
    return ours.reshape(expected.shape), expected


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH", "RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH"])
def test_unary_kernel_every_input_many_quantizations(lib, unary_models, op):
    """All 256 int8 inputs, the converter's quantization and 24 seeded random ones."""
    base = unary_models[op]
    _, o, ins, y = first_op(base)
    rng = np.random.default_rng(sum(map(ord, op)))
    configs = [None]
    for (si, zi), (so, zo) in zip(random_quant(rng, 24), random_quant(rng, 24), strict=True):
        if op == "LOGISTIC":
            so, zo = 1.0 / 256, -128
        elif op == "TANH":
            so, zo = 1.0 / 128, 0
        elif op == "HARD_SWISH":
            so = max(so, si / 64)  # TFLM needs in_scale / (128 out_scale) < 1
        configs.append({ins[0].index: (si, zi), y.index: (so, zo)})
    alphas = [0.2, 0.01, 0.5, -0.3, 1.7]
    for n, cfg in enumerate(configs):
        data = base if cfg is None else requantized(base, cfg)
        if op == "LEAKY_RELU":
            alpha = alphas[n % len(alphas)]

            def set_alpha(mt, alpha=alpha):
                mt.subgraphs[0].operators[0].builtinOptions.alpha = alpha

            data = edit_model(data, set_alpha)
        ours, expected = _run_unary_case(lib, data, op, ALL_INT8)
        assert np.array_equal(ours, expected), (op, cfg, np.flatnonzero(ours != expected)[:8])


def test_quantize_dequantize_kernels(lib, unary_models):
    """QUANTIZE float32 -> int8 (with exact ties), int8 -> int8, and DEQUANTIZE int8 -> float32."""
    schema = _schema()
    base = unary_models["FLOAT_IO"]
    quantize, dequantize = only_op(base, 0), only_op(base, 2)
    rng = np.random.default_rng(7)
    for (si, zi), (so, zo) in zip(random_quant(rng, 16), random_quant(rng, 16), strict=True):
        # float32 -> int8: ties at (k + 1/2) * scale and random values, 256 at a time
        _, _, (x,), y = first_op(quantize)
        data = requantized(quantize, {y.index: (so, zo)})
        _, _, _, yt = first_op(data)
        ref = reference.Reference(data)
        ties = ((np.arange(-128, 128) + 0.5) * np.float32(so)).astype(np.float32)
        # far out of range too (still inside int32, where TFLM's cast is defined)
        far = np.float32(so) * np.repeat([-1e8, -1e5, -1500.0, 1500.0, 1e5, 1e8], 16)[:96]
        for xs in (
            ties,
            rng.normal(0, 100 * so, size=256).astype(np.float32),
            far.astype(np.float32),
        ):
            for chunk in xs.reshape(-1, 16):
                ours = unary(lib, "tfle_quantize_f32_s8", "tfle_affine_params",
                             quantize_op.affine_params(yt, 16), chunk)  # fmt: skip
                assert np.array_equal(ours, ref.run_one(chunk).ravel()), (so, zo)

        # int8 -> int8: the same QUANTIZE with its input retyped to int8, every input value
        data = requantized(
            quantize,
            {x.index: (si, zi), y.index: (so, zo)},
            types={x.index: schema.TensorType.INT8},
        )
        _, _, (xt,), yt = first_op(data)
        ref = reference.Reference(data)
        p = {**quantize_op.requant_params(xt, yt), "size": 16}
        for chunk in ALL_INT8.reshape(-1, 16):
            ours = unary(lib, "tfle_requant_s8", "tfle_requant_params", p, chunk)
            assert np.array_equal(ours, ref.run_one(chunk).ravel()), (si, zi, so, zo)

        # int8 -> float32 DEQUANTIZE of every value, compared bit for bit
        _, _, (x,), _ = first_op(dequantize)
        data = requantized(dequantize, {x.index: (si, zi)})
        _, _, (xt,), _ = first_op(data)
        ref = reference.Reference(data)
        for chunk in ALL_INT8.reshape(-1, 16):
            ours = unary(lib, "tfle_dequantize_s8_f32", "tfle_affine_params",
                         quantize_op.affine_params(xt, 16), chunk, out_dtype=np.float32)  # fmt: skip
            assert ours.tobytes() == ref.run_one(chunk).astype(np.float32).tobytes(), (si, zi)


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


@pytest.fixture(scope="module")
def binary_models() -> list[bytes]:
    out = []
    for i, (op, s1, s2, act, ranges) in enumerate(BINARY_CASES):
        fn = (lambda t: t[0] + t[1]) if op == "ADD" else (lambda t: t[0] * t[1])
        data = _convert_two(_two_input(fn, s1, s2, act), s1, s2, i, ranges)
        assert om.op_names(data) == [op], om.op_names(data)
        out.append(data)
    return out


@pytest.mark.parametrize("case", range(len(BINARY_CASES)))
def test_binary_kernel_broadcasting(lib, binary_models, case):
    """Two-input ADD/MUL (broadcast either way, fused activations) against TFLM."""
    op = BINARY_CASES[case][0]
    data = binary_models[case]
    m, o, (a, b), y = first_op(data)
    act = o.options.get("fusedActivationFunction")
    fn = elementwise_op.add_params if op == "ADD" else elementwise_op.mul_params
    params = struct(f"tfle_{op.lower()}_params", fn(a, b, y, act))
    bcast = struct("tfle_bcast", elementwise_op.broadcast_params(a.shape, b.shape, y.shape))
    # the model's inputs are in the order the converter chose; map them to op inputs
    in_order = [list(m.inputs).index(a.index), list(m.inputs).index(b.index)]
    rng = np.random.default_rng(case)
    for _ in range(20):
        xa = rng.integers(-128, 128, size=a.shape, dtype=np.int8)
        xb = rng.integers(-128, 128, size=b.shape, dtype=np.int8)
        feeds = [None, None]
        feeds[in_order[0]], feeds[in_order[1]] = xa, xb
        expected = tflm_run(data, feeds)
        ours = np.zeros(y.size, np.int8)
        lib(f"tfle_{op.lower()}_s8", params, bcast, xa.ravel(), xb.ravel(), ours)
        assert np.array_equal(ours.reshape(expected.shape), expected)


MEAN_CASES = [
    # (function, input shape, representative range)
    (lambda tf, x: tf.reduce_mean(x, axis=[1, 2]), (5, 6, 3), (-1, 1)),
    (lambda tf, x: tf.reduce_mean(x, axis=[1, 2], keepdims=True), (7, 4, 2), (-1, 3)),
    (lambda tf, x: tf.reduce_mean(x, axis=-1), (5, 6, 3), (0, 1)),
    (lambda tf, x: tf.reduce_mean(x, axis=[0, 2], keepdims=True), (5, 6, 3), (-2, 2)),
    (lambda tf, x: tf.reduce_max(x, axis=[1, 2], keepdims=True), (4, 5, 3), (-1, 1)),
    (lambda tf, x: tf.reduce_max(x, axis=-2), (4, 5, 3), (-1, 1)),
]


@pytest.fixture(scope="module")
def mean_models() -> list[bytes]:
    import tensorflow as tf

    k = om.keras()
    out = []
    for fn, shape, (lo, hi) in MEAN_CASES:
        model = _keras_single(lambda x, fn=fn: k.layers.Lambda(lambda t: fn(tf, t))(x), shape)
        data = om.convert_keras(model, shape, data=om.representative(shape, low=lo, high=hi))
        out.append(data)
    return out


@pytest.mark.parametrize("case", range(len(MEAN_CASES)))
def test_reduce_kernel(lib, mean_models, case):
    """MEAN (TFLM's integer path; also with equal in/out quantization) and REDUCE_MAX."""
    base = mean_models[case]
    m, o, (x, axes), y = first_op(base)
    rng = np.random.default_rng(case)
    configs = [None, {y.index: (float(x.quantization.scale[0]), int(x.quantization.zero_point[0]))}]
    if o.op == "MEAN":
        configs += [{x.index: qi, y.index: qo} for qi, qo in zip(
            random_quant(rng, 6), random_quant(rng, 6), strict=True)]  # fmt: skip
    for cfg in configs:
        data = base if cfg is None else requantized(base, cfg)
        _, _, (xt, _), yt = first_op(data)
        shape = reduce_op.reduce_shape(xt.shape, reduce_op.resolve_axes(axes.data, len(xt.shape)))
        xs = rng.integers(-128, 128, size=(8, *xt.shape[1:]), dtype=np.int8)
        expected = reference.Reference(data).run(xs)
        for xi, ei in zip(xs, expected, strict=True):
            ours = np.zeros(yt.size, np.int8)
            if o.op == "MEAN":
                p = reduce_op.mean_params(xt, yt, shape["num_reduced"])
                lib("tfle_mean_s8", struct("tfle_mean_params", p),
                    struct("tfle_reduce_shape", shape), np.ascontiguousarray(xi), ours)  # fmt: skip
            else:
                lib("tfle_reduce_max_s8", struct("tfle_reduce_shape", shape),
                    np.ascontiguousarray(xi), ours)  # fmt: skip
            assert np.array_equal(ours, ei.ravel()), (o.op, cfg)


# --------------------------------------------------------------------------- shape generator
#
# One converted model per op serves as a template; a seeded generator rewrites its shapes,
# constant operands and options in the flatbuffer, and TFLM judges each variant.

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
        buf = _schema().BufferT()
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


@pytest.fixture(scope="module")
def templates(binary_models, mean_models) -> dict[str, bytes]:
    import tensorflow as tf

    k = om.keras()
    L = k.layers
    concat = _convert_two(
        _two_input(lambda t: tf.concat(t, axis=-1), (3, 4), (3, 2)), (3, 4), (3, 2), 5,
        ((-1, 1), (-1, 1)),
    )  # fmt: skip
    pad = om.convert_keras(
        _keras_single(lambda x: L.Lambda(lambda v: tf.pad(v, [[0, 0], [1, 2], [0, 1]]))(x), (4, 5)),
        (4, 5),
    )
    s2b = om.convert_keras(
        _keras_single(
            lambda x: L.Lambda(lambda v: tf.batch_to_space(v, [2, 2], [[0, 1], [1, 0]]))(
                L.Lambda(lambda v: tf.space_to_batch_nd(v, [2, 2], [[1, 2], [0, 2]]))(x)
            ),
            (7, 6, 2),
        ),
        (7, 6, 2),
    )
    out = {"CONCATENATION": concat, "PAD": pad, "SPACE_TO_BATCH_ND": only_op(s2b, 0),
           "BATCH_TO_SPACE_ND": only_op(s2b, 1), "ADD": binary_models[0],
           "MUL": binary_models[4], "MEAN": mean_models[0], "REDUCE_MAX": mean_models[4]}  # fmt: skip
    for op, data in out.items():
        assert om.op_names(data) == [op], (op, om.op_names(data))
    return out


def test_generated_concatenation(lib, templates, tmp_path):
    """Ranks 1-4, any axis (negative too), two inputs of different extents."""
    base = templates["CONCATENATION"]
    m, _, ins, y = first_op(base)
    rng = np.random.default_rng(21)
    for case in range(30):
        r = int(rng.integers(1, 5))
        dims = [int(d) for d in rng.integers(1, 5, size=r)]
        axis = int(rng.integers(-r, r))
        s1, s2 = list(dims), list(dims)
        s2[axis % r] = int(rng.integers(1, 4))
        so = list(dims)
        so[axis % r] = s1[axis % r] + s2[axis % r]
        data = reshaped(base, {ins[0].index: s1, ins[1].index: s2, y.index: so},
                        options={"axis": axis})  # fmt: skip
        x1 = rng.integers(-128, 128, size=s1, dtype=np.int8)
        x2 = rng.integers(-128, 128, size=s2, dtype=np.int8)
        expected = tflm_run(data, feeds_for(load_model(data), ins, [x1, x2]))
        outer, copy = concatenation_op.concat_params([tuple(s1), tuple(s2)], tuple(so), axis, 1)
        ours = np.zeros(int(np.prod(so)), np.int8)
        lib("tfle_concat", 2, (ctypes.c_void_p * 2)(ptr(x1), ptr(x2)),
            np.array(copy, np.int32), outer, ours)  # fmt: skip
        assert np.array_equal(ours, expected.ravel()), (s1, s2, axis)
        if case % 6 == 0:  # the emitter too, with the second input a constant
            compiled_matches(constant_input(data, ins[1].index, x2), x1, tmp_path / f"c{case}")


def test_generated_pad(lib, templates, tmp_path):
    """Ranks 1-5, random paddings, pad value = the output zero point."""
    base = templates["PAD"]
    _, _, (x, pads), y = first_op(base)
    rng = np.random.default_rng(22)
    for case in range(30):
        r = int(rng.integers(1, 6))
        shape = [int(d) for d in rng.integers(1, 5, size=r)]
        p = rng.integers(0, 4, size=(r, 2))
        out = [d + int(a) + int(b) for d, (a, b) in zip(shape, p, strict=True)]
        zp = int(rng.integers(-128, 128))
        data = reshaped(base, {x.index: shape, y.index: out}, {pads.index: p})
        data = requantized(data, {x.index: (0.05, zp), y.index: (0.05, zp)})
        _, _, (xt, pt), yt = first_op(data)
        xs = rng.integers(-128, 128, size=shape, dtype=np.int8)
        expected = reference.Reference(data).run_one(xs)
        params = pad_op.pad_params(tuple(shape), pt.data, int(yt.quantization.zero_point[0]))
        ours = np.zeros(int(np.prod(out)), np.int8)
        lib("tfle_pad_s8", struct("tfle_pad_params", params), xs.ravel(), ours)
        assert np.array_equal(ours, expected.ravel()), (shape, p.tolist())
        if case % 6 == 0:
            compiled_matches(data, xs, tmp_path / f"p{case}")


@pytest.mark.parametrize("op", ["SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"])
def test_generated_space_batch(lib, templates, op, tmp_path):
    """3-D and 4-D tensors, random blocks, paddings and crops."""
    base = templates[op]
    _, _, (x, block, pads), y = first_op(base)
    kind = "space_to_batch" if op == "SPACE_TO_BATCH_ND" else "batch_to_space"
    rng = np.random.default_rng(23 if kind == "space_to_batch" else 24)
    for case in range(24):
        nd = int(rng.integers(1, 3))  # spatial dims: 1 (3-D NHC) or 2 (4-D NHWC)
        blk = [int(v) for v in rng.integers(1, 4, size=nd)]
        c = int(rng.integers(1, 4))
        if kind == "space_to_batch":
            spatial = [int(v) for v in rng.integers(1, 7, size=nd)]
            pad = []
            for sz, b in zip(spatial, blk, strict=True):
                before = int(rng.integers(0, 3))
                after = (-(sz + before)) % b + b * int(rng.integers(0, 2))
                pad.append([before, after])
            shape = [int(rng.integers(1, 3)), *spatial, c]
        else:
            spatial = [int(v) for v in rng.integers(1, 5, size=nd)]
            pad = []
            for sz, b in zip(spatial, blk, strict=True):
                total = int(rng.integers(0, sz * b))
                before = int(rng.integers(0, total + 1))
                pad.append([before, total - before])
            shape = [int(np.prod(blk)) * int(rng.integers(1, 3)), *spatial, c]
        out = space_batch_op.space_batch_output_shape(
            kind, tuple(shape), np.array(blk), np.array(pad)
        )
        data = reshaped(base, {x.index: shape, y.index: out}, {block.index: blk, pads.index: pad})
        xs = rng.integers(-128, 128, size=shape, dtype=np.int8)
        zp = int(y.quantization.zero_point[0])
        if kind == "space_to_batch":
            expected = space_to_batch_expected(data, xs, shape, blk, pad, zp)
        else:
            expected = tflm_run(data, [xs]).ravel()
        params = space_batch_op.space_batch_params(tuple(shape), out, blk, pad, zp)
        ours = np.zeros(int(np.prod(out)), np.int8)
        lib(f"tfle_{kind}_s8", struct("tfle_space_batch_params", params), xs.ravel(), ours)
        assert np.array_equal(ours, expected), (shape, blk, pad)
        if case % 6 == 0:
            compiled_matches(data, xs, tmp_path / f"s{case}", expected)


def _broadcast_pair(rng, max_rank):
    """Two shapes that broadcast together (some dims 1, some ranks shorter) and the result."""
    r = int(rng.integers(1, max_rank + 1))
    out = [int(d) for d in rng.integers(1, 5, size=r)]
    shapes = []
    for _ in range(2):
        s = [d if rng.random() < 0.6 else 1 for d in out]
        if rng.random() < 0.3:
            s = s[int(rng.integers(0, r)) :]
        shapes.append(s)
    return shapes[0], shapes[1], list(np.broadcast_shapes(tuple(shapes[0]), tuple(shapes[1])))


@pytest.mark.parametrize("op", ["ADD", "MUL"])
def test_generated_binary(lib, templates, op, tmp_path):
    """Random broadcast shapes, quantizations and fused activations (MUL: TFLM's 4-D limit)."""
    base = templates[op]
    m, _, (a, b), y = first_op(base)
    rng = np.random.default_rng(25 if op == "ADD" else 26)
    for case in range(30):
        s1, s2, so = _broadcast_pair(rng, 5 if op == "ADD" else 4)
        act = str(rng.choice(list(ACTIVATIONS)))
        (q1, q2, qo) = random_quant(rng, 3)
        data = reshaped(base, {a.index: s1, b.index: s2, y.index: so},
                        options={"fusedActivationFunction": ACTIVATIONS[act]})  # fmt: skip
        data = requantized(data, {a.index: q1, b.index: q2, y.index: qo})
        mm, _, (at, bt), yt = first_op(data)
        x1 = rng.integers(-128, 128, size=s1, dtype=np.int8)
        x2 = rng.integers(-128, 128, size=s2, dtype=np.int8)
        expected = tflm_run(data, feeds_for(mm, [at, bt], [x1, x2]))
        fn = elementwise_op.add_params if op == "ADD" else elementwise_op.mul_params
        params = struct(f"tfle_{op.lower()}_params", fn(at, bt, yt, act))
        bcast = struct(
            "tfle_bcast", elementwise_op.broadcast_params(tuple(s1), tuple(s2), tuple(so))
        )
        ours = np.zeros(int(np.prod(so)), np.int8)
        lib(f"tfle_{op.lower()}_s8", params, bcast, x1.ravel(), x2.ravel(), ours)
        assert np.array_equal(ours, expected.ravel()), (s1, s2, act, q1, q2, qo)
        if case % 6 == 0:  # the emitter too, with the second input a constant
            compiled_matches(constant_input(data, b.index, x2), x1, tmp_path / f"b{case}")


@pytest.mark.parametrize("op", ["MEAN", "REDUCE_MAX"])
def test_generated_reduce(lib, templates, op, tmp_path):
    """Ranks 1-4, one or two axes (negative, repeated), keep_dims either way."""
    base = templates[op]
    _, _, (x, axes), y = first_op(base)
    rng = np.random.default_rng(27 if op == "MEAN" else 28)
    for case in range(30):
        r = int(rng.integers(1, 5))
        shape = [int(d) for d in rng.integers(1, 6, size=r)]
        picked = rng.choice(r, size=min(r, int(rng.integers(1, 3))), replace=False)
        ax = [int(a) - r if rng.random() < 0.3 else int(a) for a in picked]
        if rng.random() < 0.2:
            ax.append(ax[0])
        keep = bool(rng.random() < 0.5)
        resolved = reduce_op.resolve_axes(ax, r)
        out = [1 if d in resolved else n for d, n in enumerate(shape) if keep or d not in resolved]
        data = reshaped(base, {x.index: shape, y.index: out}, {axes.index: ax},
                        options={"keepDims": keep})  # fmt: skip
        if op == "MEAN":
            qi, qo = random_quant(rng, 2)
            data = requantized(data, {x.index: qi, y.index: qo})
        _, _, (xt, _), yt = first_op(data)
        xs = rng.integers(-128, 128, size=shape, dtype=np.int8)
        expected = tflm_run(data, [xs])
        rshape = struct("tfle_reduce_shape", reduce_op.reduce_shape(tuple(shape), resolved))
        ours = np.zeros(max(int(np.prod(out)), 1), np.int8)
        if op == "MEAN":
            p = reduce_op.mean_params(xt, yt, int(np.prod([shape[d] for d in resolved])))
            lib("tfle_mean_s8", struct("tfle_mean_params", p), rshape, xs.ravel(), ours)
        else:
            lib("tfle_reduce_max_s8", rshape, xs.ravel(), ours)
        assert np.array_equal(ours, expected.ravel()), (shape, ax, keep)
        if case % 6 == 0:
            compiled_matches(data, xs, tmp_path / f"r{case}")


# --------------------------------------------------------------------------- end to end


def _e2e_models() -> dict[str, tuple]:
    """name -> (model builder, input shape, representative range); built lazily."""
    import tensorflow as tf

    k = om.keras()
    L = k.layers

    def residual(inp):
        a = L.Conv2D(4, 3, padding="same")(inp)
        b = L.Conv2D(4, 1)(a)
        c = L.ReLU()(L.Add()([a, b]))
        d = L.Concatenate(axis=-1)([c, a])
        e = L.Concatenate(axis=1)([d, d])
        return L.Multiply()([e, e])

    def branches(inp):
        x = L.Dense(12)(inp)
        s = L.Activation("sigmoid")(x)
        t = L.Activation("tanh")(x)
        h = L.Lambda(lambda v: v * tf.nn.relu6(v + 3.0) / 6.0)(x)
        lr = L.LeakyReLU(0.1)(x)
        y = L.Concatenate()([s, t, h, lr])
        y = L.Lambda(lambda v: v * tf.constant(np.linspace(-1, 2, 48, dtype=np.float32)))(y)
        return L.Lambda(lambda v: v + tf.constant([0.5], dtype=tf.float32))(y)

    def requantized_branches(inp):
        # LOGISTIC/TANH have fixed output scales: the converter requantizes them for the concat
        x = L.Dense(12)(inp)
        y = L.Concatenate()(
            [
                L.Activation("sigmoid")(x),
                L.Activation("tanh")(x),
                L.Lambda(lambda v: v * tf.nn.relu6(v + 3.0) / 6.0)(x),
                L.LeakyReLU(0.1)(x),
            ]
        )
        y = L.Lambda(lambda v: v * tf.constant(np.linspace(-1, 2, 48, dtype=np.float32)))(y)
        return L.Lambda(lambda v: tf.reduce_mean(tf.reshape(v, [1, 4, 12]), axis=1))(y)

    return {
        "requantize_mean": (requantized_branches, (8,), (-2, 2), True),
        "residual_add_concat_mul": (residual, (5, 5, 2), (-1, 1), True),
        "activations_concat_const_mul_add": (branches, (8,), (-2, 2), True),
        "pad_gap_mean": (
            lambda x: L.GlobalAveragePooling2D()(
                L.Conv2D(3, 2)(L.ZeroPadding2D(((1, 2), (0, 3)))(x))
            ),
            (5, 4, 2), (-1, 1), True,
        ),
        "padv2_3d_reduce_max": (
            lambda x: L.Lambda(lambda v: tf.reduce_max(v, axis=1, keepdims=True))(
                L.Lambda(lambda v: tf.pad(v, [[0, 0], [2, 1], [0, 2]], constant_values=0.3))(L.Dense(5)(x))
            ),
            (6, 3), (-1, 1), True,
        ),
        # no padding here: TFLM pads SPACE_TO_BATCH_ND with an uninitialised value (see
        # space_to_batch_expected); test_generated_space_batch checks the padding
        "space_to_batch_4d": (
            lambda x: L.Lambda(lambda v: tf.batch_to_space(v, [2, 2], [[0, 1], [1, 0]]))(
                L.Dense(3)(L.Lambda(
                    lambda v: tf.space_to_batch_nd(v, [2, 2], [[0, 0], [0, 0]]))(x))
            ),
            (8, 6, 2), (-1, 1), True,
        ),
        "space_to_batch_3d": (
            lambda x: L.Lambda(lambda v: tf.batch_to_space(v, [3], [[0, 1]]))(
                L.Dense(3)(L.Lambda(lambda v: tf.space_to_batch_nd(v, [3], [[0, 0]]))(x))
            ),
            (9, 2), (-1, 1), True,
        ),
        # Conv1D with a dynamic batch (as tflite_edge.convert() exports it): EXPAND_DIMS
        "conv1d": (lambda x: L.Conv1D(3, 3)(x), (10, 2), (-1, 1), False),
        "float_io": (lambda x: L.Dense(6)(L.ReLU()(x)), (8,), (-1, 1), True),
    }  # fmt: skip


E2E = [
    "requantize_mean",
    "residual_add_concat_mul",
    "activations_concat_const_mul_add",
    "pad_gap_mean",
    "padv2_3d_reduce_max",
    "space_to_batch_4d",
    "space_to_batch_3d",
    "conv1d",
    "conv1d_squeeze",
    "float_io",
]


@pytest.fixture(scope="module")
def e2e_models() -> dict[str, bytes]:
    import tensorflow as tf

    k = om.keras()
    out = {}
    for name, (build, shape, (lo, hi), fixed_batch) in _e2e_models().items():
        inp = k.Input(shape=shape, batch_size=1 if fixed_batch else None)
        model = k.Model(inp, build(inp), name=name)
        om.randomize(model, seed=3)

        def float_io(conv):
            conv.inference_input_type = tf.float32
            conv.inference_output_type = tf.float32

        out[name] = om.convert_keras(
            model,
            shape,
            data=om.representative(shape, low=lo, high=hi),
            post_process=float_io if name == "float_io" else None,
        )
    out["conv1d_squeeze"] = reshape_to_squeeze(out["conv1d"])  # fmt: skip
    return out


@pytest.mark.parametrize("name", E2E)
def test_compiled_model_bit_exact(e2e_models, tmp_path, name):
    """compile_aot + host build: identical outputs to TFLM on 100 seeded inputs."""
    data = e2e_models[name]
    ops = om.op_names(data)
    result = aot.compile_aot(data, tmp_path / name)
    runner = aot.build_host_runner(tmp_path / name)
    ref = reference.Reference(data)
    rng = np.random.default_rng(11)
    if ref.input_dtype == np.float32:
        # the model API passes bytes: float32 in, float32 out
        invoke = ctypes.CDLL(str(runner.path)).tfle_model_invoke
        xs = rng.normal(0, 1, size=(100, *ref.input_shape[1:])).astype(np.float32)
        expected = ref.run(xs)
        for x, e in zip(xs, expected, strict=True):
            y = np.zeros(e.size, np.float32)
            assert invoke(ptr(np.ascontiguousarray(x)), ptr(y)) == 0
            assert y.tobytes() == e.astype(np.float32).tobytes()
        assert {"QUANTIZE", "DEQUANTIZE"} <= set(ops)
    else:
        xs = rng.integers(-128, 128, size=(100, *ref.input_shape[1:]), dtype=np.int8)
        assert np.array_equal(runner.run(xs).reshape(-1), ref.run(xs).reshape(-1)), ops
    # every op of the model is one the test means to cover
    assert set(result.ops) <= set(aot.EMITTERS)
    expected_ops = {
        "requantize_mean": {"QUANTIZE", "LOGISTIC", "TANH", "CONCATENATION", "MEAN"},
        "residual_add_concat_mul": {"ADD", "CONCATENATION", "MUL"},
        "activations_concat_const_mul_add": {
            "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "CONCATENATION", "MUL", "ADD"},
        "pad_gap_mean": {"PAD", "MEAN"},
        "padv2_3d_reduce_max": {"PADV2", "REDUCE_MAX"},
        "space_to_batch_4d": {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"},
        "space_to_batch_3d": {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"},
        "conv1d": {"EXPAND_DIMS"},
        "conv1d_squeeze": {"EXPAND_DIMS", "SQUEEZE"},
        "float_io": {"QUANTIZE", "DEQUANTIZE"},
    }[name]  # fmt: skip
    assert expected_ops <= set(ops), ops


def test_aliases_take_no_memory_or_layer(e2e_models, tmp_path):
    """EXPAND_DIMS and SQUEEZE share their input's bytes in the plan and emit no layer."""
    data = e2e_models["conv1d_squeeze"]
    m = load_model(data)
    result = aot.compile_aot(data, tmp_path / "alias")
    for op in m.operators:
        if op.op in ("EXPAND_DIMS", "SQUEEZE", "RESHAPE"):
            assert result.plan[op.inputs[0]][0] == result.plan[op.outputs[0]][0]
    assert all(lay["op"] not in ("EXPAND_DIMS", "SQUEEZE") for lay in result.layers)


def test_dynamic_batch_space_to_batch_is_refused(tmp_path):
    """A dilated Conv1D converted with a dynamic batch has stale shapes: a clear error."""
    k = om.keras()
    inp = k.Input(shape=(10, 2))
    model = k.Model(inp, k.layers.Conv1D(3, 3, dilation_rate=2)(inp))
    data = om.convert_keras(model, (10, 2))
    assert "SPACE_TO_BATCH_ND" in om.op_names(data)
    with pytest.raises(UnsupportedOpError, match="fixed batch size of 1") as err:
        aot.compile_aot(data, tmp_path / "dyn")
    assert err.value.op == "SPACE_TO_BATCH_ND"
    assert "--runtime tflm" in str(err.value)
    assert not (tmp_path / "dyn" / "tfle_model.c").exists()


def test_fused_tanh_activation_is_refused_naming_the_op(templates, tmp_path):
    base = templates["ADD"]
    _, _, (_, b), _ = first_op(base)
    data = reshaped(base, {}, options={"fusedActivationFunction": 4})  # TANH
    data = constant_input(data, b.index, np.zeros(b.shape, np.int8))
    with pytest.raises(UnsupportedOpError, match=r"\(ADD\): a fused TANH activation") as err:
        aot.compile_aot(data, tmp_path / "tanh")
    assert err.value.op == "ADD"
    assert not (tmp_path / "tanh").exists()


def test_logistic_with_foreign_output_quantization_is_refused(unary_models, tmp_path):
    data = unary_models["LOGISTIC"]
    _, _, _, y = first_op(data)
    bad = requantized(data, {y.index: (1.0 / 128, 0)})
    with pytest.raises(UnsupportedOpError, match="TFLM requires") as err:
        aot.compile_aot(bad, tmp_path / "bad")
    assert err.value.op == "LOGISTIC"


# --------------------------------------------------------------------------- targets


def _arm(cpu: str, *extra: str) -> list[str]:
    return ["arm-none-eabi-gcc", "-std=c99", f"-mcpu={cpu}", "-mthumb", "-O2", "-Wall",
            "-Wextra", "-Werror", *extra]  # fmt: skip


@pytest.mark.parametrize(
    "flags",
    [
        ("cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        ("cortex-m4", "-mfloat-abi=soft"),
        ("cortex-m3",),
    ],
    ids=["m4-hardfp", "m4-softfp", "m3"],
)
def test_kernels_and_generated_model_build_for_cortex_m(e2e_models, tmp_path, flags):
    """The extra kernels and a generated model using them compile with arm-none-eabi-gcc."""
    assert shutil.which("arm-none-eabi-gcc"), "arm-none-eabi-gcc is required (Debian package)"
    sources = list(EXTRA_SOURCES)
    for name in ("activations_concat_const_mul_add", "float_io", "pad_gap_mean"):
        aot.compile_aot(e2e_models[name], tmp_path / name)
        sources.append(tmp_path / name / "tfle_model.c")
    for src in sources:
        obj = tmp_path / f"{src.parent.name}_{src.stem}.o"
        cmd = [*_arm(flags[0], *flags[1:]), f"-I{KERNELS}", f"-I{src.parent}", "-c", str(src),
               "-o", str(obj)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert obj.stat().st_size > 0


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m3"])
def test_compiled_model_on_emulated_board(e2e_models, tmp_path, board):
    """The firmware project of a model using these ops answers like TFLM on QEMU.

    Checks the known input's CRC32 record and 12 more inputs sent with `in` commands
    (firmware/harness/PROTOCOL.md).
    """
    import os
    import queue
    import signal
    import threading
    import zlib

    from tflite_edge import project

    assert shutil.which("qemu-system-arm"), "qemu-system-arm is required (Debian package)"
    data = e2e_models["requantize_mean"]
    ref = reference.Reference(data)
    out = tmp_path / board
    project.render(data, board=board, runtime="aot", out_dir=out, runs=1, profile=False)
    build = subprocess.run(["make", "-s", "-C", str(out)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]

    rng = np.random.default_rng(5)
    xs = rng.integers(-128, 128, size=(12, *ref.input_shape[1:]), dtype=np.int8)
    proc = subprocess.Popen(
        ["make", "-s", "-C", str(out), "run"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()

    def record(kind: str) -> dict[str, str]:
        while True:  # a hang ends in queue.Empty rather than a stuck suite
            line = lines.get(timeout=120).strip()
            if line.startswith(f"TFLE 1 {kind}"):
                return dict(f.split("=", 1) for f in line.split()[3:])

    try:
        crc = record("out")["crc32"]
        known = ref.run_one(known_input(load_model(data)))
        assert crc == f"{zlib.crc32(known.astype(np.int8).tobytes()):08x}"
        record("ready")
        for x in xs:
            proc.stdin.write(f"TFLE 1 in n={x.size} hex={x.tobytes().hex()}\n")
            proc.stdin.flush()
            got = bytes.fromhex(record("result")["hex"])
            assert got == ref.run_one(x).astype(np.int8).tobytes()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # make and the QEMU it started, nothing else
        proc.wait(timeout=30)


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH", "RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH"])
def test_unary_model_compiles_alone(unary_models, op, tmp_path):
    """Each unary op as the only op of a model: the generated C stands on its own."""
    x = np.arange(-128, 128, dtype=np.int8)
    shape = first_op(unary_models[op])[2][0].shape
    reps = int(np.prod(shape)) // x.size + 1
    compiled_matches(unary_models[op], np.tile(x, reps)[: int(np.prod(shape))].reshape(shape),
                     tmp_path)  # fmt: skip
