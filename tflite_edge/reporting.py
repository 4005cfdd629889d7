"""Reports: the JSON results of the pipeline's stages as one self-contained HTML file or Markdown.

`report(results, out=..., format="html"|"md")` reads result documents, checks them, draws the
plots with matplotlib and writes one file atomically. The HTML embeds its images as base64 PNG
(no external assets, no scripts); the Markdown variant has the same tables and no images, for
terminals and CI logs. Rendering the same results twice gives byte-identical output: no dates,
fixed matplotlib settings, PNGs saved without a "Software" tag.

Result documents
----------------
Each document is a JSON object (a dict in Python). A results file holds one document or a list
of them. The top-level key ``kind`` says what it is; a document without ``kind`` is recognised by
its keys (``bit_exact`` -> validation, ``cycles`` + ``board`` -> flash, ``tflite_bytes`` ->
conversion), so the plain output of ``tflite-edge flash --json`` works too.

Optional keys may be absent or ``null``; the parts of the report that need them are left out.
A key of the wrong type is an error (`ResultsError`, naming the document and the key).
"int" means a non-negative JSON integer, "number" a non-negative integer or float, "fraction" a
number in [0, 1] (accuracies and shares are fractions, not percent). Dicts passed from Python
may hold numpy scalars and 1-D arrays where numbers and lists are expected.

``"kind": "conversion"`` (the ``metrics`` of ``tflite_edge.convert()``)::

    tflite_bytes    int        required: size of the int8 .tflite
    model           str        a name for the model, shown in the title
    float_accuracy  fraction   accuracy of the float Keras model
    int8_accuracy   fraction   accuracy of the int8 model on the host (TFLM interpreter)
    sparsity        fraction   share of zero int8 weights in the flatbuffer
    float_bytes     int        size of the float model
    arena_bytes     int        TFLM's real arena allocation
    ops             [str]      builtin op names
    variants        [{name: str, bytes: int, accuracy: fraction, sparsity: fraction}]
                    e.g. "float", "int8", "int8 pruned 75%"; name and bytes required in each.
                    Without variants the model table shows "float" and "int8" from the keys above.

``"kind": "flash"`` (the JSON of ``tflite-edge flash --json``, DESIGN.md)::

    board           str        required
    runtime         str        required: "aot" or "tflm"
    runs            int        required
    emulated        bool       required: true on QEMU (figures are instruction counts)
    cycles          {min, median, max: number, p90: number}   required (p90 optional)
    us              {min, median, max: number, p90: number}   microseconds (an estimate if emulated)
    cycles_all      [int]      every run's cycles, for the histogram (length must equal runs)
    us_all          [number]   every run's microseconds
    clock_hz        int        the clock that turns cycles into us (for the us p90)
    model_sha256    str
    ram_bytes       int        the runtime's activation RAM
    flash_bytes     int        the runtime's constant bytes
    layers          [{idx: int, op: str, cycles: number}]   per-layer cycles; repeated idx values
                    (one per run) are reduced to their median
    output_crc32    str
    tflm_arena      {total: int, head: int, tail: int}   TFLM's arena for the same model
    sections        {name: int}  the image's bytes by linker section (arm-none-eabi-size -A);
                    ``.bss``/``.noinit``/``.heap``/``.stack`` count as RAM, ``.data`` and IRAM/DRAM
                    data as flash and RAM (stored in flash, copied to RAM), ``.text``/``.rodata``/
                    vectors/exception tables as flash.

p90 comes from ``cycles.p90`` when given, otherwise ``numpy.percentile(cycles_all, 90)``; the us
p90 from ``us.p90``, else ``us_all``, else the cycles p90 at ``clock_hz``.

``"kind": "validation"`` (the JSON of ``tflite-edge validate --json``)::

    samples             int        required
    bit_exact           int        required: outputs identical to the TFLM interpreter
    bit_exact_share     fraction   required
    max_abs_diff        number     required: largest |board - interpreter| over all outputs
    accuracy            fraction   on-device accuracy against the labels
    float_accuracy      fraction   the float Keras model's accuracy on the same samples
    int8_host_accuracy  fraction   the int8 model's accuracy on the host
    board, runtime      str
"""

from __future__ import annotations

import base64
import io
import json
import math
import numbers
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .errors import DataError, TFLiteEdgeError
from .files import write_atomic

FORMATS = ("html", "md")
KINDS = ("conversion", "flash", "validation")


class ResultsError(DataError):
    """A result document that is missing, not JSON, or has a key of the wrong type."""

    def __init__(self, message: str, *, source: str, key: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.key = key


# ----------------------------------------------------------------------------------------------
# The checked documents


@dataclass(frozen=True)
class Variant:
    """One form of the model: float, int8, int8 pruned ... with its size and accuracy."""

    name: str
    bytes: int
    accuracy: float | None = None
    sparsity: float | None = None


@dataclass(frozen=True)
class Conversion:
    """A checked "conversion" document."""

    source: str
    tflite_bytes: int
    model: str | None = None
    float_accuracy: float | None = None
    int8_accuracy: float | None = None
    sparsity: float | None = None
    float_bytes: int | None = None
    arena_bytes: int | None = None
    ops: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True)
