"""The demo, end to end: digits CNN -> prune 75 % + PQAT -> int8 -> AOT on the emulated
board -> latency over serial -> every test sample validated on the board -> report.

`make demo` and the quickstart notebook both run this; it uses only the public stages.
"""

from __future__ import annotations

import io
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DIGITS_SEED = 0
DEFAULT_SPARSITY = 0.75
DEFAULT_EPOCHS = 12
DEFAULT_RUNS = 10

# Every file the demo writes into its output folder, and the folder of each board's firmware
# (build-<board>/, rendered by flash()). A folder holding only these is the demo's own (a
# previous run, e.g. `make demo` again): the demo writes into it; anything else is refused.
DEMO_FILES = (
    "digits_test.npz",
    "digits_int8.tflite",
    "conversion.json",
    "serial.jsonl",
    "flash.json",
    "validation.json",
    "report.html",
    "report.md",
    "summary.json",
)
BUILD_DIR_PREFIX = "build-"


def digits_data(test_size: float = 0.2, seed: int = DIGITS_SEED):
    """scikit-learn's bundled 8x8 digits as ((x_train, y_train), (x_test, y_test)), x in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y
    )
    return (x_tr, y_tr), (x_te, y_te)


def build_digits_cnn(seed: int = DIGITS_SEED):
    """A small tf_keras CNN for 8x8 digits: 2 convs, a pool and 2 dense layers (38 k weights)."""
    from .optimize import _tf_keras

    keras = _tf_keras()  # sets TF_USE_LEGACY_KERAS and keeps TensorFlow's start-up chatter quiet

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


def train_digits_cnn(train, *, epochs: int = 12, seed: int = DIGITS_SEED, verbose: int = 0):
    """The digits CNN trained in float; outputs are logits."""
    from .optimize import _tf_keras

    keras = _tf_keras()

    x, y = train
    model = build_digits_cnn(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=verbose, shuffle=True)
    return model


@dataclass
class DemoResult:
    """Everything the demo measured, and where it wrote it."""

    out_dir: Path
    model_path: Path
    conversion: dict[str, Any]
    flash: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    report: Path | None = None
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """Float vs on-device int8 accuracy, flash and RAM, latency: the demo's last words."""
        c = self.conversion
        rows = [
            (
                "model",
                f"{self.model_path} ({c['tflite_bytes']:,} B int8, "
                f"{c['float_bytes']:,} B float, sparsity {c['sparsity']:.0%})",
            ),
            ("float accuracy (Keras)", f"{c['float_accuracy']:.2%}"),
            ("int8 accuracy (TFLM, host)", f"{c['int8_accuracy']:.2%}"),
        ]
        if self.validation:
            v = self.validation
            rows.append(
                (
                    "int8 accuracy (on device)",
                    f"{v['accuracy']:.2%} over {v['samples']} test samples",
                )
            )
            rows.append(("bit-exact with TFLM", f"{v['bit_exact']}/{v['samples']}"))
        if self.flash:
            f = self.flash
            rows.append(("board / runtime", f"{f['board']} / {f['runtime']}"))
            if f.get("image_flash_bytes") is not None:
                rows.append(
                    (
                        "image flash / RAM",
                        f"{f['image_flash_bytes']:,} B / "
                        f"{f['image_ram_bytes']:,} B (whole firmware, stack included)",
                    )
                )
            rows.append(("model weights in flash", f"{f['flash_bytes']:,} B"))
            arena = f.get("tflm_arena")
            rows.append(
                (
                    "activation RAM",
                    f"{f['ram_bytes']:,} B"
                    + (f" (TFLM arena for the same model: {arena['total']:,} B)" if arena else ""),
                )
            )
            unit = "instructions (emulated)" if f["emulated"] else "cycles"
            rows.append(
                (
                    "latency (median)",
                    f"{f['cycles']['median']:,.0f} {unit}, ~{f['us']['median']:,.0f} us"
                    + (" estimated at the nominal clock" if f["emulated"] else ""),
                )
            )
        if self.report:
            rows.append(("report", str(self.report)))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _write_json(path: Path, doc: dict[str, Any]) -> Path:
    from .files import write_json

    return write_json(path, doc)


