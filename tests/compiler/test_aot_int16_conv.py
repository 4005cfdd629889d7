"""16x8 models (int16 activations, int8 weights, int64 biases) in the AOT runtime: converted
single-op templates of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, the pools, QUANTIZE,
DEQUANTIZE, PAD/PADV2, CONCATENATION and RESHAPE, seeded shape/stride/padding variants, and a
whole 16x8 CNN from convert(activations="int16"), each bit-exact with the TFLM interpreter on
the host; one Cortex-M4 build."""

from __future__ import annotations

import copy
import functools
import shutil

import numpy as np
import pytest
from aot_ops_support import (
    edit_model,
    first_op,
    only_op,
    requantized,
    reshaped,
    tflite_schema,
)
from aot_support import arm_objects

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import load_model
from tflite_edge.reference import Reference

# --------------------------------------------------------------------------- models


@functools.cache
def cnn16() -> tuple[bytes, dict]:
    """A small 16x8 CNN from convert(activations="int16") holding every op family once:
    conv -> grouped conv -> depthwise -> pad -> average pool -> max pool -> (requantize) ->
    concatenation -> reshape -> dense. `templates` cuts it into single-op models."""
    from tflite_edge import convert

    k = om.keras()
    L = k.layers
    tf = om._tf()
    layers = [
        L.Conv2D(6, 3, padding="same", activation="relu"),
        L.Conv2D(4, 3, groups=2),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        L.ZeroPadding2D(((1, 2), (0, 1))),
        L.AveragePooling2D(3, 2, padding="same"),
        L.MaxPooling2D(2, 1),
        L.Lambda(lambda x: tf.concat([x, x], axis=-1)),
        L.Flatten(),
        L.Dense(6, activation="relu"),
    ]
    model = om.randomize(om.single_layer_model(layers, (10, 9, 3)), seed=3)
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, size=(32, 10, 9, 3)).astype(np.float32)
    result = convert(model, representative_data=xs, activations="int16")
    return result.tflite, result.metrics


def _other_scales(data: bytes, tensor: int) -> bytes:
    """The model with a weight tensor's per-channel scales made one (its first), or its one
    scale made per-channel (seeded, different scales for each output channel)."""

    def fn(mt):
        t = mt.subgraphs[0].tensors[tensor]
        q = t.quantization
        if len(q.scale) > 1:
            q.scale, q.zeroPoint, q.quantizedDimension = [float(q.scale[0])], [0], 0
        else:
            n = t.shape[0]
            q.scale = [float(q.scale[0]) * (0.5 + 0.25 * i) for i in range(n)]
            q.zeroPoint, q.quantizedDimension = [0] * n, 0

    return edit_model(data, fn)


def _retyped_quantize(data: bytes, kind: str) -> bytes:
    """The single int16 -> int16 QUANTIZE as QUANTIZE float32 -> int16 or as DEQUANTIZE."""
    schema = tflite_schema()

    def fn(mt):
        sg = mt.subgraphs[0]
        op = sg.operators[0]
        if kind == "dequantize":
            code = schema.OperatorCodeT()
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
            code.version = 2
            mt.operatorCodes.append(code)
            op.opcodeIndex = len(mt.operatorCodes) - 1
            op.builtinOptionsType, op.builtinOptions = 0, None
        t = sg.tensors[op.outputs[0] if kind == "dequantize" else op.inputs[0]]
        t.type, t.quantization = schema.TensorType.FLOAT32, None

    return edit_model(data, fn)


@functools.cache
def templates() -> dict[str, bytes]:
    """One single-op 16x8 model per op family, cut out of `cnn16` (built once per session)."""
    data = cnn16()[0]
    model = load_model(data)
    names = [op.op for op in model.operators]
    cut = {}
    for i, name in enumerate(names):
        key = {"CONV_2D": "conv" if "conv" not in cut else "conv_grouped"}.get(name, name.lower())
        cut.setdefault(key, only_op(data, i))  # the first QUANTIZE int16 -> int16 requantizes
    cut["concatenation"] = _one_input(cut["concatenation"])
    fc = model.operators[names.index("FULLY_CONNECTED")]
    cut["dense_other"] = _other_scales(cut["fully_connected"], fc.inputs[1])
    pad = only_op(data, names.index("PAD"))
    m, op, ins, out = first_op(pad)
    cut["padv2"] = _padv2(pad, ins[0].index, out.index)
    cut["quantize_f32"] = _retyped_quantize(cut["quantize"], "quantize")
    cut["dequantize"] = _retyped_quantize(cut["quantize"], "dequantize")
    return cut


def _one_input(data: bytes) -> bytes:
    """The two-input CONCATENATION reading its first input twice (one model input)."""

    def fn(mt):
        sg = mt.subgraphs[0]
        first = sg.operators[0].inputs[0]
        sg.operators[0].inputs = [first, first]
        sg.inputs = [first]

    return edit_model(data, fn)


