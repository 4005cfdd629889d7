"""The static memory plan: tensor lifetimes, alias groups and their places in one arena."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ModelError
from ..model import Model, Operator

# Arena offsets are aligned so that int16/int32/float tensors and scratch can live there.
ALIGN = 4


@dataclass
class Buffer:
    """Bytes of the arena live from operator step `first` to `last` (both included)."""

    key: str
    size: int
    first: int
    last: int
    tensors: list[int] = field(default_factory=list)
    offset: int = -1


def align(n: int) -> int:
    """n rounded up to a multiple of ALIGN."""
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_arena(buffers: list[Buffer]) -> int:
    """Greedy placement like TFLM's GreedyMemoryPlanner: biggest first, lowest free offset.

    Two buffers may share bytes only when their lifetimes [first, last] do not overlap.
    Returns the arena size; sets each buffer's offset.
    """
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.key))
    placed: list[Buffer] = []
    for b in order:
        live = sorted(
            (p for p in placed if p.first <= b.last and b.first <= p.last),
            key=lambda p: p.offset,
        )
        offset = 0
        for p in live:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, align(p.offset + p.size))
        b.offset = offset
        placed.append(b)
    return max((align(b.offset + b.size) for b in buffers), default=0)


@dataclass
class Activations:
    """The activation tensors of a model grouped into buffers (aliases share one)."""

    first: dict[int, int]  # tensor -> the step that writes it (-1: the model input)
    buffers: dict[int, Buffer]  # alias-group root tensor -> its buffer
    const_alias: dict[int, int]  # alias output -> the constant tensor it names


def activation_buffers(model: Model, is_alias: Callable[[Operator], bool]) -> Activations:
    """Lifetimes in operator steps and the buffers of every activation.

    The inputs exist before op 0, the outputs after the last op. An alias op's output shares
    its input's bytes, unless the input is a constant: then the output is that constant.
    A variable tensor (the state of SVDF or LSTM, which its op reads and updates in place)
    lives from before op 0 to after the last op, so no other buffer ever shares its bytes
    and its values survive from one invocation to the next, as in TFLM's persistent arena.
    """
    ops = model.operators
    first: dict[int, int] = {t: -1 for t in model.inputs}
    last: dict[int, int] = {t: -1 for t in model.inputs}
    for t in variable_tensors(model):
        first[t], last[t] = -1, len(ops)
    for op in ops:
        for t in op.outputs:
            first.setdefault(t, op.index)
            last[t] = max(last.get(t, op.index), op.index)
        for t in op.inputs:
            if t >= 0 and not model.tensors[t].is_constant:
                if t not in first:
                    raise ModelError(
                        f"op {op.index} ({op.op}) reads tensor {t} that nothing writes",
                        path=model.path,
                    )
                last[t] = max(last[t], op.index)
    for t in model.outputs:
        last[t] = len(ops)

    root: dict[int, int] = {}
    const_alias: dict[int, int] = {}

    def find(t: int) -> int:
        while t in root:
            t = root[t]
        return t

    for op in ops:
        if is_alias(op):
            src = op.inputs[0]
            if model.tensors[src].is_constant:
                const_alias[op.outputs[0]] = src
            elif model.tensors[src].nbytes == model.tensors[op.outputs[0]].nbytes:
                root[op.outputs[0]] = find(src)
    for t in model.outputs:
        if t in const_alias:
            raise ModelError(
                f"the model output {model.tensors[t].name!r} is a reshaped constant",
                path=model.path,
            )

    buffers: dict[int, Buffer] = {}
    for t in sorted(first):
        if t in const_alias:
            continue
        r = find(t)
        size = model.tensors[t].nbytes
        b = buffers.get(r)
        if b is None:
            b = buffers[r] = Buffer(f"t{r}", size, first[r], last[r])
        b.size = max(b.size, size)
        b.first = min(b.first, first[t])
        b.last = max(b.last, last[t])
        b.tensors.append(t)
    return Activations(first, buffers, const_alias)


def variable_tensors(model: Model) -> list[int]:
    """The variable (state) tensors operators read, in index order."""
    found = {
        t
        for op in model.operators
        for t in op.inputs
        if t >= 0 and model.tensors[t].is_variable and not model.tensors[t].is_constant
    }
    return sorted(found)


@dataclass
class ArenaPlan:
    """Where every activation and every layer's scratch lives in the arena."""

    arena_bytes: int
    bases: dict[int, str]  # tensor -> its C address expression
    plan: dict[int, tuple[int, int]]  # tensor -> (offset, bytes)
    scratch: dict[int, Buffer]  # op index -> its scratch buffer
    lines: list[str]  # the plan as comment lines for tfle_model.c


def place(model: Model, acts: Activations, scratch_need: dict[int, int]) -> ArenaPlan:
    """Place the activation buffers and each layer's scratch (live during that layer only)."""
    n = len(model.operators)
    all_buffers = list(acts.buffers.values())
    scratch: dict[int, Buffer] = {}
    for idx, size in scratch_need.items():
        scratch[idx] = Buffer(f"s{idx}", size, idx, idx)
        all_buffers.append(scratch[idx])
    arena = plan_arena(all_buffers)

    bases: dict[int, str] = {}
    plan: dict[int, tuple[int, int]] = {}
    for b in acts.buffers.values():
        for t in b.tensors:
            bases[t] = f"tfle_arena + {b.offset}"
            plan[t] = (b.offset, model.tensors[t].nbytes)
    state = set(variable_tensors(model))
    lines = []
    for b in sorted(all_buffers, key=lambda b: (b.offset, b.first, b.key)):
        what = (
            ", ".join(f"t{t}" for t in sorted(b.tensors))
            if b.tensors
            else f"scratch of op {b.first}"
        )
        live = f"ops {max(b.first, 0)}..{min(b.last, n - 1)}" if n else "-"
        if state.intersection(b.tensors):
            live = "always"  # a variable tensor: state kept across invocations
        lines.append(f"[{b.offset:>6}, {b.offset + b.size:>6})  {live:<12} {what}")
    return ArenaPlan(arena, bases, plan, scratch, lines)


def variable_fill(tensor) -> int:
    """The byte TFLM memsets a variable tensor to when it allocates it (ResetTensorData):
    an int8 tensor's zero point, 0 for every other type."""
    q = tensor.quantization
    if tensor.dtype == "int8" and q is not None and q.zero_point.size > 0:
        return int(q.zero_point.ravel()[0])
    return 0


def state_init_code(flag: str, fills: list[tuple[str, int, int]]) -> str:
    """C statements filling state buffers once, on the first invocation: `fills` holds
    (C address, bytes, fill byte) of each variable tensor, `flag` names the static flag.

    The arena is static (zero at start-up) and a variable tensor's bytes are its own for the
    model's lifetime (activation_buffers), so after this fill the state evolves exactly as in
    one TFLM interpreter invoked as many times.
    """
    lines = [
        "{",
        "  /* variable tensors, filled once as TFLM fills them at allocation */",
        f"  static uint8_t {flag} = 0;",
        f"  if (!{flag}) {{",
    ]
    for expr, nbytes, value in fills:
        lines.append(f"    memset({expr}, {int(value)}, {int(nbytes)});")
    lines += [f"    {flag} = 1;", "  }", "}"]
    return "\n".join(lines)