def run_demo(
    *,
    board: str = "qemu-m4",
    runtime: str = "auto",
    out_dir: str | Path = "demo",
    sparsity: float = DEFAULT_SPARSITY,
    epochs: int = DEFAULT_EPOCHS,
    runs: int = DEFAULT_RUNS,
    convert_only: bool = False,
    on_stage: Callable[[str], None] | None = None,
    progress: bool = False,
) -> DemoResult:
    """Run the whole pipeline on the digits data; each stage's JSON is written as it ends.

    Every argument is checked before anything is trained or written: the board must be able to
    run here (its toolchain present) unless `convert_only`, and out_dir must be new, empty or
    hold only the demo's own outputs (DEMO_FILES, build-<board>/), else OutputExistsError.
    """
    check_demo_args(
        board=board,
        runtime=runtime,
        out_dir=out_dir,
        sparsity=sparsity,
        epochs=epochs,
        runs=runs,
        convert_only=convert_only,
    )
    from . import convert
    from .files import write_atomic

    stage = on_stage or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:  # an earlier run's results must not sit beside this run's model
        (out / name).unlink(missing_ok=True)
    train, test = digits_data()
    buf = io.BytesIO()
    np.savez(buf, x=test[0], y=test[1])
    write_atomic(out / "digits_test.npz", buf.getvalue())

    stage(f"training the float digits CNN ({epochs} epochs, {len(train[0])} samples)")
    float_model = train_digits_cnn(train, epochs=epochs, verbose=1 if progress else 0)

    dense = None
    if not convert_only:
        stage("QAT without pruning -> int8 (the dense reference for the report)")
        dense = convert(float_model, train_data=train, validation_data=test, progress=progress)
    stage(f"pruning to {sparsity:.0%} with PQAT -> int8" if sparsity else "QAT, no pruning -> int8")
    pruned = convert(
        float_model, train_data=train, validation_data=test, sparsity=sparsity, progress=progress
    )
    model_path = pruned.save(out / "digits_int8.tflite")
    m = pruned.metrics
    conversion = {
        "kind": "conversion",
        "model": "digits_cnn",
        **{
            k: m[k]
            for k in (
                "float_accuracy",
                "int8_accuracy",
                "sparsity",
                "float_bytes",
                "tflite_bytes",
                "arena_bytes",
                "ops",
            )
        },
        "variants": [
            {
                "name": "float",
                "bytes": m["float_bytes"],
                "accuracy": m["float_accuracy"],
                "sparsity": 0.0,
            },
            {
                "name": f"int8 pruned {sparsity:.0%}",
                "bytes": m["tflite_bytes"],
                "accuracy": m["int8_accuracy"],
                "sparsity": m["sparsity"],
            },
        ],
    }
    if dense is not None:
        d = dense.metrics
        conversion["variants"].insert(
            1,
            {
                "name": "int8 QAT",
                "bytes": d["tflite_bytes"],
                "accuracy": d["int8_accuracy"],
                "sparsity": d["sparsity"],
            },
        )
    files = [model_path, _write_json(out / "conversion.json", conversion)]
    result = DemoResult(out_dir=out, model_path=model_path, conversion=conversion, files=files)
    if convert_only:
        return result
    return _deploy(
        result,
        float_model,
        test,
        board=board,
        runtime=runtime,
        runs=runs,
        stage=stage,
        progress=progress,
    )


def _deploy(result: DemoResult, float_model, test, *, board, runtime, runs, stage, progress):
    from . import flash, report, validate

    out = result.out_dir
    stage(f"compiling for {board} ({runtime}), flashing, reading latency over serial")
    flashed = flash(
        result.model_path,
        board=board,
        runtime=runtime,
        runs=runs,
        out_dir=out / f"build-{board}",
        jsonl=out / "serial.jsonl",
        on_stage=lambda msg: stage("  " + msg),
    )
    fdoc = {"kind": "flash", **flashed.to_dict()}
    result.flash = fdoc
    result.files.append(_write_json(out / "flash.json", fdoc))

    stage(f"validating all {len(test[0])} test samples on {board}")
    validated = validate(
        result.model_path, test[0], test[1], board=board, runtime=runtime, keras_model=float_model
    )
    result.validation = validated.to_dict()
    result.files.append(validated.save(out / "validation.json"))

    stage("writing the report")
    docs = [result.conversion, fdoc, result.validation]
    result.report = report(docs, out=out / "report.html")
    result.files += [result.report, report(docs, out=out / "report.md", format="md")]
    _write_json(out / "summary.json", {"summary": result.summary()})
    return result


def check_demo_args(
    *,
    board: str,
    runtime: str,
    out_dir: str | Path,
    sparsity: float,
    epochs: int,
    runs: int,
    convert_only: bool,
) -> None:
    """Raise the error run_demo() would meet minutes later, before any training or writing."""
    from .boards import family_of, get_board
    from .errors import TFLiteEdgeError, check_runs, check_sparsity
    from .runtimes import AUTO, RuntimeOptions, get_runtime

    if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1:
        raise TFLiteEdgeError(f"epochs must be a positive integer, found {epochs!r}; e.g. 12")
    check_runs(runs)
    check_sparsity(sparsity)
    rt = get_runtime(runtime) if runtime != AUTO else None  # auto: chosen for the model
    b = get_board(board)
    if not convert_only:
        family_of(b).check_demo(b, out_dir)  # a physical board: the demo cannot flash it
        b.require_toolchain()  # what `tflite-edge boards --check` says
        if rt is not None:
            rt.preflight(b, RuntimeOptions())  # tflm on a Cortex-M board: a TFLM tree
    _check_out_dir(Path(out_dir))


def _check_out_dir(out: Path) -> None:
    """out_dir must be new, empty, or hold only what the demo writes there."""
    from .errors import OutputExistsError

    if not out.exists():
        return
    if not out.is_dir():
        raise OutputExistsError(
            f"output folder {str(out)!r} exists and is not a folder; pass another (--out)",
            path=str(out),
        )
    foreign = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir() if not _ours(p))
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if foreign[3:] else "")
        raise OutputExistsError(
            f"output folder {str(out)!r} holds files the demo did not write ({shown}); pass a "
            "new or empty folder (--out), or one that holds only an earlier demo's outputs",
            path=str(out),
        )


def _ours(path: Path) -> bool:
    from .boards import boards
    from .project import MANIFEST

    name = path.name
    if name in DEMO_FILES:
        return path.is_file()
    if name.startswith(".") and name.endswith(".tmp"):  # an interrupted atomic write of ours
        return any(name.startswith(f".{f}.") for f in DEMO_FILES)
    if name.startswith(BUILD_DIR_PREFIX) and name[len(BUILD_DIR_PREFIX) :] in boards():
        return path.is_dir() and ((path / MANIFEST).is_file() or not any(path.iterdir()))
    return False
