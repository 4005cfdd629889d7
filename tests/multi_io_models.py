"""Models with several inputs and outputs, and with float or int16 inputs and outputs, built in
code once per session (tf_keras, seeded): the multi-I/O tests of the compiler, the harness
and the board commands share them."""

from __future__ import annotations

import functools

import numpy as np

import opmodels as om

SHAPE_A = (6,)
SHAPE_B = (4,)


def _two_by_two(name: str):
    """Inputs a (6,) and b (4,); outputs: dense(concat(a, b)) (5,) and relu(dense(a) * b) (4,)."""
    k = om.keras()
    a = k.Input(shape=SHAPE_A, batch_size=1, name="a")
    b = k.Input(shape=SHAPE_B, batch_size=1, name="b")
    joined = k.layers.Concatenate()([a, b])
    y1 = k.layers.Dense(5, name="y1")(joined)
    y2 = k.layers.Activation("relu", name="y2")(k.layers.Multiply()([k.layers.Dense(4)(a), b]))
    return om.randomize(k.Model([a, b], [y1, y2], name=name), seed=3)


def _reps(seed: int = 0, n: int = 24):
    rng = np.random.default_rng(seed)
    return [  # by input name: the converter's own input order is not the Keras one
        {
            "a": rng.uniform(-1, 1, size=(1, *SHAPE_A)).astype(np.float32),
            "b": rng.uniform(-1, 1, size=(1, *SHAPE_B)).astype(np.float32),
        }
        for _ in range(n)
    ]


def _convert(model, io_type, ops) -> bytes:
    import tensorflow as tf

    reps = _reps()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(reps)
    converter.target_spec.supported_ops = ops
    if io_type is not None:
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type
    return bytes(converter.convert())


@functools.cache
def two_by_two_int8() -> bytes:
    """Two int8 inputs, two int8 outputs."""
    import tensorflow as tf

    return _convert(_two_by_two("two_by_two"), tf.int8, [tf.lite.OpsSet.TFLITE_BUILTINS_INT8])


@functools.cache
def two_by_two_float() -> bytes:
    """Two float32 inputs, two float32 outputs: QUANTIZE -> int8 graph -> DEQUANTIZE."""
    import tensorflow as tf

    return _convert(_two_by_two("two_by_two_f"), None, [tf.lite.OpsSet.TFLITE_BUILTINS_INT8])


@functools.cache
def two_by_two_int16() -> bytes:
    """Two int16 inputs, two int16 outputs (16x8 quantization: int16 activations)."""
    import tensorflow as tf

    ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return _convert(_two_by_two("two_by_two_16"), tf.int16, ops)


@functools.cache
def single_float() -> bytes:
    """One float32 input and output around an int8 dense layer."""
    k = om.keras()
    x = k.Input(shape=(8,), batch_size=1)
    model = om.randomize(k.Model(x, k.layers.Dense(3)(x), name="single_f"), seed=5)
    import tensorflow as tf

    reps = [[r] for r in om.representative((8,), seed=1)]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(reps)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return bytes(converter.convert())


def random_feeds(model, n: int, seed: int = 0) -> list[np.ndarray]:
    """n random samples per input of a loaded model: integers over their type's range,
    floats over [-1.5, 1.5) (beyond the quantized range, so saturation is covered)."""
    rng = np.random.default_rng(seed)
    feeds = []
    for t in model.input_tensors:
        shape = (n, *t.shape[1:])
        dtype = np.dtype(t.dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            feeds.append(rng.integers(info.min, info.max + 1, size=shape, dtype=dtype))
        else:
            feeds.append(rng.uniform(-1.5, 1.5, size=shape).astype(dtype))
    return feeds