class Stats:
    """Summary statistics of a latency series."""

    min: float
    median: float
    max: float
    p90: float | None = None


@dataclass(frozen=True)
class Layer:
    """One layer's cycles (the median over runs when several runs were profiled)."""

    idx: int
    op: str
    cycles: float


@dataclass(frozen=True)
class TflmArena:
    """TFLM's arena: total = head (activations) + tail (interpreter bookkeeping)."""

    total: int
    head: int
    tail: int


@dataclass(frozen=True)
class Flash:
    """A checked "flash" document."""

    source: str
    board: str
    runtime: str
    runs: int
    emulated: bool
    cycles: Stats
    us: Stats | None = None
    cycles_all: tuple[int, ...] = ()
    clock_hz: int | None = None
    model_sha256: str | None = None
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    layers: tuple[Layer, ...] = ()
    output_crc32: str | None = None
    tflm_arena: TflmArena | None = None
    sections: tuple[tuple[str, int], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.board} {self.runtime}"


@dataclass(frozen=True)
class Validation:
    """A checked "validation" document."""

    source: str
    samples: int
    bit_exact: int
    bit_exact_share: float
    max_abs_diff: float
    accuracy: float | None = None
    float_accuracy: float | None = None
    int8_host_accuracy: float | None = None
    board: str | None = None
    runtime: str | None = None


@dataclass(frozen=True)
class Results:
    """Every checked document of a report, by kind, in the order given."""

    conversions: tuple[Conversion, ...] = ()
    flashes: tuple[Flash, ...] = ()
    validations: tuple[Validation, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.conversions or self.flashes or self.validations)


# ----------------------------------------------------------------------------------------------
# Loading and checking


_MISSING = object()
_DICT_SOURCE = "results"  # how a document passed as a dict is named in messages: results[0]


class _Reader:
    """Typed access to one JSON object; every failure names the document and the key."""

    def __init__(self, data: Mapping, source: str, prefix: str = "") -> None:
        self.data = data
        self.source = source
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, expected: str, found: Any = _MISSING) -> NoReturn:
        what = "is missing" if found is _MISSING else f"is {_describe(found)}"
        raise ResultsError(
            f"{self.source}: key '{self._key(key)}' should be {expected} but {what}; fix the "
            "document or write it again with the stage that made it",
            source=self.source,
            key=self._key(key),
        )

    def _raw(self, key: str, expected: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            self.fail(key, expected, self.data.get(key, _MISSING))
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        value = self._raw(key, "a non-negative integer", required)
        if value is None:
            return None
        checked = _as_int(value)
        if checked is None:
            self.fail(key, "a non-negative integer", value)
        return checked

    def number(self, key: str, *, required: bool = False, fraction: bool = False) -> float | None:
        expected = "a fraction in [0, 1]" if fraction else "a non-negative number"
        value = self._raw(key, expected, required)
        if value is None:
            return None
        checked = _as_number(value)
        if checked is None or (fraction and checked > 1):
            self.fail(key, expected, value)
        return checked

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self._raw(key, "a string", required)
        if value is not None and not isinstance(value, str):
            self.fail(key, "a string", value)
        return None if value is None else str(value)

    def flag(self, key: str, *, required: bool = False) -> bool | None:
        value = self._raw(key, "true or false", required)
        if value is None:
            return None
        if not _is_bool(value):
            self.fail(key, "true or false", value)
        return bool(value)

    def obj(self, key: str, *, required: bool = False) -> _Reader | None:
        value = self._raw(key, "an object", required)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(key, "an object", value)
        return _Reader(value, self.source, f"{self._key(key)}.")

    def array(self, key: str, *, required: bool = False) -> list | None:
        value = self._raw(key, "a list", required)
        if value is None:
            return None
        if hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1:  # a numpy array
            value = value.tolist()
        if not isinstance(value, list | tuple):
            self.fail(key, "a list", value)
        return list(value)

    def items(self, key: str) -> list[_Reader]:
        """The objects of a list of objects (empty when the key is absent)."""
        out = []
        for i, item in enumerate(self.array(key) or []):
            if not isinstance(item, Mapping):
                self.fail(f"{key}[{i}]", "an object", item)
            out.append(_Reader(item, self.source, f"{self._key(key)}[{i}]."))
        return out

    def ints(self, key: str) -> tuple[int, ...]:
        out = []
        for i, v in enumerate(self.array(key) or []):
            checked = _as_int(v)
            if checked is None:
                self.fail(f"{key}[{i}]", "a non-negative integer", v)
            out.append(checked)
        return tuple(out)

    def numbers(self, key: str) -> tuple[float, ...]:
        out = []
        for i, v in enumerate(self.array(key) or []):
            checked = _as_number(v)
            if checked is None:
                self.fail(f"{key}[{i}]", "a non-negative number", v)
            out.append(checked)
        return tuple(out)

    def strs(self, key: str) -> tuple[str, ...]:
        values = self.array(key) or []
        for i, v in enumerate(values):
            if not isinstance(v, str):
                self.fail(f"{key}[{i}]", "a string", v)
        return tuple(str(v) for v in values)


# Python callers hand over numpy scalars (np.int64 bytes, np.float32 accuracies); JSON gives
# int/float. Both are numbers; a bool (JSON true) or a string of digits is not.
def _is_bool(value: Any) -> bool:
    import numpy as np

    return isinstance(value, bool | np.bool_)


def _as_int(value: Any) -> int | None:
    if _is_bool(value) or not isinstance(value, numbers.Integral) or value < 0:
        return None
    return int(value)


def _as_number(value: Any) -> float | int | None:
    if _is_bool(value) or not isinstance(value, numbers.Real):
        return None
    if isinstance(value, numbers.Integral):
        return int(value) if value >= 0 else None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value, default=repr)
    if len(text) > 40:
        text = text[:37] + "..."
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
    }.get(type(value), type(value).__name__)
    return f"the {kind} {text}"


