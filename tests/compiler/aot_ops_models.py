"""What the extra-op tests' fixtures return: the extra kernels built for the host, and the
converted single-op and multi-op models, each set built once per session (functools.cache)
however many test modules use it, since converting is slow. (Not a conftest.py: tests
elsewhere import names from tests/conftest.py as `conftest`.)"""

from __future__ import annotations

import functools
import subprocess

import numpy as np
from aot_ops_support import (
    BINARY_CASES,
    EXTRA_SOURCES,
    KERNELS,
    MEAN_CASES,
    Kernels,
    convert_two,
    keras_single,
    only_op,
    reshape_to_squeeze,
    two_input,
)

import opmodels as om


def build_lib(tmp_path_factory) -> Kernels:
    """libtfle_extra.so built from the kernel sources with the host gcc (warnings are errors)."""
    out = tmp_path_factory.mktemp("extra") / "libtfle_extra.so"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared",
           "-fPIC", f"-I{KERNELS}", *map(str, EXTRA_SOURCES), "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Kernels(out)


@functools.cache
def build_unary_models() -> dict[str, bytes]:
    """One converted model per unary op, the op applied directly to the int8 input."""
    import tensorflow as tf

    k = om.keras()
    L = k.layers
    shape = (16, 16)
    builders = {
        "LOGISTIC": lambda x: L.Activation("sigmoid")(x),
        "TANH": lambda x: L.Activation("tanh")(x),
        "RELU": lambda x: L.ReLU()(x),
        "RELU6": lambda x: L.ReLU(6.0)(x),
        "LEAKY_RELU": lambda x: L.LeakyReLU(0.2)(x),
        "HARD_SWISH": lambda x: L.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0)(x),
    }
    out = {}
    for op, fn in builders.items():
        data = om.convert_keras(
            keras_single(fn, shape), shape, data=om.representative(shape, low=-4.0, high=4.0)
        )
        assert om.op_names(data) == [op], om.op_names(data)
        out[op] = data

    def float_io(conv):
        conv.inference_input_type = tf.float32
        conv.inference_output_type = tf.float32

    # float32 -> QUANTIZE -> (RELU6 folded away) -> DEQUANTIZE -> float32
    data = om.convert_keras(
        keras_single(lambda x: L.Dense(16)(x), (16,)), (16,), post_process=float_io
    )
    assert om.op_names(data) == ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"]
    out["FLOAT_IO"] = data
    return out


@functools.cache
def build_binary_models() -> list[bytes]:
    out = []
    for i, (op, s1, s2, act, ranges) in enumerate(BINARY_CASES):
        fn = (lambda t: t[0] + t[1]) if op == "ADD" else (lambda t: t[0] * t[1])
        data = convert_two(two_input(fn, s1, s2, act), s1, s2, i, ranges)
        assert om.op_names(data) == [op], om.op_names(data)
        out.append(data)
    return out


@functools.cache
def build_mean_models() -> list[bytes]:
    import tensorflow as tf

    k = om.keras()
    out = []
    for fn, shape, (lo, hi) in MEAN_CASES:
        model = keras_single(lambda x, fn=fn: k.layers.Lambda(lambda t: fn(tf, t))(x), shape)
        data = om.convert_keras(model, shape, data=om.representative(shape, low=lo, high=hi))
        out.append(data)
    return out


@functools.cache
def build_templates() -> dict[str, bytes]:
    import tensorflow as tf

    k = om.keras()
    L = k.layers
    concat = convert_two(
        two_input(lambda t: tf.concat(t, axis=-1), (3, 4), (3, 2)), (3, 4), (3, 2), 5,
        ((-1, 1), (-1, 1)),
    )  # fmt: skip
    pad = om.convert_keras(
        keras_single(lambda x: L.Lambda(lambda v: tf.pad(v, [[0, 0], [1, 2], [0, 1]]))(x), (4, 5)),
        (4, 5),
    )
    s2b = om.convert_keras(
        keras_single(
            lambda x: L.Lambda(lambda v: tf.batch_to_space(v, [2, 2], [[0, 1], [1, 0]]))(
                L.Lambda(lambda v: tf.space_to_batch_nd(v, [2, 2], [[1, 2], [0, 2]]))(x)
            ),
            (7, 6, 2),
        ),
        (7, 6, 2),
    )
    out = {"CONCATENATION": concat, "PAD": pad, "SPACE_TO_BATCH_ND": only_op(s2b, 0),
           "BATCH_TO_SPACE_ND": only_op(s2b, 1), "ADD": build_binary_models()[0],
           "MUL": build_binary_models()[4], "MEAN": build_mean_models()[0],
           "REDUCE_MAX": build_mean_models()[4]}  # fmt: skip
    for op, data in out.items():
        assert om.op_names(data) == [op], (op, om.op_names(data))
    return out