def _padv2(data: bytes, x: int, y: int) -> bytes:
    """The PAD model as a PADV2 with an int16 pad value of 1234."""
    schema = tflite_schema()

    def fn(mt):
        sg = mt.subgraphs[0]
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.PADV2
        code.version = 1
        mt.operatorCodes.append(code)
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.array([1234], "<i2").tobytes(), np.uint8)
        mt.buffers.append(buf)
        t = schema.TensorT()
        t.shape, t.type, t.buffer, t.name = [1], schema.TensorType.INT16, len(mt.buffers) - 1, b"v"
        t.quantization = copy.deepcopy(sg.tensors[y].quantization)
        sg.tensors.append(t)
        op = sg.operators[0]
        op.opcodeIndex = len(mt.operatorCodes) - 1
        op.inputs = [*op.inputs[:2], len(sg.tensors) - 1]
        op.builtinOptionsType = schema.BuiltinOptions.PadV2Options
        op.builtinOptions = schema.PadV2OptionsT()

    return edit_model(data, fn)


def _ops(data: bytes) -> list[str]:
    return [op.op for op in load_model(data).operators]


def _inputs(ref: Reference, n: int, seed: int) -> np.ndarray:
    """n seeded inputs: the whole int16 range, then ones of a typical magnitude."""
    rng = np.random.default_rng(seed)
    shape = (n, *ref.input_shape)
    if ref.input_dtype == np.float32:
        return rng.uniform(-1.5, 1.5, size=shape).astype(np.float32)
    info = np.iinfo(ref.input_dtype)
    xs = rng.integers(info.min, info.max + 1, size=shape, dtype=ref.input_dtype)
    half = n // 2
    xs[half:] = np.clip(rng.normal(0, 3000, size=(n - half, *shape[1:])), info.min, info.max)
    return xs


def _bit_exact(data: bytes, out_dir, *, n: int = 12, seed: int = 0) -> None:
    """compile_aot + host build give TFLM's outputs for n seeded inputs."""
    aot.compile_aot(data, out_dir)
    runner = aot.build_host_runner(out_dir)
    ref = Reference(data)
    xs = _inputs(ref, n, seed)
    want = np.stack([ref.run_one(x) for x in xs])
    got = np.stack([runner.run_one(x) for x in xs]).reshape(want.shape)
    assert got.dtype == want.dtype
    bad = np.argwhere(got != want)
    assert bad.size == 0, f"{len(bad)} values differ, first at {bad[0].tolist()}"


