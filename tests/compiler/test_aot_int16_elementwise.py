"""16x8 quantization (int16 activations) of the element-wise ops in the AOT runtime, and SUB /
SQUARED_DIFFERENCE in int8: kernels called through ctypes on seeded shape and quantization
variants of converted single-op templates, compile_aot end to end, one multi-op int16 model
bit-exact on 100 inputs and built for Cortex-M4, and the int16 cases TFLM refuses, refused.
Every expected value comes from the TFLM interpreter."""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest
from aot_ops_support import (
    ACTIVATIONS,
    EXTRA_SOURCES,
    KERNELS,
    Kernels,
    compiled_matches,
    constant_input,
    edit_model,
    feeds_for,
    first_op,
    keras_single,
    random_quant,
    requantized,
    reshaped,
    struct,
    tflite_schema,
    tflm_run,
    two_input,
)
from aot_support import arm_objects

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge import reference
from tflite_edge.compiler.ops import activations as activations_op
from tflite_edge.compiler.ops import elementwise as elementwise_op
from tflite_edge.compiler.ops import reduce as reduce_op
from tflite_edge.compiler.ops import softmax as softmax_op
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model.quant import quantize_value

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
TFLITE_INT16, TFLITE_INT8 = 7, 9  # schema TensorType


def _convert(model, reps: list[list[np.ndarray]]) -> bytes:
    """16x8 .tflite of a Keras model (int16 activations and input/output, int8 weights);
    `reps` holds one list of input arrays per representative sample."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(reps)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]
    converter.inference_input_type = converter.inference_output_type = tf.int16
    return bytes(converter.convert())


def with_builtin(data: bytes, op: str) -> bytes:
    """The single-op model with its operator's builtin code replaced (for ops without
    options, such as LOGISTIC -> TANH)."""
    schema = tflite_schema()

    def fn(mt):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, op)
        code.version = 1
        mt.operatorCodes.append(code)
        mt.subgraphs[0].operators[0].opcodeIndex = len(mt.operatorCodes) - 1

    return edit_model(data, fn)


@functools.cache
def templates() -> dict[str, bytes]:
    """Single-op models per (op, type), built once per session: converted 16x8 models of
    the binary ops, LOGISTIC, LEAKY_RELU, SOFTMAX and MEAN; the other option-less unary ops
    are LOGISTIC's model with another builtin code, the int8 SUB / SQUARED_DIFFERENCE the
    int16 ones with int8 tensors (every test sets all their quantizations)."""
    import tensorflow as tf

    k = om.keras()
    L = k.layers
    rng = np.random.default_rng(0)
    shape = (4, 6)

    def sample(*ranges):
        return [
            [rng.uniform(lo, hi, size=(1, *shape)).astype(np.float32) for lo, hi in ranges]
            for _ in range(16)
        ]

    one, two = sample((-4, 4)), sample((-4, 4), (-2, 2))
    binary = {
        "ADD": lambda t: t[0] + t[1],
        "SUB": lambda t: t[0] - t[1],
        "MUL": lambda t: t[0] * t[1],
        "SQUARED_DIFFERENCE": lambda t: tf.math.squared_difference(t[0], t[1]),
    }
    unary = {
        "LOGISTIC": lambda x: L.Activation("sigmoid")(x),
        "LEAKY_RELU": lambda x: L.LeakyReLU(0.2)(x),
        "SOFTMAX": lambda x: L.Softmax()(x),
        "MEAN": lambda x: L.Lambda(lambda v: tf.reduce_mean(v, axis=-1))(x),
    }
    out = {}
    for op, fn in binary.items():
        out[op, "int16"] = _convert(two_input(fn, shape, shape), two)
    for op, fn in unary.items():
        out[op, "int16"] = _convert(keras_single(fn, shape), one)
    for (op, _), data in out.items():
        assert om.op_names(data) == [op], (op, om.op_names(data))
    for op in ("RELU", "RELU6", "TANH", "HARD_SWISH"):
        out[op, "int16"] = with_builtin(out["LOGISTIC", "int16"], op)
    for op in ("SUB", "SQUARED_DIFFERENCE"):
        _, _, (a, b), y = first_op(out[op, "int16"])
        int8 = {t.index: TFLITE_INT8 for t in (a, b, y)}
        out[op, "int8"] = requantized(out[op, "int16"], {}, types=int8)
    return out


@functools.cache
def e2e_model() -> bytes:
    """A 16x8 model chaining the int16 ops: LEAKY_RELU, ADD (constant), LOGISTIC, SUB, MUL,
    TANH, SOFTMAX."""
    import tensorflow as tf

    k = om.keras()
    shape = (3, 8)
    inp = k.Input(shape=shape, batch_size=1)
    bias = tf.constant(np.linspace(-1, 1, 8, dtype=np.float32))
    a = k.layers.LeakyReLU(0.3)(inp)
    b = k.layers.Activation("sigmoid")(k.layers.Lambda(lambda t: t + bias)(a))
    c = k.layers.Lambda(lambda t: (t[0] - t[1]) * t[1])([b, inp])
    y = k.layers.Softmax()(k.layers.Activation("tanh")(c))
    reps = [[x] for x in om.representative(shape, low=-3.0, high=3.0)]
    data = _convert(k.Model(inp, y), reps)
    assert {"LEAKY_RELU", "ADD", "LOGISTIC", "SUB", "MUL", "TANH", "SOFTMAX"} <= set(
        om.op_names(data)
    ), om.op_names(data)
    return data


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Kernels:
    """The tfle_extra kernels built for the host (warnings are errors)."""
    out = tmp_path_factory.mktemp("extra16") / "libtfle_extra16.so"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared",
           "-fPIC", f"-I{KERNELS}", *map(str, EXTRA_SOURCES), "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Kernels(out)


def _quant16(rng, n: int, zero_zp: bool = True) -> list[tuple[float, int]]:
    """n seeded int16 (scale, zero point) pairs; zero points 0 unless zero_zp is False."""
    scales = 10.0 ** rng.uniform(-5.0, -2.0, size=n)
    zps = [0] * n if zero_zp else [int(z) for z in rng.integers(-1000, 1001, size=n)]
    return [(float(np.float32(s)), z) for s, z in zip(scales, zps, strict=True)]


def _broadcast_pair(rng, max_rank: int):
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


BINARY = [
    ("ADD", "int16"),
    ("SUB", "int8"),
    ("SUB", "int16"),
    ("MUL", "int16"),
    ("SQUARED_DIFFERENCE", "int8"),
    ("SQUARED_DIFFERENCE", "int16"),
]


@pytest.mark.parametrize("op,dtype", BINARY, ids=[f"{o}-{d}" for o, d in BINARY])
def test_binary_kernels(lib, op, dtype, tmp_path):
    """Random broadcast shapes (ranks 1-5, and one case of 65536 elements), quantizations and
    fused activations; every ninth case compiled end to end with the second input a
    constant."""
    base = templates()[op, dtype]
    _, _, (a, b), y = first_op(base)
    np_type = np.dtype(dtype)
    info = np.iinfo(np_type)
    rng = np.random.default_rng(30 + BINARY.index((op, dtype)))
    kind = op.lower()
    for case in range(18):
        s1, s2, so = _broadcast_pair(rng, 5)
        if case in (1, 2, 3):  # 65536 pairs: rounding ties tell float32 from double params
            s1 = s2 = so = [4096, 16]
        options = {}
        act = "NONE"
        if op != "SQUARED_DIFFERENCE":
            act = str(rng.choice(list(ACTIVATIONS)))
            options = {"fusedActivationFunction": ACTIVATIONS[act]}
        if dtype == "int8":
            q1, q2, qo = random_quant(rng, 3)
        else:  # MUL and SQUARED_DIFFERENCE require zero points 0 in int16; ADD/SUB do not
            q1, q2, qo = _quant16(rng, 3, zero_zp=op in ("MUL", "SQUARED_DIFFERENCE"))
        data = reshaped(base, {a.index: s1, b.index: s2, y.index: so}, options=options)
        data = requantized(data, {a.index: q1, b.index: q2, y.index: qo})
        mm, _, (at, bt), yt = first_op(data)
        x1 = rng.integers(info.min, info.max + 1, size=s1, dtype=np_type)
        x2 = rng.integers(info.min, info.max + 1, size=s2, dtype=np_type)
        expected = tflm_run(data, feeds_for(mm, [at, bt], [x1, x2]))
        if op == "SQUARED_DIFFERENCE":
            values = elementwise_op.squared_difference_params(at, bt, yt)
        else:
            fn = getattr(elementwise_op, f"{kind}_params")
            values = fn(at, bt, yt, act)
        sname = "tfle_mul_params" if op == "MUL" else "tfle_add_params"
        bcast = elementwise_op.broadcast_params(tuple(s1), tuple(s2), tuple(so))
        ours = np.zeros(int(np.prod(so)), np_type)
        suffix = "s16" if dtype == "int16" else "s8"
        lib(f"tfle_{kind}_{suffix}", struct(sname, values), struct("tfle_bcast", bcast),
            x1.ravel(), x2.ravel(), ours)  # fmt: skip
        assert np.array_equal(ours, expected.ravel()), (s1, s2, act, q1, q2, qo)
        if case % 9 == 0:
            compiled_matches(constant_input(data, b.index, x2), x1, tmp_path / f"b{case}")


def _unary_variant(base, rng, op, case):
    """The template with all 65536 int16 values as its input and a seeded quantization."""
    _, _, ins, y = first_op(base)
    x = ins[0]
    data = reshaped(base, {x.index: (1, ALL_INT16.size), y.index: (1, ALL_INT16.size)})
    if op in ("LOGISTIC", "TANH"):
        # power-of-two input scales take TFLM's "POT" path, the others its general one;
        # 4e-4 reaches past the table's end (|x| > 10.7), so every entry is used
        pot = {0: 2.0**-12, 1: 2.0**-11, 2: 2.0**-13, 3: 4e-4}
        si = pot.get(case, float(np.float32(10.0 ** rng.uniform(-4.5, -3.0))))
        quant = {x.index: (si, 0), y.index: (2.0**-15, 0)}
    else:
        (qi, qo) = _quant16(rng, 2)
        quant = {x.index: qi, y.index: qo}
    options = {"alpha": float(rng.uniform(0.01, 0.9))} if op == "LEAKY_RELU" else None
    if options:
        data = reshaped(data, {}, options=options)
    return requantized(data, quant)


UNARY = ["RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH"]


@pytest.mark.parametrize("op", UNARY)
def test_unary_kernels_on_every_int16_value(lib, op, tmp_path):
    """Every int16 input under seeded quantizations (and alphas); the first variant also
    compiled end to end."""
    base = templates()[op, "int16"]
    rng = np.random.default_rng(UNARY.index(op) + 40)
    for case in range(5):
        data = _unary_variant(base, rng, op, case)
        m, o, (xt, *_), yt = first_op(data)
        expected = tflm_run(data, [ALL_INT16.reshape(1, -1)]).ravel()
        ours = np.zeros(ALL_INT16.size, np.int16)
        if op == "RELU":
            lib("tfle_relu_s16",
                struct("tfle_requant_params", activations_op.relu16_params(xt, yt)),
                ALL_INT16, ours)  # fmt: skip
        elif op == "RELU6":
            six = quantize_value(6.0, float(xt.quantization.scale[0]), 0)
            lib("tfle_clamp_s16", ALL_INT16.size, 0, min(six, 32767), ALL_INT16, ours)
        elif op == "LEAKY_RELU":
            values = activations_op.leaky_relu_params(xt, yt, o.options["alpha"])
            lib("tfle_leaky_relu_s16", struct("tfle_leaky_relu_params", values), ALL_INT16, ours)
        else:
            values = activations_op.sigmoid16_params(xt, yt, op.lower())
            lib(f"tfle_{op.lower()}_s16", struct("tfle_sigmoid16_params", values),
                activations_op.sigmoid16_table(), ALL_INT16, ours)  # fmt: skip
        assert np.array_equal(ours, expected), (op, case, int((ours != expected).sum()))
        if case == 0:
            compiled_matches(data, ALL_INT16.reshape(1, -1), tmp_path / f"u{case}")


def test_softmax16_tables_shape_and_ends():
    """The two tables have TFLM's 513 entries; exp(0) and 1 / (1 + 0) are one in Q0.15."""
    exp_lut, recip = softmax_op.softmax16_tables()
    assert exp_lut.shape == recip.shape == (513,)
    assert exp_lut[-1] == 32767 and recip[0] == 32767
    assert np.all(np.diff(exp_lut.astype(np.int32)) >= 0)
    assert np.all(np.diff(recip.astype(np.int32)) <= 0)