def _kind(doc: Mapping, source: str) -> str:
    kind = doc.get("kind")
    if kind is None:
        # `tflite-edge flash --json` and friends print their documents without a kind.
        if "bit_exact" in doc:
            return "validation"
        if "cycles" in doc and "board" in doc:
            return "flash"
        if "tflite_bytes" in doc:
            return "conversion"
        raise ResultsError(
            f"{source}: a result document needs a 'kind' key (one of {', '.join(KINDS)}); found "
            f"an object with keys {', '.join(sorted(map(str, doc))) or '(none)'}",
            source=source,
            key="kind",
        )
    if kind not in KINDS:
        raise ResultsError(
            f"{source}: key 'kind' should be one of {', '.join(KINDS)} but is {_describe(kind)}",
            source=source,
            key="kind",
        )
    return kind


def _stats(r: _Reader | None, key: str, required: bool) -> Stats | None:
    sub = r.obj(key, required=required) if r is not None else None
    if sub is None:
        return None
    return Stats(
        min=sub.number("min", required=True),
        median=sub.number("median", required=True),
        max=sub.number("max", required=True),
        p90=sub.number("p90"),
    )


def _conversion(r: _Reader) -> Conversion:
    variants = tuple(
        Variant(
            name=v.text("name", required=True),
            bytes=v.integer("bytes", required=True),
            accuracy=v.number("accuracy", fraction=True),
            sparsity=v.number("sparsity", fraction=True),
        )
        for v in r.items("variants")
    )
    return Conversion(
        source=r.source,
        tflite_bytes=r.integer("tflite_bytes", required=True),
        model=r.text("model"),
        float_accuracy=r.number("float_accuracy", fraction=True),
        int8_accuracy=r.number("int8_accuracy", fraction=True),
        sparsity=r.number("sparsity", fraction=True),
        float_bytes=r.integer("float_bytes"),
        arena_bytes=r.integer("arena_bytes"),
        ops=r.strs("ops"),
        variants=variants,
    )


