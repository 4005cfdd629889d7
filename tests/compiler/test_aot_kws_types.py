"""The type combinations of TFLM's keyword_scrambled.tflite compiled ahead of time, bit-exact
with TFLM: SOFTMAX int8 -> int16 (output scale 1/65536, zero point -32768) and QUANTIZE
int16 -> int32 / int8 -> int32 (Requantize; and the reverse int32 -> int16 / int8), as single ops cut from that model and edited
(shapes, quantization, types), and the whole model over 20 consecutive invocations (its SVDF
layers keep state, so one compiled model and one TFLM interpreter see the same stream)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aot_ops_support import (
    KERNELS,
    Kernels,
    compiled_matches,
    edit_model,
    first_op,
    only_op,
    requantized,
    reshaped,
    struct,
    tflm_run,
)
from aot_support import arm_objects

from conftest import tflm_tree
from tflite_edge import compiler as aot
from tflite_edge.compiler.ops import quantize as quantize_op
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import load_model
from tflite_edge.model.quant import softmax_params
from tflite_edge.reference import Reference

TFLITE_FLOAT32, TFLITE_INT32, TFLITE_INT16, TFLITE_INT8 = 0, 2, 7, 9  # schema TensorType
SOFTMAX_OP, QUANTIZE_OP = 13, 14  # in keyword_scrambled.tflite
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
SOURCES = [KERNELS / "tfle_softmax_s8_s16.c", KERNELS / "tfle_quantize_s32.c"]


@functools.cache
def kws() -> bytes:
    tree = tflm_tree()
    if tree is None:
        pytest.skip("no tflite-micro tree (set TFLM_DIR)")
    return (tree / "tensorflow/lite/micro/models/keyword_scrambled.tflite").read_bytes()


@functools.cache
def single(index: int) -> bytes:
    return only_op(kws(), index)


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Kernels:
    """The two kernel files built for the host (warnings are errors)."""
    out = tmp_path_factory.mktemp("kws") / "libtfle_kws.so"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared",
           "-fPIC", f"-I{KERNELS}", *map(str, SOURCES), "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Kernels(out)


def test_softmax_s8_s16_kernel(lib, tmp_path):
    """Random ranks, depths (one long row), input scales and zero points, betas, and output
    scales within TFLM's tolerance of 1/65536; random int8 inputs and every int8 in a row."""
    base = single(SOFTMAX_OP)
    _, _, (x,), y = first_op(base)
    rng = np.random.default_rng(13)
    for case in range(16):
        shape = [1] + [int(d) for d in rng.integers(1, 6, size=int(rng.integers(0, 3)))]
        shape.append(int(rng.integers(1, 40)) if case != 1 else 600)
        if case == 2:
            shape = [1, 256]  # every int8 value in one row
        beta = float(np.float32(rng.uniform(0.3, 2.0))) if case % 2 else 1.0
        si = float(np.float32(10.0 ** rng.uniform(-2.5, 0.0)))
        zi = int(rng.integers(-128, 128))
        so = float(np.float32(1.0 / 65536 * (1.0 + rng.uniform(-0.0009, 0.0009))))
        data = reshaped(base, {x.index: shape, y.index: shape}, options={"beta": beta})
        data = requantized(data, {x.index: (si, zi), y.index: (so, -32768)})
        xs = rng.integers(-128, 128, size=shape, dtype=np.int8)
        if case == 2:
            xs = ALL_INT8.reshape(shape)
        expected = tflm_run(data, [xs]).ravel()
        assert expected.dtype == np.int16
        depth = shape[-1]
        mult, shift, diff_min = softmax_params(si, beta)
        values = {"outer": xs.size // depth, "depth": depth, "input_multiplier": mult,
                  "input_left_shift": shift, "diff_min": diff_min}  # fmt: skip
        ours = np.zeros(xs.size, np.int16)
        lib("tfle_softmax_s8_s16", struct("tfle_softmax_params", values), xs.ravel(), ours)
        assert np.array_equal(ours, expected), (case, shape, beta, si, zi)
        if case % 8 == 0:
            compiled_matches(data, xs, tmp_path / f"s{case}")


