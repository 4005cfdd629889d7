"""The corpus of issue 14: models a Keras user would bring to a microcontroller, built in code
(no downloads), each converted int8 and 16x8, plus the reference models on disk. The AOT
runtime must run each bit-exactly or refuse it naming an op only TFLM has.

Each model is converted once per session (functools.cache) and kept in a cache folder under
the system temp dir keyed by this file's text and the TensorFlow version, since converting
MobileNets takes a while; a test never writes anywhere else.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import opmodels as om

# name -> (builder returning a tf_keras model, input value range)
BUILDERS: dict[str, tuple[Callable, tuple[float, float]]] = {}


def corpus_model(low: float = -1.0, high: float = 1.0):
    """Decorator: register a builder of a tf_keras model under its function name."""

    def deco(fn):
        BUILDERS[fn.__name__] = (fn, (low, high))
        return fn

    return deco


# The MobileNets end in logits: untrained, their logits span so little that TFLM's SOFTMAX
# Prepare aborts the process (QuantizeMultiplierGreaterThanOne on the tiny input scale).


@corpus_model(0.0, 1.0)
def mobilenet_v1():
    k = om.keras()
    return k.applications.MobileNet(  # a fixed batch: the converter keeps no SHAPE ops
        input_tensor=k.Input((96, 96, 3), batch_size=1),
        alpha=0.25,
        weights=None,
        classes=2,
        dropout=0.0,
        classifier_activation=None,
    )


@corpus_model(0.0, 1.0)
def mobilenet_v2():
    k = om.keras()
    return k.applications.MobileNetV2(
        input_tensor=k.Input((96, 96, 3), batch_size=1),
        alpha=0.35,
        weights=None,
        classes=10,
        classifier_activation=None,
    )


@corpus_model(0.0, 255.0)
def mobilenet_v3_small():
    k = om.keras()
    return k.applications.MobileNetV3Small(
        input_tensor=k.Input((96, 96, 3), batch_size=1),
        alpha=0.75,
        weights=None,
        classes=10,
        dropout_rate=0.0,
        classifier_activation=None,
    )


@corpus_model()
def unet():
    k = om.keras()
    L = k.layers
    inp = k.Input((32, 32, 1), batch_size=1)
    a = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(a)
    c = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(b)
    u1 = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(c)
    m1 = L.Concatenate()([u1, b])
    u2 = L.UpSampling2D(2)(L.Conv2D(8, 1)(m1))
    m2 = L.Concatenate()([u2, a])
    out = L.Conv2D(1, 1, activation="sigmoid")(m2)
    return k.Model(inp, out)


@corpus_model()
def lstm_keywords():
    k = om.keras()
    L = k.layers
    inp = k.Input((25, 10), batch_size=1)
    x = L.LSTM(16)(inp)
    return k.Model(inp, L.Dense(4, activation="softmax")(x))


@corpus_model()
def lstm_sequences():
    k = om.keras()
    L = k.layers
    inp = k.Input((12, 6), batch_size=1)
    x = L.LSTM(8, return_sequences=True)(inp)
    return k.Model(inp, L.Dense(3)(x))


@corpus_model()
def two_inputs_two_outputs():
    k = om.keras()
    L = k.layers
    a = k.Input((16,), batch_size=1, name="features")
    b = k.Input((8, 8, 1), batch_size=1, name="image")
    y = L.Flatten()(L.MaxPooling2D(2)(L.Conv2D(4, 3, activation="relu")(b)))
    z = L.Concatenate()([L.Dense(8, activation="relu")(a), L.Dense(8)(y)])
    return k.Model([a, b], [L.Dense(3, activation="softmax", name="cls")(z),
                            L.Dense(1, name="reg")(z)])  # fmt: skip


@corpus_model()
def dilated_dynamic_batch():
    k = om.keras()
    L = k.layers
    inp = k.Input((20, 20, 2))  # no batch size: the converter keeps a placeholder batch
    x = L.Conv2D(6, 3, dilation_rate=2, activation="relu")(inp)
    x = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x)
    return k.Model(inp, L.Dense(4)(L.GlobalAveragePooling2D()(x)))


@corpus_model()
def ds_cnn_small():
    k = om.keras()
    L = k.layers
    inp = k.Input((49, 10, 1), batch_size=1)
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, (10, 4), strides=2, padding="same")(inp)))
    for _ in range(2):
        x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same")(x)))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 1)(x)))
    x = L.GlobalAveragePooling2D()(x)
    return k.Model(inp, L.Dense(12, activation="softmax")(x))


@corpus_model()
def slicing_and_math():
    import tensorflow as tf

    k = om.keras()
    L = k.layers
    inp = k.Input((8, 12), batch_size=1)
    a = L.Lambda(lambda t: t[:, 1:7, ::2])(inp)
    b = L.Lambda(lambda t: tf.transpose(t, [0, 2, 1]))(a)
    c = L.Lambda(lambda t: tf.maximum(t, 0.1) - tf.minimum(t, -0.2))(b)
    parts = L.Lambda(lambda t: tf.split(t, 2, axis=1))(c)
    d = L.Subtract()([parts[0], parts[1]])
    return k.Model(inp, L.Dense(5)(L.Flatten()(d)))


KINDS = ("int8", "int16", "float_io")


def kinds_of(name: str) -> tuple[str, ...]:
    """The forms a corpus model is converted to: the MobileNets (long to convert and compile)
    without float I/O, which only adds a QUANTIZE and a DEQUANTIZE at the edges."""
    return KINDS[:2] if name.startswith("mobilenet") else KINDS


def _cache_dir() -> Path:
    import tensorflow as tf

    digest = hashlib.sha256(Path(__file__).read_bytes() + tf.__version__.encode())
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = Path(tempfile.gettempdir()) / f"tflite-edge-corpus-{uid}" / digest.hexdigest()[:16]
    path.mkdir(parents=True, exist_ok=True)
    return path


def _representative(model, low: float, high: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = [tuple(int(d) if d else 1 for d in t.shape[1:]) for t in model.inputs]

    def gen():
        for _ in range(16):
            yield [rng.uniform(low, high, size=(1, *s)).astype(np.float32) for s in shapes]

    return gen


def _convert(model, kind: str, low: float, high: float) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(model, low, high)
    if kind == "int16":
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        conv.target_spec.supported_ops = [ops]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = tf.int8 if kind == "int8" else tf.float32
        conv.inference_input_type = conv.inference_output_type = io
    return bytes(conv.convert())


@functools.cache
def corpus_model_bytes(name: str, kind: str) -> bytes:
    """The .tflite bytes of one corpus model in one kind (int8, int16 = 16x8, float_io)."""
    path = _cache_dir() / f"{name}-{kind}.tflite"
    if path.exists():
        return path.read_bytes()
    k = om.keras()
    k.utils.set_random_seed(0)
    builder, (low, high) = BUILDERS[name]
    model = builder()
    if not name.startswith("mobilenet"):  # Keras zero-initialises biases; the MobileNets'
        om.randomize(model, seed=1, scale=0.3)  # BN layers need positive variances
    data = _convert(model, kind, low, high)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return data
