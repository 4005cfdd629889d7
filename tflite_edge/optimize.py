"""The optimize -> convert stage: pruning, (pruning-preserving) QAT, distillation, int8 TFLite.

`convert()` takes a trained Keras model and data and returns a full-integer int8 .tflite with
the numbers that prove it is worth deploying: accuracy in the TFLM interpreter, weight
sparsity read from the flatbuffer, sizes and TFLM's real arena.

TensorFlow, tf_keras and tfmot are imported inside the functions: `import tflite_edge` stays fast.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, ModelError, TFLiteEdgeError, UnsupportedOpError, check_sparsity
from .files import write_atomic  # noqa: F401  (public here since the start)

# How many training inputs the converter sees to calibrate activation ranges.
REPRESENTATIVE_SAMPLES = 200
STRUCTURED = {"2:4": (2, 4)}
_KERAS3_HINT = (
    "rebuild the model with tf_keras (`import tf_keras as keras`, with the environment "
    "variable TF_USE_LEGACY_KERAS=1 set before TensorFlow is imported), or ask for "
    "post-training quantization only (qat=False and no sparsity; CLI: --no-qat)"
)


@dataclass
class ConversionResult:
    """An int8 .tflite model and the measurements that go with it."""

    tflite: bytes
    metrics: dict[str, Any]
    keras_model: Any = field(default=None, repr=False)  # the optimized Keras model, if trained

    def save(self, path: str | Path) -> Path:
        """Write the .tflite atomically (a temp file in the same folder, then a rename)."""
        return write_atomic(path, self.tflite)

    def summary(self) -> str:
        """The metrics as a readable table."""
        m = self.metrics

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.2f} %"

        if m.get("task") == "regression":
            mae = [
                (f"{kind} mean abs error", "-" if m.get(key) is None else f"{m[key]:.5g}")
                for kind, key in (("float", "float_mae"), ("int8 (TFLM)", "int8_mae"))
            ]
        else:
            mae = [
                ("float accuracy", pct(m.get("float_accuracy"))),
                ("int8 accuracy (TFLM)", pct(m.get("int8_accuracy"))),
            ]
        rows = [
            ("method", m.get("method", "-")),
            *mae,
            ("evaluated on", f"{m.get('eval_samples', 0)} {m.get('evaluated_on', '-')} samples"),
            ("int8 weight sparsity", pct(m.get("sparsity"))),
            ("float .tflite", f"{m['float_bytes']:,} B"),
            (
                "int8 .tflite",
                f"{m['tflite_bytes']:,} B ({100 * m['tflite_bytes'] / m['float_bytes']:.1f} % "
                "of float)",
            ),
            ("TFLM arena", "-" if m.get("arena_bytes") is None else f"{m['arena_bytes']:,} B"),
            ("ops", ", ".join(m.get("ops", []))),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        for w in m.get("warnings", []):
            lines.append(f"warning: {w}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- imports


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
        errors.append(
            f"tf_keras: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        )
    if path.suffix == ".keras":
        try:
            import keras

            # compile=False: a Keras 3 model only gets post-training quantization here, which
            # needs no optimizer (and restoring one warns "Skipping variable loading ...")
            return keras.models.load_model(path, compile=False)
        except Exception as err:  # noqa: BLE001
            errors.append(
                f"keras 3: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            )
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


def _prunable(layer: Any) -> bool:
    from tensorflow_model_optimization.python.core.sparsity.keras import (
        prunable_layer,
        prune_registry,
    )

    if isinstance(layer, prunable_layer.PrunableLayer) or hasattr(layer, "get_prunable_weights"):
        return True
    return bool(layer.weights) and prune_registry.PruneRegistry.supports(layer)


def _pruning_schedule(sparsity: float, total_steps: int, structured: bool) -> tuple[Any, dict]:
    """A schedule that reaches the target within the steps we actually train.

    tfmot's defaults (frequency 100, end at step 1000) prune nothing on a small data set,
    so we ramp up over the first 2/3 of the steps, update about 10 times on the way, and
    leave the last third for the network to recover at the final sparsity.
    """
    import tensorflow_model_optimization as tfmot

    ramp = max(1, (2 * total_steps) // 3)
    frequency = max(1, ramp // 10)
    end_step = max(frequency, (ramp // frequency) * frequency)  # prune exactly at end_step
    info = {"begin_step": 0, "end_step": end_step, "frequency": frequency, "steps": total_steps}
    if structured:
        # With m-by-n masks tfmot ignores the sparsity value; the schedule only says when.
        return tfmot.sparsity.keras.ConstantSparsity(
            0.5, begin_step=0, end_step=end_step, frequency=frequency
        ), info
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=float(sparsity),
        begin_step=0,
        end_step=end_step,
        frequency=frequency,
    ), info


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


def _prune(
    model, x, y, *, sparsity, structured, task, loss, epochs, batch_size, learning_rate, progress
):
    import tensorflow_model_optimization as tfmot

    keras = _tf_keras()
    steps = epochs * math.ceil(len(x) / batch_size)
    schedule, info = _pruning_schedule(sparsity, steps, structured is not None)
    params: dict[str, Any] = {"pruning_schedule": schedule}
    if structured is not None:
        params["sparsity_m_by_n"] = STRUCTURED[structured]
    skipped = []

    def wrap(layer):
        # A fresh layer from its config, so training never touches the caller's model.
        fresh = layer.__class__.from_config(layer.get_config())
        if _prunable(layer):
            return tfmot.sparsity.keras.prune_low_magnitude(fresh, **params)
        if layer.weights and not isinstance(layer, keras.layers.InputLayer):
            skipped.append(layer.name)
        return fresh

    try:
        pruned = keras.models.clone_model(model, clone_function=wrap)
    except ValueError as err:
        raise UnsupportedOpError(
            f"tfmot could not prepare the model for pruning: {err}; use a Sequential or "
            "functional tf_keras model of built-in layers",
            op=type(model).__name__,
        ) from err
    pruned.set_weights(_weights_for_clone(model, pruned))
    _fit(
        pruned,
        x,
        y,
        task=task,
        loss=loss,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        progress=progress,
        desc="prune",
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
    )
    # tfmot wraps some kernel layers without pruning anything in them (DepthwiseConv2D).
    for layer in pruned.layers:
        inner = getattr(layer, "layer", None)
        has_kernel = hasattr(inner, "kernel") or hasattr(inner, "depthwise_kernel")
        if has_kernel and not getattr(layer, "prunable_weights", None):
            skipped.append(inner.name)
    info["unpruned_layers"] = skipped
    return tfmot.sparsity.keras.strip_pruning(pruned), info


def _weights_for_clone(model: Any, pruned: Any) -> list[np.ndarray]:
    """Original weights in the order of the pruned clone (wrappers add mask/threshold vars)."""
    # clone_model re-initializes; copying layer by layer keeps the trained values, and the
    # wrappers' own mask (ones) and threshold (zero) variables keep their initial values.
    for src, dst in zip(model.layers, pruned.layers, strict=True):
        inner = getattr(dst, "layer", dst)
        inner.set_weights(src.get_weights())
    return pruned.get_weights()


def _qat_error(name: str, cls: str, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(
        f"layer {name!r} ({cls}) cannot be quantization-aware trained: {why}; replace it with "
        "built-in layers (Conv2D, DepthwiseConv2D, Dense, BatchNormalization, pooling, ReLU, "
        "...), or pass qat=False (CLI --no-qat) for post-training quantization",
        op=cls,
    )


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


def _check_quantizable(model: Any) -> None:
    """Name the first layer tfmot's 8-bit QAT cannot handle (cheap: no model is cloned)."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    keras = _tf_keras()
    reg = registry.Default8BitQuantizeRegistry()
    # Not in the registry but handled by tfmot's graph transforms (folded or split).
    transformed = (
        keras.layers.BatchNormalization,
        keras.layers.SeparableConv1D,
        keras.layers.SeparableConv2D,
        keras.layers.InputLayer,
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.Lambda):
            raise _qat_error(layer.name, "Lambda", "tfmot cannot see inside Lambda layers")
        if not type(layer).__module__.startswith(("tf_keras.", "keras.")):
            raise _qat_error(
                layer.name,
                type(layer).__name__,
                "it is a custom layer and tfmot only knows built-in Keras layers",
            )
        if not isinstance(layer, (*transformed, keras.Model)) and not reg.supports(layer):
            raise _qat_error(
                layer.name, type(layer).__name__, "tfmot has no 8-bit quantize config for it"
            )