def _quantize_case(rng: np.random.Generator, base: bytes, in_type: int, case: int) -> bytes:
    _, _, (x,), y = first_op(base)
    n = int(rng.integers(1, 50))
    ranged = 256 if in_type == TFLITE_INT8 else 65536
    shape = [1, ranged] if case == 0 else [1, n]
    si = float(np.float32(10.0 ** rng.uniform(-5, 0)))
    zi = int(rng.integers(-128, 128)) if in_type == TFLITE_INT8 else int(rng.integers(-300, 300))
    # ratios from 2^-20 to 2^12 (left and right shifts), output zero points up to 2^20
    so = float(np.float32(si / 2.0 ** rng.uniform(-20, 12)))
    zo = int(rng.integers(-(2**20), 2**20)) if case % 3 else 0
    data = reshaped(base, {x.index: shape, y.index: shape})
    return requantized(data, {x.index: (si, zi), y.index: (so, zo)}, types={x.index: in_type})


@pytest.mark.parametrize("in_type", [TFLITE_INT16, TFLITE_INT8], ids=["int16", "int8"])
def test_quantize_to_int32_kernel(lib, tmp_path, in_type):
    """QUANTIZE int16 -> int32 and int8 -> int32 with random scales and zero points; every
    input value once, then random ones."""
    base = single(QUANTIZE_OP)
    rng = np.random.default_rng(14 + in_type)
    dtype = np.int8 if in_type == TFLITE_INT8 else np.int16
    for case in range(12):
        data = _quantize_case(rng, base, in_type, case)
        _, _, (xt,), yt = first_op(data)
        if case == 0:
            xs = (ALL_INT8 if dtype == np.int8 else ALL_INT16).reshape(xt.shape)
        else:
            info = np.iinfo(dtype)
            xs = rng.integers(info.min, info.max + 1, size=xt.shape, dtype=dtype)
        expected = tflm_run(data, [xs]).ravel()
        assert expected.dtype == np.int32
        values = quantize_op.requant_to_s32(xt, yt)
        ours = np.zeros(xs.size, np.int32)
        fn = f"tfle_requant_{'s8' if dtype == np.int8 else 's16'}_s32"
        lib(fn, struct("tfle_requant_params", values), xs.ravel(), ours)
        assert np.array_equal(ours, expected), (case, values)
        if case in (0, 5):
            compiled_matches(data, xs, tmp_path / f"q{case}")


@pytest.mark.parametrize("out_type", [TFLITE_INT16, TFLITE_INT8], ids=["int16", "int8"])
def test_quantize_from_int32_kernel(lib, tmp_path, out_type):
    """QUANTIZE int32 -> int16 and int32 -> int8 (TFLM's Requantize clamped to the output
    type): ratios 2^-24 to 2^4, inputs spanning the output range and beyond, the whole int32
    range where the ratio is below one."""
    base = single(QUANTIZE_OP)
    _, _, (x,), y = first_op(base)
    rng = np.random.default_rng(32 + out_type)
    odt = np.int8 if out_type == TFLITE_INT8 else np.int16
    bits = 8 if odt == np.int8 else 16
    for case in range(12):
        n = int(rng.integers(1, 60))
        si = float(np.float32(10.0 ** rng.uniform(-6, -2)))
        ratio = 2.0 ** rng.uniform(-24, -0.5 if case == 0 else 4)
        so = float(np.float32(si / ratio))
        zi, zo = (
            int(rng.integers(-1000, 1000)),
            int(rng.integers(-(2 ** (bits - 2)), 2 ** (bits - 2))),
        )
        data = reshaped(base, {x.index: [1, n], y.index: [1, n]})
        data = requantized(data, {x.index: (si, zi), y.index: (so, zo)},
                           types={x.index: TFLITE_INT32, y.index: out_type})  # fmt: skip
        _, _, (xt,), yt = first_op(data)
        amp = 2**31 - 1 if case == 0 else int(min(2**26, 2**bits / ratio))
        xs = rng.integers(-amp, amp + 1, size=(1, n), dtype=np.int64).astype(np.int32)
        expected = tflm_run(data, [xs]).ravel()
        assert expected.dtype == odt
        values = quantize_op.requant_between(xt, yt)
        ours = np.zeros(n, odt)
        fn = f"tfle_requant_s32_{'s8' if odt == np.int8 else 's16'}"
        lib(fn, struct("tfle_requant_params", values), xs.ravel(), ours)
        assert np.array_equal(ours, expected), (case, values)
        if case in (0, 5):
            compiled_matches(data, xs, tmp_path / f"q{case}")


