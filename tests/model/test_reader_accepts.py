"""The reader accepts every flatbuffer the TFLM interpreter runs, and refuses the rest with a
one-line ModelError naming the tensor or operator (never a Python traceback)."""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tflite_edge import ModelError
from tflite_edge.cli import main
from tflite_edge.model import load_model
from tflite_edge.model.shapes import infer_shapes
from tflite_edge.reference import Reference
from tflite_edge.support import model_support

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compiler"))
from aot_support import assert_bit_exact  # noqa: E402


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


@functools.cache
def _parsed(data: bytes):
    schema = _schema()
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def _edit(data: bytes, fn) -> bytes:
    """fn(ModelT) applied to the flatbuffer, serialized again with the reader's schema."""
    import flatbuffers

    mt = copy.deepcopy(_parsed(data))
    fn(mt)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


MODELS = Path(__file__).resolve().parents[2].parent / "shared" / "models"


@functools.cache
def _cnn() -> bytes:
    """KWS: a per-channel int8 CNN (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, RESHAPE,
    FULLY_CONNECTED, SOFTMAX) whose biases are per-channel too."""
    return (MODELS / "kws_ref_model.tflite").read_bytes()


@functools.cache
def _hello() -> bytes:
    return (MODELS / "hello_world_int8.tflite").read_bytes()


def _uint8_input() -> bytes:
    """hello_world behind a uint8 input: QUANTIZE uint8 -> int8 (zero point + 128), as the
    converter writes for inference_input_type=tf.uint8."""
    schema = _schema()

    def fn(mt):
        sg = mt.subgraphs[0]
        old = sg.tensors[sg.inputs[0]]
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
        code.version = 1
        mt.operatorCodes.append(code)
        t = schema.TensorT()
        t.shape, t.type, t.name, t.buffer = list(old.shape), schema.TensorType.UINT8, "in_u8", 0
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale = list(old.quantization.scale)
        t.quantization.zeroPoint = [int(old.quantization.zeroPoint[0]) + 128]
        sg.tensors.append(t)
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = (
            len(mt.operatorCodes) - 1,
            [len(sg.tensors) - 1],
            [sg.inputs[0]],
        )
        sg.operators.insert(0, op)
        sg.inputs = [len(sg.tensors) - 1]

    return _edit(_hello(), fn)


def _op_index(data: bytes, name: str) -> int:
    return next(o.index for o in load_model(data).operators if o.op == name)


def test_bias_with_its_filters_quantized_dimension_is_read(tmp_path):
    # TFLM's person_detect.tflite: a 1-D per-channel bias carrying the filter's axis 3
    data = _cnn()
    conv = load_model(data).operators[_op_index(data, "CONV_2D")]
    bias = conv.inputs[2]

    def fn(mt):
        mt.subgraphs[0].tensors[bias].quantization.quantizedDimension = 3

    edited = _edit(data, fn)
    ref = Reference(edited)  # TFLM runs it
    x = np.random.default_rng(0).integers(-128, 128, ref.input_shape, dtype=np.int8)
    np.testing.assert_array_equal(ref.run_one(x), Reference(data).run_one(x))
    t = load_model(edited).tensors[bias]
    assert t.quantization.per_channel and t.quantization.axis == 0
    assert_bit_exact(load_model(edited), tmp_path, n=20)


def _cast(mt, src: int, ttype: int, name: str) -> int:
    """Append a CAST of tensor src to a new tensor of type ttype; its index."""
    schema = _schema()
    sg = mt.subgraphs[0]
    if not any(c.builtinCode == schema.BuiltinOperator.CAST for c in mt.operatorCodes):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CAST
        code.version = 1
        mt.operatorCodes.append(code)
    t = schema.TensorT()
    t.shape, t.type, t.name, t.buffer = list(sg.tensors[src].shape), ttype, name, 0
    sg.tensors.append(t)
    op = schema.OperatorT()
    op.opcodeIndex = next(
        i for i, c in enumerate(mt.operatorCodes) if c.builtinCode == schema.BuiltinOperator.CAST
    )
    op.inputs, op.outputs = [src], [len(sg.tensors) - 1]
    sg.operators.append(op)
    return len(sg.tensors) - 1