def _e2e_models() -> dict[str, tuple]:
    """name -> (model builder, input shape, representative range); built lazily."""
    import tensorflow as tf

    k = om.keras()
    L = k.layers

    def residual(inp):
        a = L.Conv2D(4, 3, padding="same")(inp)
        b = L.Conv2D(4, 1)(a)
        c = L.ReLU()(L.Add()([a, b]))
        d = L.Concatenate(axis=-1)([c, a])
        e = L.Concatenate(axis=1)([d, d])
        return L.Multiply()([e, e])

    def branches(inp):
        x = L.Dense(12)(inp)
        s = L.Activation("sigmoid")(x)
        t = L.Activation("tanh")(x)
        h = L.Lambda(lambda v: v * tf.nn.relu6(v + 3.0) / 6.0)(x)
        lr = L.LeakyReLU(0.1)(x)
        y = L.Concatenate()([s, t, h, lr])
        y = L.Lambda(lambda v: v * tf.constant(np.linspace(-1, 2, 48, dtype=np.float32)))(y)
        return L.Lambda(lambda v: v + tf.constant([0.5], dtype=tf.float32))(y)

    def requantized_branches(inp):
        # LOGISTIC/TANH have fixed output scales: the converter requantizes them for the concat
        x = L.Dense(12)(inp)
        y = L.Concatenate()(
            [
                L.Activation("sigmoid")(x),
                L.Activation("tanh")(x),
                L.Lambda(lambda v: v * tf.nn.relu6(v + 3.0) / 6.0)(x),
                L.LeakyReLU(0.1)(x),
            ]
        )
        y = L.Lambda(lambda v: v * tf.constant(np.linspace(-1, 2, 48, dtype=np.float32)))(y)
        return L.Lambda(lambda v: tf.reduce_mean(tf.reshape(v, [1, 4, 12]), axis=1))(y)

    return {
        "requantize_mean": (requantized_branches, (8,), (-2, 2), True),
        "residual_add_concat_mul": (residual, (5, 5, 2), (-1, 1), True),
        "activations_concat_const_mul_add": (branches, (8,), (-2, 2), True),
        "pad_gap_mean": (
            lambda x: L.GlobalAveragePooling2D()(
                L.Conv2D(3, 2)(L.ZeroPadding2D(((1, 2), (0, 3)))(x))
            ),
            (5, 4, 2), (-1, 1), True,
        ),
        "padv2_3d_reduce_max": (
            lambda x: L.Lambda(lambda v: tf.reduce_max(v, axis=1, keepdims=True))(
                L.Lambda(lambda v: tf.pad(v, [[0, 0], [2, 1], [0, 2]], constant_values=0.3))(L.Dense(5)(x))
            ),
            (6, 3), (-1, 1), True,
        ),
        # no padding here: TFLM pads SPACE_TO_BATCH_ND with an uninitialised value (see
        # space_to_batch_expected); test_generated_space_batch checks the padding
        "space_to_batch_4d": (
            lambda x: L.Lambda(lambda v: tf.batch_to_space(v, [2, 2], [[0, 1], [1, 0]]))(
                L.Dense(3)(L.Lambda(
                    lambda v: tf.space_to_batch_nd(v, [2, 2], [[0, 0], [0, 0]]))(x))
            ),
            (8, 6, 2), (-1, 1), True,
        ),
        "space_to_batch_3d": (
            lambda x: L.Lambda(lambda v: tf.batch_to_space(v, [3], [[0, 1]]))(
                L.Dense(3)(L.Lambda(lambda v: tf.space_to_batch_nd(v, [3], [[0, 0]]))(x))
            ),
            (9, 2), (-1, 1), True,
        ),
        # Conv1D with a dynamic batch (as tflite_edge.convert() exports it): EXPAND_DIMS
        "conv1d": (lambda x: L.Conv1D(3, 3)(x), (10, 2), (-1, 1), False),
        "float_io": (lambda x: L.Dense(6)(L.ReLU()(x)), (8,), (-1, 1), True),
    }  # fmt: skip


@functools.cache
def build_e2e_models() -> dict[str, bytes]:
    import tensorflow as tf

    k = om.keras()
    out = {}
    for name, (build, shape, (lo, hi), fixed_batch) in _e2e_models().items():
        inp = k.Input(shape=shape, batch_size=1 if fixed_batch else None)
        model = k.Model(inp, build(inp), name=name)
        om.randomize(model, seed=3)

        def float_io(conv):
            conv.inference_input_type = tf.float32
            conv.inference_output_type = tf.float32

        out[name] = om.convert_keras(
            model,
            shape,
            data=om.representative(shape, low=lo, high=hi),
            post_process=float_io if name == "float_io" else None,
        )
    out["conv1d_squeeze"] = reshape_to_squeeze(out["conv1d"])  # fmt: skip
    return out
