"""The jinja2 environment of templates/ and the contexts more than one renderer needs."""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import Model, known_input
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
    """The context of templates/project/tfle_input.{h,c}.j2: the harness's known input."""
    raw = known_input(model).tobytes()
    values = np.frombuffer(raw, dtype=np.int8).tolist()
    lines = [
        ", ".join(str(v) for v in values[i : i + INPUT_PER_LINE])
        for i in range(0, len(values), INPUT_PER_LINE)
    ]
    return {"settings_header": settings_header, "input_bytes": len(raw), "lines": lines}