def _flash(r: _Reader) -> Flash:
    import numpy as np

    board = r.text("board", required=True)
    runtime = r.text("runtime", required=True)
    runs = r.integer("runs", required=True)
    emulated = r.flag("emulated", required=True)
    cycles = _stats(r, "cycles", required=True)
    us = _stats(r, "us", required=False)
    cycles_all = r.ints("cycles_all")
    us_all = r.numbers("us_all")
    for key, series in (("cycles_all", cycles_all), ("us_all", us_all)):
        if series and len(series) != runs:
            r.fail(
                key,
                f"a list of {runs} values (one per run, runs={runs})",
                f"a list of {len(series)} values",
            )
    clock_hz = r.integer("clock_hz")
    if clock_hz == 0:
        r.fail("clock_hz", "a positive integer", 0)
    if cycles.p90 is None and cycles_all:
        cycles = Stats(
            cycles.min,
            cycles.median,
            cycles.max,
            float(np.percentile(np.asarray(cycles_all, dtype=np.float64), 90)),
        )
    if us is not None and us.p90 is None:
        p90 = None
        if us_all:
            p90 = float(np.percentile(np.asarray(us_all, dtype=np.float64), 90))
        elif clock_hz and cycles.p90 is not None:
            p90 = cycles.p90 * 1e6 / clock_hz
        us = Stats(us.min, us.median, us.max, p90)

    per_idx: dict[int, tuple[str, list[float]]] = {}
    for layer in r.items("layers"):
        idx = layer.integer("idx", required=True)
        op = layer.text("op", required=True)
        per_idx.setdefault(idx, (op, []))[1].append(layer.number("cycles", required=True))
    layers = tuple(
        Layer(idx, op, float(np.median(values)) if len(values) > 1 else values[0])
        for idx, (op, values) in sorted(per_idx.items())
    )

    arena = r.obj("tflm_arena")
    tflm_arena = None
    if arena is not None:
        tflm_arena = TflmArena(
            total=arena.integer("total", required=True),
            head=arena.integer("head", required=True),
            tail=arena.integer("tail", required=True),
        )
    sections_reader = r.obj("sections")
    sections: tuple[tuple[str, int], ...] = ()
    if sections_reader is not None:
        for name, value in sections_reader.data.items():
            nbytes = _as_int(value)
            if nbytes is None:
                # section names start with a dot: name them in brackets, not after one
                r.fail(f"sections[{json.dumps(str(name))}]", "a non-negative integer", value)
            sections += ((str(name), nbytes),)
    return Flash(
        source=r.source,
        board=board,
        runtime=runtime,
        runs=runs,
        emulated=emulated,
        cycles=cycles,
        us=us,
        cycles_all=cycles_all,
        clock_hz=clock_hz,
        model_sha256=r.text("model_sha256"),
        ram_bytes=r.integer("ram_bytes"),
        flash_bytes=r.integer("flash_bytes"),
        layers=layers,
        output_crc32=r.text("output_crc32"),
        tflm_arena=tflm_arena,
        sections=sections,
    )


def _validation(r: _Reader) -> Validation:
    samples = r.integer("samples", required=True)
    bit_exact = r.integer("bit_exact", required=True)
    if bit_exact > samples:
        r.fail("bit_exact", f"at most samples ({samples})", bit_exact)
    return Validation(
        source=r.source,
        samples=samples,
        bit_exact=bit_exact,
        bit_exact_share=r.number("bit_exact_share", required=True, fraction=True),
        max_abs_diff=r.number("max_abs_diff", required=True),
        accuracy=r.number("accuracy", fraction=True),
        float_accuracy=r.number("float_accuracy", fraction=True),
        int8_host_accuracy=r.number("int8_host_accuracy", fraction=True),
        board=r.text("board"),
        runtime=r.text("runtime"),
    )


_PARSERS = {"conversion": _conversion, "flash": _flash, "validation": _validation}


def _read_file(path: Path) -> Any:
    source = str(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ResultsError(
            f"results file {source} {what}; pass JSON files written by `tflite-edge convert/flash/"
            "validate --json`",
            source=source,
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ResultsError(
            f"results file {source} is not UTF-8 text ({err.reason} at byte {err.start}); pass "
            "the JSON written by `tflite-edge flash/validate/convert --json`",
            source=source,
        ) from err
    except json.JSONDecodeError as err:
        raise ResultsError(
            f"results file {source} is not JSON ({err.msg} at line {err.lineno} column "
            f"{err.colno}); pass the JSON written by `tflite-edge flash/validate/convert --json`",
            source=source,
        ) from err


def load_results(results: Any) -> Results:
    """Check result documents (paths to JSON files, dicts, lists of them) into a Results."""
    if isinstance(results, Results):
        return results
    if isinstance(results, Mapping | str | os.PathLike):
        results = [results]
    by_kind: dict[str, list] = {kind: [] for kind in KINDS}
    for n, item in enumerate(results):
        if isinstance(item, str | os.PathLike):
            source = str(item)
            data = _read_file(Path(item))
        elif isinstance(item, Mapping):
            source, data = f"{_DICT_SOURCE}[{n}]", item
        else:
            raise ResultsError(
                f"results[{n}] should be a path to a JSON file or a dict but is "
                f"{type(item).__name__}",
                source=f"results[{n}]",
            )
        docs = data if isinstance(data, list) else [data]
        for i, doc in enumerate(docs):
            doc_source = f"{source}[{i}]" if isinstance(data, list) else source
            if not isinstance(doc, Mapping):
                raise ResultsError(
                    f"{doc_source}: a result document should be a JSON object but is "
                    f"{_describe(doc)}",
                    source=doc_source,
                )
            kind = _kind(doc, doc_source)
            by_kind[kind].append(_PARSERS[kind](_Reader(doc, doc_source)))
    return Results(
        conversions=tuple(by_kind["conversion"]),
        flashes=tuple(by_kind["flash"]),
        validations=tuple(by_kind["validation"]),
    )


# ----------------------------------------------------------------------------------------------
# Formatting: every number reaches the templates as a finished string


_NONE = "—"


def _fmt_int(n: float | None) -> str:
    if n is None:
        return _NONE
    if float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:,.1f}"


def _fmt_kib(n: float | None) -> str:
    return _NONE if n is None else f"{n / 1024:,.1f}"


def _fmt_pct(x: float | None) -> str:
    return _NONE if x is None else f"{100 * x:.2f} %"


def _fmt_us(x: float | None) -> str:
    return _NONE if x is None else f"{x:,.1f}"


def _fmt_num(x: float | None) -> str:
    return _NONE if x is None else f"{x:.6g}"


@dataclass(frozen=True)
class Table:
    """A table for the templates: header cells, rows of string cells, right-aligned columns."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]


def _table(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> Table:
    return Table(tuple(headers), tuple(tuple(r) for r in rows), tuple(numeric))


def _facts(pairs: list[tuple[str, str]]) -> Table:
    return _table(["", ""], [[k, v] for k, v in pairs], [False, False])


@dataclass(frozen=True)
class Image:
    """A PNG for the HTML: a data URI and its pixel size."""

    uri: str
    width: int
    height: int
    alt: str


# ----------------------------------------------------------------------------------------------
# Plots


# Fixed matplotlib settings so the PNG bytes depend only on the data (and matplotlib's version),
# not on a user's matplotlibrc. parse_math is off so a "$" in a board name is text, not TeX.
_RC = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "text.parse_math": False,
    "text.usetex": False,
    "svg.hashsalt": "tflite-edge",
}
_PNG_METADATA = {"Software": None}
_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def _plots():
    """matplotlib with fixed settings, without pyplot's global figure registry."""
    import matplotlib
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _png(fig, alt: str) -> Image:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata=_PNG_METADATA)
    width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return Image(uri=uri, width=width, height=height, alt=alt)


