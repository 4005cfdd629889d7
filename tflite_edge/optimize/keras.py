"""Keras models: loading, the checks of inputs, labels and layers, and training them."""

from __future__ import annotations

import importlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, ModelError, UnsupportedOpError

_KERAS3_HINT = (
    "rebuild the model with tf_keras (`import tf_keras as keras`, with the environment "
    "variable TF_USE_LEGACY_KERAS=1 set before TensorFlow is imported), or ask for "
    "post-training quantization only (qat=False and no sparsity; CLI: --no-qat)"
)


# --------------------------------------------------------------------------- TensorFlow, quietly


def _tf():
    # tfmot only works with Keras 2; the variable must be set before TensorFlow loads.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]

    # The first import logs CUDA/oneDNN chatter from C++ that no log level silences.
    def load():
        tf = importlib.import_module("tensorflow")
        tf.config.list_physical_devices()  # probes CUDA now, while its error log is captured
        return tf

    tf = _quietly(load)
    return tf


def _tf_keras():
    _tf()
    import tf_keras

    return tf_keras


def _quietly(fn):
    """Run fn() with stdout and stderr captured (file descriptors and Python streams).

    The converter's C++ logging and Keras 3's export messages are noise, unless it fails:
    then the captured text is attached to the exception as a note.
    """
    import contextlib
    import io
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as tmp:
        for fd in saved:
            os.dup2(tmp.fileno(), fd)
        text = io.StringIO()
        try:
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                return fn()
        except Exception as err:
            tmp.seek(0)
            err.add_note((text.getvalue() + tmp.read().decode(errors="replace"))[-2000:])
            raise
        finally:
            for fd, dup in saved.items():
                os.dup2(dup, fd)
                os.close(dup)


# --------------------------------------------------------------------------- loading


def _first_line(err: BaseException, empty: str = "") -> str:
    """The first line of an exception's message (`empty` when the message is empty)."""
    text = str(err)
    return text.splitlines()[0] if text else empty


def _is_tf_keras(model: Any) -> bool:
    return isinstance(model, _tf_keras().Model)


def _is_keras3(model: Any) -> bool:
    try:
        import keras
    except ImportError:
        return False
    return keras.__version__.startswith("3.") and isinstance(model, keras.Model)


def load_keras(path: str | Path) -> Any:
    """Load a Keras model from .keras, .h5 or a SavedModel folder (tf_keras first, then Keras 3)."""
    path = Path(path)
    expected = "a Keras model file (.keras or .h5) or a SavedModel folder"
    if not path.exists():
        raise ModelError(f"model {str(path)!r} does not exist; pass {expected}", path=str(path))
    is_saved_model = path.is_dir() and (path / "saved_model.pb").exists()
    if not (is_saved_model or path.suffix in (".keras", ".h5", ".hdf5")):
        raise ModelError(
            f"{str(path)!r} is not {expected} (found "
            f"{'a folder without saved_model.pb' if path.is_dir() else repr(path.suffix or 'no suffix')})",
            path=str(path),
        )
    errors = []
    keras2 = _tf_keras()
    try:
        return keras2.models.load_model(path, compile=True)
    except Exception as err:  # noqa: BLE001 - any failure means "try the other Keras"
        errors.append(f"tf_keras: {type(err).__name__}: {_first_line(err)}")
    if path.suffix == ".keras":
        try:
            import keras

            # compile=False: a Keras 3 model only gets post-training quantization here, which
            # needs no optimizer (and restoring one warns "Skipping variable loading ...")
            return keras.models.load_model(path, compile=False)
        except Exception as err:  # noqa: BLE001
            errors.append(f"keras 3: {type(err).__name__}: {_first_line(err)}")
    raise ModelError(
        f"{str(path)!r} could not be loaded as {expected} ({'; '.join(errors)}); "
        "check the file is a complete Keras model saved with model.save()",
        path=str(path),
    )


# --------------------------------------------------------------------------- data checks


