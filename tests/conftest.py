"""Shared fixtures: paths to the reference models, the digits data, converted digits models."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_COLOR", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = ROOT.parent / "shared" / "models"
REFERENCE_MODELS = [
    "kws_ref_model.tflite",
    "ad01_int8.tflite",
    "hello_world_int8.tflite",
    "micro_speech_quantized.tflite",
]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """../shared/models, the real reference models (read-only)."""
    assert SHARED_MODELS.is_dir(), f"reference models not found at {SHARED_MODELS}"
    return SHARED_MODELS


@pytest.fixture(scope="session", params=REFERENCE_MODELS, ids=lambda n: n.split(".")[0])
def reference_model(request, models_dir) -> Path:
    """Each of the four reference models in turn."""
    return models_dir / request.param


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled digits, as (x_train, y_train), (x_test, y_test), x in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return (x_tr, y_tr), (x_te, y_te)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a command, capture text output, never raise on a non-zero exit."""
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# --- digits models (owned by the optimize/convert stage; other stages use the .tflite bytes) ---


def build_digits_cnn(seed: int = 0):
    """A small tf_keras CNN for 8x8 digits: 2 convs, a pool and 2 dense layers (38 k weights)."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.layers.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="digits_cnn",
    )


@pytest.fixture(scope="session")
def digits_cnn(digits):
    """The digits CNN trained in float (tf_keras), outputs are logits."""
    import tf_keras as keras

    (x_tr, y_tr), _ = digits
    model = build_digits_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_tr, y_tr, epochs=12, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def digits_int8(digits, digits_cnn):
    """ConversionResult of the digits CNN: QAT, no pruning, full-integer int8."""
    from tflite_edge import convert

    train, test = digits
    return convert(digits_cnn, train_data=train, validation_data=test)


@pytest.fixture(scope="session")
def digits_sparse(digits, digits_cnn):
    """ConversionResult of the digits CNN: 75 % magnitude pruning + PQAT, full-integer int8."""
    from tflite_edge import convert

    train, test = digits
    return convert(digits_cnn, train_data=train, validation_data=test, sparsity=0.75)
