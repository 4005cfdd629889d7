"""Shared fixtures: paths to the reference models, the digits data, converted digits models."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_COLOR", "1")
# tflite-edge's cache (TFLM's libraries, built once per board and kernel set: minutes each)
# lives in the temporary folder, one per user, never in the user's ~/.cache; it outlives the
# session, so a second run of the suite reuses it.
os.environ["TFLE_CACHE_DIR"] = os.path.join(
    os.environ.get("TMPDIR", "/tmp"), f"tflite-edge-cache-{os.getuid()}"
)

ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = ROOT.parent / "shared" / "models"
REFERENCE_MODELS = [
    "kws_ref_model.tflite",
    "ad01_int8.tflite",
    "hello_world_int8.tflite",
    "micro_speech_quantized.tflite",
]


TFLM_MAKEFILE = "tensorflow/lite/micro/tools/make/Makefile"


def tflm_tree() -> Path | None:
    """The tflite-micro tree of the tests: $TFLM_DIR, else the pinned one beside the project."""
    path = Path(os.environ.get("TFLM_DIR") or ROOT.parent / "shared/third_party/tflite-micro")
    return path if (path / TFLM_MAKEFILE).is_file() else None


@pytest.fixture(scope="session")
def tflm_dir() -> Path:
    """The TFLM tree (read-only); the tests that build TFLM firmware need it."""
    tree = tflm_tree()
    assert tree is not None, (
        "no tflite-micro tree: set TFLM_DIR, or put the pinned tree at ../shared/third_party"
    )
    return tree


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
    from tflite_edge.demo import digits_data

    return digits_data()


def leftover_qemu() -> list[int]:
    """qemu-system-arm processes of ours still alive: our children, or orphans we started."""
    me, found = os.getpid(), []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            stat = (d / "stat").read_text()
        except OSError:
            continue
        if b"qemu-system-arm" not in cmd.split(b"\0")[0] or b"tfle-qemu-" not in cmd:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if state != "Z" and ppid in (me, 1):
            found.append(int(d.name))
    return found


def pytest_sessionfinish(session, exitstatus):
    """No emulator may outlive the suite: every test that boots QEMU must stop it."""
    left = leftover_qemu()
    if left:
        for pid in left:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        print(f"\nqemu-system-arm processes outlived the tests (killed now): {left}")
        session.exitstatus = 1


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a command, capture text output, never raise on a non-zero exit."""
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# --- digits models (owned by the optimize/convert stage; other stages use the .tflite bytes) ---


@pytest.fixture(scope="session")
def digits_cnn(digits):
    """The digits CNN trained in float (tf_keras), outputs are logits."""
    from tflite_edge.demo import train_digits_cnn

    return train_digits_cnn(digits[0])


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
