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
        "x_test. Other keys (x_train, ...) are not read",
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
    x, y = load_npz(args.data)
    keras_model = None
    if args.keras:
        from ...optimize import load_keras

        keras_model = load_keras(args.keras)
    bar = None
    callback = None
    if show_progress(args):
        from tqdm import tqdm

        bar = tqdm(total=args.samples or len(x), unit="sample", desc="validating on board")

        def callback(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = validate(
            args.model,
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
