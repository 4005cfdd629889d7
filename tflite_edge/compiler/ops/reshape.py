"""RESHAPE, SQUEEZE and EXPAND_DIMS: the output is the input's bytes, so no code (aliases);
any element type (int8, int16, ...), as the bytes are not read."""

from __future__ import annotations

from ..registry import EmitContext, register_op

ANY = ("int8", "int16", "int32", "float32")  # what `tflite-edge ops` lists; any size works


@register_op("RESHAPE", alias=True, dtypes=ANY)
def _reshape(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.nbytes != y.nbytes:
        ctx.unsupported(f"a reshape from {x.shape} to {y.shape} that changes the size")
    return ""  # a constant input: the output view already names the constant


def _alias(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.nbytes != y.nbytes:
        ctx.unsupported(f"an output of {y.nbytes} bytes from an input of {x.nbytes} bytes")
    return ""


@register_op("EXPAND_DIMS", alias=True, dtypes=ANY)
def _emit_expand_dims(ctx: EmitContext) -> str:
    return _alias(ctx)


@register_op("SQUEEZE", alias=True, dtypes=ANY)
def _emit_squeeze(ctx: EmitContext) -> str:
    return _alias(ctx)
