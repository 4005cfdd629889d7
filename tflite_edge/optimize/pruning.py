"""Pruning: magnitude and 2:4 structured schedules, applied with tfmot."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import UnsupportedOpError
from .keras import _fit, _tf_keras

# Structured sparsity: name -> the (m, n) tfmot's sparsity_m_by_n takes (2:4: 2 of every 4 are 0).
STRUCTURED = {"2:4": (2, 4)}


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
