"""compile_aot with several inputs and outputs and with float32 / int16 inputs and outputs:
the generated C (gcc -Wall -Wextra -Werror) is bit-exact with the TFLM interpreter on every
output, through both entry points (the packed tfle_model_invoke and tfle_model_invoke_io);
one refusal names every op the compiler cannot take."""

from __future__ import annotations

import ctypes
import re
import subprocess

import numpy as np
import pytest
from aot_support import arm_objects

import multi_io_models as mm
from tflite_edge.compiler import build_host_runner, compile_aot, kernel_include_dir, registry
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import known_input, load_model
from tflite_edge.model.reader import known_inputs
from tflite_edge.reference import Reference

N = 40


def _strict(out_dir) -> None:
    """The generated C compiles under gcc -Wall -Wextra -Werror (the kernels' objects are
    cached with the default flags)."""
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{kernel_include_dir()}",
           "-c", str(out_dir / "tfle_model.c"), "-o", str(out_dir / "strict.o")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _bit_exact(data: bytes, out_dir, n: int = N, seed: int = 0):
    """Compile, build with gcc, run n random samples per input plus the known inputs; every
    output equals TFLM's. Returns the runner."""
    compile_aot(data, out_dir)
    _strict(out_dir)
    runner = build_host_runner(out_dir)
    m = load_model(data)
    feeds = mm.random_feeds(m, n, seed)
    for f, k in zip(feeds, known_inputs(m), strict=True):
        f[0] = k.reshape(f.shape[1:])
    ref = Reference(data)
    several = ref.multi
    want = ref.run(feeds if several else feeds[0])
    got = runner.run(feeds if several else feeds[0])
    want, got = (want, got) if several else ([want], [got])
    assert len(got) == len(m.outputs)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.dtype == w.dtype and g.shape == w.shape, k
        assert g.tobytes() == w.tobytes(), f"output {k} differs from TFLM"
    return runner


def test_two_int8_inputs_and_two_outputs_are_bit_exact(tmp_path):
    runner = _bit_exact(mm.two_by_two_int8(), tmp_path)
    m = load_model(mm.two_by_two_int8())
    assert [t.shape for t in runner.inputs] == [t.shape for t in m.input_tensors]
    assert [t.shape for t in runner.outputs] == [t.shape for t in m.output_tensors]
    header = (tmp_path / "tfle_model.h").read_text()
    sizes = [t.nbytes for t in m.input_tensors]
    assert "#define TFLE_NUM_INPUTS    2" in header and "#define TFLE_NUM_OUTPUTS   2" in header
    assert re.search(rf"#define TFLE_INPUT_BYTES\s+{sum(sizes)}\b", header)
    assert re.search(rf"#define TFLE_INPUT1_OFFSET {sizes[0]}\b", header)


def test_float_inputs_and_outputs_are_bit_exact(tmp_path):
    runner = _bit_exact(mm.two_by_two_float(), tmp_path / "two")
    assert {t.dtype for t in (*runner.inputs, *runner.outputs)} == {np.dtype(np.float32)}
    runner = _bit_exact(mm.single_float(), tmp_path / "one")
    assert not runner.multi and runner.input_dtype == np.float32
    # one float input and output: arrays in and out, as for an int8 model
    x = np.linspace(-2, 2, 8, dtype=np.float32).reshape(1, 8)
    assert runner.run_one(x).tobytes() == Reference(mm.single_float()).run_one(x).tobytes()


def test_invoke_io_takes_one_pointer_per_tensor(tmp_path):
    data = mm.two_by_two_float()
    runner = _bit_exact(data, tmp_path, n=2)
    lib = ctypes.CDLL(str(runner.path))
    m = load_model(data)
    xs = [np.ascontiguousarray(x) for x in known_inputs(m)]
    ys = [np.zeros(t.shape, t.dtype) for t in m.output_tensors]
    ins = (ctypes.c_void_p * len(xs))(*[x.ctypes.data for x in xs])
    outs = (ctypes.c_void_p * len(ys))(*[y.ctypes.data for y in ys])
    assert lib.tfle_model_invoke_io(ins, outs) == 0
    want = Reference(data).run_one(xs)
    assert [y.tobytes() for y in ys] == [w.tobytes() for w in want]


def test_multi_io_model_compiles_for_cortex_m4(tmp_path):
    compile_aot(mm.two_by_two_float(), tmp_path)
    assert arm_objects(tmp_path, "cortex-m4")


def test_known_inputs_one_per_input():
    m = load_model(mm.two_by_two_float())
    xs = known_inputs(m)
    assert [x.shape for x in xs] == [t.shape for t in m.input_tensors]
    assert all(x.dtype == np.float32 for x in xs)
    assert [x.tobytes() for x in xs] == [x.tobytes() for x in known_inputs(m)]  # seeded
    # within what each input's QUANTIZE represents
    for t, x in zip(m.input_tensors, xs, strict=True):
        q = next(
            m.tensors[op.outputs[0]] for op in m.operators if op.inputs[0] == t.index
        ).quantization
        lo, hi = q.scale[0] * (-128 - q.zero_point[0]), q.scale[0] * (127 - q.zero_point[0])
        assert lo <= x.min() and x.max() <= hi
    int8 = load_model(mm.two_by_two_int8())
    assert known_inputs(int8)[0].tobytes() == known_input(int8).tobytes()


def test_one_refusal_names_every_unsupported_op(monkeypatch, tmp_path):
    data = mm.two_by_two_int8()
    ops = load_model(data).operators
    monkeypatch.delitem(registry.EMITTERS, "MUL")
    monkeypatch.delitem(registry.EMITTERS, "CONCATENATION")
    with pytest.raises(UnsupportedOpError) as err:
        compile_aot(data, tmp_path)
    text = str(err.value)
    assert "\n" not in text and "--runtime tflm" in text
    for op in ops:
        if op.op in ("MUL", "CONCATENATION"):
            assert f"op {op.op} (operator {op.index})" in text
    assert not list(tmp_path.iterdir())  # nothing written


def test_int16_inputs_and_outputs_are_bit_exact(tmp_path):
    """A 16x8 model of two int16 inputs and two int16 outputs (TFLM runs it on a board too:
    tests/harness/test_multi_io.py)."""
    runner = _bit_exact(mm.two_by_two_int16(), tmp_path)
    assert {t.dtype for t in (*runner.inputs, *runner.outputs)} == {np.dtype(np.int16)}
