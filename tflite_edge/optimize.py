"""The optimize -> convert stage: pruning, (pruning-preserving) QAT, distillation, int8 TFLite.

`convert()` takes a trained Keras model and data and returns a full-integer int8 .tflite with
the numbers that prove it is worth deploying: accuracy in the TFLM interpreter, weight
sparsity read from the flatbuffer, sizes and TFLM's real arena.

TensorFlow, tf_keras and tfmot are imported inside the functions: `import tflite_edge` stays fast.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, ModelError, TFLiteEdgeError, UnsupportedOpError

# How many training inputs the converter sees to calibrate activation ranges.
REPRESENTATIVE_SAMPLES = 200
STRUCTURED = {"2:4": (2, 4)}
_KERAS3_HINT = (
    "rebuild the model with tf_keras (`import tf_keras as keras`, with the environment "
    "variable TF_USE_LEGACY_KERAS=1 set before TensorFlow is imported), or pass no training "
    "data for post-training quantization only"
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

        rows = [
            ("method", m.get("method", "-")),
            ("float accuracy", pct(m.get("float_accuracy"))),
            ("int8 accuracy (TFLM)", pct(m.get("int8_accuracy"))),
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


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write bytes to path through a temp file and a rename, so no half-written file remains."""
    path = Path(path)
    if path.is_dir():
        raise TFLiteEdgeError(f"output path {str(path)!r} is a directory; pass a file name")
    if not path.parent.is_dir():
        raise TFLiteEdgeError(
            f"output folder {str(path.parent)!r} does not exist; create it first"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- imports


def _tf():
    # tfmot only works with Keras 2; the variable must be set before TensorFlow loads.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

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
        errors.append(f"tf_keras: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    if path.suffix == ".keras":
        try:
            import keras

            return keras.models.load_model(path)
        except Exception as err:  # noqa: BLE001
            errors.append(f"keras 3: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
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


def _model_classes(model: Any) -> int:
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
    data: Any, what: str, input_shape: tuple[int, ...], classes: int
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError(f"{what} must be a pair (inputs, labels); found {type(data).__name__}")
    x = _check_inputs(data[0], f"{what} inputs", input_shape)
    y = np.asarray(data[1])
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise DataError(
            f"{what} labels do not match the inputs: {x.shape[0]} inputs but "
            f"{y.shape[0] if y.ndim else 'a scalar'} labels; pass one label per input"
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1:
        if np.issubdtype(y.dtype, np.floating):
            if not np.all(np.isfinite(y)):
                raise DataError(f"{what} labels contain NaN or infinite values")
            if not np.all(y == np.round(y)):
                raise DataError(
                    f"{what} labels are fractional; expected class indices 0..{classes - 1} "
                    "(or one-hot rows)"
                )
        elif not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{what} labels have dtype {y.dtype}; expected integer class indices")
        y = y.astype(np.int64)
        if classes > 1 and (y.min() < 0 or y.max() >= classes):
            raise DataError(
                f"{what} labels run from {y.min()} to {y.max()} but the model has {classes} "
                f"outputs; labels must be class indices 0..{classes - 1}"
            )
        return x, y
    if y.ndim == 2 and y.shape[1] == classes:
        if not np.all(np.isfinite(y)):
            raise DataError(f"{what} labels contain NaN or infinite values")
        return x, y.astype(np.float32)
    raise DataError(
        f"{what} labels have shape {y.shape}; expected ({x.shape[0]},) class indices or "
        f"({x.shape[0]}, {classes}) one-hot rows for a model with {classes} outputs"
    )


def _class_index(y: np.ndarray) -> np.ndarray:
    return y if y.ndim == 1 else np.argmax(y, axis=-1)


# --------------------------------------------------------------------------- training pieces


def _outputs_probabilities(model: Any) -> bool:
    """Whether the model ends in a softmax (so losses must not treat outputs as logits)."""
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    name = getattr(act, "__name__", "") if act is not None else ""
    return name == "softmax" or type(last).__name__ == "Softmax"


def _loss_for(model: Any, y: np.ndarray) -> Any:
    keras = _tf_keras()
    loss = getattr(model, "loss", None)
    if loss:
        return loss
    logits = not _outputs_probabilities(model)
    if y.ndim == 1:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    return keras.losses.CategoricalCrossentropy(from_logits=logits)


def _metric_for(y: np.ndarray) -> str:
    return "sparse_categorical_accuracy" if y.ndim == 1 else "categorical_accuracy"


def _qat_unsupported(model: Any) -> list[Any]:
    """Layers that tfmot's default 8-bit QAT has no quantize config for."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    keras = _tf_keras()
    reg = registry.Default8BitQuantizeRegistry()
    bad = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            bad.extend(_qat_unsupported(layer))
        elif not reg.supports(layer):
            bad.append(layer)
    return bad


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


def _fit(model, x, y, *, loss, epochs, batch_size, learning_rate, progress, callbacks=()):
    keras = _tf_keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        metrics=[_metric_for(y)],
    )
    model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=1 if progress else 0,
        callbacks=list(callbacks),
    )


def _prune(model, x, y, *, sparsity, structured, loss, epochs, batch_size, learning_rate, progress):
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
        loss=loss,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        progress=progress,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
    )
    info["unpruned_layers"] = skipped
    return tfmot.sparsity.keras.strip_pruning(pruned), info


def _weights_for_clone(model: Any, pruned: Any) -> list[np.ndarray]:
    """Original weights in the order of the pruned clone (wrappers add mask/threshold vars)."""
    # clone_model re-initializes; copying layer by layer keeps the trained values, and the
    # wrappers' own mask (ones) and threshold (zero) variables keep their initial values.
    for src, dst in zip(model.layers, pruned.layers):
        inner = getattr(dst, "layer", dst)
        inner.set_weights(src.get_weights())
    return pruned.get_weights()


def _quantize_aware(model, *, preserve_sparsity: bool):
    import tensorflow_model_optimization as tfmot

    bad = _qat_unsupported(model)
    if bad:
        layer = bad[0]
        raise UnsupportedOpError(
            f"layer {layer.name!r} ({type(layer).__name__}) cannot be quantization-aware "
            "trained: tfmot has no 8-bit quantize config for it; replace it with built-in "
            "layers (Conv2D, DepthwiseConv2D, Dense, pooling, ReLU, ...), or pass "
            "qat=False (CLI --no-qat) for post-training quantization",
            op=type(layer).__name__,
        )
    try:
        annotated = tfmot.quantization.keras.quantize_annotate_model(model)
        if preserve_sparsity:
            scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
            return tfmot.quantization.keras.quantize_apply(annotated, scheme)
        return tfmot.quantization.keras.quantize_apply(annotated)
    except (ValueError, RuntimeError) as err:
        raise UnsupportedOpError(
            f"tfmot could not make the model quantization-aware: {err}; pass qat=False "
            "(CLI --no-qat) for post-training quantization",
            op=type(model).__name__,
        ) from err


# --------------------------------------------------------------------------- conversion


def _capture_stderr(fn):
    """Run fn() with fd 2 captured: the converter's C++ logging is noise, unless it fails."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            try:
                return fn(), ""
            except Exception as err:
                tmp.seek(0)
                err.add_note(tmp.read().decode(errors="replace")[-2000:])
                raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _converter(model: Any, input_shape: tuple[int, ...]):
    tf = _tf()
    if _is_tf_keras(model):
        return tf.lite.TFLiteConverter.from_keras_model(model)
    # Keras 3: trace the call as a concrete function with a batch of one.
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec((1, *input_shape), tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)


def _to_tflite(model: Any, input_shape: tuple[int, ...], representative: np.ndarray | None):
    tf = _tf()
    converter = _converter(model, input_shape)
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
        data, _ = _capture_stderr(converter.convert)
    except Exception as err:
        notes = "".join(getattr(err, "__notes__", []))
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        detail = [ln for ln in notes.splitlines() if "error" in ln.lower()][:3]
        raise UnsupportedOpError(
            f"TFLiteConverter could not convert the model to {what} TFLite: {reason}"
            f"{' (' + ' | '.join(detail) + ')' if detail else ''}; a layer probably has no "
            "int8 TFLite builtin op: replace it with built-in Keras layers",
            op="converter",
        ) from err
    return bytes(data)


def _predict(model: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def _int8_outputs(tflite: bytes, x: np.ndarray, progress: bool) -> np.ndarray:
    """Run float inputs through the int8 model in TFLM, quantizing with the input's scale."""
    from . import tflm

    ref = tflm.Reference(tflite)
    q = ref.model.input_tensors[0].quantization
    scale, zp = float(q.scale[0]), int(q.zero_point[0])
    info = np.iinfo(ref.input_dtype)
    xq = np.clip(np.round(x / scale) + zp, info.min, info.max).astype(ref.input_dtype)
    if not progress:
        return ref.run(xq)
    from tqdm import tqdm

    return np.stack(
        [ref.run_one(s).reshape(ref.output_shape[1:]) for s in tqdm(xq, desc="TFLM int8 eval")]
    )


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
    without training data it is quantized post-training. Accuracy is measured on
    `validation_data` (else the training data) in the float model and in TFLM.
    """
    if isinstance(model, (str, Path)):
        model = load_keras(model)
    keras3 = _is_keras3(model)
    if not keras3 and not _is_tf_keras(model):
        raise ModelError(
            f"expected a Keras model (tf_keras or Keras 3) or a model path, found "
            f"{type(model).__name__}; load the model first or pass its .keras/.h5 path"
        )
    if sparsity is not None and not (0.0 <= float(sparsity) < 1.0):
        raise TFLiteEdgeError(
            f"sparsity must be in [0, 1) (the share of weights set to zero), found {sparsity}; "
            "e.g. 0.75 for 75 % zeros"
        )
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

    input_shape = _model_input_shape(model)
    classes = _model_classes(model)
    train = (
        _check_pair(train_data, "train_data", input_shape, classes)
        if train_data is not None
        else None
    )
    val = (
        _check_pair(validation_data, "validation_data", input_shape, classes)
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
    tf = _tf()
    tf.keras.utils.set_random_seed(seed) if not keras3 else tf.random.set_seed(seed)
    np.random.seed(seed)

    metrics: dict[str, Any] = {"warnings": []}
    eval_x, eval_y = val if val is not None else (train if train is not None else (None, None))
    metrics["evaluated_on"] = "validation" if val is not None else "train"
    metrics["eval_samples"] = 0 if eval_x is None else int(len(eval_x))
    metrics["float_accuracy"] = None
    if eval_x is not None and classes > 1:
        pred = _predict(model, eval_x, batch_size)
        metrics["float_accuracy"] = float(np.mean(np.argmax(pred, -1) == _class_index(eval_y)))

    float_tflite = _to_tflite(model, input_shape, None)
    metrics["float_bytes"] = len(float_tflite)

    optimized = model
    method = []
    if training:
        # The checks come first: a layer QAT cannot handle should fail before minutes of pruning.
        if qat and _qat_unsupported(model):
            _quantize_aware(model, preserve_sparsity=prune)  # raises with the layer named
        loss = _loss_for(model, train[1])
        x, y = train
        if prune:
            optimized, info = _prune(
                model,
                x,
                y,
                sparsity=sparsity,
                structured=structured,
                loss=loss,
                epochs=int(epochs),
                batch_size=int(batch_size),
                learning_rate=learning_rate,
                progress=progress,
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
            _fit(
                optimized,
                x,
                y,
                loss=loss,
                epochs=int(fine_tune_epochs),
                batch_size=int(batch_size),
                # QAT fine-tunes a trained network: a smaller step keeps it where it was.
                learning_rate=learning_rate / 10,
                progress=progress,
            )
            method.append("PQAT" if prune else "QAT")
        else:
            method.append("PTQ")
    else:
        method.append("PTQ")
    metrics["method"] = " + ".join(method)
    metrics["target_sparsity"] = (0.5 if structured else float(sparsity)) if prune else None
    metrics["structured"] = structured

    tflite = _to_tflite(optimized, input_shape, rep)
    result = _measure(tflite, metrics, eval_x, eval_y, classes, progress)
    result.keras_model = optimized if optimized is not model else None
    return result


def _measure(tflite, metrics, eval_x, eval_y, classes, progress) -> ConversionResult:
    from . import tflm
    from .inspector import weight_sparsity
    from .model import load_model

    m = load_model(tflite, name="converted")
    metrics["tflite_bytes"] = len(tflite)
    metrics["ops"] = m.ops
    metrics["sparsity"] = weight_sparsity(m)
    missing = tflm.missing_ops(m)
    metrics["tflm_missing_ops"] = missing
    metrics["int8_accuracy"] = None
    metrics["arena_bytes"] = None
    if missing:
        # Still return the model: it is valid TFLite, but the board's TFLM build cannot run it.
        metrics["warnings"].append(
            f"TFLM has no kernel for {', '.join(missing)}: the model will not run on the "
            "board; replace the layers that produce these ops"
        )
        return ConversionResult(tflite, metrics)
    # A model TFLM claims to support but cannot load is an error, not a warning.
    ref = tflm.Reference(m)
    metrics["arena_bytes"] = ref.arena().total
    if eval_x is not None and classes > 1:
        out = _int8_outputs(tflite, eval_x, progress)
        metrics["int8_accuracy"] = float(np.mean(np.argmax(out, -1) == _class_index(eval_y)))
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
    classes = _model_classes(student)
    if _model_classes(teacher) != classes:
        raise ModelError(
            f"teacher has {_model_classes(teacher)} outputs but the student has {classes}; "
            "both must predict the same classes"
        )
    x, y = _check_pair(train_data, "train_data", input_shape, classes)
    tf = _tf()
    keras = _tf_keras()
    keras.utils.set_random_seed(seed)
    y_idx = _class_index(y)
    teacher_probs = _outputs_probabilities(teacher)
    student_probs = _outputs_probabilities(student)
    t_logits_all = _predict(teacher, x, 256)
    if teacher_probs:
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
        optimizer.apply_gradients(zip(grads, student.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    batches = range(int(epochs))
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="distill", unit="epoch")
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
