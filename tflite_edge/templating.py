"""The jinja2 environment of templates/ and the contexts more than one renderer needs."""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import Model
from .model.reader import known_inputs
from .resources import templates_dir

INPUT_PER_LINE = 16  # values per line of tfle_known_input[]


def environment() -> Any:
    """The jinja2 environment every generated file is rendered with (strict, no escaping)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def known_input_context(model: Model, settings_header: str) -> dict[str, Any]:
    """The context of templates/project/tfle_input.{h,c}.j2: the harness's known input, every
    input's known values packed one after the other (protocol/tensors.py), as raw bytes."""
    raw = known_input_bytes(model)
    values = np.frombuffer(raw, dtype=np.int8).tolist()
    lines = [
        ", ".join(str(v) for v in values[i : i + INPUT_PER_LINE])
        for i in range(0, len(values), INPUT_PER_LINE)
    ]
    return {"settings_header": settings_header, "input_bytes": len(raw), "lines": lines}


def known_input_bytes(model: Model) -> bytes:
    """The bytes of tfle_known_input[]: known_inputs(model) packed in input order."""
    from .protocol.tensors import input_layout, pack

    return pack(known_inputs(model), input_layout(model))
