"""A model's own strings reach the terminal only as printable text: `tflite-edge inspect` of a
model whose tensor names hold escape sequences, carriage returns and a bidirectional override
prints them escaped (issue 16: terminal injection)."""

from __future__ import annotations

import json

from tflite_edge.cli import main


def _renamed(data: bytes, names: dict[int, bytes]) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    for i, name in names.items():
        mt.subgraphs[0].tensors[i].name = name
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(mt.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_inspect_escapes_control_characters_of_tensor_names(models_dir, tmp_path, capsys):
    data = (models_dir / "hello_world_int8.tflite").read_bytes()
    from tflite_edge.model import load_model

    m = load_model(data)
    hostile = "\x1b[2J\x1b]0;owned\x07fake\rline\u202eevil".encode()
    path = tmp_path / "hostile.tflite"
    path.write_bytes(_renamed(data, {m.inputs[0]: hostile, m.outputs[0]: b"out\nTFLE 1 done"}))
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\x1b\x07\r\u202e")
    assert "\\x1b[2J\\x1b]0;owned\\x07fake\\x0dline\\u202eevil" in out
    assert "out\\x0aTFLE 1 done" in out and "\nTFLE 1 done" not in out
    # --json: a JSON document, no raw control character in it either
    assert main(["inspect", str(path), "--json"]) == 0
    raw = capsys.readouterr().out
    json.loads(raw)
    assert not any(ch in raw for ch in "\x1b\x07\r")
