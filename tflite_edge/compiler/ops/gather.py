"""GATHER, int8 values (TFLM's GATHER has no int16 kernel) with int32 indices, constant or
computed at run time; any axis and batch_dims, as TFLM's reference kernel."""

from __future__ import annotations

import numpy as np

from ..operands import check_shape, guard, require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_gather_params",
    ints("batch_size outer_size axis_size coord_size inner_size elem_size"),
    header="tfle_gather.h",
)


def gather_params(
    shape: tuple[int, ...], coords_shape: tuple[int, ...], axis: int, batch_dims: int,
    elem_size: int,
) -> tuple[dict, tuple[int, ...]]:  # fmt: skip
    """(tfle_gather_params, output shape) as TFLM's GatherPrepare and Gather compute them."""
    rank, crank = len(shape), len(coords_shape)
    a = axis + rank if axis < 0 else axis
    b = batch_dims + crank if batch_dims < 0 else batch_dims
    if not 0 <= a < rank:
        raise ValueError(f"axis {axis} of a {rank}-D input")
    if not (b <= a and 0 <= b < rank and b <= crank):
        raise ValueError(f"batch_dims {batch_dims} with axis {axis}, ranks {rank}/{crank}")
    if any(int(shape[i]) != int(coords_shape[i]) for i in range(b)):
        raise ValueError(f"batch dimensions of {tuple(shape)} and indices {tuple(coords_shape)}")

    def prod(dims) -> int:
        return int(np.prod([int(d) for d in dims], dtype=np.int64))

    values = {
        "batch_size": prod(shape[:b]),
        "outer_size": prod(shape[b:a]),
        "axis_size": int(shape[a]),
        "coord_size": prod(coords_shape[b:]),
        "inner_size": prod(shape[a + 1 :]),
        "elem_size": int(elem_size),
    }
    out = tuple(shape[:a]) + tuple(coords_shape[b:]) + tuple(shape[a + 1 :])
    return values, tuple(int(d) for d in out)


@register_op("GATHER", dtypes=("int8",))
def _emit_gather(ctx: EmitContext) -> str:
    x, coords = (ctx.inputs + [None] * 2)[:2]
    y = ctx.outputs[0]
    if x is not None and x.dtype == np.int16:
        ctx.unsupported("int16 values (TFLM's GATHER takes int8 and float32 only)")
    dtype = require_quantized(ctx, x, y, dtypes=("int8",))
    if coords is None or coords.dtype != np.int32:
        found = "absent" if coords is None else str(coords.dtype)
        ctx.unsupported(f"indices of type {found} (TFLM's GATHER takes int32 indices)")
    o = ctx.options
    values, out = guard(
        ctx, gather_params, tuple(x.shape), tuple(coords.shape), int(o.get("axis", 0)),
        int(o.get("batchDims", 0)), dtype.itemsize,
    )  # fmt: skip
    check_shape(ctx, out, f"gathering {tuple(coords.shape)} indices from {tuple(x.shape)}")
    if coords.is_constant:
        idx = np.asarray(coords.data).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= values["axis_size"]):
            ctx.unsupported(
                f"indices outside [0, {values['axis_size']}) (TFLM reads out of bounds)"
            )
    p = ctx.param_struct("gather", "tfle_gather_params", values)
    return f"tfle_gather(&{p}, {x.expr}, {coords.expr}, {y.expr});"