def _stream(data: bytes, out_dir: Path, n: int, seed: int) -> np.ndarray:
    """n consecutive invocations of the compiled model and of ONE TFLM interpreter agree;
    returns the outputs."""
    aot.compile_aot(data, out_dir)
    runner = aot.build_host_runner(out_dir)
    ref = Reference(data)
    rng = np.random.default_rng(seed)
    xs = rng.integers(-32768, 32768, size=(n, *ref.input_shape), dtype=np.int16)
    want = np.stack([ref.run_one(x) for x in xs])
    got = np.stack([runner.run_one(x) for x in xs])
    assert got.dtype == want.dtype == np.int32
    diff = np.argwhere(got != want)
    assert diff.size == 0, (
        f"{len(diff)} values differ from TFLM, first at {diff[0].tolist()} "
        f"(invocation {diff[0][0]}): got {got[tuple(diff[0])]}, TFLM {want[tuple(diff[0])]}"
    )
    return got


def _unbiased_last_fc(data: bytes) -> bytes:
    """The model with its last FULLY_CONNECTED's bias zeroed and its output scale 0.07: the
    scrambled bias drives both logits to -128 on every input (the softmax output is then
    always 1/2), this variant's outputs follow the input and the SVDF state."""

    def fn(mt):
        sg = mt.subgraphs[0]
        bias = sg.tensors[sg.operators[12].inputs[2]]
        mt.buffers[bias.buffer].data = np.zeros(4 * int(np.prod(bias.shape)), np.uint8)

    logits = load_model(data).operators[SOFTMAX_OP].inputs[0]
    return requantized(edit_model(data, fn), {logits: (0.07, 0)})


def test_keyword_scrambled_bit_exact_over_20_invocations(tmp_path):
    """TFLM's keyword_scrambled.tflite (int16 in, QUANTIZE, SVDF, FULLY_CONNECTED, SOFTMAX
    int8 -> int16, QUANTIZE int16 -> int32 out) compiles and gives TFLM's outputs over 20
    invocations; so does its variant with varying outputs, whose C builds for cortex-m4."""
    got = _stream(kws(), tmp_path / "kws", 20, seed=1)
    assert got.shape[0] == 20
    got = _stream(_unbiased_last_fc(kws()), tmp_path / "var", 20, seed=2)
    assert len({g.tobytes() for g in got}) >= 5  # the outputs vary
    assert arm_objects(tmp_path / "var", "cortex-m4")


def _refused(data: bytes, out_dir: Path, *words: str) -> None:
    with pytest.raises(UnsupportedOpError) as err:
        aot.compile_aot(data, out_dir)
    for w in words:
        assert w in str(err.value), str(err.value)


def test_cases_tflm_refuses_are_refused(tmp_path):
    """SOFTMAX int8 -> int16 with TFLM's int16 -> int16 output quantization (1/32768, 0) or a
        scale off by more than the tolerance, SOFTMAX int8 -> int8 with an output scale not exactly
    1/256; QUANTIZE float32 -> int32 (no TFLM kernel)."""
    softmax = single(SOFTMAX_OP)
    _, _, (x,), y = first_op(softmax)
    _refused(requantized(softmax, {y.index: (1.0 / 32768, 0)}), tmp_path / "a",
             "int8 input with an int16 output", "1/65536")  # fmt: skip
    _refused(requantized(softmax, {y.index: (1.0 / 65536 * 1.002, -32768)}), tmp_path / "b",
             "1/65536")  # fmt: skip
    near = float(np.float32(1.0 / 256 * (1 + 1e-5)))  # TFLM wants exactly 1/256 for int8
    as_s8 = requantized(softmax, {y.index: (near, -128)}, types={y.index: TFLITE_INT8})
    _refused(as_s8, tmp_path / "d", "1/256")
    quantize = single(QUANTIZE_OP)
    _, _, (x,), y = first_op(quantize)
    as_f32 = edit_model(quantize, lambda mt: setattr(mt.subgraphs[0].tensors[x.index], "type",
                                                     TFLITE_FLOAT32))  # fmt: skip
    _refused(as_f32, tmp_path / "c", "int32")
