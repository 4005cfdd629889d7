"""ABS compiled ahead of time: bit-exact with the TFLM interpreter on every int8 input."""

from __future__ import annotations

import numpy as np
import pytest

import opmodels as om
from tflite_edge.compiler import build_host_runner, compile_aot
from tflite_edge.model import load_model
from tflite_edge.reference import Reference


def _abs_model(low: float, high: float) -> bytes:
    import tensorflow as tf

    k = om.keras()
    model = om.single_layer_model(k.layers.Lambda(lambda v: tf.abs(v)), (16, 16), name="abs")
    reps = om.representative((16, 16), low=low, high=high)
    return om.convert_keras(model, data=reps)


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (-3.0, 0.5), (-0.25, 2.0)])
def test_abs_matches_tflm(tmp_path, low, high):
    """Every int8 value, and seeded random inputs, through ABS: ours == TFLM's."""
    data = _abs_model(low, high)
    assert om.op_names(data) == ["ABS"]
    result = compile_aot(data, tmp_path)
    assert "tfle_abs_s8" in (tmp_path / "tfle_model.c").read_text()
    assert result.ops == ["ABS"]
    runner = build_host_runner(tmp_path)
    ref = Reference(load_model(data))
    rng = np.random.default_rng(0)
    xs = np.concatenate(
        [
            np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16),
            rng.integers(-128, 128, size=(8, 16, 16), dtype=np.int8),
        ]
    )
    np.testing.assert_array_equal(runner.run(xs), ref.run(xs))
