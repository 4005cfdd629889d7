"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND on 3-D (NHC) or 4-D (NHWC) int8 tensors."""

from __future__ import annotations

import numpy as np

from ..operands import check_shape, guard, require_quantized_int8
from ..params import EXTRA_HEADER, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_space_batch_params",
    [
        ("in_dims", "i", 4),
        ("out_dims", "i", 4),
        *ints("block_h block_w pad_top pad_left pad_value"),
    ],
    header=EXTRA_HEADER,
)


def space_batch_params(
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    block: np.ndarray,
    pads: np.ndarray,
    pad_value: int,
) -> dict:
    """tfle_space_batch_params for 3-D (NHC) or 4-D (NHWC) tensors."""
    block = np.asarray(block).ravel().astype(int).tolist()
    pads = np.asarray(pads).reshape(-1, 2).astype(int)
    if len(in_shape) not in (3, 4) or len(out_shape) != len(in_shape):
        raise ValueError(f"space/batch ops need 3-D or 4-D tensors, not {in_shape}")
    if len(block) != len(in_shape) - 2 or pads.shape[0] != len(block):
        raise ValueError(f"block shape {block} does not fit a {len(in_shape)}-D tensor")

    def ext(s: tuple[int, ...]) -> list[int]:
        return [int(s[0]), int(s[1]), 1, int(s[2])] if len(s) == 3 else [int(v) for v in s]

    return {
        "in_dims": ext(in_shape),
        "out_dims": ext(out_shape),
        "block_h": block[0],
        "block_w": block[1] if len(block) == 2 else 1,
        "pad_top": int(pads[0, 0]),
        "pad_left": int(pads[1, 0]) if len(block) == 2 else 0,
        "pad_value": int(pad_value),
    }


def space_batch_output_shape(
    kind: str, in_shape: tuple[int, ...], block: np.ndarray, pads: np.ndarray
) -> tuple[int, ...] | None:
    """The output shape SPACE_TO_BATCH_ND (paddings) or BATCH_TO_SPACE_ND (crops) computes.

    None when the input does not divide by the block.
    """
    block = [int(v) for v in np.asarray(block).ravel()]
    pads = np.asarray(pads).reshape(-1, 2).astype(int)
    n = int(np.prod(block))
    spatial = list(in_shape[1 : 1 + len(block)])
    if kind == "space_to_batch":
        sizes = [s + int(p[0]) + int(p[1]) for s, p in zip(spatial, pads, strict=True)]
        if any(sz % bl for sz, bl in zip(sizes, block, strict=True)):
            return None
        return (
            in_shape[0] * n,
            *[sz // bl for sz, bl in zip(sizes, block, strict=True)],
            *in_shape[1 + len(block) :],
        )
    if in_shape[0] % n:
        return None
    sizes = [s * bl - int(p[0]) - int(p[1]) for s, bl, p in zip(spatial, block, pads, strict=True)]
    return (in_shape[0] // n, *sizes, *in_shape[1 + len(block) :])


def _space_batch(ctx: EmitContext, kind: str) -> str:
    x, block, pads = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    y = ctx.outputs[0]
    require_quantized_int8(ctx, x, y)
    if not (block.is_constant and pads.is_constant):
        ctx.unsupported("block shape or paddings computed at run time")
    # TFLM pads with SpaceToBatchParams.output_offset, which it never sets: its persistent
    # arena's fresh bytes, 0 (not the zero point, TensorFlow Lite's choice). We match TFLM.
    values = guard(ctx, space_batch_params, x.shape, y.shape, block.data, pads.data, 0)
    expected = space_batch_output_shape(kind, tuple(x.shape), block.data, pads.data)
    what = f"the input shape {tuple(x.shape)} and block {np.asarray(block.data).ravel().tolist()}"
    check_shape(ctx, expected, what)
    p = ctx.param_struct(kind, "tfle_space_batch_params", values)
    return f"tfle_{kind}_s8(&{p}, {x.expr}, {y.expr});"


@register_op("SPACE_TO_BATCH_ND")
def _emit_space_to_batch(ctx: EmitContext) -> str:
    return _space_batch(ctx, "space_to_batch")


@register_op("BATCH_TO_SPACE_ND")
def _emit_batch_to_space(ctx: EmitContext) -> str:
    return _space_batch(ctx, "batch_to_space")
