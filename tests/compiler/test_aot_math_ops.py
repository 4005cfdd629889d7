"""The AOT math ops PRELU (int8; int16 with int8 alpha), ABS (int8, int16), RSQRT (int8),
ELU (int8), LOG_SOFTMAX (int8) and DIV (int8), bit-exact with the TFLM interpreter
(SQUARED_DIFFERENCE is an element-wise op of ops/elementwise.py, tested with SUB in
test_aot_int16_elementwise.py).

TFLM's quantized kernels for these ops (tensorflow/lite/micro/kernels), and what a Keras model
lowers to with the int8 converter:

    op            TFLM int8  TFLM int16          Keras / tf source      converter (int8)
    PRELU         yes        yes (int8 alpha)    layers.PReLU           PRELU
    RSQRT         yes        no (Prepare fails)  tf.math.rsqrt          RSQRT
    ABS           yes        yes (zero points 0) tf.abs                 ABS
    LOG_SOFTMAX   yes        no                  tf.nn.log_softmax      LOG_SOFTMAX
    ELU           yes (LUT)  no                  layers.ELU, "elu"      float ELU between
                                                                        DEQUANTIZE/QUANTIZE
    DIV           yes        no                  a / b                  DIV
    SQUARED_DIFF  yes        yes (zero points 0) tf.math.squared_diff.  SQUARED_DIFFERENCE
    EXP           no (float) no                  tf.exp                 int8 EXP (TFLM fails)
    NEG           no (float) no                  tf.negative            float NEG
    SQUARE        no (float) no                  tf.square              float SQUARE

Four small conversions (functools.cache) hold the ops; each is cut out as a one-op model and
a seeded generator rewrites its shapes, quantization and constants. TFLM judges every variant; our kernels run through ctypes with the parameters the emitters compute, and
compile_aot + gcc run a few end to end. The int8 ELU, which the converter never writes, is
the converted ABS model with its operator code changed (TFLM runs it)."""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest
from aot_ops_support import (
    ALL_INT8,
    KERNELS,
    Kernels,
    compiled_matches,
    constant_input,
    convert_two,
    edit_model,
    feeds_for,
    only_op,
    random_quant,
    requantized,
    struct,
    tflite_schema,
    tflm_run,
    two_input,
)
from aot_support import arm_objects, assert_bit_exact

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge.compiler.ops import div as div_op
from tflite_edge.compiler.ops import log_softmax as log_softmax_op
from tflite_edge.compiler.ops import prelu as prelu_op
from tflite_edge.compiler.ops import unary_math
from tflite_edge.compiler.ops.elementwise import broadcast_params
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import load_model

SOURCES = [KERNELS / f"tfle_{n}.c" for n in ("prelu", "unary_math", "log_softmax", "div")]
SHAPE = (4, 5, 6)


def _chain8(tf, k, x):
    a = k.layers.PReLU(
        alpha_initializer=k.initializers.RandomUniform(0.05, 0.6, seed=3), shared_axes=[1, 2]
    )(x)
    b = k.layers.Lambda(tf.abs)(a)
    c = k.layers.Lambda(lambda t: tf.math.rsqrt(t + 0.25))(b)
    return k.layers.Lambda(tf.nn.log_softmax)(c)


def _chain16(tf, k, x):
    return k.layers.Lambda(tf.abs)(x)


@functools.cache
def converted(dtype: str) -> bytes:
    """PRELU -> ABS -> ADD -> RSQRT -> LOG_SOFTMAX converted to int8, or ABS alone
    to 16x8 (the converter has no 16x8 PRELU, RSQRT, LOG_SOFTMAX)."""
    import tensorflow as tf

    k = om.keras()
    inp = k.Input(shape=SHAPE, batch_size=1)
    model = k.Model(inp, (_chain8 if dtype == "int8" else _chain16)(tf, k, inp))
    reps = om.representative(SHAPE, seed=1, samples=8, low=-2.0, high=2.0)

    def post(converter):
        if dtype == "int16":
            ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            converter.target_spec.supported_ops = [ops]
            converter.inference_input_type = converter.inference_output_type = tf.int16

    return om.convert_keras(model, data=reps, post_process=post)


