"""`tflite-edge boards | build | flash | run`: the boards, and a model built, flashed and run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..options import (
    add_runtime_options,
    positive,
    print_json,
    runtime_kwargs,
    show_progress,
    stage_printer,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `boards`, `build`, `flash` and `run` sub-commands."""
    from ...boards import DEFAULT_BOARD
    from ...flasher import DEFAULT_TIMEOUT

    p = subparsers.add_parser(
        "boards",
        help="list the boards: CPU, clock, flash/RAM budget, toolchain present",
        description="List every board tflite-edge knows (tflite_edge/boards/*.toml) with its "
        "CPU, nominal clock, flash and RAM budget, and whether its toolchain is installed.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--check",
        metavar="BOARD",
        help="exit 2 with what to install if BOARD's toolchain is missing",
    )
    p.set_defaults(func=_boards)

    p = subparsers.add_parser(
        "build",
        help="compile and link a rendered project; check it fits the board",
        description="Build a project written by `tflite-edge render` with the board's "
        "toolchain and check the image against the board's flash and RAM budget.",
    )
    p.add_argument("project", type=Path, metavar="DIR", help="the rendered project directory")
    p.add_argument("--board", help="the board (default: the one the project was rendered for)")
    add_runtime_options(p, runtime=False)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_build)

    board_help = f"board name (default {DEFAULT_BOARD}; see `tflite-edge boards`)"
    timeout_help = f"seconds the board may stay silent (default {DEFAULT_TIMEOUT:g})"

    p = subparsers.add_parser(
        "flash",
        help="render, build, flash a model and read its latency over serial",
        description="Render the firmware for a board, build it, flash it (QEMU, the host, or "
        "a physical board on --port) and read the timed runs back over serial: a latency "
        "table, or with --json the measurements as one JSON document.",
    )
    p.add_argument("--board", default=DEFAULT_BOARD, help=board_help)
    p.add_argument("--model", type=Path, required=True, help="the int8 .tflite model")
    add_runtime_options(p)
    p.add_argument("--port", help="serial port of a physical board (esp32, esp32s3)")
    p.add_argument("--runs", type=positive(int), default=10, help="timed runs (default 10)")
    p.add_argument("--no-profile", action="store_true", help="no per-layer cycle counts")
    p.add_argument("--timeout", type=positive(float), default=DEFAULT_TIMEOUT, help=timeout_help)
    p.add_argument("--out", type=Path, help="keep the project and its build in this directory")
    p.add_argument("--log", type=Path, help="append every serial record to this JSONL file")
    p.add_argument("--results", type=Path, help="also write the JSON document to this file")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--quiet", action="store_true", help="no progress lines, no live serial echo")
    p.set_defaults(func=_flash)

    p = subparsers.add_parser(
        "run",
        help="run input tensors on a board, save its raw outputs",
        description="Flash the model, send each input tensor to the board over serial, and "
        "save the raw outputs it sends back, in order, as a .npy array. The inputs are one "
        ".npy array in the model's input dtype, of shape (N, *S) for a model input of shape "
        "(1, *S): e.g. (N, 49, 10, 1) for an input of (1, 49, 10, 1); an array of exactly the "
        "model's input shape is one sample. Other shapes are refused, not reshaped. A model of "
        "several inputs takes an .npz with one array per input, named by the input tensor's "
        "name or its position (0, 1, ... or arr_0, arr_1, ... as numpy.savez names them); "
        "the outputs of a model of several outputs are saved the same way, as an .npz with "
        "one array per output tensor name (and -o must end in .npz).",
    )
    p.add_argument("--board", default=DEFAULT_BOARD, help=board_help)
    p.add_argument("--model", type=Path, required=True, help="the int8 .tflite model")
    p.add_argument(
        "--input",
        type=Path,
        required=True,
        help=".npy array of input tensors, shape (N, *input_shape[1:]); or an .npz of one "
        "such array per model input, by tensor name or position",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help=".npy file to write (.npz: one array per output tensor name)",
    )
    add_runtime_options(p)
    p.add_argument("--port", help="serial port of a physical board (esp32, esp32s3)")
    p.add_argument("--timeout", type=positive(float), default=DEFAULT_TIMEOUT, help=timeout_help)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _boards(args: argparse.Namespace) -> int:
    from ...boards import boards, get_board

    if args.check:
        board = get_board(args.check)
        board.require_toolchain()
        print(f"{board.name}: {board.toolchain} present")
        return 0

    rows = []
    for b in boards().values():
        rows.append(
            {
                "name": b.name,
                "cpu": b.cpu,
                "clock_hz": b.clock_hz,
                "flash_bytes": b.flash_bytes,
                "ram_bytes": b.ram_bytes,
                "family": b.family,
                "emulated": b.emulated,
                "toolchain": b.toolchain,
                "toolchain_present": b.toolchain_present(),
                "cycles_unit": b.cycles_unit,
                "description": b.description,
                "install_hint": b.install_hint,
            }
        )
    if args.json:
        print_json(rows)
        return 0
    head = ("board", "cpu", "clock", "flash", "RAM", "toolchain", "present")
    table = [head] + [
        (
            r["name"],
            r["cpu"],
            f"{r['clock_hz'] / 1e6:g} MHz" if r["clock_hz"] else "-",
            _kib(r["flash_bytes"]),
            _kib(r["ram_bytes"]),
            r["toolchain"],
            "yes" if r["toolchain_present"] else "no",
        )
        for r in rows
    ]
    widths = [max(len(row[k]) for row in table) for k in range(len(head))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    missing = [r for r in rows if not r["toolchain_present"]]
    for r in missing:
        print(f"{r['name']}: {r['install_hint']}")
    return 0


def _kib(n: int) -> str:
    if not n:
        return "no budget"
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


def _build(args: argparse.Namespace) -> int:
    from ...builder import build

    stage = stage_printer(args)
    if stage:
        stage(f"building {args.project}")
    result = build(args.project, args.board, progress=stage, **runtime_kwargs(args, runtime=False))
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def _echo(args: argparse.Namespace) -> Any:
    if not show_progress(args):
        return None

    def echo(record: Any) -> None:  # the serial lines live, for a person at a terminal
        print(record.raw, file=sys.stderr, flush=True)

    return echo


def _flash(args: argparse.Namespace) -> int:
    from ...files import check_output_path
    from ...flasher import flash

    if args.results:  # before minutes of building and flashing, not after
        check_output_path(args.results)
    if args.log:
        check_output_path(args.log)
    result = flash(
        args.model,
        board=args.board,
        port=args.port,
        runs=args.runs,
        profile=not args.no_profile,
        out_dir=args.out,
        timeout=args.timeout,
        jsonl=args.log,
        on_record=_echo(args),
        on_stage=stage_printer(args),
        **runtime_kwargs(args),
    )
    if args.results:
        result.save(args.results)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def _run(args: argparse.Namespace) -> int:
    from ...files import check_output_path
    from ...flasher import run
    from ...model import load_model

    check_output_path(args.output)
    model = load_model(args.model)
    inputs = _load_inputs(args.input, model)  # checked before the board is built
    several_out = len(model.outputs) > 1
    if several_out and args.output.suffix != ".npz":
        from ...errors import DataError

        raise DataError(
            f"model {model.name!r} has {len(model.outputs)} outputs: they are saved as one .npz "
            f"of one array per output; pass -o {args.output.with_suffix('.npz')}"
        )
    n = len(inputs[0])
    bar = callback = None
    if show_progress(args):
        from tqdm import tqdm

        bar = tqdm(total=n, unit="input", desc=f"running on {args.board}")

        def callback(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        outputs = run(
            model,
            inputs if len(inputs) > 1 else inputs[0],
            board=args.board,
            port=args.port,
            timeout=args.timeout,
            progress=callback,
            **runtime_kwargs(args),
        )
    finally:
        if bar is not None:
            bar.close()
    outs = outputs if isinstance(outputs, list) else [outputs]
    names = [t.name for t in model.output_tensors]
    if args.output.suffix == ".npz":
        _save_npz(args.output, dict(zip(names, outs, strict=True)))
    else:
        _save_npy(args.output, outs[0])
    doc = {
        "board": args.board,
        "runtime": args.runtime,
        "inputs": int(n),
        "output": str(args.output),
        "shape": list(outs[0].shape),
        "dtype": str(outs[0].dtype),
    }
    if several_out or args.output.suffix == ".npz":
        doc["outputs"] = [
            {"name": k, "shape": list(o.shape), "dtype": str(o.dtype)}
            for k, o in zip(names, outs, strict=True)
        ]
    if args.json:
        print_json(doc)
    else:
        what = ", ".join(f"{tuple(o.shape)} {o.dtype}" for o in outs)
        print(
            f"ran {n} inputs on {args.board} ({args.runtime}); saved outputs {what} to {args.output}"
        )
    return 0


def _load_inputs(path: Path, model: Any) -> list:
    """The input batches of `run`: one .npy array (one input), or an .npz of one per input."""
    import numpy as np

    from ...data import load_npy, split_samples
    from ...errors import DataError
    from ...protocol.tensors import feeds

    try:
        with path.open("rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
    except OSError:
        zipped = False
    if not zipped:
        if len(model.inputs) > 1:
            raise DataError(
                f"model {model.name!r} has {len(model.inputs)} inputs ("
                + ", ".join(repr(t.name) for t in model.input_tensors)
                + "); pass --input FILE.npz with one array per input (by name or position), "
                "not one .npy array"
            )
        return [split_samples(model, load_npy(path), what="inputs")]
    try:
        data = np.load(path, allow_pickle=False)
        arrays = {k: data[k] for k in data.files}
    except Exception as err:
        raise DataError(
            f"{str(path)!r} is not a readable .npz of numeric arrays ({type(err).__name__}: "
            f"{err}); pass numpy.savez(path, <input name or arr_k>=array, ...)"
        ) from err
    return feeds(model, arrays)


def _save_npz(path: Path, arrays: dict) -> None:
    """np.savez, atomically."""
    import io

    import numpy as np

    from ...files import write_atomic

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_atomic(path, buf.getvalue())


def _save_npy(path: Path, array: Any) -> None:
    """np.save, atomically: a failure leaves no half-written file behind."""
    import io

    import numpy as np

    from ...files import write_atomic

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    write_atomic(path, buf.getvalue())
