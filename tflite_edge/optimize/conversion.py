"""convert(): a Keras model to an int8 (or 16x8) .tflite, measured in the TFLM interpreter.

activations="int16" converts to TFLite's 16x8 scheme (EXPERIMENTAL_TFLITE_BUILTINS_
ACTIVATIONS_INT16_WEIGHTS_INT8: int16 activations with zero point 0, int8 weights, int64
biases, int16 model input and output). Its quantized score goes under the key
"int16_accuracy" / "int16_mae" (the "int8_*" keys stay those of int8 models and are absent
from a 16x8 result); metrics["activations"] says which one was built.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, ModelError, TFLiteEdgeError, UnsupportedOpError, check_sparsity
from ..files import write_atomic
from ..model import load_model
from ..model.inspect import weight_sparsity
from ..reference import Reference, missing_ops
from .keras import (
    _KERAS3_HINT,
    _check_convertible,
    _check_inputs,
    _check_pair,
    _first_line,
    _fit,
    _is_keras3,
    _is_tf_keras,
    _model_input_shape,
    _model_outputs,
    _predict,
    _quietly,
    _Task,
    _tf,
    _tf_keras,
    load_keras,
)
from .pruning import STRUCTURED, _prune
from .qat import _check_quantizable, _quantize_aware

# The activation types convert() builds: int8 (full-integer int8) or int16 (16x8).
ACTIVATIONS = ("int8", "int16")

# How many training inputs the converter sees to calibrate activation ranges.
REPRESENTATIVE_SAMPLES = 200


@dataclass
class ConversionResult:
    """An int8 (or 16x8) .tflite model and the measurements that go with it."""

    tflite: bytes
    metrics: dict[str, Any]
    keras_model: Any = field(default=None, repr=False)  # the optimized Keras model, if trained

    def save(self, path: str | Path) -> Path:
        """Write the .tflite atomically (a temp file in the same folder, then a rename)."""
        return write_atomic(path, self.tflite)

    def summary(self) -> str:
        """The metrics as a readable table."""
        m = self.metrics
        act = m.get("activations", "int8")
        label = "int8" if act == "int8" else "16x8"

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.2f} %"

        if m.get("task") == "regression":
            mae = [
                (f"{kind} mean abs error", "-" if m.get(key) is None else f"{m[key]:.5g}")
                for kind, key in (("float", "float_mae"), (f"{label} (TFLM)", f"{act}_mae"))
            ]
        else:
            mae = [
                ("float accuracy", pct(m.get("float_accuracy"))),
                (f"{label} accuracy (TFLM)", pct(m.get(f"{act}_accuracy"))),
            ]
        rows = [
            ("method", m.get("method", "-")),
            *mae,
            ("evaluated on", f"{m.get('eval_samples', 0)} {m.get('evaluated_on', '-')} samples"),
            ("int8 weight sparsity", pct(m.get("sparsity"))),
            ("float .tflite", f"{m['float_bytes']:,} B"),
            (
                f"{label} .tflite",
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


def _to_tflite(model: Any, representative: np.ndarray | None, activations: str = "int8") -> bytes:
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
        if activations == "int16":
            ops16 = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            converter.target_spec.supported_ops = [ops16]
            converter.inference_input_type = tf.int16
            converter.inference_output_type = tf.int16
        else:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    what = ("int8" if activations == "int8" else "16x8") if representative is not None else "float"
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
        reason = _first_line(err, type(err).__name__)[:300]
        raise UnsupportedOpError(
            f"TFLiteConverter could not convert the model to {what} TFLite ({reason}); a layer "
            "probably has no int8 TFLite builtin op: replace it with built-in Keras layers",
            op="converter",
        ) from err
    return bytes(data)


def _int8_outputs(tflite: bytes, x: np.ndarray, progress: bool) -> np.ndarray:
    """Float outputs of the int8 (or 16x8) model in TFLM: inputs quantized, outputs
    dequantized."""
    ref = Reference(tflite)
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
                for s in tqdm(xq, desc=f"TFLM {ref.input_dtype.name} eval", file=sys.stderr)
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
    qat: bool | None = None,
    epochs: int = 4,
    batch_size: int = 32,
    fine_tune_epochs: int = 2,
    learning_rate: float = 1e-3,
    progress: bool = False,
    seed: int = 0,
    activations: str = "int8",
) -> ConversionResult:
    """Prune, quantization-aware train and convert a Keras model to a full-integer int8 .tflite.

    `model` is a trained Keras model (or a path to .keras/.h5/SavedModel). With `train_data`
    it is pruned to `sparsity` (magnitude, or `structured="2:4"`) for `epochs`, then
    fine-tuned quantization-aware for `fine_tune_epochs` (pruning-preserving when pruned);
    without training data it is quantized post-training. Accuracy (mean absolute error for
    regression) is measured on `validation_data` (else the training data) in the float model
    and, for the int8 model, in the TFLM interpreter. `seed` seeds the global numpy, Python
    and TensorFlow generators so that a run can be repeated.

    `activations="int16"` builds a 16x8 model instead (int16 activations, int8 weights, int64
    biases), post-training only: tfmot's QAT simulates int8 activations, so qat (None: the
    default) means True for int8 and False for int16, and qat=True with int16 is refused; its
    TFLM score is metrics["int16_accuracy"] (or "int16_mae"), and the "int8_*" keys are absent.
    """
    # Arguments first: a typo should fail in a second, before TensorFlow loads.
    if activations not in ACTIVATIONS:
        raise TFLiteEdgeError(
            f"activations {activations!r} is not supported; expected one of "
            f"{', '.join(ACTIVATIONS)} (int16: 16x8, int16 activations and int8 weights)"
        )
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

    if qat is None:  # QAT simulates int8 activations: on for int8, off for 16x8
        qat = activations == "int8"
    prune = structured is not None or bool(sparsity)
    training = train is not None and (prune or qat)
    if keras3 and training:
        raise ModelError(
            f"model {model.name!r} is a Keras 3 model; pruning and quantization-aware "
            f"training (tfmot) need a Keras 2 model: {_KERAS3_HINT}"
        )
    if training and qat and activations == "int16":
        raise TFLiteEdgeError(
            "activations='int16' (16x8) cannot follow quantization-aware training, which "
            "simulates int8 activations; pass qat=False (--no-qat) to prune and/or quantize "
            "post-training"
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
    metrics["activations"] = activations
    metrics["float_accuracy"] = metrics[f"{activations}_accuracy"] = None
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

    tflite = _to_tflite(optimized, rep, activations)
    result = _measure(tflite, metrics, eval_x, eval_y, task, progress)
    result.keras_model = optimized if optimized is not model else None
    return result


def _measure(tflite, metrics, eval_x, eval_y, task, progress) -> ConversionResult:
    m = load_model(tflite, name="converted")
    metrics["tflite_bytes"] = len(tflite)
    metrics["ops"] = m.ops
    metrics["sparsity"] = weight_sparsity(m)
    missing = missing_ops(m)
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
    metrics["arena_bytes"] = Reference(m).arena().total
    if eval_x is not None:
        out = _int8_outputs(tflite, eval_x, progress)
        act = metrics.get("activations", "int8")
        metrics[f"{act}_{task.score_name}"] = task.score(out, eval_y)
    return ConversionResult(tflite, metrics)
