"""The one schema of kernel parameter structs: how each is declared and rendered as C.

A kernel's parameters travel in a `static const` struct (flash) declared in a kernel header.
Each struct is declared once here with `declare_struct(name, fields, header=...)`, its
fields in the header's order as (field, kind, count): kind "i" is int32_t, "f" float, "p" a
pointer (its value is the C name of a constant); count > 1 is an array. The same declaration
renders the C initializer (`c_initializer`, through `EmitContext.param_struct`) and, in the
tests, a ctypes mirror whose layout a test checks against the header.

Structs shared by several op families are declared below; a struct used by one family only
may be declared in that family's module under ops/.
"""

from __future__ import annotations

from typing import Any

from .ctext import c_float, c_int

MAX_DIMS = 6  # TFLE_X_MAX_DIMS of tfle_extra.h
CORE_HEADER = "tfle_kernels.h"  # every generated model includes it
EXTRA_HEADER = "tfle_extra.h"

Field = tuple[str, str, int]

# struct name -> fields (field, kind, count), in the C declaration's order
STRUCTS: dict[str, list[Field]] = {}
# struct name -> the kernel header that declares it
STRUCT_HEADERS: dict[str, str] = {}


def ints(names: str) -> list[Field]:
    """Fields of one int32_t each, from space-separated names."""
    return [(name, "i", 1) for name in names.split()]


def pointers(names: str) -> list[Field]:
    """Fields of one pointer each (their values are C names of constants)."""
    return [(name, "p", 1) for name in names.split()]


def declare_struct(name: str, fields: list[Field], *, header: str) -> str:
    """Declare the C struct `name` of `header` with its fields; returns the name."""
    if name in STRUCTS and (STRUCTS[name], STRUCT_HEADERS[name]) != (fields, header):
        raise ValueError(f"the kernel parameter struct {name} is declared twice, differently")
    STRUCTS[name] = fields
    STRUCT_HEADERS[name] = header
    return name


def c_initializer(struct: str, values: dict[str, Any]) -> str:
    """The C initializer `{...}` of one declared struct from a dict of its fields."""
    items = []
    for name, kind, count in STRUCTS[struct]:
        v = values[name]
        fmt = {"f": c_float, "i": c_int, "p": str}[kind]
        if count == 1:
            items.append(fmt(v))
        else:
            seq = list(v)
            if len(seq) != count:
                raise ValueError(f"{struct}.{name} needs {count} values, got {len(seq)}")
            items.append("{" + ", ".join(fmt(x) for x in seq) + "}")
    return "{" + ", ".join(items) + "}"


# --------------------------------------------------------------------------- tfle_kernels.h

declare_struct(
    "tfle_conv_params",
    ints(
        "batches in_h in_w in_c out_h out_w out_c k_h k_w filter_in_c stride_h stride_w "
        "dil_h dil_w pad_h pad_w input_offset output_offset act_min act_max per_channel "
        "depth_multiplier"
    ),
    header=CORE_HEADER,
)
declare_struct(
    "tfle_fc_params",
    ints(
        "batches in_depth out_depth input_offset filter_offset output_offset act_min act_max "
        "per_channel"
    ),
    header=CORE_HEADER,
)
declare_struct("tfle_sparse_weights", pointers("counts values deltas"), header=CORE_HEADER)
declare_struct("tfle_sparse_taps", pointers("counts values taps"), header=CORE_HEADER)

# --------------------------------------------------------------------------- tfle_extra.h

declare_struct(
    "tfle_requant_params",
    ints("size input_zp output_zp multiplier shift act_min act_max"),
    header=EXTRA_HEADER,
)

# --------------------------------------------------------------------------- tfle_s16.h

# the int16 (16x8) kernels: they take the parameter structs above (tfle_conv_params,
# tfle_fc_params, tfle_pool_params, tfle_requant_params, tfle_affine_params, tfle_pad_params)
S16_HEADER = "tfle_s16.h"