def _annotate_bars(ax, bars, labels: list[str]) -> None:
    for bar, label in zip(bars, labels, strict=True):
        ax.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )


def _size_accuracy_chart(Figure, variants: list[Variant]) -> Image:
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax_size, ax_acc = fig.subplots(1, 2)
    names = [v.name for v in variants]
    x = list(range(len(variants)))
    colors = [_COLORS[i % len(_COLORS)] for i in x]
    kib = [v.bytes / 1024 for v in variants]
    bars = ax_size.bar(x, kib, color=colors)
    _annotate_bars(ax_size, bars, [f"{k:,.1f}" for k in kib])
    ax_size.set_title("Model size")
    _thousands(ax_size.yaxis)
    ax_size.set_ylabel("KiB")
    acc = [100 * v.accuracy if v.accuracy is not None else 0.0 for v in variants]
    bars = ax_acc.bar(x, acc, color=colors)
    _annotate_bars(ax_acc, bars, [_fmt_pct(v.accuracy) for v in variants])
    ax_acc.set_title("Accuracy")
    ax_acc.set_ylabel("%")
    ax_acc.set_ylim(0, 105)
    for ax in (ax_size, ax_acc):
        ax.set_xticks(x, [_short(n, 24) for n in names], rotation=15 if len(variants) > 3 else 0)
        ax.grid(axis="x", visible=False)
    return _png(fig, "model size and accuracy of each variant")


