"""The constants of one generated model: flash arrays, parameter structs, included headers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model import Model, Tensor, c_identifier
from .ctext import C_SIZES, c_list, ctype
from .params import CORE_HEADER


class ConstantPool:
    """What tfle_model.c declares before its invoke function; identical constants are shared."""

    def __init__(self, model: Model, sparse: bool | str) -> None:
        self.model = model
        self.sparse = sparse
        self.arrays: list[dict] = []  # {name, ctype, count, body, nbytes, align, comment}
        self._array_keys: dict[tuple, str] = {}
        self.structs: list[dict] = []
        self._struct_keys: dict[tuple, str] = {}
        self._names: set[str] = set()
        self.headers: list[str] = [CORE_HEADER]
        self._tensor_arrays: dict[int, str] = {}

    def _unique(self, hint: str) -> str:
        base = "k_" + c_identifier(hint)
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def const_array(
        self, hint: str, values: Any, ctype_: str | None = None, comment: str = "", align: int = 1
    ) -> str:
        """Declare a `static const` array (shared with an identical one); returns its name."""
        arr = np.ascontiguousarray(values)
        ct = ctype_ or ctype(arr.dtype)
        key = (ct, arr.dtype.str, arr.ravel().tobytes(), align)
        if key in self._array_keys:
            return self._array_keys[key]
        name = self._unique(hint)
        self._array_keys[key] = name
        count = max(int(arr.size), 1)
        body = c_list(arr) if arr.size else "0"
        self.arrays.append(
            {
                "name": name,
                "ctype": ct,
                "count": count,
                "body": body,
                "nbytes": count * C_SIZES.get(ct, arr.dtype.itemsize),
                "align": align,
                # a tensor name may hold anything; keep it from closing the comment
                "comment": comment.replace("*/", "* /"),
            }
        )
        return name

    def const_struct(self, hint: str, ctype_: str, initializer: str) -> str:
        """Declare `static const <ctype> name = <initializer>;` (shared); returns its name."""
        key = (ctype_, initializer)
        if key in self._struct_keys:
            return self._struct_keys[key]
        name = self._unique(hint)
        self._struct_keys[key] = name
        self.structs.append({"name": name, "ctype": ctype_, "init": initializer})
        return name

    def require_header(self, header: str) -> None:
        """Include `header` in tfle_model.c (once, in the order first asked)."""
        if header not in self.headers:
            self.headers.append(header)

    def constant_tensor(self, tensor: Tensor) -> str:
        """The C name of a constant tensor's data array (declared on first use)."""
        if tensor.index not in self._tensor_arrays:
            shape = "x".join(str(d) for d in tensor.shape) or "scalar"
            self._tensor_arrays[tensor.index] = self.const_array(
                f"t{tensor.index}",
                tensor.data,
                ctype(tensor.dtype),
                comment=f"tensor {tensor.index} [{shape}]: {tensor.name}",
            )
        return self._tensor_arrays[tensor.index]

    def reset(self) -> None:
        """Forget every constant (after the planning pass)."""
        self.arrays.clear()
        self._array_keys.clear()
        self.structs.clear()
        self._struct_keys.clear()
        self._names.clear()
        self._tensor_arrays.clear()
        self.headers = [CORE_HEADER]
