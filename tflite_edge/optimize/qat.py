"""Quantization-aware training (tfmot 8-bit QAT, and PQAT that preserves pruning)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import UnsupportedOpError
from .keras import _first_line, _tf_keras


def _qat_error(name: str, cls: str, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(
        f"layer {name!r} ({cls}) cannot be quantization-aware trained: {why}; replace it with "
        "built-in layers (Conv2D, DepthwiseConv2D, Dense, BatchNormalization, pooling, ReLU, "
        "...), or pass qat=False (CLI --no-qat) for post-training quantization",
        op=cls,
    )


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
            f"({_first_line(err, type(err).__name__)}); use a "
            "Sequential or functional tf_keras model of built-in layers, or pass qat=False "
            "(CLI --no-qat) for post-training quantization",
            op=type(model).__name__,
        ) from err