def _short(label: str, limit: int = 36) -> str:
    """A chart label that fits beside its bar (the tables keep the full text)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _chart_label(f: Flash) -> str:
    return f"{_short(f.board, 20)} {_short(f.runtime, 8)}"


def _thousands(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    # ",g" keeps 0.25 KiB readable and writes 1,000,000 instructions in full
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.10g}"))


def _stacked_barh(
    ax, rows: list[tuple[str, list[tuple[str, int]]]], colors: dict[str, str], title: str
) -> None:
    y = list(range(len(rows)))
    seen: set[str] = set()
    for yi, (_, segments) in zip(y, rows, strict=True):
        left = 0.0
        for name, nbytes in segments:
            kib = nbytes / 1024
            ax.barh(
                yi, kib, left=left, color=colors[name], label=name if name not in seen else None
            )
            seen.add(name)
            left += kib
        ax.annotate(
            f"{left:,.1f} KiB",
            (left, yi),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, [_short(label, 48) for label, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("KiB")
    ax.set_title(title)
    ax.margins(x=0.15)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _memory_chart(Figure, flashes: list[Flash]) -> Image | None:
    runtime_rows: list[tuple[str, list[tuple[str, int]]]] = []
    for f in flashes:
        if f.ram_bytes is not None:
            runtime_rows.append((f"{_chart_label(f)} RAM", [("activation RAM", f.ram_bytes)]))
        if f.tflm_arena is not None:
            a = f.tflm_arena
            runtime_rows.append(
                (
                    f"{_short(f.board, 20)} TFLM arena",
                    [("activation RAM", a.head), ("TFLM bookkeeping", a.tail)],
                )
            )
        if f.flash_bytes is not None:
            runtime_rows.append(
                (f"{_chart_label(f)} flash", [("constants (flash)", f.flash_bytes)])
            )
    section_rows: list[tuple[str, list[tuple[str, int]]]] = []
    for f in flashes:
        if not f.sections:
            continue
        flash = [(n, b) for n, b in f.sections if _region(n) in ("flash", "flash + RAM")]
        ram = [(n, b) for n, b in f.sections if _region(n) in ("RAM", "flash + RAM")]
        section_rows += [
            (f"{_chart_label(f)} image flash", flash),
            (f"{_chart_label(f)} image RAM", ram),
        ]
    panels = [
        (rows, title)
        for rows, title in (
            (runtime_rows, "Runtime memory"),
            (section_rows, "Image by linker section"),
        )
        if rows
    ]
    if not panels:
        return None
    ratios = [len(rows) + 1.5 for rows, _ in panels]
    fig = Figure(figsize=(8, 0.4 * sum(ratios) + 0.4), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=ratios)[:, 0]
    names: list[str] = []
    for rows, _ in panels:
        for _, segments in rows:
            names += [n for n, _ in segments if n not in names]
    colors = {n: _COLORS[i % len(_COLORS)] for i, n in enumerate(names)}
    for ax, (rows, title) in zip(axes, panels, strict=True):
        _stacked_barh(ax, rows, colors, title)
        _thousands(ax.xaxis)
    return _png(fig, "flash and RAM by runtime and by section")


def _unit(f: Flash) -> tuple[str, str]:
    """What the latency numbers are: (cycles label, us label)."""
    if f.emulated:
        return "instructions (emulated)", "µs (estimate)"
    return "cycles", "µs"


def _histogram(Figure, f: Flash) -> Image:
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    values = np.asarray(f.cycles_all, dtype=np.float64)
    fig = Figure(figsize=(7, 2.8), layout="constrained")
    ax = fig.subplots()
    title = f"Latency over {len(values)} runs: {f.label}"
    low, high = float(values.min()), float(values.max())
    if low == high:
        # -icount makes every emulated run count the same instructions: one bar, said plainly
        half = max(0.5, 0.002 * low)
        ax.bar([low], [len(values)], width=2 * half, color=_COLORS[0])
        ax.set_xlim(low - 10 * half, low + 10 * half)
        title += " (every run the same)"
    else:
        bins = int(min(30, len(np.unique(values))))
        ax.hist(values, bins=bins, color=_COLORS[0])
    ax.axvline(
        f.cycles.median,
        color=_COLORS[3],
        linestyle="--",
        label=f"median {_fmt_int(f.cycles.median)}",
    )
    ax.set_xlabel(_unit(f)[0])
    ax.set_ylabel("runs")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(_short(title, 90))
    _thousands(ax.xaxis)
    ax.legend(fontsize=8)
    return _png(fig, f"latency histogram, {f.label}")


def _layers_chart(Figure, f: Flash) -> Image:
    fig = Figure(figsize=(7, 1.0 + 0.22 * len(f.layers)), layout="constrained")
    ax = fig.subplots()
    labels = [_short(f"{layer.idx} {layer.op}") for layer in f.layers]
    y = list(range(len(f.layers)))
    ax.barh(y, [layer.cycles for layer in f.layers], color=_COLORS[0])
    ax.set_yticks(y, labels, fontsize=7 if len(f.layers) > 30 else 8)
    ax.invert_yaxis()
    ax.set_xlabel(_unit(f)[0])
    _thousands(ax.xaxis)
    ax.grid(axis="y", visible=False)
    ax.set_title(_short(f"Per layer: {f.label}", 80))
    return _png(fig, f"per-layer latency, {f.label}")


# ----------------------------------------------------------------------------------------------
# The report's context: small, flat, already computed


def _region(section: str) -> str:
    """Where a linker section lives: flash, RAM, both (initialised data), or other."""
    n = section.lower()
    if any(k in n for k in ("bss", "noinit", "heap", "stack")):
        return "RAM"
    if "rodata" in n or "flash" in n:
        return "flash"
    if "iram" in n or "data" in n:  # stored in flash, copied to RAM at boot
        return "flash + RAM"
    if any(k in n for k in ("text", "vector", "exidx", "extab", "_array")):
        return "flash"
    return "other"


def _file_source(source: str) -> str | None:
    """The file a document came from; dicts passed in Python have no file worth naming."""
    return None if re.fullmatch(rf"{_DICT_SOURCE}\[\d+\]", source) else source


def _variants(c: Conversion) -> list[Variant]:
    if c.variants:
        return list(c.variants)
    out = []
    if c.float_bytes is not None:
        out.append(Variant("float", c.float_bytes, c.float_accuracy, None))
    out.append(Variant("int8", c.tflite_bytes, c.int8_accuracy, c.sparsity))
    return out


def _model_section(Figure, c: Conversion, images: bool) -> dict:
    variants = _variants(c)
    base = next((v.bytes for v in variants if v.name == "float"), c.float_bytes)
    rows = []
    for v in variants:
        ratio = f"{v.bytes / base:.1%}" if base else _NONE
        rows.append(
            [
                v.name,
                _fmt_int(v.bytes),
                _fmt_kib(v.bytes),
                ratio,
                _fmt_pct(v.accuracy),
                _fmt_pct(v.sparsity),
            ]
        )
    facts = [
        ("float accuracy", _fmt_pct(c.float_accuracy)),
        ("int8 accuracy (host)", _fmt_pct(c.int8_accuracy)),
        ("int8 weight sparsity", _fmt_pct(c.sparsity)),
        ("float bytes", _fmt_int(c.float_bytes)),
        (".tflite bytes", _fmt_int(c.tflite_bytes)),
        ("TFLM arena bytes", _fmt_int(c.arena_bytes)),
    ]
    if c.ops:
        facts.append(("ops", ", ".join(c.ops)))
    return {
        "heading": f"Model: {c.model}" if c.model else "Model",
        "source": _file_source(c.source),
        "variants": _table(
            ["variant", "bytes", "KiB", "of float", "accuracy", "sparsity"],
            rows,
            [False, True, True, True, True, True],
        ),
        "facts": _facts(facts),
        "chart": _size_accuracy_chart(Figure, variants) if images else None,
    }


def _memory_section(Figure, flashes: list[Flash], images: bool) -> dict | None:
    rows = []
    for f in flashes:
        a = f.tflm_arena
        ratio = _NONE
        if a is not None and f.ram_bytes is not None and a.total:
            ratio = f"{f.ram_bytes / a.total:.2f}"
        rows.append(
            [
                f.board,
                f.runtime,
                _fmt_int(f.flash_bytes),
                _fmt_int(f.ram_bytes),
                _fmt_int(a.total if a else None),
                _fmt_int(a.head if a else None),
                _fmt_int(a.tail if a else None),
                ratio,
            ]
        )
    if not any(
        f.flash_bytes is not None or f.ram_bytes is not None or f.tflm_arena or f.sections
        for f in flashes
    ):
        return None
    section_tables = []
    for f in flashes:
        if not f.sections:
            continue
        srows = [[name, _fmt_int(b), _fmt_kib(b), _region(name)] for name, b in f.sections]
        flash_total = sum(b for n, b in f.sections if _region(n) in ("flash", "flash + RAM"))
        ram_total = sum(b for n, b in f.sections if _region(n) in ("RAM", "flash + RAM"))
        srows += [
            ["flash total", _fmt_int(flash_total), _fmt_kib(flash_total), ""],
            ["RAM total", _fmt_int(ram_total), _fmt_kib(ram_total), ""],
        ]
        section_tables.append(
            {
                "heading": f"Image sections: {f.label}",
                "table": _table(
                    ["section", "bytes", "KiB", "region"], srows, [False, True, True, False]
                ),
            }
        )
    return {
        "runtime": _table(
            [
                "board",
                "runtime",
                "flash bytes",
                "RAM bytes",
                "TFLM arena",
                "arena head",
                "arena tail",
                "RAM / arena",
            ],
            rows,
            [False, False, True, True, True, True, True, True],
        ),
        "sections": section_tables,
        "chart": _memory_chart(Figure, flashes) if images else None,
    }


def _latency_section(Figure, f: Flash, images: bool) -> dict:
    cycles_label, us_label = _unit(f)
    us = f.us
    rows = []
    for name in ("min", "median", "p90", "max"):
        rows.append(
            [name, _fmt_int(getattr(f.cycles, name)), _fmt_us(getattr(us, name)) if us else _NONE]
        )
    if f.emulated:
        clock = f" at {f.clock_hz / 1e6:g} MHz" if f.clock_hz else " at the board's nominal clock"
        note = (
            "Emulated board (QEMU, -icount): the figures are instruction counts, not silicon "
            f"cycles; µs is an estimate{clock}."
        )
    else:
        note = ""
    facts = [
        ("board", f.board),
        ("runtime", f.runtime),
        ("runs", _fmt_int(f.runs)),
        ("emulated", "yes" if f.emulated else "no"),
    ]
    if f.model_sha256:
        facts.append(("model sha256", f.model_sha256))
    if f.output_crc32:
        facts.append(("output crc32", f.output_crc32))
    layers = None
    if f.layers:
        total = sum(layer.cycles for layer in f.layers)
        layers = _table(
            ["idx", "op", cycles_label, "share"],
            [
                [
                    str(layer.idx),
                    layer.op,
                    _fmt_int(layer.cycles),
                    f"{layer.cycles / total:.1%}" if total else _NONE,
                ]
                for layer in f.layers
            ],
            [True, False, True, True],
        )
    return {
        "heading": f"Latency: {f.label}",
        "source": _file_source(f.source),
        "note": note,
        "facts": _facts(facts),
        "table": _table(["", cycles_label, us_label], rows, [False, True, True]),
        "histogram": _histogram(Figure, f) if images and f.cycles_all else None,
        "layers": layers,
        "layers_chart": _layers_chart(Figure, f) if images and f.layers else None,
    }


def _validation_section(v: Validation) -> dict:
    where = " ".join(x for x in (v.board, v.runtime) if x)
    facts = [
        ("samples", _fmt_int(v.samples)),
        (
            "bit-exact with the TFLM interpreter",
            f"{_fmt_int(v.bit_exact)} of {_fmt_int(v.samples)} ({_fmt_pct(v.bit_exact_share)})",
        ),
        ("max |board − interpreter|", _fmt_num(v.max_abs_diff)),
        ("on-device accuracy", _fmt_pct(v.accuracy)),
        ("int8 accuracy on the host", _fmt_pct(v.int8_host_accuracy)),
        ("float model accuracy", _fmt_pct(v.float_accuracy)),
    ]
    return {
        "heading": f"Validation: {where}" if where else "Validation",
        "source": _file_source(v.source),
        "facts": _facts(facts),
    }


def _summary(results: Results) -> Table:
    pairs: list[tuple[str, str]] = []
    if results.conversions:
        c = results.conversions[-1]
        pairs += [
            ("float accuracy", _fmt_pct(c.float_accuracy)),
            ("int8 accuracy (host)", _fmt_pct(c.int8_accuracy)),
            (".tflite bytes", _fmt_int(c.tflite_bytes)),
        ]
    for v in results.validations:
        where = " ".join(x for x in (v.board, v.runtime) if x) or "board"
        pairs.append((f"on-device accuracy ({where})", _fmt_pct(v.accuracy)))
        pairs.append((f"bit-exact ({where})", _fmt_pct(v.bit_exact_share)))
    for f in results.flashes:
        pairs.append(
            (
                f"flash / RAM bytes ({f.label})",
                f"{_fmt_int(f.flash_bytes)} / {_fmt_int(f.ram_bytes)}",
            )
        )
        unit = "instructions (emulated)" if f.emulated else "cycles"
        latency = f"{_fmt_int(f.cycles.median)} {unit}"
        if f.us is not None:
            latency += f", {_fmt_us(f.us.median)} µs" + (" (estimate)" if f.emulated else "")
        pairs.append((f"median latency ({f.label})", latency))
    return _facts(pairs)


def _context(results: Results, *, title: str | None, images: bool) -> dict:
    from . import __version__

    Figure = None
    rc = None
    if images:
        matplotlib, Figure = _plots()
        rc = matplotlib.rc_context()
    if title is None:
        named = [c.model for c in results.conversions if c.model]
        title = f"tflite-edge report: {named[0]}" if named else "tflite-edge report"

    def build() -> dict:
        return {
            "title": title,
            "generator": f"tflite-edge {__version__}",
            "summary": _summary(results),
            "models": [_model_section(Figure, c, images) for c in results.conversions],
            "memory": (
                _memory_section(Figure, list(results.flashes), images) if results.flashes else None
            ),
            "latency": [_latency_section(Figure, f, images) for f in results.flashes],
            "validations": [_validation_section(v) for v in results.validations],
        }

    if rc is None:
        return build()
    with rc:
        # rcdefaults inside the context: a user's matplotlibrc or style must not change pixels;
        # the context restores their settings afterwards.
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_RC)
        return build()


# ----------------------------------------------------------------------------------------------
# Rendering and writing


def _md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks, no raw HTML."""
    text = " ".join(str(value).split())
    for ch in "\\|<>`*[]":
        text = text.replace(ch, "\\" + ch)
    return text


