"""convert() and distill(): pruning, PQAT/QAT, int8 conversion, the metrics, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tflite_edge import tflm
from tflite_edge.errors import DataError, ModelError, TFLiteEdgeError, UnsupportedOpError
from tflite_edge.inspector import weight_tensors
from tflite_edge.model import load_model

pytestmark = pytest.mark.slow


def _accuracy_in_tflm(tflite: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy measured independently of convert(): quantize by hand, run TFLM, argmax."""
    ref = tflm.Reference(tflite)
    q = ref.model.input_tensors[0].quantization
    xq = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    return float(np.mean(np.argmax(ref.run(xq), -1) == y))


def test_sparse_digits_meets_the_done_when(digits, digits_cnn, digits_sparse):
    (_, _), (x_te, y_te) = digits
    m = digits_sparse.metrics
    float_acc = float(np.mean(np.argmax(digits_cnn.predict(x_te, verbose=0), -1) == y_te))
    assert m["float_accuracy"] == pytest.approx(float_acc)
    assert m["int8_accuracy"] == pytest.approx(_accuracy_in_tflm(digits_sparse.tflite, x_te, y_te))
    assert m["int8_accuracy"] >= m["float_accuracy"] - 0.015
    assert m["sparsity"] >= 0.70
    assert m["tflite_bytes"] <= 0.30 * m["float_bytes"]
