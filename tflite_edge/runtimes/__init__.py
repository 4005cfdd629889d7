"""The runtimes a model can be rendered for: one module per runtime, each a Runtime class.

The CLI's --runtime choices and every check of a runtime name come from here. A new runtime
is a module with a Runtime subclass, and one line in _RUNTIMES below. `--runtime auto` (the
default) is not a runtime but a choice among them: choose_runtime().
"""

from __future__ import annotations

from typing import Any

from ..errors import TFLiteEdgeError, UnsupportedOpError
from .aot import AotRuntime
from .base import Runtime, RuntimeOptions
from .tflm import TflmRuntime

__all__ = [
    "AUTO",
    "Runtime",
    "RuntimeOptions",
    "choose_runtime",
    "get_runtime",
    "runtime_choices",
    "runtime_names",
]

# In this order in --help and in every message that lists them; the first is preferred by
# `auto` when it runs the model.
_RUNTIMES: dict[str, Runtime] = {r.name: r for r in (AotRuntime(), TflmRuntime())}
AUTO = "auto"


def runtime_names() -> tuple[str, ...]:
    """The names of the runtimes."""
    return tuple(_RUNTIMES)


def runtime_choices() -> tuple[str, ...]:
    """What --runtime accepts: auto, then every runtime."""
    return (AUTO, *_RUNTIMES)


def get_runtime(name: str) -> Runtime:
    """The runtime called `name`; TFLiteEdgeError listing the known ones otherwise."""
    runtime = _RUNTIMES.get(name) if isinstance(name, str) else None
    if runtime is None:
        known = ", ".join(runtime_choices())
        what = ", ".join(f"{r.name}: {r.summary}" for r in _RUNTIMES.values())
        raise TFLiteEdgeError(f"unknown runtime {name!r}; known runtimes: {known} ({what})")
    return runtime


def choose_runtime(name: str, model: Any) -> tuple[str, str | None]:
    """(the runtime to use, why) for --runtime `name`: itself (no reason), or for `auto` AOT
    when the compiler handles every op of the model, else TFLM when it has a kernel for
    each; UnsupportedOpError naming the ops when neither runs it."""
    if name != AUTO:
        get_runtime(name)
        return name, None
    from ..compiler import aot_problem
    from ..reference import missing_ops

    problem = aot_problem(model)
    if problem is None:
        return "aot", f"auto: aot, the AOT compiler handles all {len(model.ops)} ops of the model"
    missing = missing_ops(model)
    if missing:
        raise UnsupportedOpError(
            f"neither runtime runs model {model.name!r}: the AOT compiler says: {problem}; and "
            f"TFLM has no kernel for {', '.join(missing)}; replace those layers",
            op=missing[0],
        )
    return "tflm", f"auto: tflm, as the AOT compiler does not handle the model: {problem}"
