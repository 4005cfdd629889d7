"""Small single-op int8 models built in code, for kernel tests (TFLM-style generate_test_models).

Build a tf_keras model around one layer with `single_layer_model()`, give it non-trivial
weights with `randomize()` (optionally `sparsify()`), and turn it into full-integer int8
.tflite bytes with `convert_keras()`. TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _tf():
    import tensorflow as tf

    return tf


def keras():
    """The tf_keras module (Keras 2), which tflite-edge targets."""
    import tf_keras

    return tf_keras


def single_layer_model(
    layers: Any | Sequence[Any], input_shape: Sequence[int], *, name: str = "op"
) -> Any:
    """A tf_keras functional model: Input(input_shape) -> layer(s) in order."""
    k = keras()
    inp = k.Input(shape=tuple(input_shape), batch_size=1)
    x = inp
    for layer in layers if isinstance(layers, (list, tuple)) else [layers]:
        x = layer(x)
    return k.Model(inp, x, name=name)


def randomize(model: Any, *, seed: int = 0, scale: float = 0.5) -> Any:
    """Replace every weight (kernels and biases) with seeded uniform values; returns model.

    Keras initializes biases to zero, which would leave the bias path of a kernel untested.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for w in weights:
            if w.ndim == 1 and "batch_normalization" in layer.name:
                new.append(rng.uniform(0.5, 1.5, size=w.shape).astype(w.dtype))
            else:
                new.append(rng.uniform(-scale, scale, size=w.shape).astype(w.dtype))
        layer.set_weights(new)
    return model


def sparsify(model: Any, fraction: float = 0.75, *, seed: int = 0) -> Any:
    """Zero `fraction` of the entries of every kernel (weights with ndim >= 2); returns model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for w in weights:
            if w.ndim >= 2:
                w = w.copy()
                flat = w.reshape(-1)
                idx = rng.permutation(flat.size)[: int(round(fraction * flat.size))]
                flat[idx] = 0.0
            new.append(w)
        layer.set_weights(new)
    return model


def representative(
    input_shape: Sequence[int],
    *,
    seed: int = 0,
    samples: int = 32,
    low: float = -1.0,
    high: float = 1.0,
) -> np.ndarray:
    """Seeded float32 representative data of shape (samples, 1, *input_shape)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(samples, 1, *input_shape)).astype(np.float32)


def convert_keras(
    model: Any,
    input_shape: Sequence[int] | None = None,
    *,
    seed: int = 0,
    samples: int = 32,
    data: np.ndarray | None = None,
    per_channel_dense: bool | None = None,
    post_process: Callable[[Any], None] | None = None,
) -> bytes:
    """Full-integer int8 .tflite bytes of a Keras model (int8 input and output).

    Representative data is seeded uniform [-1, 1) of `input_shape` (default: the model's
    input shape without the batch dimension) unless `data` (N, 1, *shape) is given.
    per_channel_dense: True/False forces per-channel/per-tensor FULLY_CONNECTED weights
    (None keeps the converter's default).
    """
    tf = _tf()
    if input_shape is None:
        input_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    reps = data if data is not None else representative(input_shape, seed=seed, samples=samples)

    def gen():
        for x in reps:
            yield [np.asarray(x, dtype=np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = gen
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if per_channel_dense is not None:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = (
            not per_channel_dense
        )
    if post_process is not None:
        post_process(converter)
    return bytes(converter.convert())


def op_names(tflite: bytes) -> list[str]:
    """The builtin op names of a .tflite, in operator order."""
    from tflite_edge.model import load_model

    return [op.op for op in load_model(tflite).operators]


def set_options(tflite: bytes, op_index: int, **options: Any) -> bytes:
    """A copy of a .tflite with builtin options of one operator changed (e.g. beta=2.5).

    For options the converter never emits from Keras (a SOFTMAX beta other than 1). The model
    is re-serialized with the TFLite schema classes that ship with tflite-micro.
    """
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    opts = mt.subgraphs[0].operators[op_index].builtinOptions
    for key, value in options.items():
        if not hasattr(opts, key):
            raise AttributeError(f"operator {op_index} has no option {key!r}")
        setattr(opts, key, value)
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
