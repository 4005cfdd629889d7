"""`tflite-edge convert` and `tflite-edge inspect`: thin shells over convert() and inspect()."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from ...errors import DataError, TFLiteEdgeError
from ..options import print_json, show_progress

_DATA_KEYS = "x_train, y_train [, x_test, y_test] [, x_rep]"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the convert and inspect sub-commands."""
    p = subparsers.add_parser(
        "convert",
        help="prune, quantization-aware train and convert a Keras model to int8 (or 16x8) TFLite",
        description=(
            "Prune a trained Keras model, fine-tune it quantization-aware, convert it to a "
            "full-integer int8 .tflite (or, with --activations int16, a post-training 16x8 one) "
            "and print the metrics (accuracy in TFLM, sparsity, sizes, arena)."
        ),
    )
    p.add_argument("model", help="Keras model: MODEL.keras, MODEL.h5 or a SavedModel folder")
    p.add_argument(
        "--data",
        required=True,
        help=f".npz with arrays {_DATA_KEYS}; without y_train only post-training quantization",
    )
    p.add_argument("-o", "--output", required=True, help="the .tflite to write")
    p.add_argument("--sparsity", type=float, default=None, help="share of weights pruned, [0, 1)")
    p.add_argument("--structured", choices=["2:4"], default=None, help="2-of-4 structured sparsity")
    p.add_argument(
        "--qat",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="quantization-aware fine-tuning (default: on for int8, off for int16; --no-qat "
        "for post-training only)",
    )
    p.add_argument(
        "--activations",
        choices=["int8", "int16"],
        default="int8",
        help="activation type: int8 (default) or int16 (16x8: int16 activations, int8 "
        "weights; post-training only: QAT is off unless --qat, which is refused)",
    )
    p.add_argument("--epochs", type=int, default=4, help="pruning epochs (default 4)")
    p.add_argument(
        "--fine-tune-epochs", type=int, default=2, help="QAT fine-tuning epochs (default 2)"
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON document")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_convert)

    p = subparsers.add_parser(
        "inspect",
        help="tensors, ops (TFLM and AOT support), quantization, sizes and TFLM arena of a model",
        description=(
            "Show what is inside a .tflite model and whether TFLM runs it and the AOT "
            "compiler compiles it."
        ),
    )
    p.add_argument("model", help="the .tflite model")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.set_defaults(func=_inspect)


def load_data(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the arrays of a DATA.npz (x_train, y_train, optional x_test, y_test, x_rep)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"data file {str(path)!r} does not exist; pass an .npz with arrays {_DATA_KEYS}"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as err:  # noqa: BLE001 - numpy raises many types on a bad file
        raise DataError(
            f"{str(path)!r} is not a readable .npz ({type(err).__name__}: {err}); save the "
            f"data with numpy.savez(path, {_DATA_KEYS.replace(' [', '').replace(']', '')})"
        ) from err
    if "x_train" not in arrays and "x_rep" not in arrays:
        raise DataError(
            f"{str(path)!r} has arrays {sorted(arrays) or 'none'}; expected {_DATA_KEYS}"
        )
    for pair in (("x_train", "y_train"), ("x_test", "y_test")):
        if pair[1] in arrays and pair[0] not in arrays:
            raise DataError(f"{str(path)!r} has {pair[1]} but no {pair[0]}; pass both")
    if "x_test" in arrays and "y_test" not in arrays:
        raise DataError(f"{str(path)!r} has x_test but no y_test; pass both or neither")
    return arrays


def _check_output(path: Path) -> None:
    # Checked before minutes of training, not after.
    if path.is_dir():
        raise TFLiteEdgeError(f"output {str(path)!r} is a directory; pass a .tflite file name")
    if not path.parent.is_dir():
        raise TFLiteEdgeError(f"output folder {str(path.parent)!r} does not exist; create it first")


def _convert(args: argparse.Namespace) -> int:
    from ...optimize import convert

    out = Path(args.output)
    _check_output(out)
    arrays = load_data(args.data)
    train = None
    if "x_train" in arrays and "y_train" in arrays:
        train = (arrays["x_train"], arrays["y_train"])
    val = (arrays["x_test"], arrays["y_test"]) if "x_test" in arrays else None
    rep = arrays.get("x_rep")
    if rep is None and train is None and "x_train" in arrays:
        rep = arrays["x_train"]
    result = convert(
        args.model,
        train_data=train,
        validation_data=val,
        representative_data=rep,
        sparsity=args.sparsity,
        structured=args.structured,
        qat=args.qat,
        epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        progress=show_progress(args),
        seed=args.seed,
        activations=args.activations,
    )
    result.save(out)
    if args.json:
        print_json({**result.metrics, "output": str(out)})
    else:
        print(result.summary())
        print(f"wrote {out} ({len(result.tflite):,} B)")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from ...support import inspect  # the model report with each op's AOT support

    report = inspect(args.model)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    return 0