def _quantize_aware(model, *, preserve_sparsity: bool):
    """The model wrapped for QAT (tfmot default 8-bit, or its pruning-preserving scheme)."""
    import tensorflow_model_optimization as tfmot

    _check_quantizable(model)
    try:
        annotated = tfmot.quantization.keras.quantize_annotate_model(model)
        if preserve_sparsity:
            scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
            return tfmot.quantization.keras.quantize_apply(annotated, scheme)
        return tfmot.quantization.keras.quantize_apply(annotated)
    except (ValueError, RuntimeError) as err:
        found = re.search(r"Layer (.+?):<class '(?:[\w.]+\.)?(\w+)'> is not supported", str(err))
        if found:
            raise _qat_error(
                found.group(1), found.group(2), "tfmot has no 8-bit quantize config for it"
            ) from err
        raise UnsupportedOpError(
            f"tfmot could not make the model quantization-aware "
            f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); use a "
            "Sequential or functional tf_keras model of built-in layers, or pass qat=False "
            "(CLI --no-qat) for post-training quantization",
            op=type(model).__name__,
        ) from err


# --------------------------------------------------------------------------- conversion


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


def _to_tflite(model: Any, representative: np.ndarray | None) -> bytes:
    tf = _tf()
    if _is_tf_keras(model):
        # A fixed batch of 1, as on the board: with a dynamic batch the converter writes
        # placeholder shapes for some lowerings (a dilated Conv1D becomes SPACE_TO_BATCH_ND ...
        # BATCH_TO_SPACE_ND) that only an interpreter resolves at run time.
        spec = tf.TensorSpec([1, *_model_input_shape(model)], tf.float32)
        fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    else:  # Keras 3 goes through its own export
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:

        def samples():
            for x in representative:
                yield [x[None, ...].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    what = "int8" if representative is not None else "float"
    try:
        with warnings.catch_warnings():
            # "Statistics for quantized inputs were expected": QAT models carry their ranges.
            warnings.simplefilter("ignore")
            data = _quietly(converter.convert)
    except Exception as err:
        text = str(err) + "".join(getattr(err, "__notes__", []))
        ops = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", text)))
        if ops:
            raise UnsupportedOpError(
                f"TFLiteConverter could not convert the model to {what} TFLite: the TensorFlow "
                f"op(s) {', '.join(ops)} have no TFLite builtin; replace the layers that use "
                "them with built-in Keras layers",
                op=ops[0],
            ) from err
        reason = (str(err).splitlines()[0] if str(err) else type(err).__name__)[:300]
        raise UnsupportedOpError(
            f"TFLiteConverter could not convert the model to {what} TFLite ({reason}); a layer "
            "probably has no int8 TFLite builtin op: replace it with built-in Keras layers",
            op="converter",
        ) from err
    return bytes(data)


def _predict(model: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def _int8_outputs(tflite: bytes, x: np.ndarray, progress: bool) -> np.ndarray:
    """Float outputs of the int8 model in TFLM: inputs quantized, outputs dequantized."""
    from . import reference

    ref = reference.Reference(tflite)
    q = ref.model.input_tensors[0].quantization
    scale, zp = float(q.scale[0]), int(q.zero_point[0])
    info = np.iinfo(ref.input_dtype)
    xq = np.clip(np.round(x / scale) + zp, info.min, info.max).astype(ref.input_dtype)
    if progress:
        import sys

        from tqdm import tqdm

        out = np.stack(
            [
                ref.run_one(s).reshape(ref.output_shape[1:])
                for s in tqdm(xq, desc="TFLM int8 eval", file=sys.stderr)
            ]
        )
    else:
        out = ref.run(xq)
    oq = ref.model.output_tensors[0].quantization
    if oq is None:
        return out.astype(np.float64)
    return (out.astype(np.float64) - float(oq.zero_point[0])) * float(oq.scale[0])


def _sample(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    if len(x) <= n:
        return x
    idx = np.random.default_rng(seed).choice(len(x), size=n, replace=False)
    return x[np.sort(idx)]


def convert(
    model: Any,
    *,
    train_data: tuple[np.ndarray, np.ndarray] | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    representative_data: np.ndarray | None = None,
    sparsity: float | None = None,
    structured: str | None = None,
    qat: bool = True,
    epochs: int = 4,
    batch_size: int = 32,
    fine_tune_epochs: int = 2,
    learning_rate: float = 1e-3,
    progress: bool = False,
    seed: int = 0,
) -> ConversionResult:
    """Prune, quantization-aware train and convert a Keras model to a full-integer int8 .tflite.

    `model` is a trained Keras model (or a path to .keras/.h5/SavedModel). With `train_data`
    it is pruned to `sparsity` (magnitude, or `structured="2:4"`) for `epochs`, then
    fine-tuned quantization-aware for `fine_tune_epochs` (pruning-preserving when pruned);
    without training data it is quantized post-training. Accuracy (mean absolute error for
    regression) is measured on `validation_data` (else the training data) in the float model
    and, for the int8 model, in the TFLM interpreter. `seed` seeds the global numpy, Python
    and TensorFlow generators so that a run can be repeated.
    """
    # Arguments first: a typo should fail in a second, before TensorFlow loads.
    if sparsity is not None:
        check_sparsity(sparsity)
    if structured is not None:
        if structured not in STRUCTURED:
            raise TFLiteEdgeError(
                f"structured sparsity {structured!r} is not supported; expected one of "
                f"{', '.join(STRUCTURED)}"
            )
        if sparsity not in (None, 0.5):
            raise TFLiteEdgeError(
                f"structured='2:4' zeroes exactly 2 of every 4 weights (sparsity 0.5), but "
                f"sparsity={sparsity} was also asked for; leave sparsity unset with 2:4"
            )
    for name, value in (("epochs", epochs), ("fine_tune_epochs", fine_tune_epochs)):
        if int(value) < 0:
            raise TFLiteEdgeError(f"{name} must be >= 0, found {value}")
    if int(batch_size) < 1:
        raise TFLiteEdgeError(f"batch_size must be >= 1, found {batch_size}")
    if not (math.isfinite(float(learning_rate)) and float(learning_rate) > 0):
        raise TFLiteEdgeError(
            f"learning_rate must be a positive finite number, found {learning_rate}; "
            "e.g. 1e-3 (Adam's default)"
        )

    if isinstance(model, (str, Path)):
        model = load_keras(model)
    keras3 = _is_keras3(model)
    if not keras3 and not _is_tf_keras(model):
        raise ModelError(
            f"expected a Keras model (tf_keras or Keras 3) or a model path, found "
            f"{type(model).__name__}; load the model first or pass its .keras/.h5 path"
        )
    input_shape = _model_input_shape(model)
    outputs = _model_outputs(model)
    train = (
        _check_pair(train_data, "train_data", input_shape, outputs)
        if train_data is not None
        else None
    )
    val = (
        _check_pair(validation_data, "validation_data", input_shape, outputs)
        if validation_data is not None
        else None
    )
    if representative_data is not None:
        rep = _check_inputs(representative_data, "representative_data", input_shape)
    elif train is not None:
        rep = train[0]
    elif val is not None:
        rep = val[0]
    else:
        raise DataError(
            "no data to calibrate int8 ranges: pass train_data, validation_data or "
            "representative_data (a few hundred typical float inputs)"
        )
    rep = _sample(rep, REPRESENTATIVE_SAMPLES, seed)

    prune = structured is not None or bool(sparsity)
    training = train is not None and (prune or qat)
    if keras3 and training:
        raise ModelError(
            f"model {model.name!r} is a Keras 3 model; pruning and quantization-aware "
            f"training (tfmot) need a Keras 2 model: {_KERAS3_HINT}"
        )
    if training and prune and int(epochs) < 1:
        raise TFLiteEdgeError(f"pruning needs epochs >= 1 to train at all, found {epochs}")
    tf = _tf()
    if keras3:
        tf.random.set_seed(seed)
    else:
        _tf_keras().utils.set_random_seed(seed)

    _check_convertible(model)
    if training and qat:
        # Checked first: a layer QAT cannot handle should fail before minutes of pruning.
        _check_quantizable(model)

    metrics: dict[str, Any] = {"warnings": []}
    eval_x, eval_y = val if val is not None else (train if train is not None else (None, None))
    labels = train[1] if train is not None else (eval_y if eval_y is not None else None)
    task = _Task.of(model, outputs, labels)
    metrics["task"] = task.kind
    metrics["evaluated_on"] = "validation" if val is not None else "train"
    metrics["eval_samples"] = 0 if eval_x is None else int(len(eval_x))
    metrics["float_accuracy"] = metrics["int8_accuracy"] = None
    if eval_x is not None:
        score = task.score(_predict(model, eval_x, batch_size), eval_y)
        metrics[f"float_{task.score_name}"] = score

    metrics["float_bytes"] = len(_to_tflite(model, None))

    optimized = model
    method = []
    if training:
        # Checked first: a layer QAT cannot handle should fail before minutes of pruning.
        x, y = train
        loss = getattr(model, "loss", None) or task.loss(y)
        fit = {"task": task, "loss": loss, "batch_size": int(batch_size), "progress": progress}
        if prune:
            optimized, info = _prune(
                model,
                x,
                y,
                sparsity=sparsity,
                structured=structured,
                epochs=int(epochs),
                learning_rate=learning_rate,
                **fit,
            )
            metrics["pruning"] = info
            method.append(f"prune {structured or f'{float(sparsity):.0%}'}")
            if info["unpruned_layers"]:
                metrics["warnings"].append(
                    "layers left dense (tfmot cannot prune them): "
                    + ", ".join(info["unpruned_layers"])
                )
        if qat:
            optimized = _quantize_aware(optimized, preserve_sparsity=prune)
            # QAT fine-tunes a trained network: a smaller step keeps it where it was.
            _fit(
                optimized,
                x,
                y,
                epochs=int(fine_tune_epochs),
                learning_rate=learning_rate / 10,
                desc="PQAT" if prune else "QAT",
                **fit,
            )
            method.append("PQAT" if prune else "QAT")
        else:
            method.append("PTQ")
    else:
        method.append("PTQ")
    metrics["method"] = " + ".join(method)
    metrics["target_sparsity"] = (0.5 if structured else float(sparsity)) if prune else None
    metrics["structured"] = structured

    tflite = _to_tflite(optimized, rep)
    result = _measure(tflite, metrics, eval_x, eval_y, task, progress)
    result.keras_model = optimized if optimized is not model else None
    return result


def _measure(tflite, metrics, eval_x, eval_y, task, progress) -> ConversionResult:
    from . import reference
    from .model import load_model
    from .model.inspect import weight_sparsity

    m = load_model(tflite, name="converted")
    metrics["tflite_bytes"] = len(tflite)
    metrics["ops"] = m.ops
    metrics["sparsity"] = weight_sparsity(m)
    missing = reference.missing_ops(m)
    metrics["tflm_missing_ops"] = missing
    metrics["arena_bytes"] = None
    if missing:
        # Still return the model: it is valid TFLite, but the board's TFLM build cannot run it.
        metrics["warnings"].append(
            f"TFLM has no kernel for {', '.join(missing)}: the model will not run on the "
            "board; replace the layers that produce these ops"
        )
        return ConversionResult(tflite, metrics)
    # A model TFLM claims to support but cannot load is an error (raised here), not a warning.
    metrics["arena_bytes"] = reference.Reference(m).arena().total
    if eval_x is not None:
        out = _int8_outputs(tflite, eval_x, progress)
        metrics[f"int8_{task.score_name}"] = task.score(out, eval_y)
    return ConversionResult(tflite, metrics)


# --------------------------------------------------------------------------- distillation


def distill(
    teacher: Any,
    student: Any,
    train_data: tuple[np.ndarray, np.ndarray],
    *,
    temperature: float = 4.0,
    alpha: float = 0.1,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    progress: bool = False,
    seed: int = 0,
) -> Any:
    """Train `student` to match `teacher`'s softened outputs (knowledge distillation).

    loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(teacher_T || student_T).
    Returns the trained student (trained in place), ready for `convert()`.
    """
    if not (_is_tf_keras(teacher) and _is_tf_keras(student)):
        raise ModelError(
            "distill() trains tf_keras models; teacher and student must both be tf_keras "
            f"models: {_KERAS3_HINT.split(', or')[0]}"
        )
    if temperature <= 0:
        raise TFLiteEdgeError(f"temperature must be > 0, found {temperature}")
    if not (0.0 <= alpha <= 1.0):
        raise TFLiteEdgeError(f"alpha must be in [0, 1], found {alpha}")
    input_shape = _model_input_shape(student)
    if _model_input_shape(teacher) != input_shape:
        raise ModelError(
            f"teacher takes inputs of shape {_model_input_shape(teacher)} but the student "
            f"takes {input_shape}; both must take the same inputs"
        )
    classes = _model_outputs(student)
    if _model_outputs(teacher) != classes:
        raise ModelError(
            f"teacher has {_model_outputs(teacher)} outputs but the student has {classes}; "
            "both must predict the same classes"
        )
    if classes < 2:
        raise ModelError(
            f"distill() needs classifiers (2 or more outputs); the student has {classes}"
        )
    x, y = _check_pair(train_data, "train_data", input_shape, classes)
    tf = _tf()
    keras = _tf_keras()
    keras.utils.set_random_seed(seed)
    y_idx = y if y.ndim == 1 else np.argmax(y, axis=-1)
    student_probs = _final_activation(student) == "softmax"
    t_logits_all = _predict(teacher, x, 256)
    if _final_activation(teacher) == "softmax":
        # log p is a logit up to a per-sample constant, which softmax ignores.
        t_logits_all = np.log(np.clip(t_logits_all, 1e-7, 1.0))
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    kl = keras.losses.KLDivergence()
    T = float(temperature)

    @tf.function
    def step(xb, yb, tb):
        with tf.GradientTape() as tape:
            out = student(xb, training=True)
            s_logits = tf.math.log(tf.clip_by_value(out, 1e-7, 1.0)) if student_probs else out
            hard = ce(yb, s_logits)
            soft = kl(tf.nn.softmax(tb / T), tf.nn.softmax(s_logits / T)) * (T * T)
            loss = alpha * hard + (1.0 - alpha) * soft
        grads = tape.gradient(loss, student.trainable_variables)
        optimizer.apply_gradients(zip(grads, student.trainable_variables, strict=True))
        return loss

    rng = np.random.default_rng(seed)
    batches = range(int(epochs))
    if progress:
        import sys

        from tqdm import tqdm

        batches = tqdm(batches, desc="distill", unit="epoch", file=sys.stderr)
    for _ in batches:
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            step(
                tf.constant(x[idx]),
                tf.constant(y_idx[idx]),
                tf.constant(t_logits_all[idx], dtype=tf.float32),
            )
    return student