def _model_input_shape(model: Any) -> tuple[int, ...]:
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):
        raise ModelError(
            f"model {model.name!r} has {len(shape)} inputs; tflite-edge converts "
            "single-input models"
        )
    if shape is None:
        raise ModelError(
            "the model has no input shape; build it (e.g. give the first layer an "
            "input_shape or call model.build()) before converting"
        )
    dims = tuple(shape[1:])
    if any(d is None for d in dims):
        raise ModelError(
            f"the model's input shape {tuple(shape)} has unknown dimensions besides the "
            "batch; a microcontroller model needs a fixed input shape"
        )
    return tuple(int(d) for d in dims)


def _model_outputs(model: Any) -> int:
    shape = model.output_shape
    if isinstance(shape, list):
        raise ModelError(
            f"model {model.name!r} has {len(shape)} outputs; tflite-edge converts "
            "single-output models"
        )
    return int(shape[-1]) if shape[-1] is not None else 0


def _check_inputs(x: Any, what: str, input_shape: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            f"{what} has dtype {x.dtype}; expected floating-point inputs as the float model "
            "takes them (float32), not already-quantized integers"
        )
    if x.ndim == 0 or x.shape[0] == 0:
        raise DataError(f"{what} is empty; pass at least one sample of shape {input_shape}")
    if tuple(x.shape[1:]) != input_shape:
        raise DataError(
            f"{what} has shape {x.shape}; the model expects (N, {', '.join(map(str, input_shape))})"
            f"; reshape the data to the model's input shape"
        )
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise DataError(
            f"{what} contains {bad} NaN or infinite values; clean or impute them before converting"
        )
    return x.astype(np.float32, copy=False)


