"""The op table: `register_op`, the `EmitContext` an emitter works through, `TensorView`.

An emitter is `fn(ctx: EmitContext) -> str` returning the C statement of one layer; the
modules under ops/ register them. This module knows no op and imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UnsupportedOpError
from ..model import Operator, Tensor
from .constants import ConstantPool
from .ctext import ctype
from .params import STRUCT_HEADERS, c_initializer


@dataclass(frozen=True)
class Emitter:
    """A registered op: the function that writes its C, and whether it aliases its input."""

    op: str
    fn: Callable[[EmitContext], str]
    alias: bool = False
    dtypes: tuple[str, ...] = ("int8",)  # activation types it compiles (`tflite-edge ops`)


EMITTERS: dict[str, Emitter] = {}


def register_op(
    op: str, *, alias: bool = False, dtypes: tuple[str, ...] = ("int8",)
) -> Callable[[Callable], Callable]:
    """Decorator: register `fn(ctx: EmitContext) -> str` as the C emitter of builtin `op`.

    dtypes: the activation types the emitter compiles ("int8", "int16", "float32"), as
    listed by `tflite-edge ops`; the emitter itself refuses any other with ctx.unsupported.
    """

    def deco(fn: Callable[[EmitContext], str]) -> Callable[[EmitContext], str]:
        if op in EMITTERS and EMITTERS[op].fn is not fn:
            # two modules claiming one op would make the winner depend on import order
            raise ValueError(f"the op {op} is registered twice ({EMITTERS[op].fn.__module__})")
        EMITTERS[op] = Emitter(op, fn, alias, tuple(dtypes))
        return fn

    return deco


def unsupported_error(
    op: str, what: str, *, tflm_lacks: tuple[str, ...] = ()
) -> UnsupportedOpError:
    """The error for something the AOT runtime cannot compile, naming the op; it suggests
    `--runtime tflm` unless TFLM has no kernel for an op of it either (`tflm_lacks`)."""
    if tflm_lacks:
        hint = f"change the layer (TFLM has no kernel for {', '.join(tflm_lacks)} either)"
    else:
        hint = "build this model with `--runtime tflm` instead, or change the layer"
    err = UnsupportedOpError(
        f"the AOT compiler does not support {what}; {hint}", op=op, runtime="aot"
    )
    err.what, err.tflm_lacks = what, tuple(tflm_lacks)
    return err


def emitter_of(op: Operator) -> Emitter:
    """The registered emitter of an operator; UnsupportedOpError if there is none."""
    emitter = EMITTERS.get(op.op)
    if emitter is None:
        from ..reference import TFLM_OPS

        lacks = () if op.op in TFLM_OPS else (op.op,)
        raise unsupported_error(op.op, f"op {op.op} (operator {op.index})", tflm_lacks=lacks)
    return emitter


class TensorView:
    """What an emitter sees of one tensor: shape, type, quantization, and its C expression."""

    def __init__(self, tensor: Tensor, ctx: EmitContext, base: str | None) -> None:
        self.tensor = tensor
        self._ctx = ctx
        self._base = base  # the arena expression of an activation; None for a constant

    index = property(lambda self: self.tensor.index)
    name = property(lambda self: self.tensor.name)
    shape = property(lambda self: self.tensor.shape)
    dtype = property(lambda self: np.dtype(self.tensor.dtype))
    size = property(lambda self: self.tensor.size)
    nbytes = property(lambda self: self.tensor.nbytes)
    data = property(lambda self: self.tensor.data)
    is_constant = property(lambda self: self._base is None)
    quant = property(lambda self: self.tensor.quantization)

    @property
    def ctype(self) -> str:
        """The C element type ("int8_t", "float", ...)."""
        return ctype(self.dtype)

    @property
    def scale(self) -> float:
        """The per-tensor scale (the first one of a per-channel tensor); 0.0 if unquantized."""
        q = self.tensor.quantization
        return float(q.scale.ravel()[0]) if q is not None else 0.0

    @property
    def zero_point(self) -> int:
        """The per-tensor zero point (the first one of a per-channel tensor); 0 if none."""
        q = self.tensor.quantization
        return int(q.zero_point.ravel()[0]) if q is not None else 0

    @property
    def expr(self) -> str:
        """A C expression of type `<ctype> *` for this tensor's data (emits a constant)."""
        if self._base is None:
            return self._ctx._constant_tensor(self.tensor)
        if self.ctype == "int8_t":
            return f"({self._base})"
        return f"(({self.ctype} *)({self._base}))"

    def __repr__(self) -> str:
        return f"TensorView({self.index}, {self.shape}, {self.dtype})"


class EmitContext:
    """Everything one op's emitter may use; see the package docstring."""

    def __init__(
        self,
        pool: ConstantPool,
        op: Operator,
        layer: int,
        views: dict[int, TensorView],
        scratch_base: Callable[[int], str],
    ) -> None:
        self._pool = pool
        self.op = op
        self.model = pool.model
        self.layer = layer
        self.options = op.options
        self.sparse = pool.sparse
        self.inputs: list[TensorView | None] = [views[i] if i >= 0 else None for i in op.inputs]
        self.outputs: list[TensorView] = [views[i] for i in op.outputs]
        self._scratch_base = scratch_base
        self.scratch_bytes = 0
        self.sparse_layer = False  # an emitter sets this when it chose a sparse encoding

    @property
    def prefix(self) -> str:
        """A short C identifier prefix unique to this layer (op index based)."""
        return f"op{self.op.index}"

    def const_array(
        self, hint: str, values: Any, ctype: str | None = None, *, align: int = 1
    ) -> str:
        """Emit a `static const` array in flash (aligned to `align` bytes); returns its C name."""
        return self._pool.const_array(f"{self.prefix}_{hint}", values, ctype, align=align)

    def const_struct(self, hint: str, ctype: str, initializer: str) -> str:
        """Emit `static const <ctype> name = <initializer>;`; returns its name."""
        return self._pool.const_struct(f"{self.prefix}_{hint}", ctype, initializer)

    def param_struct(self, hint: str, struct: str, values: dict[str, Any]) -> str:
        """Emit a kernel parameter struct declared in params.py from its field values (and
        include its header); returns its name."""
        self.require_header(STRUCT_HEADERS[struct])
        return self.const_struct(hint, struct, c_initializer(struct, values))

    def scratch(self, nbytes: int) -> str:
        """Arena scratch memory live during this layer only; an `int8_t *` C expression."""
        self.scratch_bytes = max(self.scratch_bytes, int(nbytes))
        return self._scratch_base(int(nbytes))

    def require_header(self, header: str) -> None:
        """`#include "<header>"` in tfle_model.c."""
        self._pool.require_header(header)

    def unsupported(self, reason: str) -> UnsupportedOpError:
        """Raise UnsupportedOpError for this op (returns its type only for `raise` clarity)."""
        raise unsupported_error(self.op.op, f"op {self.op.index} ({self.op.op}): {reason}")

    def _constant_tensor(self, tensor: Tensor) -> str:
        return self._pool.constant_tensor(tensor)
