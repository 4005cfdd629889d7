"""Samples and labels as the board takes them: split into samples of the model's input
shape, quantized with its input scale, labels checked, read from .npy/.npz files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .model import Model


def sample_shape(model: Model) -> tuple[int, ...]:
    """The shape of one sample: the model's input shape without its batch axis of 1."""
    shape = tuple(int(d) for d in model.input_tensors[0].shape)
    return shape[1:] if len(shape) > 1 and shape[0] == 1 else shape


def split_samples(model: Model, x: np.ndarray, *, what: str = "data") -> np.ndarray:
    """x as (N, *sample_shape): it must be that already, or exactly the model's input shape
    (one sample); nothing else is reshaped, so a transposed or flattened array is refused."""
    return split_by_shape(x, tuple(int(d) for d in model.input_tensors[0].shape), what=what)


def split_by_shape(x: np.ndarray, full: tuple[int, ...], *, what: str = "data") -> np.ndarray:
    """x as (N, *sample) for an input of shape `full` (sample: `full` without a batch axis of
    1): that already, or exactly `full` (one sample); anything else is a DataError."""
    x = np.asarray(x)
    sample = full[1:] if len(full) > 1 and full[0] == 1 else full
    batch = "(N, " + ", ".join(map(str, sample)) + ")" if sample else "(N,)"
    if x.shape == full and full != (1, *sample):
        return x.reshape((1, *sample))  # one sample of an input without a batch axis of 1
    if x.ndim == len(sample) + 1 and x.shape[1:] == sample:
        if len(x) == 0:
            raise DataError(
                f"the {what} array of shape {x.shape} has no samples; "
                f"pass an array of shape {batch}, N >= 1"
            )
        return x
    one = f" or {full} for one sample" if full != (1, *sample) else ""
    raise DataError(
        f"the {what} array of shape {x.shape} does not split into samples of the input shape "
        f"{full}; pass an array of shape {batch}{one}, one sample per index of the first axis"
    )


def quantize_inputs(model: Model, x: np.ndarray) -> np.ndarray:
    """Float samples -> the model's integer input (scale, zero point); integer data passes.

    x has shape (N, *input_shape[1:]) or exactly the model's input shape (one sample).
    """
    t = model.input_tensors[0]
    x = np.asarray(x)
    integer = np.issubdtype(x.dtype, np.integer)
    if not (integer or np.issubdtype(x.dtype, np.floating)):
        raise DataError(
            f"the data has dtype {x.dtype}, not numbers; inputs must be numeric: pass float "
            f"samples (quantized with the input tensor's scale) or {np.dtype(t.dtype)} samples"
        )
    x = split_samples(model, x)
    if integer:
        if x.dtype != t.dtype:
            raise DataError(
                f"integer data of dtype {x.dtype}, the model takes {t.dtype}; pass floats "
                "(they are quantized with the input tensor's scale) or the model's own type"
            )
        return x
    if not np.all(np.isfinite(x)):
        raise DataError("the data contains NaN or infinity; clean it before validating")
    q = t.quantization
    info = np.iinfo(t.dtype)
    xq = np.round(x / q.scale[0]) + q.zero_point[0]
    return np.clip(xq, info.min, info.max).astype(t.dtype)


def check_labels(model: Model, y: np.ndarray, samples: int) -> np.ndarray:
    """Labels as int64 class indices, one per sample, each below the model's output size."""
    y = np.asarray(y)
    classes = int(np.prod(model.output_tensors[0].shape[1:]))
    if y.ndim == 2 and y.shape[1] > 1:
        raise DataError(
            f"labels of shape {y.shape} look one-hot; pass integer class indices of shape "
            f"({y.shape[0]},), e.g. y.argmax(axis=1)"
        )
    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == y.round()):
        y = y.astype(np.int64)  # whole-number floats (as some datasets store them) are indices
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"labels of dtype {y.dtype} are not integers; pass integer class indices "
            f"0..{classes - 1} (map names to numbers first)"
        )
    y = y.reshape(-1).astype(np.int64)
    if len(y) != samples:
        raise DataError(f"{len(y)} labels for {samples} samples; pass one label per sample")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise DataError(
            f"labels range from {y.min()} to {y.max()}, the model has {classes} "
            f"output{'s' if classes != 1 else ''}; "
            f"pass class indices 0..{classes - 1}"
        )
    return y


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _open_numpy(path: Path, what: str, expected: str) -> Any:
    """np.load, with our own one-line messages for missing, foreign or object-holding files."""
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise DataError(f"cannot read {what} from {str(path)!r}: it {problem}; pass {expected}")
    with path.open("rb") as f:
        head = f.read(len(_NPY_MAGIC))
    if not (head.startswith(_NPY_MAGIC) or head.startswith(_ZIP_MAGIC)):
        seen = f"it starts with {head!r}" if head else "it is empty"
        raise DataError(f"{str(path)!r} is not a NumPy .npy/.npz file ({seen}); pass {expected}")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:  # numpy's advice to allow pickles is not ours to give
        raise DataError(
            f"{str(path)!r} holds Python objects, not numeric arrays; pass {expected}"
        ) from err
    except Exception as err:
        raise DataError(
            f"{str(path)!r} is not a readable NumPy file ({type(err).__name__}: {err}); "
            f"pass {expected}"
        ) from err


def _member(data: Any, key: str, path: Path, expected: str) -> np.ndarray:
    try:
        return data[key]
    except ValueError as err:  # an object array: numpy would suggest allow_pickle
        raise DataError(
            f"{str(path)!r} holds Python objects in {key}, not numeric arrays; pass {expected}"
        ) from err
    except Exception as err:  # a damaged member of the zip archive
        raise DataError(
            f"{str(path)!r} has an unreadable {key} ({type(err).__name__}: {err}); pass {expected}"
        ) from err


def load_npy(path: str | Path) -> np.ndarray:
    """One array from a .npy file (numpy.save)."""
    path = Path(path)
    expected = "a .npy file of input tensors (numpy.save(path, x))"
    data = _open_numpy(path, "inputs", expected)
    if not isinstance(data, np.ndarray):
        files = ", ".join(data.files) or "nothing"
        data.close()
        raise DataError(f"{str(path)!r} is an .npz archive of {files}; pass {expected}")
    return data


DATA_KEYS = (("x_test", "y_test"), ("x", "y"))  # in this order: the test split wins


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Samples and optional labels from an .npz: x_test/y_test if present, else x/y."""
    path = Path(path)
    expected = "an .npz saved with numpy.savez(path, x_test=..., y_test=...) or (x=..., y=...)"
    data = _open_numpy(path, "data", expected)
    if isinstance(data, np.ndarray):
        raise DataError(f"{str(path)!r} is a single .npy array, not an .npz; pass {expected}")
    try:
        keys = list(data.files)
        for xk, yk in DATA_KEYS:
            if xk not in keys:
                continue
            others = [k for _, k in DATA_KEYS if k != yk and k in keys]
            if yk not in keys and others:
                raise DataError(
                    f"{str(path)!r} has {xk} with labels {others[0]} instead of {yk}; "
                    "pass x_test with y_test, or x with y"
                )
            x = _member(data, xk, path, expected)
            return x, (_member(data, yk, path, expected) if yk in keys else None)
        found = ", ".join(keys) or "no arrays"
        raise DataError(
            f"{str(path)!r} holds {found}; validate reads x_test and y_test, or x and y "
            f"(training data is not used): pass {expected}"
        )
    finally:
        data.close()