def _check_pair(
    data: Any, what: str, input_shape: tuple[int, ...], outputs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (inputs, labels); labels become (N,) class indices/targets or (N, outputs)."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError(f"{what} must be a pair (inputs, labels); found {type(data).__name__}")
    x = _check_inputs(data[0], f"{what} inputs", input_shape)
    y = np.asarray(data[1])
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise DataError(
            f"{what} labels do not match the inputs: {x.shape[0]} inputs but "
            f"{y.shape[0] if y.ndim else 'a scalar'} labels; pass one label per input"
        )
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
        raise DataError(f"{what} labels have dtype {y.dtype}; expected numbers")
    if not np.all(np.isfinite(y)):
        raise DataError(f"{what} labels contain NaN or infinite values; fix or drop those samples")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape[1] == outputs:
        return x, y.astype(np.float32)  # one-hot (or soft) rows
    if y.ndim != 1:
        raise DataError(
            f"{what} labels have shape {y.shape}; expected ({x.shape[0]},) class indices or "
            f"({x.shape[0]}, {outputs}) one-hot rows for a model with {outputs} outputs"
        )
    if outputs == 1:
        return x, (y.astype(np.int64) if y.dtype.kind in "biu" else y.astype(np.float32))
    if not np.all(y == np.round(y)):
        raise DataError(
            f"{what} labels are fractional; the model has {outputs} outputs, so labels must be "
            f"class indices 0..{outputs - 1} (or one-hot rows)"
        )
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= outputs:
        raise DataError(
            f"{what} labels run from {y.min()} to {y.max()} but the model has {outputs} "
            f"outputs; labels must be class indices 0..{outputs - 1}"
        )
    return x, y


def _final_activation(model: Any) -> str:
    """'softmax', 'sigmoid' or '' for the model's last layer (so losses know about logits)."""
    last = model.layers[-1]
    if type(last).__name__ in ("Softmax", "Sigmoid"):
        return type(last).__name__.lower()
    act = getattr(last, "activation", None)
    name = getattr(act, "__name__", "") if act is not None else ""
    return name if name in ("softmax", "sigmoid") else ""


@dataclass(frozen=True)
class _Task:
    """What the model predicts, which decides the loss and the score we report."""

    kind: str  # "classes" (argmax over outputs), "binary" (one unit), "regression"
    activation: str  # final softmax/sigmoid, or "" for logits / linear outputs

    @classmethod
    def of(cls, model: Any, outputs: int, y: np.ndarray | None) -> _Task:
        act = _final_activation(model)
        if outputs > 1:
            return cls("classes", act)
        binary_labels = y is not None and np.all((y == 0) | (y == 1))
        if binary_labels and (act == "sigmoid" or y.dtype.kind in "biu"):
            return cls("binary", act)
        return cls("regression", act)

    def loss(self, y: np.ndarray) -> Any:
        keras = _tf_keras()
        logits = self.activation == ""
        if self.kind == "classes":
            if y.ndim == 1:
                return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
            return keras.losses.CategoricalCrossentropy(from_logits=logits)
        if self.kind == "binary":
            return keras.losses.BinaryCrossentropy(from_logits=logits)
        return keras.losses.MeanSquaredError()

    def metric(self, y: np.ndarray) -> str:
        if self.kind == "classes":
            return "sparse_categorical_accuracy" if y.ndim == 1 else "categorical_accuracy"
        return "binary_accuracy" if self.kind == "binary" else "mae"

    def score(self, pred: np.ndarray, y: np.ndarray) -> float:
        """Accuracy (classes, binary) or mean absolute error (regression) of float outputs."""
        pred = np.asarray(pred, dtype=np.float64).reshape(len(y), -1)
        if self.kind == "classes":
            truth = y if y.ndim == 1 else np.argmax(y, axis=-1)
            return float(np.mean(np.argmax(pred, axis=-1) == truth))
        if self.kind == "binary":
            threshold = 0.5 if self.activation == "sigmoid" else 0.0
            return float(np.mean((pred[:, 0] > threshold) == (y > 0.5)))
        return float(np.mean(np.abs(pred[:, 0] - y)))

    @property
    def score_name(self) -> str:
        return "mae" if self.kind == "regression" else "accuracy"


# --------------------------------------------------------------------------- layer checks


# Recurrent layers with no int8 TFLite builtin (TFLM runs LSTM only): TF 2.21's converter
# crashes the whole process (SIGSEGV) on them with a fixed batch, so they are refused first.
_UNCONVERTIBLE_RNN = ("GRU", "GRUV1", "GRUV2", "SimpleRNN", "GRUCell", "SimpleRNNCell")


def _check_convertible(model: Any) -> None:
    """Name a recurrent layer the int8 converter cannot take, before it takes the process down."""
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        inner = [getattr(layer, "layer", None), getattr(layer, "cell", None)]  # wrappers, RNN
        names = [type(x).__name__ for x in [layer, *inner] if x is not None]
        for name in [n for n in names if n in _UNCONVERTIBLE_RNN][:1]:
            raise UnsupportedOpError(
                f"layer {layer.name!r} ({name}) has no int8 TFLite builtin op that TFLM can "
                "run; use an LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM) or Conv1D layers instead",
                op=name,
            )
        stack.extend(getattr(layer, "layers", []))  # nested models


# --------------------------------------------------------------------------- training


def _predict(model: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def _fit(
    model, x, y, *, task, loss, epochs, batch_size, learning_rate, progress, desc, callbacks=()
):
    keras = _tf_keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        metrics=[task.metric(y)],
    )
    callbacks = list(callbacks)
    if progress:
        callbacks.append(_progress_bar(desc, epochs))
    # Keras' own progress bar writes to stdout; ours goes to stderr so stdout stays the result.
    model.fit(
        x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=callbacks
    )


def _progress_bar(desc: str, epochs: int) -> Any:
    """A tf_keras callback showing one tqdm bar over the epochs, on stderr."""
    import sys

    from tqdm import tqdm

    keras = _tf_keras()

    class _Bar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch", file=sys.stderr)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items()})
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _Bar()
