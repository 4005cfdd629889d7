"""The AOT data-movement ops (STRIDED_SLICE, SLICE, TRANSPOSE, SPLIT, SPLIT_V, PACK, UNPACK,
GATHER, MAXIMUM, MINIMUM), int8 and int16, bit-exact with the TFLM interpreter.

Two converted int8 models and two converted 16x8 ones hold every op (functools.cache); each
op is cut out of them as a one-op model, and a seeded generator rewrites its shapes, constant
operands and options (`reshaped`), every third variant with int16 activations (`typed`).
TFLM judges every variant; our kernels run through ctypes
with the parameters the emitters compute, and compile_aot + gcc run a few end to end."""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest
from aot_ops_support import (
    KERNELS,
    Kernels,
    compiled_matches,
    constant_input,
    edit_model,
    feeds_for,
    first_op,
    only_op,
    requantized,
    reshaped,
    struct,
    tflite_schema,
)
from aot_support import arm_objects, assert_bit_exact

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge.compiler.ops import gather as gather_op
from tflite_edge.compiler.ops import pack as pack_op
from tflite_edge.compiler.ops import slicing as slicing_op
from tflite_edge.compiler.ops import split as split_op
from tflite_edge.compiler.ops import transpose as transpose_op
from tflite_edge.compiler.ops.elementwise import broadcast_params
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import load_model

SOURCES = [KERNELS / f for f in ("tfle_strided_copy.c", "tfle_gather.c", "tfle_maximum_minimum.c")]
INT16 = "int16"

# --------------------------------------------------------------------------- models


def _moves(a):
    """The one-input ops, each applied to the input a [6, 4]."""
    import tensorflow as tf

    return [
        a[:, 1:5:2, ::-1],
        tf.slice(a, [0, 1, 0], [1, 3, 2]),
        tf.transpose(a, [0, 2, 1]),
        *tf.split(a, 2, axis=-1),
        *tf.split(a, [1, 2, 1], axis=-1),
        *tf.unstack(a, axis=2),
        tf.gather(a, [2, 0, 1, 1, 5], axis=1),
    ]


def _binary(a, b, c):
    """The ops of several inputs, applied to a, b, c [6, 4] (one shape: the converter orders
    the inputs its own way; with the ops above in the same model it leaves some float)."""
    import tensorflow as tf

    return [tf.stack([a, b], axis=1), tf.maximum(a, c), tf.minimum(b, c)]


def _convert(fn, n_inputs: int, dtype: str) -> bytes:
    import tensorflow as tf

    k = om.keras()
    ins = [k.Input(shape=(6, 4), batch_size=1, name=name) for name in "abc"[:n_inputs]]
    model = k.Model(ins, k.layers.Lambda(lambda t: fn(*t))(ins))
    rng = np.random.default_rng(5)
    reps = [[rng.uniform(-2, 2, size=(1, 6, 4)).astype(np.float32) for _ in ins]
            for _ in range(24)]  # fmt: skip
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(reps)
    if dtype == INT16:
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops]
        converter.inference_input_type = converter.inference_output_type = tf.int16
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return bytes(converter.convert())


@functools.cache
def converted(dtype: str) -> tuple[bytes, bytes]:
    """The models of _moves and _binary converted to int8, or 16x8 (int16 activations)."""
    return _convert(_moves, 1, dtype), _convert(_binary, 3, dtype)


@functools.cache
def template(op: str, dtype: str = "int8") -> bytes:
    """The one-op model of the first `op` of converted(dtype) (every output kept)."""
    for data in converted(dtype):
        ops = [o.op for o in load_model(data).operators]
        if op in ops:
            return only_op(data, ops.index(op))
    raise AssertionError(f"no {op} in the converted models")


def single_output(data: bytes, k: int) -> bytes:
    """The model keeping only output k of its operator (the others written, never read)."""

    def fn(mt):
        sg = mt.subgraphs[0]
        sg.outputs = [sg.operators[0].outputs[k]]

    return edit_model(data, fn)