def test_unsigned_tensors_are_read():
    # uint8 input (converted), uint32 activations (CAST), a uint16 constant (as in TFLM's
    # audio front-end models): TFLM runs the model and the reader reads every tensor
    schema = _schema()
    T = schema.TensorType

    def fn(mt):
        sg = mt.subgraphs[0]
        u32 = _cast(mt, sg.outputs[0], T.UINT32, "as_uint32")
        sg.outputs = [_cast(mt, u32, T.INT8, "back_to_int8")]
        buf = schema.BufferT()
        buf.data = list(np.array([1, 65535, 7], np.uint16).tobytes())
        mt.buffers.append(buf)
        t = schema.TensorT()
        t.shape, t.type, t.name, t.buffer = [3], T.UINT16, "table_u16", len(mt.buffers) - 1
        sg.tensors.append(t)

    plain = _uint8_input()
    data = _edit(plain, fn)
    ref = Reference(data)
    assert ref.input_dtype == np.uint8 and ref.output_dtype == np.int8
    for v in (0, 77, 128, 255):  # the uint8 input v is the int8 input v - 128
        x = np.full(ref.input_shape, v, np.uint8)
        want = Reference(_hello()).run_one((x.astype(np.int16) - 128).astype(np.int8))
        np.testing.assert_array_equal(ref.run_one(x), want)
    m = load_model(data)
    types = {t.name: (np.dtype(t.dtype).name, t.type) for t in m.tensors}
    assert types["as_uint32"] == ("uint32", "UINT32")
    assert m.input_tensors[0].dtype == np.uint8 and m.input_tensors[0].type == "UINT8"
    table = next(t for t in m.tensors if t.name == "table_u16")
    assert table.data.tolist() == [1, 65535, 7] and table.nbytes == 6


def test_packed_int4_weights_are_unpacked(tmp_path):
    # an INT4 filter, packed two values a byte low nibble first: the reader unpacks it as
    # TFLM does, so the model's outputs are those of the same model with int8 weights
    data = _cnn()
    fc = load_model(data).operators[_op_index(data, "FULLY_CONNECTED")]
    w = load_model(data).tensors[fc.inputs[1]]
    values = np.clip(w.data.astype(np.int64) // 16, -8, 7).astype(np.int8)
    nib = (values.ravel().astype(np.uint8) & 0xF).tolist() + [0]

    def int4(mt):
        t = mt.subgraphs[0].tensors[fc.inputs[1]]
        t.type = _schema().TensorType.INT4
        pairs = zip(nib[::2], nib[1::2], strict=False)
        mt.buffers[t.buffer].data = [lo | (hi << 4) for lo, hi in pairs]

    def int8(mt):
        t = mt.subgraphs[0].tensors[fc.inputs[1]]
        mt.buffers[t.buffer].data = list(values.ravel().view(np.uint8))

    packed = _edit(data, int4)
    m = load_model(packed)
    t = m.tensors[fc.inputs[1]]
    assert t.type == "INT4" and t.dtype == np.int8 and t.nbytes == (t.size + 1) // 2
    np.testing.assert_array_equal(t.data, values)
    ref = Reference(packed)
    x = np.random.default_rng(1).integers(-128, 128, ref.input_shape, dtype=np.int8)
    np.testing.assert_array_equal(ref.run_one(x), Reference(_edit(data, int8)).run_one(x))
    assert_bit_exact(m, tmp_path, n=20)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -0.25])
