"""The runtimes a model can be rendered for: one module per runtime, each a Runtime class.

The CLI's --runtime choices and every check of a runtime name come from here. A new runtime
is a module with a Runtime subclass, and one line in _RUNTIMES below.
"""

from __future__ import annotations

from ..errors import TFLiteEdgeError
from .aot import AotRuntime
from .base import Runtime
from .tflm import TflmRuntime

__all__ = ["Runtime", "get_runtime", "runtime_names"]

# In this order in --help and in every message that lists them; the first is the default.
_RUNTIMES: dict[str, Runtime] = {r.name: r for r in (AotRuntime(), TflmRuntime())}


def runtime_names() -> tuple[str, ...]:
    """The names --runtime accepts."""
    return tuple(_RUNTIMES)


def get_runtime(name: str) -> Runtime:
    """The runtime called `name`; TFLiteEdgeError listing the known ones otherwise."""
    runtime = _RUNTIMES.get(name) if isinstance(name, str) else None
    if runtime is None:
        known = ", ".join(_RUNTIMES)
        what = ", ".join(f"{r.name}: {r.summary}" for r in _RUNTIMES.values())
        raise TFLiteEdgeError(f"unknown runtime {name!r}; known runtimes: {known} ({what})")
    return runtime
