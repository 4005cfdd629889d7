"""Weights prepared at compile time: the packed layouts of the GEMM kernels, sparse rows,
and biases folded with the input offset (the layouts are described in tfle_kernels.h)."""

from __future__ import annotations

import numpy as np

from .registry import EmitContext, TensorView, unsupported_error

# sparse="auto" encodes a weight tensor with at least this share of zeros.
SPARSE_MIN_ZEROS = 0.5
# TFLE_GATHER_BYTES of firmware/kernels/tfle_kernels.h: the packed GEMM kernels gather windows
# of up to half this many bytes (rounded up to a multiple of 4) on the stack.
GATHER_BYTES = 512
# TFLE_SPARSE_WINDOW: the largest window of the sparse convolution by tap positions.
SPARSE_WINDOW = 256


def pack_pairs(rows: np.ndarray) -> np.ndarray:
    """Weights (channels, k) in the packed layout of the GEMM kernels (tfle_kernels.h).

    Rows run on with zeros to a multiple of 4; rows 2j and 2j + 1 are interleaved 4 values at
    a time; an odd last row follows alone.
    """
    rows = np.asarray(rows, dtype=np.int8)
    channels, k = rows.shape
    k4 = (k + 3) // 4 * 4
    padded = np.zeros((channels, k4), dtype=np.int8)
    padded[:, :k] = rows
    pairs = channels // 2
    body = padded[: 2 * pairs].reshape(pairs, 2, k4 // 4, 4).transpose(0, 2, 1, 3)
    return np.concatenate([body.ravel(), padded[2 * pairs :].ravel()])


def pack_depthwise(filt: np.ndarray) -> np.ndarray:
    """A [1, kh, kw, channels] depthwise filter by blocks of 4 channels (tfle_kernels.h).

    For each block, tap after tap, the block's 4 weights; then the last channels (fewer than
    4), tap after tap.
    """
    taps = np.asarray(filt, dtype=np.int8).reshape(-1, filt.shape[-1])  # (kh * kw, channels)
    blocks = taps.shape[1] // 4
    body = taps[:, : 4 * blocks].reshape(taps.shape[0], blocks, 4).transpose(1, 0, 2)
    return np.concatenate([body.ravel(), taps[:, 4 * blocks :].ravel()])


def fits_gather(k: int) -> bool:
    """Whether windows of k values fit the packed kernels' stack buffer."""
    return (k + 3) // 4 * 4 <= GATHER_BYTES // 2


def sparse_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode a 2-D int8 matrix row by row as (counts uint16, values int8, deltas uint8).

    Each row lists its nonzero weights in order; a weight's position is the previous one's
    plus its delta (the first counts from 0). A gap over 255 is bridged with zero-valued
    filler entries of delta 255, which the kernel multiplies away like any weight.
    """
    counts, values, deltas = [], [], []
    for row in rows:
        nz = np.flatnonzero(row)
        n = 0
        pos = 0
        for p in nz:
            gap = int(p) - pos
            while gap > 255:
                values.append(0)
                deltas.append(255)
                gap -= 255
                n += 1
            values.append(int(row[p]))
            deltas.append(gap)
            pos = int(p)
            n += 1
        if n > 65535:
            raise unsupported_error("SPARSE", f"a weight row with {n} nonzeros")
        counts.append(n)
    return (
        np.array(counts, dtype=np.uint16),
        np.array(values, dtype=np.int8),
        np.array(deltas, dtype=np.uint8),
    )


def maybe_sparse(ctx: EmitContext, rows: np.ndarray) -> str | None:
    """Name of a tfle_sparse_weights block for `rows` when the sparse policy says so."""
    if ctx.sparse is False or rows.size == 0:
        return None
    counts, values, deltas = sparse_rows(rows)
    dense_bytes = rows.size
    sparse_bytes = counts.nbytes + values.nbytes + deltas.nbytes
    if ctx.sparse == "auto":
        zeros = float(np.mean(rows == 0))
        if zeros < SPARSE_MIN_ZEROS or sparse_bytes >= dense_bytes:
            return None
    c = ctx.const_array("w_counts", counts)
    v = ctx.const_array("w_values", values if values.size else np.zeros(1, np.int8))
    d = ctx.const_array("w_deltas", deltas if deltas.size else np.zeros(1, np.uint8))
    ctx.sparse_layer = True
    return ctx.param_struct(
        "w_sparse", "tfle_sparse_weights", {"counts": c, "values": v, "deltas": d}
    )


def maybe_sparse_taps(ctx: EmitContext, rows: np.ndarray) -> str | None:
    """Name of a tfle_sparse_taps block (nonzeros by window position) under the sparse policy.

    For convolutions whose windows have at most SPARSE_WINDOW values; the policy is the one
    of `maybe_sparse`, with this layout's size (two bytes a nonzero, two a channel).
    """
    if ctx.sparse is False or rows.size == 0:
        return None
    nonzero = rows != 0
    counts = nonzero.sum(axis=1).astype(np.uint16)
    sparse_bytes = counts.nbytes + 2 * int(counts.sum())
    if ctx.sparse == "auto":
        if float(np.mean(~nonzero)) < SPARSE_MIN_ZEROS or sparse_bytes >= rows.size:
            return None
    taps = np.nonzero(nonzero)[1].astype(np.uint8)
    values = rows[nonzero].astype(np.int8)
    c = ctx.const_array("w_counts", counts)
    v = ctx.const_array("w_values", values if values.size else np.zeros(1, np.int8))
    t = ctx.const_array("w_taps", taps if taps.size else np.zeros(1, np.uint8))
    ctx.sparse_layer = True
    return ctx.param_struct("w_sparse", "tfle_sparse_taps", {"counts": c, "values": v, "taps": t})


def folded_bias(ctx: EmitContext, bias: TensorView | None, x: TensorView, rows: np.ndarray) -> str:
    """The C name of bias + input_offset * (sum of each output channel's weights).

    TFLM accumulates sum(w * (x + input_offset)) + bias; folding the offset term in at
    compile time leaves sum(w * x) for the kernels' inner loops, and stays exact in int32
    (two's complement, as the kernels add it). rows: (channels, taps) weights.
    """
    channels = rows.shape[0]
    b = np.zeros(channels, dtype=np.int64)
    if bias is not None:
        if bias.dtype != np.int32 or not bias.is_constant:
            ctx.unsupported(f"a bias of type {bias.dtype} (expected a constant int32 bias)")
        if bias.size != channels:
            ctx.unsupported(f"a bias of {bias.size} values for {channels} output channels")
        b = np.asarray(bias.data, dtype=np.int64).ravel()
    folded = b + (-x.zero_point) * rows.astype(np.int64).sum(axis=1)
    wrapped = ((folded + 2**31) % 2**32 - 2**31).astype(np.int32)
    return ctx.const_array("bias", wrapped)


def raw_bias(ctx: EmitContext, bias: TensorView | None, channels: int) -> str:
    """The C name of the model's own bias (zeros without one), for windows the padding clips."""
    if bias is None:
        return ctx.const_array("bias_raw", np.zeros(channels, np.int32))
    return ctx.const_array("bias_raw", np.asarray(bias.data, dtype=np.int32).ravel())


def bias_s64(ctx: EmitContext, bias: TensorView | None, channels: int) -> str:
    """The C name of a 16x8 layer's int64 bias (zeros without one), as the model holds it.

    TFLM accumulates an int16 layer in int64 when its bias is int64 (or absent, unless the
    op's quantized_bias_type asks for int32): an int32 bias would mean int32 accumulators,
    which these kernels do not implement, so it is refused.
    """
    if bias is None:
        if ctx.options.get("quantizedBiasType", 0) == 2:  # TensorType.INT32
            ctx.unsupported("int16 activations with quantized_bias_type INT32 (int32 accumulators)")
        return ctx.const_array("bias", np.zeros(channels, np.int64))
    if bias.dtype != np.int64 or not bias.is_constant:
        ctx.unsupported(
            f"int16 activations with a bias of type {bias.dtype} (the 16x8 kernels take a "
            "constant int64 bias)"
        )
    if bias.size != channels:
        ctx.unsupported(f"a bias of {bias.size} values for {channels} output channels")
    return ctx.const_array("bias", np.asarray(bias.data, dtype=np.int64).ravel())
