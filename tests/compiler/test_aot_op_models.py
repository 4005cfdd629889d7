"""The AOT runtime's extra int8 ops in compiled models: generated shapes, end-to-end models
bit-exact with TFLM on the host, builds for Cortex-M and runs on emulated boards (the
helpers are in aot_ops_support.py, the fixtures in conftest.py)."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest
from aot_ops_models import (
    build_e2e_models,
    build_lib,
    build_templates,
    build_unary_models,
)
from aot_ops_support import (
    ACTIVATIONS,
    EXTRA_SOURCES,
    KERNELS,
    arm_cc,
    compiled_matches,
    constant_input,
    feeds_for,
    first_op,
    ptr,
    random_quant,
    requantized,
    reshaped,
    space_to_batch_expected,
    struct,
    tflm_run,
)

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge import reference
from tflite_edge.boards import boards_of
from tflite_edge.compiler.ops import concatenation as concatenation_op
from tflite_edge.compiler.ops import elementwise as elementwise_op
from tflite_edge.compiler.ops import pad as pad_op
from tflite_edge.compiler.ops import reduce as reduce_op
from tflite_edge.compiler.ops import space_batch as space_batch_op
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import known_input, load_model

# --------------------------------------------------------------------------- shape generator
#
# One converted model per op serves as a template; a seeded generator rewrites its shapes,
# constant operands and options in the flatbuffer, and TFLM judges each variant.

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The extra kernels built for the host (aot_ops_models.build_lib)."""
    return build_lib(tmp_path_factory)


@pytest.fixture(scope="module")
def unary_models():
    """aot_ops_models.build_unary_models() (built once per session)."""
    return build_unary_models()


@pytest.fixture(scope="module")
def templates():
    """aot_ops_models.build_templates() (built once per session)."""
    return build_templates()


@pytest.fixture(scope="module")
def e2e_models():
    """aot_ops_models.build_e2e_models() (built once per session)."""
    return build_e2e_models()


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
        zp = 0  # the compiler's pad value, TFLM's on a fresh arena (space_batch.py)
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


def test_dynamic_batch_space_to_batch_shapes_are_inferred(tmp_path):
    """A dilated Conv1D converted with a dynamic batch keeps placeholder shapes; the compiler
    infers them from the graph and matches TFLM run on the file with those shapes (TFLM
    trusts stored shapes: on the file as written it computes part of each layer)."""
    from tflite_edge.model.shapes import as_tflm_runs_it, changed_shapes

    k = om.keras()
    inp = k.Input(shape=(10, 2))
    model = k.Model(inp, k.layers.Conv1D(3, 3, dilation_rate=2)(inp))
    data = om.convert_keras(model, (10, 2))
    assert "SPACE_TO_BATCH_ND" in om.op_names(data) and changed_shapes(load_model(data))
    shaped = as_tflm_runs_it(load_model(data))
    assert not changed_shapes(shaped) and shaped.sha256 == load_model(data).sha256
    x = np.random.default_rng(3).integers(-128, 128, size=(20, 1, 10, 2), dtype=np.int8)
    aot.compile_aot(data, tmp_path / "dyn")
    runner = aot.build_host_runner(tmp_path / "dyn")
    want = np.stack([tflm_run(shaped.data, [xi]) for xi in x])
    assert np.array_equal(runner.run(x), want.reshape(runner.run(x).shape))
    assert np.array_equal(reference.Reference(data).run(x), runner.run(x))  # the kit's TFLM


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
        cmd = [*arm_cc(flags[0], *flags[1:]), f"-I{KERNELS}", f"-I{src.parent}", "-c", str(src),
               "-o", str(obj)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert obj.stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("board", sorted(boards_of("qemu")))
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
        ["make", "-s", "-C", str(out), "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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