@functools.cache
def template(op: str, dtype: str = "int8") -> bytes:
    """The one-op model of `op`; the int16 PRELU is the int8 one with int16 activations
    (alpha stays int8, as TFLM's int16 PRELU reads it)."""
    if op == "PRELU" and dtype == "int16":
        schema = tflite_schema()
        _, xi, _, yi = io(template("PRELU"))
        int16 = schema.TensorType.INT16
        return requantized(template("PRELU"), {}, {xi: int16, yi: int16})
    data = converted(dtype)
    ops = [o.op for o in load_model(data).operators]
    assert op in ops, ops
    return only_op(data, ops.index(op))


def with_opcode(data: bytes, name: str) -> bytes:
    """The one-op model with its operator code replaced (ABS -> ELU: both optionless)."""
    schema = tflite_schema()

    def fn(mt):
        code = mt.operatorCodes[mt.subgraphs[0].operators[0].opcodeIndex]
        code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, name)
        code.version = 1

    return edit_model(data, fn)


def with_tensors(data: bytes, shapes: dict, consts: dict | None = None) -> bytes:
    """Tensor shapes replaced; constants' (int8) contents and shapes replaced."""

    def fn(mt):
        tensors = mt.subgraphs[0].tensors
        for idx, shape in shapes.items():
            tensors[idx].shape = [int(d) for d in shape]
            tensors[idx].shapeSignature = None
        for idx, values in (consts or {}).items():
            arr = np.ascontiguousarray(values, dtype=np.int8)
            tensors[idx].shape = list(arr.shape)
            tensors[idx].shapeSignature = None
            mt.buffers[tensors[idx].buffer].data = np.frombuffer(arr.tobytes(), np.uint8)

    return edit_model(data, fn)


def io(data: bytes):
    m = load_model(data)
    op = m.operators[0]
    return m, op.inputs[0], op.inputs[1] if len(op.inputs) > 1 else None, op.outputs[0]