def test_softmax16_kernel(lib, tmp_path):
    """Random ranks, depths, input scales and betas, random int16 inputs."""
    base = templates()["SOFTMAX", "int16"]
    _, _, (x,), y = first_op(base)
    rng = np.random.default_rng(50)
    exp_lut, recip = softmax_op.softmax16_tables()
    for case in range(16):
        shape = [1] + [int(d) for d in rng.integers(1, 7, size=int(rng.integers(1, 3)))]
        shape[-1] = int(rng.integers(1, 40)) if case != 1 else 700  # a long row's sum
        beta = float(np.float32(rng.uniform(0.3, 2.0))) if case % 2 else 1.0
        si = float(np.float32(10.0 ** rng.uniform(-4.5, -2.5)))
        data = reshaped(base, {x.index: shape, y.index: shape}, options={"beta": beta})
        data = requantized(data, {x.index: (si, 0), y.index: (1.0 / 32768, 0)})
        xs = rng.integers(-32768, 32768, size=shape, dtype=np.int16)
        expected = tflm_run(data, [xs]).ravel()
        depth = shape[-1]
        values = softmax_op.softmax16_params(si, beta, xs.size // depth, depth)
        ours = np.zeros(xs.size, np.int16)
        lib("tfle_softmax_s16", struct("tfle_softmax16_params", values), exp_lut, recip,
            xs.ravel(), ours)  # fmt: skip
        assert np.array_equal(ours, expected), (shape, beta, si)
        if case % 8 == 0:
            compiled_matches(data, xs, tmp_path / f"s{case}")


def test_mean16_kernel(lib, tmp_path):
    """Ranks 1-4, one or two axes (negative, repeated), keep_dims either way."""
    base = templates()["MEAN", "int16"]
    _, _, (x, axes), y = first_op(base)
    rng = np.random.default_rng(60)
    for case in range(16):
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
        qi, qo = _quant16(rng, 2)
        data = requantized(data, {x.index: qi, y.index: qo})
        _, _, (xt, _), yt = first_op(data)
        xs = rng.integers(-32768, 32768, size=shape, dtype=np.int16)
        expected = tflm_run(data, [xs]).ravel()
        rshape = struct("tfle_reduce_shape", reduce_op.reduce_shape(tuple(shape), resolved))
        p = reduce_op.mean_params(xt, yt, int(np.prod([shape[d] for d in resolved])))
        ours = np.zeros(max(int(np.prod(out)), 1), np.int16)
        lib("tfle_mean_s16", struct("tfle_mean_params", p), rshape, xs.ravel(), ours)
        assert np.array_equal(ours, expected), (shape, ax, keep)
        if case % 8 == 0:
            compiled_matches(data, xs, tmp_path / f"m{case}")


def test_int16_model_bit_exact_and_builds_for_cortex_m4(tmp_path):
    """A chain of the int16 ops: identical to TFLM on 100 seeded inputs; the generated C and
    the kernels compile with arm-none-eabi-gcc for cortex-m4."""
    data = e2e_model()
    aot.compile_aot(data, tmp_path)
    runner = aot.build_host_runner(tmp_path)
    ref = reference.Reference(data)
    rng = np.random.default_rng(70)
    xs = rng.integers(-32768, 32768, size=(100, *ref.input_shape[1:]), dtype=np.int16)
    xs[1] = 0
    assert np.array_equal(runner.run(xs), ref.run(xs))
    assert arm_objects(tmp_path, "cortex-m4")


def _refused(data: bytes, tmp_path, *words: str) -> None:
    with pytest.raises(UnsupportedOpError) as err:
        aot.compile_aot(data, tmp_path)
    for w in words:
        assert w in str(err.value), str(err.value)


def test_int16_cases_tflm_does_not_run_are_refused(tmp_path):
    """HARD_SWISH int16 (TFLM has no such kernel), MUL int16 with a zero point, LOGISTIC int16 with an
    output scale other than 2^-15, SOFTMAX int16 with an output scale other than 1/32768 or
    an int8 input, REDUCE_MAX int16 (no TFLM kernel)."""
    t = templates()
    _refused(t["HARD_SWISH", "int16"], tmp_path / "h", "HARD_SWISH", "int16")
    mul = t["MUL", "int16"]
    _, _, (a, b), y = first_op(mul)
    _refused(constant_input(requantized(mul, {y.index: (2e-4, 5)}), b.index,
                            np.ones(b.shape, np.int16)), tmp_path / "m", "zero points")  # fmt: skip
    logistic = t["LOGISTIC", "int16"]
    _, _, (x,), y = first_op(logistic)
    _refused(requantized(logistic, {y.index: (1e-4, 0)}), tmp_path / "l", "2^-15")
    softmax = t["SOFTMAX", "int16"]
    _, _, (x,), y = first_op(softmax)
    _refused(requantized(softmax, {y.index: (1.0 / 16384, 0)}), tmp_path / "s", "1/32768")
    as8 = requantized(softmax, {x.index: (0.05, 0)}, types={x.index: TFLITE_INT8})
    _refused(as8, tmp_path / "s8", "int8 input with an int16 output")
    _refused(with_builtin(t["MEAN", "int16"], "REDUCE_MAX"), tmp_path / "r", "int16 REDUCE_MAX")
