"""SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM compiled ahead of time, bit-exact with TFLM.

Both ops keep state in variable tensors that TFLM fills once when it allocates them and
updates on every Invoke. Each check runs a stream of inputs through one compiled model (one
loaded library) and one TFLM interpreter (Reference, which never resets its variables), so
every output after the first depends on the state left by all the invocations before it.

SVDF models are written as flatbuffers here (no Keras layer lowers to SVDF); the LSTM models
are Keras LSTM layers (batch size 1) converted to int8, whose state TFLM keeps even though
Keras resets it per sequence.
"""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest
from aot_ops_support import KERNELS, edit_model, tflite_schema
from aot_support import arm_objects

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import load_model
from tflite_edge.reference import Reference

RECURRENT_SOURCES = [KERNELS / "tfle_svdf.c", KERNELS / "tfle_lstm.c"]


def _stream(data: bytes, out_dir, n: int, seed: int) -> None:
    """n consecutive invocations of the compiled model and of one TFLM interpreter agree."""
    aot.compile_aot(data, out_dir)
    runner = aot.build_host_runner(out_dir)
    ref = Reference(data)
    rng = np.random.default_rng(seed)
    xs = rng.integers(-128, 128, size=(n, *ref.input_shape[1:]), dtype=np.int8)
    want = ref.run(xs)
    got = runner.run(xs)
    diff = np.argwhere(got != want)
    assert diff.size == 0, (
        f"{len(diff)} values differ from TFLM, first at {diff[0].tolist()} "
        f"(invocation {diff[0][0]}): got {got[tuple(diff[0])]}, TFLM {want[tuple(diff[0])]}"
    )
    # the outputs vary (the state moved, nothing saturated throughout)
    assert len({g.tobytes() for g in got}) > n // 2
    assert np.mean(np.abs(got.astype(int)) >= 127) < 0.25


# --------------------------------------------------------------------------- SVDF models


def _tensor(schema, name, shape, ttype, buffer, scale=None, zp=0, variable=False):
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer, t.isVariable = name, list(shape), ttype, buffer, variable
    if scale is not None:
        q = schema.QuantizationParametersT()
        q.scale, q.zeroPoint = [float(np.float32(scale))], [int(zp)]
        t.quantization = q
    return t


def svdf_model(layers: list[dict], seed: int) -> bytes:
    """A chain of SVDF ops as a .tflite (int8 in and out). Each layer dict: input_size (the
    first's), units, rank, memory, state ("int16" or "int8")."""
    schema = tflite_schema()
    rng = np.random.default_rng(seed)
    T = schema.TensorType
    buffers = [schema.BufferT()]
    tensors, ops = [], []

    def const(values: np.ndarray) -> int:
        b = schema.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8)
        buffers.append(b)
        return len(buffers) - 1

    x_scale, x_zp = float(rng.uniform(0.01, 0.05)), int(rng.integers(-20, 20))
    n_in = layers[0]["input_size"]
    tensors.append(_tensor(schema, "input", (1, n_in), T.INT8, 0, x_scale, x_zp))
    x_index = 0
    for i, layer in enumerate(layers):
        units, rank, memory = layer["units"], layer["rank"], layer["memory"]
        wide = layer["state"] == "int16"
        filters = units * rank
        wf = rng.integers(-127, 128, size=(filters, n_in), dtype=np.int8)
        wf_scale = float(rng.uniform(0.002, 0.01))
        if wide:
            wt = rng.integers(-32767, 32768, size=(filters, memory)).astype("<i2")
            wt_scale, state_zp = float(rng.uniform(1e-5, 5e-5)), 0
            # state values of a few thousand, outputs of a few tens
            state_scale = x_scale * wf_scale / 0.08
            y_scale = state_scale * wt_scale / 2e-7
        else:
            wt = rng.integers(-127, 128, size=(filters, memory), dtype=np.int8)
            wt_scale, state_zp = float(rng.uniform(0.002, 0.01)), int(rng.integers(-10, 10))
            state_scale = x_scale * wf_scale / 1.2e-3
            y_scale = state_scale * wt_scale / 4e-3
        bias_scale = float(np.float32(state_scale) * np.float32(wt_scale))
        limit = (1 << 20) if wide else 3000  # a bias worth a few output steps
        bias = rng.integers(-limit, limit, size=units).astype("<i4")
        y_zp = int(rng.integers(-30, 30))
        base = len(tensors)
        state_type = T.INT16 if wide else T.INT8
        tensors += [
            _tensor(schema, f"wf{i}", wf.shape, T.INT8, const(wf), wf_scale),
            _tensor(schema, f"wt{i}", wt.shape, state_type, const(wt), wt_scale),
            _tensor(schema, f"bias{i}", bias.shape, T.INT32, const(bias), bias_scale),
            _tensor(
                schema,
                f"state{i}",
                (1, memory * filters),
                state_type,
                0,
                state_scale,
                state_zp,
                variable=True,
            ),  # fmt: skip
            _tensor(schema, f"out{i}", (1, units), T.INT8, 0, y_scale, y_zp),
        ]
        op = schema.OperatorT()
        op.opcodeIndex = 0
        op.inputs = [x_index, base, base + 1, base + 2, base + 3]
        op.outputs = [base + 4]
        op.builtinOptionsType = schema.BuiltinOptions.SVDFOptions
        op.builtinOptions = schema.SVDFOptionsT()
        op.builtinOptions.rank = rank
        ops.append(op)
        x_index, n_in = base + 4, units
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SVDF
    code.version = 1
    sg = schema.SubGraphT()
    sg.tensors, sg.operators, sg.inputs, sg.outputs = tensors, ops, [0], [x_index]
    mt = schema.ModelT()
    mt.version, mt.operatorCodes, mt.subgraphs, mt.buffers = 3, [code], [sg], buffers
    mt.description = "svdf test model"
    return edit_model(_pack(mt), lambda m: None)


