"""The TFLM reference wrapper: arena figures, outputs and their CRC32 come from the real
interpreter."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from tflite_edge import DataError
from tflite_edge.model import known_input
from tflite_edge.reference import (
    Reference,
    crc32,
    missing_ops,
    parse_allocations,
    resolver_methods,
)


def test_arena_parts_add_up(reference_model):
    a = Reference(reference_model).arena()
    assert a.total == a.head + a.tail > 0


def test_run_matches_direct_interpreter(reference_model):
    from tflite_micro.python.tflite_micro import runtime

    ref = Reference(reference_model)
    rng = np.random.default_rng(1)
    xs = rng.integers(-128, 128, size=(3, *ref.input_shape[1:]), dtype=np.int8)
    got = ref.run(xs)
    direct = runtime.Interpreter.from_bytes(reference_model.read_bytes())
    for x, y in zip(xs, got, strict=True):
        direct.set_input(x[None], 0)
        direct.invoke()
        np.testing.assert_array_equal(direct.get_output(0)[0], y)


def test_reference_ops_are_all_in_tflm(reference_model):
    assert missing_ops(reference_model) == []
    assert len(resolver_methods(reference_model)) == len(set(resolver_methods(reference_model)))


def test_wrong_input_shape_and_dtype(models_dir):
    ref = Reference(models_dir / "hello_world_int8.tflite")
    with pytest.raises(DataError, match="expects int8"):
        ref.run_one(np.zeros((1, 1), np.float32))
    with pytest.raises(DataError, match="expects"):
        ref.run_one(np.zeros((1, 3), np.int8))


def test_parse_allocations_rejects_silence():
    with pytest.raises(RuntimeError):
        parse_allocations("nothing here")


def test_crc32_is_zlibs_in_eight_hex_digits():
    for data in (b"", b"\x00", bytes(range(256)), np.arange(-128, 128, dtype=np.int8).tobytes()):
        assert crc32(data) == f"{zlib.crc32(data):08x}"
    assert crc32(b"123456789") == "cbf43926"  # the CRC-32 check value


def test_output_crc32_is_the_crc_of_the_interpreters_output_bytes(reference_model):
    from tflite_micro.python.tflite_micro import runtime

    ref = Reference(reference_model)
    direct = runtime.Interpreter.from_bytes(reference_model.read_bytes())

    def direct_crc(x: np.ndarray) -> str:
        direct.set_input(x.reshape(ref.input_shape), 0)
        direct.invoke()
        return f"{zlib.crc32(np.ascontiguousarray(direct.get_output(0)).tobytes()):08x}"

    assert ref.output_crc32() == direct_crc(known_input(ref.model))  # the harness's input
    x = np.random.default_rng(2).integers(-128, 128, size=ref.input_shape, dtype=np.int8)
    assert ref.output_crc32(x) == direct_crc(x)