def test_bad_scales_are_one_line_errors_naming_the_tensor(value, tmp_path, capsys):
    data = _cnn()
    m = load_model(data)
    act = next(t for t in m.tensors if not t.is_constant and t.index not in m.inputs)

    def fn(mt):
        mt.subgraphs[0].tensors[act.index].quantization.scale = [value]

    path = tmp_path / "bad.tflite"
    path.write_bytes(_edit(data, fn))
    with pytest.raises(ModelError) as err:
        load_model(path)
    msg = str(err.value)
    assert f"tensor {act.index} ({act.name!r})" in msg and "scale" in msg and "\n" not in msg
    rc = main(["render", str(path), "--board", "qemu-m4", "-o", str(tmp_path / "out")])
    out = capsys.readouterr()
    assert rc == 2 and out.out == ""
    assert out.err.count("\n") == 1 and f"tensor {act.index}" in out.err


def test_a_zero_scale_on_a_constant_is_accepted():
    # an all-zero weight channel may carry scale 0: TFLM's multiplier is then 0, well defined
    data = _cnn()
    conv = load_model(data).operators[_op_index(data, "CONV_2D")]

    def fn(mt):
        q = mt.subgraphs[0].tensors[conv.inputs[1]].quantization
        q.scale = [0.0, *q.scale[1:]]

    assert load_model(_edit(data, fn)).tensors[conv.inputs[1]].quantization.scale[0] == 0.0


# --- seeded mutations: TFLM's verdict against the reader's ---------------------------------

# Runs each file under the TFLM interpreter (load, allocate, invoke on zeros) and prints one
# verdict line per file; a crash ends the process, the parent restarts after that file.
_TFLM_CHILD = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
for path in sys.argv[1:]:
    try:
        it = runtime.Interpreter.from_bytes(open(path, "rb").read(), arena_size=1 << 20)
        d = it.get_input_details(0)
        it.set_input(np.zeros(d["shape"], d["dtype"]), 0)
        it.invoke()
        verdict = "OK"
    except Exception:
        verdict = "NO"
    print(verdict, path, flush=True)
"""


def _tflm_verdicts(paths: list[Path]) -> dict[Path, bool]:
    out: dict[Path, bool] = {}
    todo = list(paths)
    while todo:
        proc = subprocess.run(
            [sys.executable, "-c", _TFLM_CHILD, *map(str, todo)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        done = [ln.split(" ", 1) for ln in proc.stdout.splitlines() if ln[:3] in ("OK ", "NO ")]
        for verdict, p in done:
            out[Path(p)] = verdict == "OK"
        todo = todo[len(done) :]
        if todo and proc.returncode != 0:
            out[todo.pop(0)] = False  # it crashed TFLM
    return out


def _mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One seeded edit of a model, of the kinds a hand-edited or odd exporter's file has."""
    schema = _schema()
    kinds = [
        "axis", "zero_points", "unsigned", "type", "version", "longer_buffer", "shorter_buffer",
        "no_quantization", "scale", "shape", "name", "input_index", "stride", "opcode",
        "no_zero_points",
    ]  # fmt: skip
    kind = kinds[int(rng.integers(len(kinds)))]

    def fn(mt):
        sg = mt.subgraphs[0]
        tensors = sg.tensors
        quantized = [
            t
            for t in tensors
            if t.quantization is not None
            and t.quantization.scale is not None
            and len(t.quantization.scale)
        ]
        consts = [t for t in tensors if t.buffer and mt.buffers[t.buffer].data is not None]
        acts = [t for t in tensors if t not in consts]
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        op = pick(sg.operators)
        if kind == "axis":
            pick(quantized).quantization.quantizedDimension = int(rng.integers(0, 5))
        elif kind == "zero_points":
            q = pick(quantized).quantization
            q.zeroPoint = list(q.zeroPoint) * int(rng.integers(0, 3)) or [int(q.zeroPoint[0])]
        elif kind == "no_zero_points":
            pick(quantized).quantization.zeroPoint = []
        elif kind == "unsigned":
            pick(acts).type = pick([schema.TensorType.UINT8, 15, 16])
        elif kind == "type":
            pick(tensors).type = int(rng.integers(0, 23))
        elif kind == "version":
            pick(mt.operatorCodes).version = int(rng.integers(1, 12))
        elif kind == "longer_buffer":
            b = mt.buffers[pick(consts).buffer]
            b.data = list(b.data) + [int(v) for v in rng.integers(0, 256, int(rng.integers(1, 9)))]
        elif kind == "shorter_buffer":
            b = mt.buffers[pick(consts).buffer]
            b.data = list(b.data)[: max(0, len(b.data) - int(rng.integers(1, 9)))]
        elif kind == "no_quantization":
            pick(quantized).quantization = None
        elif kind == "scale":
            t = pick(quantized)
            t.quantization.scale = [float(pick([np.nan, -1.0, 0.0, 1e-30, 1e30, np.inf]))] * len(
                t.quantization.scale
            )
        elif kind == "shape":
            t = pick(acts)
            if t.shape is not None and len(t.shape):
                t.shape = [int(d) for d in t.shape]
                t.shape[int(rng.integers(len(t.shape)))] = int(rng.integers(-1, 4))
        elif kind == "name":
            pick(tensors).name = pick([None, b"", "x" * 300, b"\xff\xfe"])
        elif kind == "input_index":
            if op.inputs is not None and len(op.inputs):
                op.inputs = [int(i) for i in op.inputs]
                op.inputs[int(rng.integers(len(op.inputs)))] = int(
                    rng.integers(-1, len(tensors) + 3)
                )
        elif kind == "stride":
            if op.builtinOptions is not None and hasattr(op.builtinOptions, "strideW"):
                op.builtinOptions.strideW = int(rng.integers(0, 4))
        elif kind == "opcode":
            c = pick(mt.operatorCodes)
            c.builtinCode = c.deprecatedBuiltinCode = int(rng.integers(0, 127))

    return kind, _edit(data, fn)