def values(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape, dtype=dtype)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The three kernel files built for the host with warnings as errors."""
    out = tmp_path_factory.mktemp("mathops") / "libtfle_mathops.so"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared",
           "-fPIC", f"-I{KERNELS}", *map(str, SOURCES), "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Kernels(out)


def host_compiles_strictly(out_dir) -> None:
    """The generated tfle_model.c compiles with gcc -Wall -Wextra -Werror."""
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{out_dir}", f"-I{KERNELS}",
           "-c", str(out_dir / "tfle_model.c"), "-o", str(out_dir / "strict.o")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- PRELU


def _alpha_shape(rng, shape):
    """A shape that broadcasts to `shape`: some dimensions 1, maybe fewer of them."""
    drop = int(rng.integers(0, len(shape)))
    sub = list(shape[drop:])
    return tuple(d if rng.random() < 0.5 else 1 for d in sub)


def test_generated_prelu(lib, tmp_path):
    rng = np.random.default_rng(11)
    for case in range(24):
        dtype = np.int16 if case % 3 == 2 else np.int8
        data = template("PRELU", "int16" if dtype == np.int16 else "int8")
        m, xi, ai, yi = io(data)
        shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 5))))
        ashape = _alpha_shape(rng, shape)
        alpha = values(rng, ashape, np.int8)
        (xs, xz), (as_, az), (ys, yz) = random_quant(rng, 3)
        if dtype == np.int16:
            xz = yz = 0
        data = requantized(
            with_tensors(data, {xi: shape, yi: shape}, {ai: alpha}),
            {xi: (xs, xz), ai: (as_, az), yi: (ys, yz)},
        )
        x = values(rng, shape, dtype)
        want = tflm_run(data, [x]).ravel()
        p = prelu_op.prelu_params(xs, xz, as_, az, ys, yz, dtype)
        bc = broadcast_params(shape, ashape, shape)
        got = np.zeros(x.size, dtype)
        fn = "tfle_prelu_s8" if dtype == np.int8 else "tfle_prelu_s16"
        lib(fn, struct("tfle_prelu_params", p), struct("tfle_bcast", bc), x.ravel(), alpha, got)
        assert np.array_equal(got, want), (case, shape, ashape)
        if case in (0, 2):
            compiled_matches(data, x, tmp_path / f"prelu{case}")


def test_prelu_keras_model_bit_exact(tmp_path):
    """The converted Keras PReLU (alpha shared over H and W) on 100 random inputs."""
    assert_bit_exact(template("PRELU"), tmp_path / "prelu")


# --------------------------------------------------------------------------- ABS, RSQRT, ELU


def _unary_variants(op: str, dtype, n: int, seed: int):
    rng = np.random.default_rng(seed)
    if op == "ELU":
        base = with_opcode(template("ABS"), "ELU")
    else:
        base = template(op, "int16" if dtype == np.int16 else "int8")
    for case in range(n):
        _, xi, _, yi = io(base)
        (xs, xz), (ys, yz) = random_quant(rng, 2)
        if case % 4 == 3:
            ys = xs  # ABS without rescaling
        if dtype == np.int16:
            xz = yz = 0
        shape = (int(rng.integers(1, 5)), 256) if dtype == np.int8 else (2, 1000)
        data = requantized(with_tensors(base, {xi: shape, yi: shape}), {xi: (xs, xz), yi: (ys, yz)})
        yield case, data, shape, (xs, xz, ys, yz)


def _every_value(dtype, shape, rng):
    if dtype == np.int8:
        return np.broadcast_to(ALL_INT8, shape).copy()
    return values(rng, shape, dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.int16], ids=["int8", "int16"])
def test_generated_abs(lib, tmp_path, dtype):
    rng = np.random.default_rng(5)
    for case, data, shape, (xs, xz, ys, yz) in _unary_variants("ABS", dtype, 12, 21):
        x = _every_value(dtype, shape, rng)
        if dtype == np.int16:
            x.ravel()[:4] = [-32768, 32767, 0, -1]
        want = tflm_run(data, [x]).ravel()
        p = unary_math.abs_params(x.size, xs, xz, ys, yz, dtype)
        got = np.zeros(x.size, dtype)
        lib("tfle_abs_s8" if dtype == np.int8 else "tfle_abs_s16",
            struct("tfle_unary_math_params", p), x.ravel(), got)  # fmt: skip
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (case, xs, ys, x.ravel()[bad[:5]], got[bad[:5]], want[bad[:5]])
        if case == 3:
            compiled_matches(data, x, tmp_path / f"abs{case}")


def test_generated_rsqrt(lib, tmp_path):
    """Every input at or above the zero point (TFLM stops with an error below it)."""
    rng = np.random.default_rng(6)
    for case, data, shape, (xs, xz, ys, yz) in _unary_variants("RSQRT", np.int8, 16, 31):
        x = np.broadcast_to(np.arange(-128, 128), shape).astype(np.int8)
        x = np.maximum(x, np.int8(xz))
        rng.shuffle(x, axis=-1)
        want = tflm_run(data, [x]).ravel()
        p = unary_math.rsqrt_params(x.size, xs, xz, ys, yz)
        got = np.zeros(x.size, np.int8)
        lib("tfle_rsqrt_s8", struct("tfle_unary_math_params", p), x.ravel(), got)
        assert np.array_equal(got, want), case
        if case == 0:
            compiled_matches(data, x, tmp_path / "rsqrt")


def test_rsqrt_keras_model_end_to_end(tmp_path):
    """The converted tf.math.rsqrt on 100 random inputs clipped to the valid range."""
    data = template("RSQRT")
    _, xi, _, _ = io(data)
    zp = load_model(data).tensors[xi].quantization.zero_point.ravel()[0]
    aot.compile_aot(data, tmp_path / "rsqrt")
    runner = aot.build_host_runner(tmp_path / "rsqrt")
    rng = np.random.default_rng(8)
    for _ in range(20):
        x = np.maximum(values(rng, (1, *SHAPE), np.int8), np.int8(zp))
        assert np.array_equal(runner.run_one(x).ravel(), tflm_run(data, [x]).ravel())


def test_generated_elu(lib, tmp_path):
    """The 256-entry table of every variant against TFLM on every int8 input."""
    for case, data, shape, (xs, xz, ys, yz) in _unary_variants("ELU", np.int8, 40, 41):
        x = _every_value(np.int8, shape, None)
        want = tflm_run(data, [x]).ravel()
        table = unary_math.elu_table(xs, xz, ys, yz)
        got = np.zeros(x.size, np.int8)
        lib("tfle_lut_s8", int(x.size), table, x.ravel(), got)
        assert np.array_equal(got, want), case
        if case == 1:
            compiled_matches(data, x, tmp_path / "elu")
            host_compiles_strictly(tmp_path / "elu")


# --------------------------------------------------------------------------- LOG_SOFTMAX


def test_generated_log_softmax(lib, tmp_path):
    rng = np.random.default_rng(13)
    base = template("LOG_SOFTMAX")
    _, xi, _, yi = io(base)
    for case in range(24):
        shape = tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(1, 4))))
        shape = (*shape[:-1], int(rng.choice([1, 2, 5, 10, 33, 100])))
        ((xs, xz),) = random_quant(rng, 1)
        xs = float(np.float32(xs * 30))  # scales up to ~10 (diff_min bites), down to ~0.01
        data = requantized(with_tensors(base, {xi: shape, yi: shape}), {xi: (xs, xz)})
        x = values(rng, shape, np.int8)
        if case % 4 == 1:
            x.reshape(-1, shape[-1])[:, 0] = 127  # one large value per row
        want = tflm_run(data, [x]).ravel()
        p = log_softmax_op.log_softmax_params(shape, xs)
        got = np.zeros(x.size, np.int8)
        lib("tfle_log_softmax_s8", struct("tfle_log_softmax_params", p), x.ravel(), got)
        assert np.array_equal(got, want), (case, shape, xs)
        if case == 0:
            compiled_matches(data, x, tmp_path / "log_softmax")


# --------------------------------------------------------------------------- DIV


@functools.cache
def div_template() -> bytes:
    """a / b of two (2, 3, 4) inputs, b in [0.5, 2], converted to int8 (one DIV)."""
    model = two_input(lambda t: t[0] / t[1], (2, 3, 4), (2, 3, 4))
    data = convert_two(model, (2, 3, 4), (2, 3, 4), 4, ((-2, 2), (0.5, 2)))
    assert [o.op for o in load_model(data).operators] == ["DIV"]
    return data


def test_generated_div(lib, tmp_path):
    """Random shapes broadcast either way, quantizations and fused activations; divisors
    never equal to their zero point (TFLM's division is undefined there)."""
    schema = tflite_schema()
    acts = [schema.ActivationFunctionType.NONE, schema.ActivationFunctionType.RELU,
            schema.ActivationFunctionType.RELU6]  # fmt: skip
    rng = np.random.default_rng(17)
    base = div_template()
    m = load_model(base)
    ai, bi = m.operators[0].inputs
    yi = m.operators[0].outputs[0]
    checked = 0
    for case in range(40):
        shape = tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(1, 5))))
        other = _alpha_shape(rng, shape)
        sa, sb = (shape, other) if case % 2 else (other, shape)
        (s1, z1), (s2, z2), (so, zo) = random_quant(rng, 3)
        act = acts[case % 3]
        data = requantized(
            with_tensors(base, {ai: sa, bi: sb, yi: shape}),
            {ai: (s1, z1), bi: (s2, z2), yi: (so, zo)},
        )
        data = _with_activation(data, act)
        p = div_op.div_params(s1, z1, s2, z2, so, zo, *_act_range(act, so, zo))
        if p["shift"] > 23:
            with pytest.raises(UnsupportedOpError, match="too large"):
                aot.compile_aot(data, tmp_path / "refused")
            continue
        a = values(rng, sa, np.int8)
        b = values(rng, sb, np.int8)
        b[b == z2] = np.int8(z2 + 1 if z2 < 127 else z2 - 1)
        m2 = load_model(data)
        want = tflm_run(data, feeds_for(m2, [m2.tensors[ai], m2.tensors[bi]], [a, b])).ravel()
        bc = broadcast_params(sa, sb, shape)
        got = np.zeros(int(np.prod(shape)), np.int8)
        lib("tfle_div_s8", struct("tfle_div_params", p), struct("tfle_bcast", bc),
            a.ravel(), b.ravel(), got)  # fmt: skip
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (case, sa, sb, got[bad[:5]], want[bad[:5]])
        checked += 1
    assert checked >= 30, checked


