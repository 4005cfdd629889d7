"""`tflite-edge ops`: every op the AOT runtime compiles, its types, and whether TFLM has it."""

from __future__ import annotations

import argparse

from ..options import print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ops sub-command."""
    p = subparsers.add_parser(
        "ops",
        help="the ops the AOT runtime compiles (with their types) and TFLM's kernels beside them",
        description=(
            "List every builtin op the AOT compiler has an emitter for, the activation types "
            "it compiles, and whether TFLM has a kernel for it; then the TFLM ops the AOT "
            "runtime does not compile."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the table as one JSON document")
    p.set_defaults(func=_ops)


def _ops(args: argparse.Namespace) -> int:
    from ...support import aot_ops, tflm_only_ops

    ops = aot_ops()
    tflm_only = tflm_only_ops()
    if args.json:
        print_json({"aot": [o.to_dict() for o in ops], "tflm_only": tflm_only})
        return 0
    print(f"{'op':<28} {'AOT types':<22} TFLM")
    for o in ops:
        print(f"{o.op:<28} {'/'.join(o.dtypes):<22} {'yes' if o.tflm else 'NO'}")
    print(f"\n{len(ops)} ops compiled by the AOT runtime.")
    print(f"TFLM only ({len(tflm_only)}, use --runtime tflm): {', '.join(tflm_only)}")
    return 0