def _bad_scale(mutated: bytes) -> bool:
    """Whether a mutation gave a tensor a scale `check_scales` refuses (item 2's rule)."""
    schema = _schema()
    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(mutated, 0))
    sg = mt.subgraphs[0]
    for t in sg.tensors:
        q = t.quantization
        if q is None or q.scale is None or not len(q.scale) or q.zeroPoint is None:
            continue
        s = np.asarray(q.scale, np.float64)
        const = bool(t.buffer) and mt.buffers[t.buffer].data is not None
        if (~np.isfinite(s) | (s < 0) | ((s == 0) & (not const))).any() and len(q.zeroPoint):
            return True
    return False


def test_mutated_models_tflm_runs_are_read(tmp_path):
    bases = [_cnn(), _hello()]
    rng = np.random.default_rng(1414)
    cases = []
    for i in range(120):
        kind, mutated = _mutate(bases[i % 2], rng)
        path = tmp_path / f"m{i:03d}_{kind}.tflite"
        path.write_bytes(mutated)
        cases.append((kind, path))
    verdicts = _tflm_verdicts([p for _, p in cases])
    accepted = refused = 0
    for kind, path in cases:
        try:
            m = load_model(path.read_bytes())
        except ModelError as err:
            msg = str(err)
            assert "\n" not in msg, (kind, msg)
            assert "tensor " in msg or "operator " in msg, (kind, msg)
            if verdicts[path]:
                # TFLM ran it: only a scale its arithmetic breaks on (NaN, inf, <= 0), or a
                # constant shorter than its shape, which TFLM reads past the end of
                short = "but its buffer has" in msg
                scale = _bad_scale(path.read_bytes()) and "scale" in msg
                assert short or scale, (kind, path.name, msg)
            refused += 1
            continue
        accepted += 1
        assert len(m.tensors) and all(t.type for t in m.tensors)
        inferred = infer_shapes(m)  # shape inference takes whatever the reader reads
        assert [t.index for t in inferred.tensors] == [t.index for t in m.tensors]
        assert set(model_support(m)) == set(m.ops)
    tflm_ok = sum(verdicts.values())
    assert tflm_ok >= 60 and accepted >= 90 and refused >= 10, (tflm_ok, accepted, refused)
