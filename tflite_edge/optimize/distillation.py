"""distill(): knowledge distillation from a teacher to a student Keras model."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError, TFLiteEdgeError
from .keras import (
    _KERAS3_HINT,
    _check_pair,
    _final_activation,
    _is_tf_keras,
    _model_input_shape,
    _model_outputs,
    _predict,
    _tf,
    _tf_keras,
)


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
