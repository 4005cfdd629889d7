"""`tflite-edge validate`: run real samples on the board and compare with TFLM."""

from __future__ import annotations

import argparse

from ..options import add_runtime_options, print_json, runtime_kwargs, show_progress


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sub-command of this module."""
    p = sub.add_parser(
        "validate",
        help="run data samples on the board, compare with TFLM",
        description="Stream input samples to the board over serial, read each "
        "output back, and compare with the TFLM interpreter and the labels.",
    )
    p.add_argument("--board", default="qemu-m4", help="board name (see `tflite-edge boards`)")
    p.add_argument("--model", required=True, help="int8 .tflite model")
    p.add_argument(
        "--data",
        required=True,
        help=".npz with x_test (float or int8 samples of shape (N, *input_shape[1:])) and "
        "optional y_test (integer class labels, one per sample); x and y when there is no "
        "x_test. A model of several inputs reads one array per input: x_test_0, x_test_1, "
        "... (or x_0, x_1, ...) by input position. Other keys (x_train, ...) are not read",
    )
    add_runtime_options(p)
    p.add_argument("--port", help="serial port of a physical board (esp32, esp32s3)")
    p.add_argument("--samples", type=int, help="validate only the first N samples")
    p.add_argument("--keras", help="the float Keras model, to report its accuracy beside")
    p.add_argument("-o", "--out", help="also write the JSON document to this file")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ...data import load_npz
    from ...files import check_output_path
    from ...validation import validate

    if args.out:  # before the board runs, not after
        check_output_path(args.out)
    from ...model import load_model

    model = load_model(args.model)
    x, y = load_npz(args.data) if len(model.inputs) == 1 else _multi_npz(args.data, model)
    keras_model = None
    if args.keras:
        from ...optimize import load_keras

        keras_model = load_keras(args.keras)
    bar = None
    callback = None
    if show_progress(args):
        from tqdm import tqdm

        total = args.samples or len(x[0] if isinstance(x, list) else x)
        bar = tqdm(total=total, unit="sample", desc="validating on board")

        def callback(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = validate(
            model,
            x,
            y,
            board=args.board,
            port=args.port,
            samples=args.samples,
            keras_model=keras_model,
            progress=callback,
            **runtime_kwargs(args),
        )
    finally:
        if bar is not None:
            bar.close()
    if args.out:
        result.save(args.out)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def _multi_npz(path: str, model) -> tuple[list, object]:
    """One array per input (x_test_<k>, else x_<k>) and the optional labels (y_test / y)."""
    from pathlib import Path

    import numpy as np

    from ...errors import DataError

    n = len(model.inputs)
    expected = (
        f"an .npz with one array per input of the model's {n}: numpy.savez(path, "
        + ", ".join(f"x_test_{k}=..." for k in range(n))
        + ", y_test=...)"
    )
    if not Path(path).is_file():
        raise DataError(f"cannot read data from {path!r}: it does not exist; pass {expected}")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:
        raise DataError(f"{path!r} is not a readable .npz ({err}); pass {expected}") from err
    if isinstance(data, np.ndarray):
        raise DataError(f"{path!r} is a single .npy array; pass {expected}")
    with data:
        for xk, yk in (("x_test", "y_test"), ("x", "y")):
            keys = [f"{xk}_{k}" for k in range(n)]
            if all(k in data.files for k in keys):
                x = [data[k] for k in keys]
                return x, (data[yk] if yk in data.files else None)
        found = ", ".join(data.files) or "no arrays"
        raise DataError(f"{path!r} holds {found}; pass {expected}")