def _pack(mt) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


SVDF_CASES = {
    # micro_speech's first layer: 40 features, memory 8, int16 state
    "int16_rank1": [dict(input_size=40, units=16, rank=1, memory=8, state="int16")],
    "int16_rank2": [dict(input_size=24, units=12, rank=2, memory=5, state="int16")],
    "int8_state": [dict(input_size=20, units=8, rank=2, memory=6, state="int8")],
    "two_layers": [
        dict(input_size=40, units=24, rank=1, memory=8, state="int16"),
        dict(input_size=24, units=6, rank=2, memory=4, state="int8"),
    ],
}


@pytest.mark.parametrize("case", sorted(SVDF_CASES))
def test_svdf_bit_exact_over_consecutive_invocations(case, tmp_path):
    data = svdf_model(SVDF_CASES[case], seed=sorted(SVDF_CASES).index(case))
    assert load_model(data).ops == ["SVDF"]
    _stream(data, tmp_path, n=40, seed=1)


def test_svdf_state_is_planned_apart_from_the_activations(tmp_path):
    """Each state tensor owns its arena bytes for the whole run; the plan says so."""
    data = svdf_model(SVDF_CASES["two_layers"], seed=3)
    result = aot.compile_aot(data, tmp_path)
    m = load_model(data)
    states = [t.index for t in m.tensors if t.is_variable]
    spans = {t: (off, off + n) for t, (off, n) in result.plan.items()}
    for s in states:
        for t, (lo, hi) in spans.items():
            if t != s:
                assert hi <= spans[s][0] or lo >= spans[s][1], (s, t)
    text = (tmp_path / "tfle_model.c").read_text()
    assert text.count("always") == len(states)
    assert "memset(" in text


def test_svdf_refusals():
    data = svdf_model(SVDF_CASES["int16_rank1"], seed=0)
    m = load_model(data)
    state = next(t.index for t in m.tensors if t.is_variable)

    def mixed(mt):  # int16 time weights with an int8 state
        mt.subgraphs[0].tensors[state].type = tflite_schema().TensorType.INT8

    def no_bias(mt):
        op = mt.subgraphs[0].operators[0]
        op.inputs = [i if k != 3 else -1 for k, i in enumerate(op.inputs)]

    for fn, what in [(mixed, "activation state of type int8"), (no_bias, "bias")]:
        with pytest.raises(UnsupportedOpError, match=what):
            aot.compile_aot(edit_model(data, fn), "/nonexistent-never-written")
