"""A refusal names every op the AOT compiler lacks, in one line, and suggests `--runtime tflm`
only when TFLM has a kernel for each of them (the TFLM side: tflite_edge.reference.TFLM_OPS,
the resolver of the tflite-micro package)."""

from __future__ import annotations

import pytest

from tflite_edge.compiler import EMITTERS, compile_aot
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.reference import TFLM_OPS


def _with_ops(data: bytes, swap: dict[str, str]) -> bytes:
    """The model with the operator codes of `swap` (op name -> op name) replaced."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    for code in mt.operatorCodes:
        name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        if name in swap:
            new = getattr(schema.BuiltinOperator, swap[name])
            code.builtinCode, code.deprecatedBuiltinCode = new, min(new, 127)
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(mt.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tflm_only_and_neither() -> tuple[str, str]:
    """An op TFLM has and the AOT lacks, and one neither has, from the two tables."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    builtins = [k for k in vars(schema.BuiltinOperator) if not k.startswith("_")]
    tflm_only = sorted(op for op in TFLM_OPS if op not in EMITTERS)
    neither = sorted(op for op in builtins if op not in TFLM_OPS and op not in EMITTERS)
    assert "L2_NORMALIZATION" in tflm_only and neither
    return "L2_NORMALIZATION", neither[0]


def test_refusal_suggests_tflm_only_when_tflm_has_the_ops(models_dir, tmp_path):
    data = (models_dir / "kws_ref_model.tflite").read_bytes()
    tflm_only, neither = _tflm_only_and_neither()

    with pytest.raises(UnsupportedOpError) as err:
        compile_aot(_with_ops(data, {"SOFTMAX": tflm_only}), tmp_path / "a")
    text = str(err.value)
    assert "\n" not in text and tflm_only in text and "--runtime tflm" in text

    # both at once: one line naming each, and no TFLM suggestion (TFLM lacks one of them)
    both = _with_ops(data, {"SOFTMAX": tflm_only, "AVERAGE_POOL_2D": neither})
    with pytest.raises(UnsupportedOpError) as err:
        compile_aot(both, tmp_path / "b")
    text = str(err.value)
    assert "\n" not in text and tflm_only in text and neither in text
    assert "--runtime tflm" not in text and f"TFLM has no kernel for {neither} either" in text
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
