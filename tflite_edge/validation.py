"""On-device validation: real inputs go to the board, outputs come back, and are compared
with the TFLM interpreter bit for bit, and with the labels and the float model for accuracy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .files import write_json
from .model import Model, load_model
from .tflm import Reference


@dataclass
class ValidationResult:
    """What the board answered, compared with TFLM and the labels."""

    board: str
    runtime: str
    model_sha256: str
    samples: int
    bit_exact: int
    bit_exact_share: float
    max_abs_diff: int
    mismatches: list[int] = field(default_factory=list)
    accuracy: float | None = None  # on-device, against the labels
    int8_host_accuracy: float | None = None  # TFLM on the host, same inputs and labels
    float_accuracy: float | None = None  # the Keras model, when given

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `tflite-edge validate --json` (kind = validation)."""
        return {"kind": "validation", **asdict(self)}

    def summary(self) -> str:
        """A short readable table."""
        rows = [
            ("board / runtime", f"{self.board} / {self.runtime}"),
            ("samples", str(self.samples)),
            ("bit-exact with TFLM", f"{self.bit_exact} ({self.bit_exact_share:.1%})"),
            ("max |board - TFLM|", str(self.max_abs_diff)),
        ]
        if self.float_accuracy is not None:
            rows.append(("float accuracy (Keras)", f"{self.float_accuracy:.2%}"))
        if self.int8_host_accuracy is not None:
            rows.append(("int8 accuracy (TFLM, host)", f"{self.int8_host_accuracy:.2%}"))
        if self.accuracy is not None:
            rows.append(("int8 accuracy (on device)", f"{self.accuracy:.2%}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def save(self, path: str | Path) -> Path:
        """Write the JSON document atomically."""
        return write_json(path, self.to_dict())


def quantize_inputs(model: Model, x: np.ndarray) -> np.ndarray:
    """Float samples -> the model's integer input (scale, zero point); integer data passes."""
    t = model.input_tensors[0]
    x = np.asarray(x)
    per = int(np.prod(t.shape[1:])) if len(t.shape) > 1 else 1
    if x.ndim == 0 or x.size == 0:
        raise DataError("the data holds no samples; pass an array of shape (N, *input_shape)")
    if x.size % per:
        raise DataError(
            f"data of shape {x.shape} does not split into samples of shape {t.shape[1:]}; "
            f"pass an array of shape (N, {', '.join(map(str, t.shape[1:]))})"
        )
    n = x.size // per
    if np.issubdtype(x.dtype, np.integer):
        if x.dtype != t.dtype:
            raise DataError(
                f"integer data of dtype {x.dtype}, the model takes {t.dtype}; pass floats "
                "(they are quantized with the input tensor's scale) or the model's own type"
            )
        return x.reshape((n, *t.shape[1:]))
    if not np.all(np.isfinite(x)):
        raise DataError("the data contains NaN or infinity; clean it before validating")
    q = t.quantization
    info = np.iinfo(t.dtype)
    xq = np.round(x / q.scale[0]) + q.zero_point[0]
    return np.clip(xq, info.min, info.max).astype(t.dtype).reshape((n, *t.shape[1:]))


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs and optional labels from an .npz (keys x/y, x_test/y_test, or the first two)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; pass an .npz with x and y")
    try:
        data = np.load(path, allow_pickle=False)
        keys = list(data.keys())
    except Exception as err:
        raise DataError(
            f"{str(path)!r} is not a readable .npz ({err}); save it with numpy.savez(x=..., y=...)"
        ) from err
    for xk, yk in (("x_test", "y_test"), ("x", "y"), ("x_val", "y_val")):
        if xk in keys:
            return data[xk], (data[yk] if yk in keys else None)
    if not keys:
        raise DataError(f"{str(path)!r} holds no arrays; save it with numpy.savez(x=..., y=...)")
    return data[keys[0]], (data[keys[1]] if len(keys) > 1 else None)


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
    runtime: str = "aot",
    port: str | None = None,
    samples: int | None = None,
    keras_model: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationResult:
    """Stream samples to the board, read each output back, compare with TFLM and the labels."""
    from .flasher import run as run_on_board

    m = load_model(model)
    xq = quantize_inputs(m, x)
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(xq):
            raise DataError(f"{len(y)} labels for {len(xq)} samples; pass one label per sample")
    if samples is not None:
        if samples < 1:
            raise DataError(f"--samples must be at least 1, found {samples}")
        xq = xq[:samples]
        y = y[:samples] if y is not None else None
    ref_out = Reference(m).run(xq)
    board_out = run_on_board(m, xq, board=board, runtime=runtime, port=port, progress=progress)
    cmp = compare(board_out, ref_out, y)
    float_acc = None
    if keras_model is not None and y is not None:
        xf = np.asarray(x)[: len(xq)]
        if np.issubdtype(xf.dtype, np.floating):
            float_acc = _accuracy(np.asarray(keras_model.predict(xf, verbose=0)), y)
    return ValidationResult(
        board=board,
        runtime=runtime,
        model_sha256=m.sha256,
        float_accuracy=float_acc,
        **cmp,
    )