def _environment(format: str):
    import jinja2

    from .resources import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "report")),
        autoescape=format == "html",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _md_cell
    return env


def render_report(results: Any, *, format: str = "html", title: str | None = None) -> str:
    """The report as text: self-contained HTML (plots embedded) or Markdown (tables only)."""
    if format not in FORMATS:
        raise TFLiteEdgeError(
            f"report format should be one of {', '.join(FORMATS)} but is {format!r}"
        )
    checked = load_results(results)
    if not checked:
        raise ResultsError(
            "no result documents to report; pass the JSON written by `tflite-edge convert/flash/"
            "validate --json`",
            source="results",
        )
    context = _context(checked, title=title, images=format == "html")
    template = _environment(format).get_template(f"report.{format}.j2")
    return template.render(**context)


def report(
    results: Any, *, out: str | os.PathLike, format: str = "html", title: str | None = None
) -> Path:
    """Write the report of result documents (paths, dicts) to `out`, atomically; return its path."""
    out = Path(out)
    if out.is_dir():
        raise TFLiteEdgeError(
            f"report output {out} is a directory; name a file, e.g. {out / ('report.' + format)}"
        )
    text = render_report(results, format=format, title=title)
    # Everything is rendered before the first byte is written: bad input leaves no file.
    return write_atomic(out, text, parents=True)
