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
    board_out: np.ndarray | list[np.ndarray],
    ref_out: np.ndarray | list[np.ndarray],
    labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """Bit-exactness, max difference and accuracy of board outputs against TFLM's.

    With several outputs, both are lists (one batch per output): a sample is bit-exact when
    every output is, max_abs_diff is over all of them and accuracy is the first output's.
    Float outputs are compared bit for bit too (max_abs_diff is then a float)."""
    boards = [np.asarray(b) for b in (board_out if isinstance(board_out, list) else [board_out])]
    refs = [np.asarray(r) for r in (ref_out if isinstance(ref_out, list) else [ref_out])]
    if len(boards) != len(refs):
        raise DataError(f"the board returned {len(boards)} outputs, TFLM {len(refs)}")
    for b, r in zip(boards, refs, strict=True):
        if b.shape != r.shape:
            raise DataError(f"the board returned outputs of shape {b.shape}, TFLM {r.shape}")
    n = len(refs[0])
    same = np.array(
        [
            all(b[i].tobytes() == r[i].tobytes() for b, r in zip(boards, refs, strict=True))
            for i in range(n)
        ],
        dtype=bool,
    )
    worst: float | int = 0
    for b, r in zip(boards, refs, strict=True):
        if not b.size:
            continue
        if np.issubdtype(r.dtype, np.floating):
            d = np.abs(b.astype(np.float64) - r.astype(np.float64))
            d = np.where(np.isnan(d), np.inf, d)  # NaN on one side only is a difference
            d[(np.isnan(b) & np.isnan(r))] = 0.0
            worst = max(worst, float(d.max()))
        else:
            worst = max(worst, int(np.abs(b.astype(np.int64) - r.astype(np.int64)).max()))
    out: dict[str, Any] = {
        "samples": n,
        "bit_exact": int(same.sum()),
        "bit_exact_share": float(same.mean()) if n else 0.0,
        "max_abs_diff": worst,
        "mismatches": [int(i) for i in np.flatnonzero(~same)],
    }
    if labels is not None:
        out["accuracy"] = _accuracy(boards[0], labels)
        out["int8_host_accuracy"] = _accuracy(refs[0], labels)
    return out


def model_inputs(model: Model, x: Any) -> list[np.ndarray]:
    """The samples of every model input, in its type: float data is quantized with an integer
    input's scale and zero point, passed as float32 to a float input; integer data must have
    the input's own type. x is one array (one input), or one per input (list, or dict by
    tensor name or position)."""
    from .protocol.tensors import feeds, input_layout

    integer = np.issubdtype(model.input_tensors[0].dtype, np.integer)
    if len(model.inputs) == 1 and integer and not isinstance(x, (list, tuple, dict)):
        return [quantize_inputs(model, x)]
    return feeds(model, _in_types(model, input_layout(model), x))


def _in_types(model: Model, layout: list, x: Any) -> Any:
    """Each array in its input's type (quantized or cast), before feeds() checks shapes."""
    from .protocol.tensors import _by_input

    arrays = _by_input(model, layout, x)
    out = []
    for t, a in zip(layout, arrays, strict=True):
        a = np.asarray(a)
        tensor = model.input_tensors[t.position]
        if np.issubdtype(t.dtype, np.floating):
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
                raise DataError(f"input {t.position} has dtype {a.dtype}, not numbers")
            out.append(a.astype(t.dtype.newbyteorder("=")))
        elif np.issubdtype(a.dtype, np.floating):
            if not np.all(np.isfinite(a)):
                raise DataError("the data contains NaN or infinity; clean it before validating")
            q = tensor.quantization
            info = np.iinfo(t.dtype)
            aq = np.round(a / q.scale[0]) + q.zero_point[0]
            out.append(np.clip(aq, info.min, info.max).astype(t.dtype.newbyteorder("=")))
        else:
            out.append(a)
    return out


def validate(
    model: str | Path | bytes | Model,
    x: Any,
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

    x: the samples, one array; for a model of several inputs one array per input (a list in
    order, or a dict by tensor name or position). Float inputs take float data as it is.
    runtime, tflm_dir and tflm_kernels are flash()'s."""
    from .boards import get_board
    from .flasher import run as run_on_board
    from .runtimes import RuntimeOptions, choose_runtime, get_runtime

    m = load_model(model)
    runtime, _ = choose_runtime(runtime, m)
    options = RuntimeOptions(tflm_dir=tflm_dir, tflm_kernels=tflm_kernels)
    kernels = get_runtime(runtime).kernels(get_board(board), options)
    xqs = model_inputs(m, x)
    if y is not None:
        y = check_labels(m, y, len(xqs[0]))
    if samples is not None:
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise DataError(f"samples (--samples) must be a whole number >= 1, found {samples!r}")
        xqs = [xq[:samples] for xq in xqs]
        y = y[:samples] if y is not None else None
    several = len(m.inputs) > 1 or len(m.outputs) > 1
    feed = xqs if several else xqs[0]
    ref_out = Reference(m).run(feed)
    board_out = run_on_board(
        m, feed, board=board, runtime=runtime, port=port, progress=progress,
        tflm_dir=tflm_dir, tflm_kernels=tflm_kernels,
    )  # fmt: skip
    cmp = compare(board_out, ref_out, y)
    float_acc = None
    if keras_model is not None and y is not None and len(m.inputs) == 1:
        xf = split_samples(m, x)[: len(xqs[0])]
        if np.issubdtype(xf.dtype, np.floating):
            pred = keras_model.predict(xf, verbose=0)
            pred = pred[0] if isinstance(pred, list) else pred
            float_acc = _accuracy(np.asarray(pred), y)
    return ValidationResult(
        board=board,
        runtime=runtime,
        model_sha256=m.sha256,
        float_accuracy=float_acc,
        tflm_kernels=kernels,
        **cmp,
    )