def _out_size(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    eff = (k - 1) * dilation + 1
    return -(-size // stride) if padding == "SAME" else (size - eff) // stride + 1


PADDING = {"SAME": 0, "VALID": 1}

# --------------------------------------------------------------------------- conv family


def test_templates_are_16x8():
    t = templates()
    m, op, ins, out = first_op(t["conv"])
    assert op.op == "CONV_2D"
    assert (ins[0].dtype, ins[1].dtype, ins[2].dtype, out.dtype) == (
        np.int16, np.int8, np.int64, np.int16,
    )  # fmt: skip
    assert sorted(t) == sorted([
        "conv", "conv_grouped", "depthwise_conv_2d", "pad", "padv2", "average_pool_2d",
        "max_pool_2d", "concatenation", "reshape", "fully_connected", "dense_other",
        "quantize", "quantize_f32", "dequantize",
    ])  # fmt: skip
    assert first_op(t["conv_grouped"])[2][1].shape[3] == 3  # 6 channels in 2 groups
    assert _ops(t["padv2"]) == ["PADV2"] and _ops(t["pad"]) == ["PAD"]


def _conv_variants(key: str, seed: int, n: int):
    """Seeded input sizes, strides, dilations and paddings of a conv-like template."""
    data = templates()[key]
    m, op, ins, out = first_op(data)
    x, w = ins[0], ins[1]
    kh, kw = (w.shape[1], w.shape[2])
    rng = np.random.default_rng(seed)
    for _ in range(n):
        padding = str(rng.choice(["SAME", "VALID"]))
        sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
        dh, dw = (int(v) for v in rng.integers(1, 3, size=2))
        ih = int(rng.integers((kh - 1) * dh + 1, 12))
        iw = int(rng.integers((kw - 1) * dw + 1, 12))
        oh, ow = _out_size(ih, kh, sh, dh, padding), _out_size(iw, kw, sw, dw, padding)
        shapes = {x.index: (1, ih, iw, x.shape[3]), out.index: (1, oh, ow, out.shape[3])}
        opts = {"strideH": sh, "strideW": sw, "dilationHFactor": dh, "dilationWFactor": dw,
                "padding": PADDING[padding]}  # fmt: skip
        yield reshaped(data, shapes, options=opts)


@pytest.mark.parametrize("key", ["conv", "conv_grouped", "depthwise_conv_2d"])
def test_conv_family_bit_exact(key, tmp_path):
    data = templates()[key]
    _bit_exact(data, tmp_path / "t")
    for i, variant in enumerate(_conv_variants(key, seed=len(key), n=3)):
        _bit_exact(variant, tmp_path / f"v{i}", n=6, seed=i)


def test_conv_requantized_scales_and_activation(tmp_path):
    """Output scales that move the multiplier shift, and RELU6 / RELU_N1_TO_1 clamps."""
    data = templates()["conv"]
    m, op, ins, out = first_op(data)
    for i, (scale, act) in enumerate([(1e-4, 3), (0.5, 2), (3e-3, 0)]):
        variant = requantized(data, {out.index: (scale, 0)})
        variant = reshaped(variant, {}, options={"fusedActivationFunction": act})
        _bit_exact(variant, tmp_path / f"q{i}", n=6, seed=i)
    # one filter scale for every channel (per-tensor), conv and depthwise
    for key in ("conv", "depthwise_conv_2d"):
        m, op, ins, out = first_op(templates()[key])
        variant = _other_scales(templates()[key], ins[1].index)
        assert first_op(variant)[2][1].quantization.scale.size == 1
        _bit_exact(variant, tmp_path / f"t_{key}", n=6)


@pytest.mark.parametrize("key", ["fully_connected", "dense_other"])
def test_fully_connected_bit_exact(key, tmp_path):
    data = templates()[key]
    m, op, ins, out = first_op(data)
    per_channel = np.asarray(ins[1].quantization.scale).size > 1
    converted = first_op(templates()["fully_connected"])[2][1].quantization.scale.size > 1
    assert per_channel == (converted == (key == "fully_connected"))
    _bit_exact(data, tmp_path / "t", n=16)
    # more rows of the same weights
    rows = 3
    shapes = {ins[0].index: (rows, ins[1].shape[1]), out.index: (rows, ins[1].shape[0])}
    _bit_exact(reshaped(data, shapes), tmp_path / "rows", n=8, seed=1)


@pytest.mark.parametrize("key", ["average_pool_2d", "max_pool_2d"])
def test_pools_bit_exact(key, tmp_path):
    data = templates()[key]
    m, op, ins, out = first_op(data)
    _bit_exact(data, tmp_path / "t")
    rng = np.random.default_rng(len(key))
    for i in range(3):
        fh, fw, sh, sw = (int(v) for v in rng.integers(1, 4, size=4))
        padding = str(rng.choice(["SAME", "VALID"]))
        ih, iw = (int(v) for v in rng.integers(4, 11, size=2))
        c = int(rng.integers(1, 5))
        oh, ow = _out_size(ih, fh, sh, 1, padding), _out_size(iw, fw, sw, 1, padding)
        opts = {"filterHeight": fh, "filterWidth": fw, "strideH": sh, "strideW": sw,
                "padding": PADDING[padding], "fusedActivationFunction": int(i == 1)}  # fmt: skip
        shapes = {ins[0].index: (1, ih, iw, c), out.index: (1, oh, ow, c)}
        _bit_exact(reshaped(data, shapes, options=opts), tmp_path / f"v{i}", n=6, seed=i)


# --------------------------------------------------------------------------- data movement


def test_pad_padv2_bit_exact(tmp_path):
    for key in ("pad", "padv2"):
        data = templates()[key]
        m, op, ins, out = first_op(data)
        _bit_exact(data, tmp_path / key)
        pads = [[0, 0], [2, 0], [1, 3], [0, 1]]
        shape = tuple(ins[0].shape)
        grown = tuple(s + a + b for s, (a, b) in zip(shape, pads, strict=True))
        variant = reshaped(data, {out.index: grown}, consts={ins[1].index: pads})
        _bit_exact(variant, tmp_path / f"{key}_v", n=6, seed=1)
    m, op, ins, out = first_op(templates()["padv2"])
    assert int(np.asarray(ins[2].data).ravel()[0]) != 0  # a real pad value


def test_concatenation_and_reshape_bit_exact(tmp_path):
    data = templates()["concatenation"]
    m, op, ins, out = first_op(data)
    assert len(ins) == 2 and ins[0].dtype == np.int16 and out.dtype == np.int16
    _bit_exact(data, tmp_path / "concat")
    # along another axis
    x = tuple(ins[0].shape)
    grown = (x[0], 2 * x[1], *x[2:])
    _bit_exact(reshaped(data, {out.index: grown}, options={"axis": 1}), tmp_path / "axis1")
    _bit_exact(templates()["reshape"], tmp_path / "reshape")
    assert _ops(templates()["reshape"]) == ["RESHAPE"]


# --------------------------------------------------------------------------- QUANTIZE


def _quantize_op(kind: str) -> bytes:
    """A single QUANTIZE: the converter's int16 -> int16 one, retyped to float32 -> int16, or
    given int8/int16 tensors of other quantizations for the requantizing kinds."""
    if kind == "converted":  # the int16 -> int16 QUANTIZE the converter put before CONCATENATION
        return templates()["quantize"]
    if kind == "f32_s16":
        return templates()["quantize_f32"]
    data = templates()["quantize"]
    m, op, ins, out = first_op(data)
    schema = tflite_schema()
    types = {"s8_s16": (schema.TensorType.INT8, schema.TensorType.INT16),
             "s16_s8": (schema.TensorType.INT16, schema.TensorType.INT8),
             "s16_s16": (schema.TensorType.INT16, schema.TensorType.INT16)}  # fmt: skip
    tin, tout = types[kind]
    quant = {
        "s8_s16": {ins[0].index: (0.02, -5), out.index: (1.7e-4, 0)},
        "s16_s8": {ins[0].index: (1e-4, 0), out.index: (0.015, 3)},
        "s16_s16": {ins[0].index: (3e-4, 0), out.index: (1.3e-4, 0)},
    }[kind]
    return requantized(data, quant, types={ins[0].index: tin, out.index: tout})


@pytest.mark.parametrize("kind", ["f32_s16", "s8_s16", "s16_s8", "s16_s16", "converted"])
def test_quantize_bit_exact(kind, tmp_path):
    data = _quantize_op(kind)
    m, op, ins, out = first_op(data)
    assert op.op == "QUANTIZE"
    _bit_exact(data, tmp_path / kind, n=8)
    text = (tmp_path / kind / "tfle_model.c").read_text()
    fn = {"f32_s16": "quantize_f32_s16", "converted": "requant_s16_s16"}.get(
        kind, f"requant_{kind}"
    )
    assert f"tfle_{fn}(" in text


def test_dequantize_bit_exact(tmp_path):
    data = templates()["dequantize"]
    assert _ops(data) == ["DEQUANTIZE"]
    _bit_exact(data, tmp_path / "dq", n=8)
    assert "tfle_dequantize_s16_f32(" in (tmp_path / "dq" / "tfle_model.c").read_text()


# --------------------------------------------------------------------------- refusals


def test_refused_cases_name_what_and_why(tmp_path):
    conv = templates()["conv"]
    m, op, ins, out = first_op(conv)
    # nonzero int16 zero point: TFLM's int16 conv ignores zero points
    with pytest.raises(UnsupportedOpError, match="zero points 0/7"):
        aot.compile_aot(
            requantized(conv, {out.index: (float(out.quantization.scale[0]), 7)}), tmp_path / "zp"
        )
    # an int32 bias with int16 activations (TFLM's int32-accumulator path)
    schema = tflite_schema()

    def int32_bias(data: bytes) -> bytes:
        from aot_ops_support import edit_model

        def fn(mt):
            t = mt.subgraphs[0].tensors[ins[2].index]
            buf = mt.buffers[t.buffer]
            vals = np.frombuffer(bytes(buf.data), "<i8").astype("<i4")
            buf.data = np.frombuffer(vals.tobytes(), np.uint8)
            t.type = schema.TensorType.INT32

        return edit_model(data, fn)

    with pytest.raises(UnsupportedOpError, match="bias of type int32"):
        aot.compile_aot(int32_bias(conv), tmp_path / "b32")

    # the 16x8 converter leaves a PADV2 pad value float32, whose bytes TFLM reads as int16
    padv2 = templates()["padv2"]
    value = first_op(padv2)[2][2].index

    def float_value(mt):
        t = mt.subgraphs[0].tensors[value]
        t.type, t.quantization = schema.TensorType.FLOAT32, None
        mt.buffers[t.buffer].data = np.frombuffer(np.float32(0.25).tobytes(), np.uint8)

    with pytest.raises(UnsupportedOpError, match="pad value of type float32 for int16"):
        aot.compile_aot(edit_model(padv2, float_value), tmp_path / "pv")


# --------------------------------------------------------------------------- whole model


def test_whole_16x8_cnn_bit_exact_and_arm(tmp_path):
    data, metrics = cnn16()
    assert metrics["activations"] == "int16" and "int8_accuracy" not in metrics
    assert metrics["method"] == "PTQ" and metrics["tflm_missing_ops"] == []
    ops = _ops(data)
    for name in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D",
                 "FULLY_CONNECTED"):  # fmt: skip
        assert name in ops
    _bit_exact(data, tmp_path / "cnn", n=20)
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("arm-none-eabi-gcc is not on PATH")
    objs = arm_objects(tmp_path / "cnn", "cortex-m4")
    assert any(o.name == "tfle_conv_s16.o" for o in objs)