def variable_input(data: bytes, tensor: int) -> bytes:
    """The model with a constant operand turned into a model input (indices at run time)."""

    def fn(mt):
        sg = mt.subgraphs[0]
        buf = tflite_schema().BufferT()
        mt.buffers.append(buf)
        sg.tensors[tensor].buffer = len(mt.buffers) - 1
        sg.inputs = [*sg.inputs, tensor]

    return edit_model(data, fn)


def typed(data: bytes, dtype) -> bytes:
    """The one-op model with its activations (every tensor without data) of type `dtype`:
    the 16x8 form of a data-movement op, whose TFLM kernels take int8 and int16 alike."""
    schema = tflite_schema()
    code = {np.dtype(np.int8): schema.TensorType.INT8, np.dtype(np.int16): schema.TensorType.INT16}

    def fn(mt):
        for t in mt.subgraphs[0].tensors:
            if t.type in (schema.TensorType.INT8, schema.TensorType.INT16) and (
                mt.buffers[t.buffer].data is None
            ):
                t.type = code[np.dtype(dtype)]

    return edit_model(data, fn)


def tflm_all(data: bytes, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """Every output of one TFLM invocation."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(data, arena_size=1 << 20)
    for i, x in enumerate(feeds):
        interp.set_input(x, i)
    interp.invoke()
    return [np.array(interp.get_output(i)) for i in range(len(load_model(data).outputs))]


def values(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape, dtype=dtype)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The three kernels built for the host with warnings as errors."""
    out = tmp_path_factory.mktemp("moves") / "libtfle_moves.so"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared",
           "-fPIC", f"-I{KERNELS}", *map(str, SOURCES), "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Kernels(out)


def copy(lib, values_: dict, x: np.ndarray, out_size: int) -> np.ndarray:
    y = np.zeros(out_size, x.dtype)
    lib(
        "tfle_strided_copy", struct("tfle_strided_copy_params", values_), np.ascontiguousarray(x), y
    )
    return y


def dims(rng, rank, low=1, high=5):
    return [int(d) for d in rng.integers(low, high + 1, size=rank)]


# --------------------------------------------------------------------------- STRIDED_SLICE


def _numpy_slice_shape(shape, begin, end, strides, bm, em, sm):
    """The output shape by numpy's (TensorFlow's) slicing rules; None for an index error."""
    index = []
    for a in range(len(shape)):
        if sm >> a & 1:
            b = begin[a] + shape[a] if begin[a] < 0 else begin[a]
            if not 0 <= b < shape[a]:
                return None
            index.append(b)
        else:
            index.append(
                slice(
                    None if bm >> a & 1 else begin[a], None if em >> a & 1 else end[a], strides[a]
                )
            )
    return np.empty(shape)[tuple(index)].shape


def _mask(rng, rank: int, p: float) -> int:
    return sum(1 << a for a in range(rank) if rng.random() < p)


def _ordered(rng, d: int, stride: int) -> tuple[int, int]:
    """(begin, end) of a non-empty slice of a dimension of d in the stride's direction."""
    lo, hi = sorted(int(v) for v in rng.choice(d + 1, size=2, replace=False))
    begin, end = (lo, hi) if stride > 0 else (hi - 1, lo - 1 if lo else -d - 1)
    if rng.random() < 0.4:
        begin -= d
    if rng.random() < 0.4 and 0 <= end < d:
        end -= d
    return begin, end


def test_generated_strided_slice(lib, tmp_path):
    """Ranks 1-4, random begin/end (negative, out of range), strides -3..3, all three masks."""
    base = template("STRIDED_SLICE")
    m, _, (x, b, e, s), y = first_op(base)
    rng = np.random.default_rng(31)
    ran = refused = 0
    for case in range(70):
        r = int(rng.integers(1, 5))
        shape = dims(rng, r, 1, 6)
        strides = [int(rng.choice([-3, -2, -1, 1, 1, 2, 3])) for _ in shape]
        if case % 2:  # anywhere, out of range too (often an empty slice)
            begin = [int(rng.integers(-d - 2, d + 3)) for d in shape]
            end = [int(rng.integers(-d - 2, d + 3)) for d in shape]
        else:  # a non-empty range, given with negative indices at random
            pairs = [_ordered(rng, d, st) for d, st in zip(shape, strides, strict=True)]
            begin, end = [p[0] for p in pairs], [p[1] for p in pairs]
        bm, em = _mask(rng, r, 0.3), _mask(rng, r, 0.3)
        sm = _mask(rng, r, 0.4) if case % 3 == 0 else 0
        out = _numpy_slice_shape(shape, begin, end, strides, bm, em, sm)
        if out is None or 0 in out:  # an index error; TFLM allocates no empty tensor
            continue
        opts = {"beginMask": bm, "endMask": em, "shrinkAxisMask": sm}
        consts = {b.index: begin, e.index: end, s.index: strides}
        dt = np.int16 if case % 3 == 2 else np.int8
        data = typed(reshaped(base, {x.index: shape, y.index: out}, consts, opts), dt)
        xs = values(rng, shape, dt)
        try:
            ours = slicing_op.strided_slice_params(
                tuple(shape), begin, end, strides, bm, em, sm, tuple(out), np.dtype(dt).itemsize
            )
        except ValueError as err:
            refused += 1
            if "would not write" not in str(err):  # (a shrunk axis with a negative stride)
                with pytest.raises(RuntimeError):  # TFLM refuses it too
                    tflm_all(data, [xs])
            continue
        try:
            expected = tflm_all(data, [xs])[0]
        except RuntimeError as err:
            raise AssertionError((shape, begin, end, strides, bm, em, sm, out)) from err
        got = copy(lib, ours, xs, int(np.prod(out, dtype=np.int64)))
        assert np.array_equal(got, expected.ravel()), (shape, begin, end, strides, bm, em, sm)
        ran += 1
        if ran % 20 == 1:
            compiled_matches(data, xs, tmp_path / f"c{case}")
    assert ran >= 35 and refused <= 10, (ran, refused)


def test_strided_slice_refuses_what_tflm_ignores(tmp_path):
    base = template("STRIDED_SLICE")
    for opts, what in (({"ellipsisMask": 1}, "ellipsis"), ({"offset": True}, "offset")):
        with pytest.raises(UnsupportedOpError, match=what):
            aot.compile_aot(reshaped(base, {}, None, opts), tmp_path / "out")
    _, _, (x, b, e, s), y = first_op(base)
    five = reshaped(base, {x.index: [1, 2, 3, 2, 2], y.index: [1, 2, 3, 2, 2]},
                    {b.index: [0] * 5, e.index: [9] * 5, s.index: [1] * 5})  # fmt: skip
    with pytest.raises(UnsupportedOpError, match="at most 4-D"):
        aot.compile_aot(five, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- SLICE


def test_generated_slice(lib, tmp_path):
    """Ranks 1-5, random begins and sizes (-1: to the end)."""
    base = template("SLICE")
    _, _, (x, b, sz), y = first_op(base)
    rng = np.random.default_rng(32)
    for case in range(30):
        shape = dims(rng, int(rng.integers(1, 6)))
        begin = [int(rng.integers(0, d)) for d in shape]
        size = [-1 if rng.random() < 0.25 else int(rng.integers(1, d - bb + 1))
                for d, bb in zip(shape, begin, strict=True)]  # fmt: skip
        dt = np.int16 if case % 3 == 2 else np.int8
        values_, out = slicing_op.slice_params(tuple(shape), begin, size, np.dtype(dt).itemsize)
        data = reshaped(base, {x.index: shape, y.index: out}, {b.index: begin, sz.index: size})
        data = typed(data, dt)
        xs = values(rng, shape, dt)
        expected = tflm_all(data, [xs])[0]
        assert np.array_equal(copy(lib, values_, xs, expected.size), expected.ravel())
        if case % 10 == 0:
            compiled_matches(data, xs, tmp_path / f"c{case}")
    with pytest.raises(ValueError, match="slice"):
        slicing_op.slice_params((4, 3), [2, 0], [3, -1], 1)


# --------------------------------------------------------------------------- TRANSPOSE


def test_generated_transpose(lib, tmp_path):
    """Ranks 1-5, random permutations."""
    base = template("TRANSPOSE")
    _, _, (x, perm), y = first_op(base)
    rng = np.random.default_rng(33)
    for case in range(30):
        r = int(rng.integers(1, 6))
        shape = dims(rng, r)
        p = [int(v) for v in rng.permutation(r)]
        out = [shape[i] for i in p]
        dt = np.int16 if case % 3 == 2 else np.int8
        data = typed(reshaped(base, {x.index: shape, y.index: out}, {perm.index: p}), dt)
        xs = values(rng, shape, dt)
        expected = tflm_all(data, [xs])[0]
        assert np.array_equal(expected, np.transpose(xs, p))  # the reference is TFLM's
        tp = transpose_op.transpose_params(tuple(shape), p, np.dtype(dt).itemsize)
        ours = copy(lib, tp, xs, xs.size)
        assert np.array_equal(ours, expected.ravel()), (shape, p)
        if case % 10 == 0:
            compiled_matches(data, xs, tmp_path / f"c{case}")
    with pytest.raises(UnsupportedOpError, match="1-D to 5-D"):
        six = reshaped(base, {x.index: [1, 2, 1, 2, 1, 2], y.index: [1, 2, 1, 2, 1, 2]},
                       {perm.index: list(range(6))})  # fmt: skip
        aot.compile_aot(six, tmp_path / "six")


# --------------------------------------------------------------------------- SPLIT, SPLIT_V, UNPACK


def _check_outputs(lib, data, params, xs, feeds=None):
    expected = tflm_all(data, feeds or [xs])
    assert len(expected) == len(params)
    for want, v in zip(expected, params, strict=True):
        assert np.array_equal(copy(lib, v, xs, want.size), want.ravel())


def test_generated_split_and_split_v(lib, tmp_path):
    """Ranks 1-5, any axis (negative too): SPLIT into 2 equal parts, SPLIT_V into 3."""
    rng = np.random.default_rng(34)
    split = template("SPLIT")
    _, _, (axis_t, x), _ = first_op(split)
    outs = load_model(split).operators[0].outputs
    for case in range(15):
        r = int(rng.integers(1, 6))
        shape = dims(rng, r)
        axis = int(rng.integers(-r, r))
        shape[axis] = 2 * int(rng.integers(1, 4))
        part = list(shape)
        part[axis] //= 2
        dt = np.int16 if case % 3 == 2 else np.int8
        data = reshaped(split, {x.index: shape, **{o: part for o in outs}}, {axis_t.index: axis})
        data = typed(data, dt)
        xs = values(rng, shape, dt)
        params = split_op.split_params(tuple(shape), [tuple(part)] * 2, axis, xs.itemsize)
        _check_outputs(lib, data, params, xs)
        if case % 7 == 0:
            compiled_matches(single_output(data, case % 2), xs, tmp_path / f"s{case}")
    split_v = template("SPLIT_V")
    _, _, (x, sizes_t, axis_t), _ = first_op(split_v)
    outs = load_model(split_v).operators[0].outputs
    for case in range(15):
        r = int(rng.integers(1, 6))
        shape = dims(rng, r)
        axis = int(rng.integers(-r, r))
        sizes = [int(v) for v in rng.integers(1, 4, size=3)]  # TFLM allocates no empty tensor
        shape[axis] = sum(sizes)
        parts = [list(shape) for _ in sizes]
        for p, n in zip(parts, sizes, strict=True):
            p[axis] = n
        data = reshaped(split_v, {x.index: shape, **dict(zip(outs, parts, strict=True))},
                        {axis_t.index: axis, sizes_t.index: sizes})  # fmt: skip
        dt = np.int16 if case % 3 == 2 else np.int8
        data = typed(data, dt)
        xs = values(rng, shape, dt)
        params = split_op.split_params(tuple(shape), [tuple(p) for p in parts], axis, xs.itemsize)
        _check_outputs(lib, data, params, xs)
        if case % 7 == 0:
            compiled_matches(single_output(data, 2), xs, tmp_path / f"v{case}")


def test_generated_unpack(lib, tmp_path):
    """Ranks 1-5, any axis: 4 outputs, each a slice along the axis."""
    base = template("UNPACK")
    _, op, (x,), _ = first_op(base)
    outs = op.outputs
    rng = np.random.default_rng(35)
    for case in range(20):
        r = int(rng.integers(1, 6))
        shape = dims(rng, r)
        axis = int(rng.integers(-r, r))
        shape[axis] = len(outs)
        part = shape[: axis % r] + shape[axis % r + 1 :]
        dt = np.int16 if case % 3 == 2 else np.int8
        data = reshaped(base, {x.index: shape, **{o: part for o in outs}}, options={"axis": axis})
        data = typed(data, dt)
        xs = values(rng, shape, dt)
        params = split_op.unpack_params(tuple(shape), len(outs), axis, xs.itemsize)
        _check_outputs(lib, data, params, xs)
        if case % 7 == 0 and part:
            compiled_matches(single_output(data, case % len(outs)), xs, tmp_path / f"c{case}")


def test_multiple_output_layers_keep_every_output_in_the_plan(tmp_path):
    """SPLIT_V's three outputs get their own arena bytes, all live at the layer."""
    data = single_output(template("SPLIT_V"), 1)
    result = aot.compile_aot(data, tmp_path / "out")
    outs = load_model(data).operators[0].outputs
    spans = [result.plan[o] for o in outs]
    for i, (a, na) in enumerate(spans):
        for b, nb in spans[i + 1 :]:
            assert a + na <= b or b + nb <= a, spans
    text = (tmp_path / "out" / "tfle_model.c").read_text()
    assert text.count("tfle_strided_copy(&") == 3


# --------------------------------------------------------------------------- PACK


def test_generated_pack(lib, tmp_path):
    """Two inputs of ranks 1-4 packed along any axis (negative too)."""
    base = template("PACK")
    m, _, ins, y = first_op(base)
    rng = np.random.default_rng(36)
    for case in range(20):
        r = int(rng.integers(1, 5))
        shape = dims(rng, r)
        axis = int(rng.integers(-r - 1, r + 1))
        dt = np.int16 if case % 3 == 2 else np.int8
        params, out = pack_op.pack_params([tuple(shape)] * 2, axis, np.dtype(dt).itemsize)
        data = reshaped(base, {ins[0].index: shape, ins[1].index: shape, y.index: out},
                        options={"axis": axis})  # fmt: skip
        data = typed(data, dt)
        x1, x2 = values(rng, shape, dt), values(rng, shape, dt)
        expected = tflm_all(data, feeds_for(load_model(data), ins, [x1, x2]))[0]
        assert np.array_equal(expected, np.stack([x1, x2], axis=axis))
        ours = np.zeros(expected.size, dt)
        for v, xi in zip(params, (x1, x2), strict=True):
            lib("tfle_strided_copy", struct("tfle_strided_copy_params", v), xi, ours)
        assert np.array_equal(ours, expected.ravel()), (shape, axis)
        if case % 7 == 0:
            compiled_matches(constant_input(data, ins[1].index, x2), x1, tmp_path / f"c{case}")


# --------------------------------------------------------------------------- GATHER


def test_generated_gather(lib, tmp_path):
    """Inputs of ranks 1-4, indices of ranks 1-2, any axis, batch_dims 0 and 1."""
    base = template("GATHER")
    _, _, (x, idx), y = first_op(base)
    rng = np.random.default_rng(37)
    for case in range(30):
        r = int(rng.integers(1, 5))
        shape = dims(rng, r)
        axis = int(rng.integers(-r, r))
        batch_dims = int(case % 3 == 0 and axis % r >= 1)
        cshape = shape[:batch_dims] + dims(rng, int(rng.integers(1, 3)), 1, 4)
        coords = rng.integers(0, shape[axis], size=cshape).astype(np.int32)
        gp, out = gather_op.gather_params(tuple(shape), tuple(cshape), axis, batch_dims, 1)
        data = reshaped(base, {x.index: shape, y.index: out}, {idx.index: coords},
                        options={"axis": axis, "batchDims": batch_dims})  # fmt: skip
        xs = values(rng, shape, np.int8)
        expected = tflm_all(data, [xs])[0]
        ours = np.zeros(expected.size, np.int8)
        lib("tfle_gather", struct("tfle_gather_params", gp), xs, coords.ravel(), ours)
        assert np.array_equal(ours, expected.ravel()), (shape, cshape, axis, batch_dims)
        if case % 10 == 0:
            compiled_matches(data, xs, tmp_path / f"c{case}")
    # an index out of range: refused for constant indices (TFLM reads out of bounds there)
    bad = reshaped(base, {}, {idx.index: [0, 1, 6, 2, 3]})
    with pytest.raises(UnsupportedOpError, match="outside"):
        aot.compile_aot(bad, tmp_path / "bad")


def test_gather_indices_computed_at_run_time(tmp_path):
    """An embedding: the values a constant, the int32 indices the model's input."""
    base = template("GATHER")
    _, _, (x, idx), _ = first_op(base)
    rng = np.random.default_rng(38)
    table = values(rng, x.shape, np.int8)
    data = variable_input(constant_input(base, x.index, table), idx.index)
    aot.compile_aot(data, tmp_path / "out")
    _host_compiles_strictly(tmp_path / "out")
    runner = aot.build_host_runner(tmp_path / "out")
    for _ in range(5):
        coords = rng.integers(0, x.shape[1], size=idx.shape).astype(np.int32)
        want = tflm_all(data, [coords])[0]
        assert np.array_equal(runner.run_one(coords).ravel(), want.ravel())


# --------------------------------------------------------------------------- MAXIMUM, MINIMUM


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
def test_generated_maximum_minimum(lib, tmp_path, op):
    """Broadcast shapes of ranks 1-5; operands with other zero points than the output (TFLM
    compares the raw values, and so do we)."""
    base = template(op)
    m, _, ins, y = first_op(base)
    rng = np.random.default_rng(39 if op == "MAXIMUM" else 40)
    for case in range(12):
        r = int(rng.integers(1, 6))
        full = dims(rng, r, 1, 4)
        s1 = [d if rng.random() < 0.7 else 1 for d in full]
        s2 = [d if rng.random() < 0.7 else 1 for d in full][int(rng.integers(0, r)) :]
        out = list(np.broadcast_shapes(tuple(s1), tuple(s2)))
        quant = {t.index: (0.05, int(rng.integers(-20, 20))) for t in ins} if case % 2 else {}
        dt = np.int16 if case % 3 == 2 else np.int8
        data = requantized(reshaped(base, {ins[0].index: s1, ins[1].index: s2, y.index: out}),
                           quant)  # fmt: skip
        data = typed(data, dt)
        x1, x2 = values(rng, s1, dt), values(rng, s2, dt)
        expected = tflm_all(data, feeds_for(load_model(data), ins, [x1, x2]))[0]
        raw = (np.maximum if op == "MAXIMUM" else np.minimum)(x1, x2)
        assert np.array_equal(expected.ravel(), raw.ravel())  # TFLM: raw values compared
        ours = np.zeros(expected.size, dt)
        fn = f"tfle_{op.lower()}_s{8 * np.dtype(dt).itemsize}"
        bc = struct("tfle_bcast", broadcast_params(tuple(s1), tuple(s2), tuple(out)))
        lib(fn, bc, x1, x2, ours)
        assert np.array_equal(ours, expected.ravel()), (s1, s2, out)
        if case % 4 == 0:
            compiled_matches(constant_input(data, ins[1].index, x2), x1, tmp_path / f"c{case}")


# --------------------------------------------------------------------------- 16x8 and Cortex-M

INT16_OPS = ["STRIDED_SLICE", "SLICE", "TRANSPOSE", "SPLIT", "SPLIT_V", "UNPACK", "PACK",
             "MAXIMUM", "MINIMUM"]  # fmt: skip


def _compilable(data: bytes) -> tuple[bytes, int]:
    """A single-input, single-output form of a one-op model: the extra inputs constants,
    the last output kept; and the index of the remaining input."""
    m = load_model(data)
    rng = np.random.default_rng(41)
    for t in m.inputs[1:]:
        data = constant_input(data, t, values(rng, m.tensors[t].shape, m.tensors[t].dtype))
    if len(m.outputs) > 1:
        data = single_output(data, len(m.outputs) - 1)
    return data, m.inputs[0]


def _host_compiles_strictly(out_dir) -> None:
    """The generated tfle_model.c compiles with gcc -Wall -Wextra -Werror."""
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{out_dir}", f"-I{KERNELS}",
           "-c", str(out_dir / "tfle_model.c"), "-o", str(out_dir / "strict.o")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_int16_models_compile_bit_exact(tmp_path):
    """Each op of the 16x8 conversion, int16 in and out, against TFLM on random inputs."""
    rng = np.random.default_rng(42)
    for op in INT16_OPS:
        data, tin = _compilable(template(op, INT16))
        m = load_model(data)
        assert m.tensors[tin].dtype == np.int16 and op in m.ops
        aot.compile_aot(data, tmp_path / op)
        _host_compiles_strictly(tmp_path / op)
        runner = aot.build_host_runner(tmp_path / op)
        for _ in range(3):
            xs = values(rng, m.tensors[tin].shape, np.int16)
            assert np.array_equal(runner.run_one(xs).ravel(), tflm_all(data, [xs])[0].ravel()), op


def test_int16_gather_is_refused(tmp_path):
    """TFLM's GATHER has no int16 kernel: the AOT compiler says so."""
    data = template("GATHER", INT16)
    assert load_model(data).tensors[first_op(data)[1].inputs[0]].dtype == np.int16
    with pytest.raises(UnsupportedOpError, match="int16"):
        aot.compile_aot(data, tmp_path / "out")


def test_data_movement_compiles_for_cortex_m4(tmp_path):
    """Int8 STRIDED_SLICE, GATHER and the 16x8 MAXIMUM built with arm-none-eabi-gcc (the
    kernels with -Wextra -Werror, as arm_objects compiles every kernel)."""
    cases = {
        "strided_slice": template("STRIDED_SLICE"),
        "gather": template("GATHER"),
        "maximum16": _compilable(template("MAXIMUM", INT16))[0],
    }
    for name, data in cases.items():
        aot.compile_aot(data, tmp_path / name)
        objs = arm_objects(tmp_path / name, "cortex-m4")
        assert {"tfle_strided_copy", "tfle_gather", "tfle_maximum_minimum"} <= {
            o.stem for o in objs
        }


def test_keras_model_of_data_movement_bit_exact(tmp_path):
    """Permute, slicing, tf.split, tf.gather, tf.stack and tf.maximum between Keras layers,
    converted and compiled: 100 random inputs bit-exact with TFLM (assert_bit_exact)."""
    import tensorflow as tf

    k = om.keras()

    def moves(x):
        x = tf.transpose(x, [0, 2, 1])[:, 1:, ::2]  # [4, 6] -> [6, 4] -> [5, 2]
        left, right = tf.split(x, 2, axis=-1)
        x = tf.stack([tf.maximum(left, right), tf.minimum(left, right)], axis=1)
        return tf.gather(x, [4, 0, 2, 2], axis=2)

    model = om.single_layer_model(
        [k.layers.Dense(6), k.layers.Lambda(moves), k.layers.Flatten(), k.layers.Dense(3)], (4, 5)
    )
    tfl = om.convert_keras(om.randomize(model, seed=3))
    ops = set(load_model(tfl).ops)
    assert {"TRANSPOSE", "STRIDED_SLICE", "SPLIT", "PACK", "GATHER", "MAXIMUM", "MINIMUM"} <= ops
    assert_bit_exact(tfl, tmp_path / "out")
