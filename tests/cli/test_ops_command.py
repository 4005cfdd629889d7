"""`tflite-edge ops` lists the AOT runtime's ops beside TFLM's; `inspect` shows both per op."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tflite_edge.cli import main
from tflite_edge.compiler import EMITTERS
from tflite_edge.model import load_model
from tflite_edge.reference import TFLM_OPS
from tflite_edge.support import aot_ops, model_support


def _run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_ops_lists_every_emitter_with_its_types_and_tflm(capsys):
    rc, out, err = _run(capsys, "ops")
    assert rc == 0 and err == ""
    rows = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines()[1 : 1 + len(EMITTERS)]}
    assert set(rows) == set(EMITTERS)
    for op, (types, tflm) in rows.items():
        assert types == "/".join(EMITTERS[op].dtypes)
        assert tflm == ("yes" if op in TFLM_OPS else "NO")
    assert f"{len(EMITTERS)} ops compiled by the AOT runtime" in out
    assert "TFLM only" in out and "L2_NORMALIZATION" in out.split("TFLM only")[1]


def test_ops_json(capsys):
    rc, out, _ = _run(capsys, "ops", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert [o["op"] for o in doc["aot"]] == sorted(EMITTERS)
    for o in doc["aot"]:
        assert o["dtypes"] == list(EMITTERS[o["op"]].dtypes)
        assert o["tflm"] == (o["op"] in TFLM_OPS) and o["alias"] == EMITTERS[o["op"]].alias
    assert set(doc["tflm_only"]) == set(TFLM_OPS) - set(EMITTERS)
    assert [o.to_dict() for o in aot_ops()] == doc["aot"]


def test_ops_has_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["ops", "--help"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("usage: tflite-edge ops")


def test_inspect_shows_aot_support_per_op(capsys, models_dir):
    path = models_dir / "kws_ref_model.tflite"
    rc, out, _ = _run(capsys, "inspect", str(path), "--json")
    assert rc == 0
    doc = json.loads(out)
    assert set(doc["aot_ops"]) == set(load_model(path).ops)
    assert all(v["aot"] and v["tflm"] and v["dtypes"] == ["int8"] for v in doc["aot_ops"].values())
    assert doc["aot_ok"] is True and doc["aot_error"] is None
    rc, text, _ = _run(capsys, "inspect", str(path))
    assert rc == 0 and "AOT compiler: compiles" in text
    assert "yes (int8)" in text.split("CONV_2D", 1)[1].splitlines()[0]


def test_inspect_names_what_the_aot_runtime_lacks(capsys, models_dir, tmp_path):
    # SOFTMAX turned into L2_NORMALIZATION: TFLM has a kernel, the AOT runtime has no emitter
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    data = (models_dir / "kws_ref_model.tflite").read_bytes()
    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    for code in mt.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.SOFTMAX:
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.L2_NORMALIZATION
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(mt.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "l2_normalization.tflite"
    path.write_bytes(bytes(b.Output()))
    rc, text, _ = _run(capsys, "inspect", str(path))
    assert rc == 0
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("L2_NORMALIZATION"))
    assert "yes" in line and "NO - no AOT emitter" in line
    verdict = next(ln for ln in text.splitlines() if ln.startswith("AOT compiler:"))
    assert "refuses" in verdict and "L2_NORMALIZATION" in verdict


def test_an_op_of_a_type_its_emitter_does_not_compile_is_marked(monkeypatch, models_dir):
    fc = EMITTERS["FULLY_CONNECTED"]
    monkeypatch.setitem(EMITTERS, "FULLY_CONNECTED", dataclasses.replace(fc, dtypes=("int16",)))
    support = model_support(load_model(models_dir / "hello_world_int8.tflite"))
    assert support["FULLY_CONNECTED"] == {
        "tflm": True,
        "aot": False,
        "dtypes": ["int8"],
        "aot_dtypes": ["int16"],
    }