def _with_activation(data: bytes, act: int) -> bytes:
    def fn(mt):
        mt.subgraphs[0].operators[0].builtinOptions.fusedActivationFunction = act

    return edit_model(data, fn)


def _act_range(act: int, scale: float, zp: int) -> tuple[int, int]:
    from tflite_edge.model import quant

    name = {0: "NONE", 1: "RELU", 3: "RELU6"}[act]
    return quant.activation_range(name, np.int8, scale, zp)


def test_div_by_constant_end_to_end_and_cortex_m4(tmp_path):
    """The converted a / b with b a constant (no element at its zero point): compiled for the
    host (-Werror) and run on 20 inputs against TFLM, and built for cortex-m4."""
    data = div_template()
    m = load_model(data)
    ai, bi = m.operators[0].inputs
    zb = m.tensors[bi].quantization.zero_point.ravel()[0]
    rng = np.random.default_rng(19)
    b = values(rng, m.tensors[bi].shape, np.int8)
    b[b == zb] = np.int8(zb + 1 if zb < 127 else zb - 1)
    data = constant_input(data, bi, b)
    aot.compile_aot(data, tmp_path / "div")
    runner = aot.build_host_runner(tmp_path / "div")
    for _ in range(20):
        a = values(rng, m.tensors[ai].shape, np.int8)
        assert np.array_equal(runner.run_one(a).ravel(), tflm_run(data, [a]).ravel())
    host_compiles_strictly(tmp_path / "div")
    assert "tfle_div" in {o.stem for o in arm_objects(tmp_path / "div", "cortex-m4")}


