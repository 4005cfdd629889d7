"""The MAC counter (tflite_edge.model.macs): multiply-accumulates from the model's tensor shapes,
checked against the Keras layers the model was converted from."""

from __future__ import annotations

import numpy as np

from tflite_edge.model.macs import count_macs, macs_by_op


def test_count_macs_matches_keras_layer_shapes():
    from opmodels import convert_keras, keras, randomize, single_layer_model

    k = keras()
    layers = [
        k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        k.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="valid"),
        k.layers.Conv2D(6, 1),
        k.layers.Flatten(),
        k.layers.Dense(10),
    ]
    model = randomize(single_layer_model(layers, (12, 10, 3), name="macs"))
    expected = 0
    for layer in model.layers:
        out = int(np.prod(layer.output_shape[1:]))
        if isinstance(layer, k.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            expected += out * kh * kw
        elif isinstance(layer, k.layers.Conv2D):
            kh, kw = layer.kernel_size
            expected += out * kh * kw * int(layer.input_shape[-1])
        elif isinstance(layer, k.layers.Dense):
            expected += layer.units * int(layer.input_shape[-1])
    tflite = convert_keras(model)
    assert count_macs(tflite) == expected
    ops = [r["op"] for r in macs_by_op(tflite)]
    assert ops == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "FULLY_CONNECTED"]
