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

import copy
import functools
import re
import subprocess

import numpy as np
import pytest
from aot_ops_support import KERNELS, Kernels, edit_model, reshaped, struct, tflite_schema
from aot_support import arm_objects

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge.compiler.ops import activations as activations_op
from tflite_edge.compiler.ops import lstm as lstm_op
from tflite_edge.errors import ModelError, UnsupportedOpError
from tflite_edge.model import load_model
from tflite_edge.reference import Reference

RECURRENT_SOURCES = [KERNELS / "tfle_svdf.c", KERNELS / "tfle_lstm.c"]


def _stream(data: bytes, out_dir, n: int, seed: int) -> None:
    """n consecutive invocations of the compiled model and of one TFLM interpreter agree."""
    aot.compile_aot(data, out_dir)
    runner = aot.build_host_runner(out_dir)
    ref = Reference(data)
    rng = np.random.default_rng(seed)
    xs = rng.integers(-128, 128, size=(n, *ref.input_shape), dtype=np.int8)
    # one sample at a time (Reference.run takes the first dimension for a batch of 1)
    want = np.stack([ref.run_one(x) for x in xs])
    got = np.stack([runner.run_one(x) for x in xs])
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
    return _pack(mt)


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


def test_svdf_refusals(tmp_path):
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
            aot.compile_aot(edit_model(data, fn), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- LSTM models

LSTM_SHAPE = (49, 10)  # keyword-spotting style: 49 frames of 10 features


@functools.cache
def lstm_models() -> dict[bool, bytes]:
    """Input((49, 10), batch_size=1) -> LSTM(16) -> Dense(4), random weights, keyed by
    return_sequences. One Keras model is converted (once per session): return_sequences=False
    gives LSTM -> STRIDED_SLICE (the last step) -> FULLY_CONNECTED. The converter writes the
    same LSTM op for return_sequences=True, followed by a FULLY_CONNECTED over every step
    (keep_num_dims); that model is this one without the slice, its weights unchanged."""
    k = om.keras()
    inp = k.Input(LSTM_SHAPE, batch_size=1)
    y = k.layers.Dense(4)(k.layers.LSTM(16, return_sequences=False)(inp))
    last = om.convert_keras(om.randomize(k.Model(inp, y), seed=7), LSTM_SHAPE, samples=4)

    def every_step(mt):
        sg = mt.subgraphs[0]
        lstm, _, fc = sg.operators
        fc.inputs = [lstm.outputs[0], *list(fc.inputs)[1:]]
        fc.builtinOptions.keepNumDims = True
        sg.tensors[fc.outputs[0]].shape = [1, LSTM_SHAPE[0], 4]
        sg.tensors[fc.outputs[0]].shapeSignature = None
        sg.operators = [lstm, fc]

    return {False: last, True: edit_model(last, every_step)}


def lstm_only(data: bytes, shapes: dict | None = None, options: dict | None = None) -> bytes:
    """The model cut down to its LSTM op (the model's output is the LSTM's), with tensor
    shapes and LSTM options replaced."""

    def cut(mt):
        sg = mt.subgraphs[0]
        sg.operators = sg.operators[:1]
        sg.outputs = list(sg.operators[0].outputs)

    return reshaped(edit_model(data, cut), shapes or {}, options=options)


def _lstm_tensors(data: bytes) -> tuple[int, int, int, int]:
    op = load_model(data).operators[0]
    assert op.op == "UNIDIRECTIONAL_SEQUENCE_LSTM"
    return op.inputs[0], op.inputs[18], op.inputs[19], op.outputs[0]


def test_keras_lstm_converts_to_the_integer_lstm():
    """The converter writes one int8 UNIDIRECTIONAL_SEQUENCE_LSTM: int16 cell state, tanh
    cell gate, no peepholes, projection or layer norm, batch major."""
    for seq, data in lstm_models().items():
        m = load_model(data)
        expected = ["UNIDIRECTIONAL_SEQUENCE_LSTM", "FULLY_CONNECTED"]
        if not seq:
            expected.insert(1, "STRIDED_SLICE")  # the last time step
        assert m.ops == expected
        op = m.operators[0]
        x, h, c, y = _lstm_tensors(data)
        dtypes = [np.dtype(m.tensors[t].dtype).name for t in (x, h, c, y)]
        assert dtypes == ["int8", "int8", "int16", "int8"]
        assert m.tensors[h].is_variable and m.tensors[c].is_variable
        assert all(op.inputs[i] < 0 for i in (9, 10, 11, 16, 17, 20, 21, 22, 23))
        assert op.options["fusedActivationFunction"] == "TANH"
        assert not op.options["timeMajor"]


def test_lstm_return_sequences_model_bit_exact(tmp_path):
    """LSTM (all 49 steps) -> Dense over each step: 30 consecutive invocations."""
    _stream(lstm_models()[True], tmp_path, n=30, seed=2)


def test_lstm_last_step_model(tmp_path):
    """return_sequences=False: the LSTM is the same op; the model adds a STRIDED_SLICE of the
    last step, compiled where the AOT compiler has it and refused by name otherwise."""
    data = lstm_models()[False]
    if "STRIDED_SLICE" in aot.EMITTERS:
        _stream(data, tmp_path / "full", n=20, seed=3)
    else:
        with pytest.raises(UnsupportedOpError, match="STRIDED_SLICE"):
            aot.compile_aot(data, tmp_path / "full")
    _stream(lstm_only(data), tmp_path / "lstm", n=20, seed=3)


@pytest.mark.parametrize(
    "batches,time_major,clip",
    [(1, True, 10.0), (2, False, 0.3), (3, True, 0.0)],
    ids=["tm1", "batch2_clip", "tm3_noclip"],
)
def test_lstm_batches_time_major_and_cell_clip(batches, time_major, clip, tmp_path):
    """The converted LSTM with its shapes and options rewritten: several batches (each its
    own state rows), time-major layouts, a cell clip that bites (0.3) and none (0)."""
    data = lstm_models()[True]
    x, h, c, y = _lstm_tensors(data)
    steps = 17
    lead = (steps, batches) if time_major else (batches, steps)
    shapes = {x: (*lead, 10), y: (*lead, 16), h: (batches, 16), c: (batches, 16)}
    cut = lstm_only(data, shapes, options={"timeMajor": time_major, "cellClip": clip})
    _stream(cut, tmp_path, n=12, seed=batches)


def test_lstm_refusals(tmp_path):
    data = lstm_models()[True]
    _, h, c, _ = _lstm_tensors(data)

    def cell_int8(mt):
        mt.subgraphs[0].tensors[c].type = tflite_schema().TensorType.INT8

    def relu_cell(mt):  # TFLM would stop at run time
        mt.subgraphs[0].operators[0].builtinOptions.fusedActivationFunction = 1

    def not_variable(mt):
        mt.subgraphs[0].tensors[h].isVariable = False

    def per_channel(mt):  # TFLM's LSTM would read a multiplier it never computed
        w = mt.subgraphs[0].operators[0].inputs[2]
        q = mt.subgraphs[0].tensors[w].quantization
        q.scale, q.zeroPoint = [float(q.scale[0])] * 16, [0] * 16

    cases = [(cell_int8, "cell state of type int8"), (relu_cell, "cell gate activation RELU"),
             (per_channel, "per-channel gate weights")]  # fmt: skip
    for fn, what in cases:
        with pytest.raises(UnsupportedOpError, match=what):
            aot.compile_aot(edit_model(data, fn), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # a state that is not a variable tensor is an input nothing writes
    with pytest.raises(ModelError, match="nothing writes"):
        aot.compile_aot(edit_model(data, not_variable), tmp_path / "out")


def _unary_int16_model(op: str, scale: float) -> bytes:
    """One int16 LOGISTIC or TANH op over all 65536 int16 values (input zero point 0, output
    scale 2^-15), written as a flatbuffer."""
    schema = tflite_schema()
    T = schema.TensorType
    sg = schema.SubGraphT()
    sg.tensors = [
        _tensor(schema, "x", (1 << 16,), T.INT16, 0, scale),
        _tensor(schema, "y", (1 << 16,), T.INT16, 0, 2.0**-15),
    ]
    o = schema.OperatorT()
    o.opcodeIndex, o.inputs, o.outputs = 0, [0], [1]
    sg.operators, sg.inputs, sg.outputs = [o], [0], [1]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, op)
    code.version = 1
    mt = schema.ModelT()
    mt.version, mt.operatorCodes, mt.subgraphs = 3, [code], [sg]
    mt.buffers = [schema.BufferT()]
    return _pack(mt)


def test_lstm_sigmoid_and_tanh_on_every_int16(tmp_path):
    """The LSTM's nonlinearities (tfle_logistic_s16 / tfle_tanh_s16 with the parameters the
    LSTM emitter gives them) equal TFLM's int16 LOGISTIC and TANH on all 65536 inputs (every
    entry of the lookup table is used): the gates' (input Q3.12) as LOGISTIC and TANH of a
    2^-12 input scale, the cell state's tanh (cell scales 2^-11, 2^-13, 2^-15) as TANH of that
    input scale, whose Prepare picks an equivalent input rescaling."""
    lib_path = tmp_path / "libtfle_act.so"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared",
           "-fPIC", f"-I{KERNELS}", str(KERNELS / "tfle_activations.c"), "-o",
           str(lib_path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lib = Kernels(lib_path)
    x = np.arange(-(1 << 15), 1 << 15, dtype=np.int16)
    table = activations_op.sigmoid16_table()
    cases = [("LOGISTIC", "gate", -12), ("TANH", "gate", -12), ("TANH", "cell", -11),
             ("TANH", "cell", -13), ("TANH", "cell", -15)]  # fmt: skip
    for op, which, power in cases:
        gate, cell = lstm_op.activation_params(x.size, power)
        values = gate if which == "gate" else cell
        want = Reference(_unary_int16_model(op, 2.0**power)).run_one(x).ravel()
        got = x.copy()  # in place, as the LSTM runs them
        lib(f"tfle_{op.lower()}_s16", struct("tfle_sigmoid16_params", values), table, got, got)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (op, power, x[bad[:5]], got[bad[:5]], want[bad[:5]])


def two_lstm_model() -> bytes:
    """The return_sequences model's LSTM followed by a second LSTM layer (the model's output):
    its input weights are the first's recurrent weights ([16][16]), its states and output
    tensors copies of the first's."""

    def chain(mt):
        sg = mt.subgraphs[0]
        lstm = sg.operators[0]
        ins = list(lstm.inputs)

        def clone(index: int, name: str) -> int:
            t = copy.deepcopy(sg.tensors[index])
            t.name = name
            if mt.buffers[t.buffer].data is None and t.buffer != 0:
                mt.buffers.append(tflite_schema().BufferT())
                t.buffer = len(mt.buffers) - 1
            sg.tensors.append(t)
            return len(sg.tensors) - 1

        second = copy.deepcopy(lstm)
        second.inputs = [lstm.outputs[0], *ins[5:9], *ins[5:9], *ins[9:18],
                         clone(ins[18], "h2"), clone(ins[19], "c2"), *ins[20:]]  # fmt: skip
        second.outputs = [clone(lstm.outputs[0], "lstm2_out")]
        sg.operators, sg.outputs = [lstm, second], list(second.outputs)

    return edit_model(lstm_models()[True], chain)


def test_two_lstm_layers_share_one_sigmoid_table(tmp_path):
    """The kernel carries no table; the model puts TFLM's sigmoid table (made by
    sigmoid16_table()) in flash once for both LSTM layers, and the gates' activation
    parameters once; two stacked layers are bit-exact over consecutive invocations."""
    assert "uint16_t" not in (KERNELS / "tfle_lstm.c").read_text()
    data = two_lstm_model()
    ops = [o.op for o in load_model(data).operators]
    assert ops == ["UNIDIRECTIONAL_SEQUENCE_LSTM"] * 2
    _stream(data, tmp_path, n=8, seed=4)
    text = (tmp_path / "tfle_model.c").read_text()
    tables = re.findall(r"static const uint16_t (k_\w+)\[256\]", text)
    assert len(tables) == 1, tables
    body = text.split(f"{tables[0]}[256]", 1)[1].split("};", 1)[0]
    values = [int(v.rstrip("u"), 0) for v in re.findall(r"\b\w+\b", body.split("{", 1)[1])]
    assert values == activations_op.sigmoid16_table().tolist()
    lstm_structs = re.findall(r"static const tfle_lstm_params \w+ = (.*);", text)
    assert len(lstm_structs) == 2
    assert all(s.endswith(f", {tables[0]}}}") for s in lstm_structs), lstm_structs
    assert len(re.findall(r"static const tfle_sigmoid16_params ", text)) == 2  # gates, cell


def test_recurrent_kernels_compile_cleanly_and_for_cortex_m4(tmp_path):
    """The kernels pass gcc -Wall -Wextra -pedantic -Werror; an SVDF and an LSTM model
    build with arm-none-eabi-gcc for cortex-m4."""
    obj = tmp_path / "k.o"
    for src in RECURRENT_SOURCES:
        cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror",
               f"-I{KERNELS}", "-c", str(src), "-o", str(obj)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    for name, data in [("svdf", svdf_model(SVDF_CASES["two_layers"], seed=3)),
                       ("lstm", lstm_models()[True])]:  # fmt: skip
        aot.compile_aot(data, tmp_path / name)
        objs = arm_objects(tmp_path / name, "cortex-m4")
        assert all(o.exists() for o in objs)