# --------------------------------------------------------------------------- whole models


def test_keras_chain_bit_exact_and_builds_for_cortex_m4(tmp_path):
    """PReLU -> abs -> rsqrt -> log_softmax as converted, over 100 random inputs: compiled for
    the host (-Werror) and for cortex-m4 with arm-none-eabi-gcc."""
    data = converted("int8")
    assert [o.op for o in load_model(data).operators] == [
        "PRELU", "ABS", "ADD", "RSQRT", "LOG_SOFTMAX"
    ]  # fmt: skip
    assert_bit_exact(data, tmp_path / "chain")
    host_compiles_strictly(tmp_path / "chain")
    assert len(arm_objects(tmp_path / "chain", "cortex-m4")) > 1


def test_int16_keras_abs_bit_exact(tmp_path):
    """The 16x8 conversion of tf.abs, compiled and run on 20 random int16 inputs."""
    data = converted("int16")
    assert [o.op for o in load_model(data).operators] == ["ABS"]
    aot.compile_aot(data, tmp_path / "abs16")
    runner = aot.build_host_runner(tmp_path / "abs16")
    rng = np.random.default_rng(9)
    for _ in range(20):
        x = values(rng, (1, *SHAPE), np.int16)
        assert np.array_equal(runner.run_one(x).ravel(), tflm_run(data, [x]).ravel())


# --------------------------------------------------------------------------- refusals


def test_refusals(tmp_path):
    """What TFLM refuses or computes otherwise is refused by name, and nothing is written."""
    out = tmp_path / "out"
    ls = template("LOG_SOFTMAX")
    _, xi, _, yi = io(ls)
    cases = [
        (requantized(ls, {yi: (0.05, 127)}), "TFLM requires"),  # LOG_SOFTMAX output scale
        (
            requantized(
                template("ABS", "int16"),
                {xi_: (0.01, 3) for xi_ in [io(template("ABS", "int16"))[1]]},
            ),
            "zero points other than 0",
        ),
    ]
    schema = tflite_schema()
    rs = template("RSQRT")
    _, ri, _, ro = io(rs)
    cases.append(
        (requantized(rs, {}, {ri: schema.TensorType.INT16, ro: schema.TensorType.INT16}), "int16")
    )  # TFLM's RSQRT Prepare refuses int16
    pr = template("PRELU", "int16")
    _, _, pa, _ = io(pr)
    cases.append((requantized(pr, {}, {pa: schema.TensorType.UINT8}), "int8"))  # alpha uint8
    for data, match in cases:
        with pytest.raises(UnsupportedOpError, match=match):
            aot.compile_aot(data, out)
        assert not out.exists()
