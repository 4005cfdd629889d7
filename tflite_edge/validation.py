"""On-device validation: real inputs go to the board, outputs come back, and are compared
with the TFLM interpreter bit for bit, and with the labels and the float model for accuracy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .data import check_labels, quantize_inputs, split_samples
from .errors import DataError
from .model import Model, load_model
from .reference import Reference
from .results import ValidationResult


def _accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    pred = outputs.reshape(len(outputs), -1).argmax(axis=1)
    return float(np.mean(pred == labels))


def compare(
    board_out: np.ndarray,
    ref_out: np.ndarray,
    labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """Bit-exactness, max difference and accuracy of board outputs against TFLM's."""
    board_out = np.asarray(board_out)
    ref_out = np.asarray(ref_out)
    if board_out.shape != ref_out.shape:
        raise DataError(
            f"the board returned outputs of shape {board_out.shape}, TFLM {ref_out.shape}"
        )
    n = len(ref_out)
    same = np.array([board_out[i].tobytes() == ref_out[i].tobytes() for i in range(n)], dtype=bool)
    diff = np.abs(board_out.astype(np.int64) - ref_out.astype(np.int64))
    out: dict[str, Any] = {
        "samples": n,
        "bit_exact": int(same.sum()),
        "bit_exact_share": float(same.mean()) if n else 0.0,
        "max_abs_diff": int(diff.max()) if diff.size else 0,
        "mismatches": [int(i) for i in np.flatnonzero(~same)],
    }
    if labels is not None:
        out["accuracy"] = _accuracy(board_out, labels)
        out["int8_host_accuracy"] = _accuracy(ref_out, labels)
    return out


def validate(
    model: str | Path | bytes | Model,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    board: str = "qemu-m4",
    runtime: str = "auto",
    port: str | None = None,
    samples: int | None = None,
    keras_model: Any = None,
    progress: Callable[[int, int], None] | None = None,
    tflm_dir: str | Path | None = None,
    tflm_kernels: str | None = None,
) -> ValidationResult:
    """Stream samples to the board, read each output back, compare with TFLM and the labels.

    runtime, tflm_dir and tflm_kernels are flash()'s."""
    from .boards import get_board
    from .flasher import run as run_on_board
    from .runtimes import RuntimeOptions, choose_runtime, get_runtime

    m = load_model(model)
    runtime, _ = choose_runtime(runtime, m)
    options = RuntimeOptions(tflm_dir=tflm_dir, tflm_kernels=tflm_kernels)
    kernels = get_runtime(runtime).kernels(get_board(board), options)
    xq = quantize_inputs(m, x)
    if y is not None:
        y = check_labels(m, y, len(xq))
    if samples is not None:
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise DataError(f"samples (--samples) must be a whole number >= 1, found {samples!r}")
        xq = xq[:samples]
        y = y[:samples] if y is not None else None
    ref_out = Reference(m).run(xq)
    board_out = run_on_board(
        m, xq, board=board, runtime=runtime, port=port, progress=progress,
        tflm_dir=tflm_dir, tflm_kernels=tflm_kernels,
    )  # fmt: skip
    cmp = compare(board_out, ref_out, y)
    float_acc = None
    if keras_model is not None and y is not None:
        xf = split_samples(m, x)[: len(xq)]
        if np.issubdtype(xf.dtype, np.floating):
            float_acc = _accuracy(np.asarray(keras_model.predict(xf, verbose=0)), y)
    return ValidationResult(
        board=board,
        runtime=runtime,
        model_sha256=m.sha256,
        float_accuracy=float_acc,
        tflm_kernels=kernels,
        **cmp,
    )
