"""convert() and distill(): pruning, PQAT/QAT/PTQ, int8 conversion, the metrics, bad input.

Expected values come from references: the float Keras model, the TFLM interpreter run here
by hand, TFLiteConverter on the float model, and the int8 weights read from the flatbuffer.
"""

from __future__ import annotations

import numpy as np
import pytest

from tflite_edge import reference
from tflite_edge.errors import DataError, ModelError, TFLiteEdgeError, UnsupportedOpError
from tflite_edge.model import load_model
from tflite_edge.model.inspect import weight_tensors
from tflite_edge.optimize import ConversionResult, convert, distill

pytestmark = pytest.mark.slow


def _tflm_accuracy(tflite: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy measured independently of convert(): quantize by hand, run TFLM, argmax."""
    ref = reference.Reference(tflite)
    q = ref.model.input_tensors[0].quantization
    xq = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    return float(np.mean(np.argmax(ref.run(xq), -1) == y))


def _keras_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


def _zero_share(tflite: bytes) -> float:
    ws = weight_tensors(load_model(tflite))
    return sum(int(np.count_nonzero(t.data == 0)) for t in ws) / sum(t.size for t in ws)


# --------------------------------------------------------------------------- done-when


def test_sparse_digits_meets_the_done_when(digits, digits_cnn, digits_sparse):
    _, (x_te, y_te) = digits
    m = digits_sparse.metrics
    assert m["method"] == "prune 75% + PQAT"
    assert m["float_accuracy"] == pytest.approx(_keras_accuracy(digits_cnn, x_te, y_te))
    assert m["int8_accuracy"] == pytest.approx(_tflm_accuracy(digits_sparse.tflite, x_te, y_te))
    assert m["int8_accuracy"] >= m["float_accuracy"] - 0.015
    assert m["sparsity"] == pytest.approx(_zero_share(digits_sparse.tflite))
    assert m["sparsity"] >= 0.70
    assert m["tflite_bytes"] <= 0.30 * m["float_bytes"]


def test_pruning_schedule_fits_the_steps(digits, digits_sparse):
    (x_tr, _), _ = digits
    info = digits_sparse.metrics["pruning"]
    steps_per_epoch = -(-len(x_tr) // 32)
    assert info["steps"] == 4 * steps_per_epoch
    # pruning must finish inside training, with several mask updates on the way
    assert info["end_step"] < info["steps"]
    assert info["end_step"] // info["frequency"] >= 5
    assert info["end_step"] % info["frequency"] == 0


def test_every_pruned_layer_reaches_the_target_in_int8(digits_sparse):
    # PQAT keeps the zeros: each int8 weight tensor, not just the total, is ~75 % zero.
    for t in weight_tensors(load_model(digits_sparse.tflite)):
        assert np.count_nonzero(t.data == 0) / t.size >= 0.70, t.name


# --------------------------------------------------------------------------- QAT int8 model


def test_int8_model_is_full_integer_and_measured(digits, digits_cnn, digits_int8):
    import tensorflow as tf

    _, (x_te, y_te) = digits
    m = digits_int8.metrics
    model = load_model(digits_int8.tflite)
    assert model.input_tensors[0].dtype == np.int8
    assert model.output_tensors[0].dtype == np.int8
    assert m["method"] == "QAT"
    assert m["tflite_bytes"] == len(digits_int8.tflite)
    assert m["ops"] == model.ops
    assert m["tflm_missing_ops"] == [] and m["warnings"] == []
    assert m["arena_bytes"] == reference.Reference(digits_int8.tflite).arena().total
    # the float reference at the board's batch of 1, converted here independently
    spec = tf.TensorSpec([1, *digits_cnn.input_shape[1:]], tf.float32)
    fn = tf.function(lambda x: digits_cnn(x, training=False)).get_concrete_function(spec)
    float_tflite = tf.lite.TFLiteConverter.from_concrete_functions([fn], digits_cnn).convert()
    assert m["float_bytes"] == len(float_tflite)
    assert m["int8_accuracy"] == pytest.approx(_tflm_accuracy(digits_int8.tflite, x_te, y_te))
    assert m["int8_accuracy"] >= m["float_accuracy"] - 0.02
    assert m["sparsity"] < 0.2  # no pruning asked for


def test_summary_and_save(digits_int8, tmp_path):
    text = digits_int8.summary()
    m = digits_int8.metrics
    for needle in (
        "int8 accuracy (TFLM)",
        f"{100 * m['int8_accuracy']:.2f} %",
        f"{m['tflite_bytes']:,} B",
        f"{m['arena_bytes']:,} B",
        "FULLY_CONNECTED",
    ):
        assert needle in text
    out = digits_int8.save(tmp_path / "m.tflite")
    assert out.read_bytes() == digits_int8.tflite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]  # no temp file left


def test_result_goes_straight_to_the_later_stages(digits_int8):
    """flash(result), render(result), compile_aot(result): the result reads as its .tflite."""
    assert load_model(digits_int8).sha256 == load_model(bytes(digits_int8.tflite)).sha256


def test_save_refuses_missing_folder(digits_int8, tmp_path):
    with pytest.raises(TFLiteEdgeError, match="does not exist"):
        digits_int8.save(tmp_path / "nope" / "m.tflite")
    assert not (tmp_path / "nope").exists()


# --------------------------------------------------------------------------- other paths


def test_structured_2_by_4(digits, digits_cnn):
    train, test = digits
    r = convert(
        digits_cnn,
        train_data=train,
        validation_data=test,
        structured="2:4",
        epochs=2,
        fine_tune_epochs=1,
    )
    assert r.metrics["method"] == "prune 2:4 + PQAT"
    checked = 0
    for t in weight_tensors(load_model(r.tflite)):
        # TFLite keeps input channels last and 2:4 blocks run along them (when 4 divides Cin).
        if t.shape[-1] % 4:
            continue
        blocks = t.data.reshape(-1, 4)
        assert np.all(np.count_nonzero(blocks == 0, axis=1) >= 2), t.name
        checked += t.size
    assert checked > 0.9 * sum(t.size for t in weight_tensors(load_model(r.tflite)))
    assert r.metrics["int8_accuracy"] > 0.85


def test_post_training_quantization_without_training_data(digits, digits_cnn):
    (x_tr, _), (x_te, y_te) = digits
    r = convert(digits_cnn, validation_data=(x_te, y_te), representative_data=x_tr[:100])
    assert r.metrics["method"] == "PTQ"
    assert r.keras_model is None
    assert r.metrics["int8_accuracy"] == pytest.approx(_tflm_accuracy(r.tflite, x_te, y_te))
    assert r.metrics["int8_accuracy"] >= r.metrics["float_accuracy"] - 0.03


def test_pruning_then_ptq_leaves_the_callers_model_alone(digits, digits_cnn):
    train, test = digits
    before = [w.copy() for w in digits_cnn.get_weights()]
    r = convert(
        digits_cnn, train_data=train, validation_data=test, sparsity=0.5, qat=False, epochs=2
    )
    assert r.metrics["method"] == "prune 50% + PTQ"
    assert r.metrics["sparsity"] >= 0.48  # zeros survive symmetric int8 weight quantization
    # pruning trained a clone: the caller's float model is untouched
    for a, b in zip(before, digits_cnn.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_keras3_model_converts_with_ptq_and_refuses_qat(digits):
    import keras

    (x_tr, y_tr), (x_te, y_te) = digits
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [keras.layers.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x_tr, y_tr, epochs=3, verbose=0)
    r = convert(m, train_data=(x_tr, y_tr), validation_data=(x_te, y_te), qat=False)
    assert r.metrics["method"] == "PTQ"
    float_acc = float(np.mean(np.argmax(m.predict(x_te, verbose=0), -1) == y_te))
    assert r.metrics["float_accuracy"] == pytest.approx(float_acc)
    assert r.metrics["int8_accuracy"] == pytest.approx(_tflm_accuracy(r.tflite, x_te, y_te))
    with pytest.raises(ModelError, match="Keras 3 model.*tf_keras.*TF_USE_LEGACY_KERAS=1"):
        convert(m, train_data=(x_tr, y_tr), sparsity=0.5)
    with pytest.raises(ModelError, match="Keras 3"):
        convert(m, train_data=(x_tr, y_tr))  # QAT is on by default


def test_missing_tflm_op_is_reported():
    import tf_keras as keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    m = keras.Sequential(
        [
            keras.layers.Input((4,)),
            keras.layers.Dense(8),
            keras.layers.Activation("gelu"),
            keras.layers.Dense(3),
        ]
    )
    r = convert(m, train_data=(x, y), qat=False)
    assert r.metrics["tflm_missing_ops"] == reference.missing_ops(r.tflite) == ["GELU"]
    assert r.metrics["arena_bytes"] is None and r.metrics["int8_accuracy"] is None
    assert any("GELU" in w for w in r.metrics["warnings"])
    assert "warning: TFLM has no kernel for GELU" in r.summary()


def test_regression_model_reports_mae():
    import tf_keras as keras

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2 * np.pi, size=(512, 1)).astype(np.float32)
    y = np.sin(x[:, 0]).astype(np.float32)
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.layers.Input((1,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    m.compile("adam", "mse")
    m.fit(x, y, epochs=20, verbose=0)
    r = convert(m, train_data=(x, y), fine_tune_epochs=1)
    assert r.metrics["task"] == "regression" and r.metrics["int8_accuracy"] is None
    float_mae = float(np.mean(np.abs(m.predict(x, verbose=0)[:, 0] - y)))
    assert r.metrics["float_mae"] == pytest.approx(float_mae, rel=1e-5)
    assert r.metrics["int8_mae"] < float_mae + 0.05
    assert "int8 (TFLM) mean abs error" in r.summary()


def test_library_prints_nothing_and_progress_goes_to_stderr(digits, digits_cnn, capfd):
    (x_tr, y_tr), _ = digits
    convert(digits_cnn, representative_data=x_tr[:50])
    out, err = capfd.readouterr()
    assert out == ""
    small = (x_tr[:256], y_tr[:256])
    convert(digits_cnn, train_data=small, fine_tune_epochs=1, progress=True)
    out, err = capfd.readouterr()
    assert out == ""
    assert "QAT: 100%" in err and "TFLM int8 eval: 100%" in err


# --------------------------------------------------------------------------- distillation


def test_distilled_student_learns_from_the_teacher(digits, digits_cnn):
    import tf_keras as keras

    train, (x_te, y_te) = digits
    keras.utils.set_random_seed(1)
    student = keras.Sequential(
        [
            keras.layers.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="student",
    )
    untrained = _keras_accuracy(student, x_te, y_te)
    out = distill(digits_cnn, student, train, epochs=15, learning_rate=3e-3)
    assert out is student
    teacher_acc = _keras_accuracy(digits_cnn, x_te, y_te)
    student_acc = _keras_accuracy(student, x_te, y_te)
    assert untrained < 0.3  # chance is 0.1: the student starts knowing nothing
    assert student_acc > 0.85
    assert student_acc >= teacher_acc - 0.05
    # The distilled student goes through convert() like any model.
    r = convert(student, validation_data=(x_te, y_te), representative_data=train[0][:100])
    assert r.metrics["int8_accuracy"] >= student_acc - 0.03


def test_distill_rejects_mismatched_models(digits, digits_cnn):
    import tf_keras as keras

    student = keras.Sequential(
        [keras.layers.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    with pytest.raises(ModelError, match="teacher has 10 outputs but the student has 5"):
        distill(digits_cnn, student, digits[0])
    with pytest.raises(TFLiteEdgeError, match="temperature must be > 0"):
        distill(digits_cnn, digits_cnn, digits[0], temperature=0)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.5, float("nan"), "0.5", True])
def test_sparsity_not_a_number_in_the_unit_interval(digits, digits_cnn, sparsity):
    with pytest.raises(TFLiteEdgeError, match=r"sparsity must be in \[0, 1\)"):
        convert(digits_cnn, train_data=digits[0], sparsity=sparsity)


@pytest.mark.parametrize("rate", [0.0, -1e-3, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_and_finite(digits, digits_cnn, rate):
    # a NaN rate used to train the weights into NaN, then prune them all to "100 % sparsity"
    with pytest.raises(TFLiteEdgeError, match="learning_rate must be a positive finite number"):
        convert(digits_cnn, train_data=digits[0], sparsity=0.5, learning_rate=rate)


def test_structured_options(digits, digits_cnn):
    with pytest.raises(TFLiteEdgeError, match="'4:8' is not supported; expected one of 2:4"):
        convert(digits_cnn, train_data=digits[0], structured="4:8")
    with pytest.raises(TFLiteEdgeError, match="leave sparsity unset with 2:4"):
        convert(digits_cnn, train_data=digits[0], structured="2:4", sparsity=0.75)


def test_representative_data_wrong_shape(digits, digits_cnn):
    (x_tr, _), _ = digits
    with pytest.raises(
        DataError,
        match=r"representative_data has shape \(10, 64\); the model "
        r"expects \(N, 8, 8, 1\)",
    ):
        convert(digits_cnn, representative_data=x_tr[:10].reshape(10, 64))


def test_representative_data_wrong_dtype(digits, digits_cnn):
    (x_tr, _), _ = digits
    with pytest.raises(DataError, match="representative_data has dtype int8; expected float"):
        convert(digits_cnn, representative_data=(x_tr[:10] * 127).astype(np.int8))


def test_empty_data(digits, digits_cnn):
    (x_tr, y_tr), _ = digits
    with pytest.raises(DataError, match="train_data inputs is empty"):
        convert(digits_cnn, train_data=(x_tr[:0], y_tr[:0]))
    with pytest.raises(DataError, match="representative_data is empty"):
        convert(digits_cnn, representative_data=x_tr[:0])
    with pytest.raises(DataError, match="no data to calibrate"):
        convert(digits_cnn)


def test_nan_data(digits, digits_cnn):
    (x_tr, y_tr), _ = digits
    x = x_tr.copy()
    x[3, 2, 2, 0] = np.nan
    x[7, 0, 0, 0] = np.inf
    with pytest.raises(DataError, match="train_data inputs contains 2 NaN or infinite values"):
        convert(digits_cnn, train_data=(x, y_tr))
    with pytest.raises(DataError, match="representative_data contains 2 NaN"):
        convert(digits_cnn, representative_data=x)


def test_labels_that_do_not_match_the_inputs(digits, digits_cnn):
    (x_tr, y_tr), _ = digits
    with pytest.raises(DataError, match=f"{len(x_tr)} inputs but {len(x_tr) - 1} labels"):
        convert(digits_cnn, train_data=(x_tr, y_tr[:-1]))
    with pytest.raises(DataError, match="labels run from 0 to 12 but the model has 10 outputs"):
        convert(digits_cnn, train_data=(x_tr, np.where(y_tr == 9, 12, y_tr)))
    with pytest.raises(DataError, match=r"labels have shape \(\d+, 3\)"):
        convert(digits_cnn, validation_data=(x_tr, np.zeros((len(x_tr), 3))))
    with pytest.raises(DataError, match="labels are fractional"):
        convert(digits_cnn, train_data=(x_tr, y_tr + 0.5))


def test_unsupported_layer_is_named(digits):
    import tf_keras as keras

    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.k = self.add_weight(name="k", shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.k

    (x_tr, y_tr), _ = digits
    m = keras.Sequential(
        [
            keras.layers.Input((8, 8, 1)),
            keras.layers.Flatten(),
            Scale(name="my_scale"),
            keras.layers.Dense(10),
        ]
    )
    with pytest.raises(
        UnsupportedOpError,
        match="layer 'my_scale' \\(Scale\\) cannot be quantization-aware trained.*qat=False",
    ) as e:
        convert(m, train_data=(x_tr, y_tr), sparsity=0.5)
    assert e.value.op == "Scale"
    # Without QAT it converts: the custom layer is left dense and said so.
    r = convert(m, train_data=(x_tr, y_tr), sparsity=0.5, qat=False, epochs=1)
    assert any("my_scale" in w for w in r.metrics["warnings"])


@pytest.mark.parametrize("kind", ["GRU", "SimpleRNN", "Bidirectional"])
def test_recurrent_layer_without_an_int8_builtin_is_named_not_a_crash(kind):
    # TF's converter takes the process down (SIGSEGV) on these: they must be refused first
    import tf_keras as keras

    L = keras.layers
    layer = {
        "GRU": lambda: L.GRU(4, name="rec"),
        "SimpleRNN": lambda: L.SimpleRNN(4, name="rec"),
        "Bidirectional": lambda: L.Bidirectional(L.GRU(4), name="rec"),
    }[kind]()
    m = keras.Sequential([L.Input((6, 3)), layer, L.Dense(2)])
    x = np.random.default_rng(0).random((16, 6, 3)).astype(np.float32)
    with pytest.raises(UnsupportedOpError, match="layer 'rec' .*LSTM") as e:
        convert(m, representative_data=x)
    assert e.value.op in ("GRU", "SimpleRNN")


def test_lambda_layer_is_named(digits):
    import tf_keras as keras

    (x_tr, y_tr), _ = digits
    m = keras.Sequential(
        [
            keras.layers.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Lambda(lambda t: t * 2.0, name="double"),
            keras.layers.Dense(10),
        ]
    )
    with pytest.raises(UnsupportedOpError, match="layer 'double' \\(Lambda\\) cannot be"):
        convert(m, train_data=(x_tr, y_tr), sparsity=0.5)


def test_conv_batchnorm_depthwise_model():
    import tf_keras as keras

    # BatchNormalization folds into the conv under QAT; tfmot does not prune DepthwiseConv2D,
    # and the result says so instead of claiming the target.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 128)
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.layers.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.DepthwiseConv2D(3, name="dw"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    r = convert(m, train_data=(x, y), sparsity=0.5, epochs=2, fine_tune_epochs=1)
    assert r.metrics["method"] == "prune 50% + PQAT"
    assert "DEPTHWISE_CONV_2D" in r.metrics["ops"]
    assert r.metrics["warnings"] == ["layers left dense (tfmot cannot prune them): dw"]
    model = load_model(r.tflite)
    for o in model.operators:
        if o.op in ("CONV_2D", "FULLY_CONNECTED"):
            w = model.tensors[o.inputs[1]].data
            assert np.count_nonzero(w == 0) / w.size >= 0.45, o.op


def test_op_without_a_tflite_builtin_is_named():
    import tensorflow as tf
    import tf_keras as keras

    m = keras.Sequential(
        [
            keras.layers.Input((4,)),
            keras.layers.Dense(8),
            keras.layers.Lambda(lambda t: tf.math.bessel_i0e(t)),
            keras.layers.Dense(3),
        ]
    )
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    with pytest.raises(UnsupportedOpError, match="tf.BesselI0e have no TFLite builtin") as e:
        convert(m, representative_data=x)
    assert e.value.op == "tf.BesselI0e"


def test_model_that_is_not_a_keras_model(tmp_path):
    with pytest.raises(ModelError, match="expected a Keras model"):
        convert(object(), representative_data=np.zeros((1, 2), np.float32))
    with pytest.raises(ModelError, match="does not exist"):
        convert(tmp_path / "missing.keras")
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(ModelError, match=r"is not a Keras model file \(.keras or .h5\)"):
        convert(bad)
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ModelError, match="could not be loaded"):
        convert(garbage)


def test_result_type(digits_int8):
    assert isinstance(digits_int8, ConversionResult)
