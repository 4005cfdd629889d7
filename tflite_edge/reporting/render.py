"""The report's context (small, flat, already computed) rendered through templates/report/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import TFLiteEdgeError
from ..files import write_atomic
from ..results import Checked, ResultsError
from .cells import (
    NONE,
    Table,
    facts_table,
    flash_label,
    fmt_int,
    fmt_kib,
    fmt_num,
    fmt_pct,
    fmt_us,
    make_table,
    md_cell,
    region,
    unit,
)
from .charts import RC, histogram, layers_chart, memory_chart, plots, size_accuracy_chart
from .documents import Results, file_source, load_results

FORMATS = ("html", "md")


def _variant(
    c: Checked, name: str, nbytes: int, accuracy: float | None, sparsity: float | None
) -> Checked:
    return Checked(
        c.source, {"name": name, "bytes": nbytes, "accuracy": accuracy, "sparsity": sparsity}
    )


def _variants(c: Checked) -> list[Checked]:
    if c.variants:
        return list(c.variants)
    out = []
    if c.float_bytes is not None:
        out.append(_variant(c, "float", c.float_bytes, c.float_accuracy, None))
    out.append(_variant(c, "int8", c.tflite_bytes, c.int8_accuracy, c.sparsity))
    return out


def _model_section(Figure, c: Checked, images: bool) -> dict:
    variants = _variants(c)
    base = next((v.bytes for v in variants if v.name == "float"), c.float_bytes)
    rows = []
    for v in variants:
        ratio = f"{v.bytes / base:.1%}" if base else NONE
        rows.append(
            [
                v.name,
                fmt_int(v.bytes),
                fmt_kib(v.bytes),
                ratio,
                fmt_pct(v.accuracy),
                fmt_pct(v.sparsity),
            ]
        )
    facts = [
        ("float accuracy", fmt_pct(c.float_accuracy)),
        ("int8 accuracy (host)", fmt_pct(c.int8_accuracy)),
        ("int8 weight sparsity", fmt_pct(c.sparsity)),
        ("float bytes", fmt_int(c.float_bytes)),
        (".tflite bytes", fmt_int(c.tflite_bytes)),
        ("TFLM arena bytes", fmt_int(c.arena_bytes)),
    ]
    if c.ops:
        facts.append(("ops", ", ".join(c.ops)))
    return {
        "heading": f"Model: {c.model}" if c.model else "Model",
        "source": file_source(c.source),
        "variants": make_table(
            ["variant", "bytes", "KiB", "of float", "accuracy", "sparsity"],
            rows,
            [False, True, True, True, True, True],
        ),
        "facts": facts_table(facts),
        "chart": size_accuracy_chart(Figure, variants) if images else None,
    }


def _memory_section(Figure, flashes: list[Checked], images: bool) -> dict | None:
    rows = []
    for f in flashes:
        a = f.tflm_arena
        ratio = NONE
        if a is not None and f.ram_bytes is not None and a.total:
            ratio = f"{f.ram_bytes / a.total:.2f}"
        rows.append(
            [
                f.board,
                f.runtime,
                fmt_int(f.flash_bytes),
                fmt_int(f.ram_bytes),
                fmt_int(a.total if a else None),
                fmt_int(a.head if a else None),
                fmt_int(a.tail if a else None),
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
        srows = [[name, fmt_int(b), fmt_kib(b), region(name)] for name, b in f.sections]
        flash_total = sum(b for n, b in f.sections if region(n) in ("flash", "flash + RAM"))
        ram_total = sum(b for n, b in f.sections if region(n) in ("RAM", "flash + RAM"))
        srows += [
            ["flash total", fmt_int(flash_total), fmt_kib(flash_total), ""],
            ["RAM total", fmt_int(ram_total), fmt_kib(ram_total), ""],
        ]
        section_tables.append(
            {
                "heading": f"Image sections: {flash_label(f)}",
                "table": make_table(
                    ["section", "bytes", "KiB", "region"], srows, [False, True, True, False]
                ),
            }
        )
    return {
        "runtime": make_table(
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
        "chart": memory_chart(Figure, flashes) if images else None,
    }


def _latency_section(Figure, f: Checked, images: bool) -> dict:
    cycles_label, us_label = unit(f)
    us = f.us
    rows = []
    for name in ("min", "median", "p90", "max"):
        rows.append(
            [name, fmt_int(getattr(f.cycles, name)), fmt_us(getattr(us, name)) if us else NONE]
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
        ("runs", fmt_int(f.runs)),
        ("emulated", "yes" if f.emulated else "no"),
    ]
    if f.model_sha256:
        facts.append(("model sha256", f.model_sha256))
    if f.output_crc32:
        facts.append(("output crc32", f.output_crc32))
    layers = None
    if f.layers:
        total = sum(layer.cycles for layer in f.layers)
        layers = make_table(
            ["idx", "op", cycles_label, "share"],
            [
                [
                    str(layer.idx),
                    layer.op,
                    fmt_int(layer.cycles),
                    f"{layer.cycles / total:.1%}" if total else NONE,
                ]
                for layer in f.layers
            ],
            [True, False, True, True],
        )
    return {
        "heading": f"Latency: {flash_label(f)}",
        "source": file_source(f.source),
        "note": note,
        "facts": facts_table(facts),
        "table": make_table(["", cycles_label, us_label], rows, [False, True, True]),
        "histogram": histogram(Figure, f) if images and f.cycles_all else None,
        "layers": layers,
        "layers_chart": layers_chart(Figure, f) if images and f.layers else None,
    }


def _validation_section(v: Checked) -> dict:
    where = " ".join(x for x in (v.board, v.runtime) if x)
    facts = [
        ("samples", fmt_int(v.samples)),
        (
            "bit-exact with the TFLM interpreter",
            f"{fmt_int(v.bit_exact)} of {fmt_int(v.samples)} ({fmt_pct(v.bit_exact_share)})",
        ),
        ("max |board − interpreter|", fmt_num(v.max_abs_diff)),
        ("on-device accuracy", fmt_pct(v.accuracy)),
        ("int8 accuracy on the host", fmt_pct(v.int8_host_accuracy)),
        ("float model accuracy", fmt_pct(v.float_accuracy)),
    ]
    return {
        "heading": f"Validation: {where}" if where else "Validation",
        "source": file_source(v.source),
        "facts": facts_table(facts),
    }


def _summary(results: Results) -> Table:
    pairs: list[tuple[str, str]] = []
    if results.conversions:
        c = results.conversions[-1]
        pairs += [
            ("float accuracy", fmt_pct(c.float_accuracy)),
            ("int8 accuracy (host)", fmt_pct(c.int8_accuracy)),
            (".tflite bytes", fmt_int(c.tflite_bytes)),
        ]
    for v in results.validations:
        where = " ".join(x for x in (v.board, v.runtime) if x) or "board"
        pairs.append((f"on-device accuracy ({where})", fmt_pct(v.accuracy)))
        pairs.append((f"bit-exact ({where})", fmt_pct(v.bit_exact_share)))
    for f in results.flashes:
        pairs.append(
            (
                f"flash / RAM bytes ({flash_label(f)})",
                f"{fmt_int(f.flash_bytes)} / {fmt_int(f.ram_bytes)}",
            )
        )
        unit = "instructions (emulated)" if f.emulated else "cycles"
        latency = f"{fmt_int(f.cycles.median)} {unit}"
        if f.us is not None:
            latency += f", {fmt_us(f.us.median)} µs" + (" (estimate)" if f.emulated else "")
        pairs.append((f"median latency ({flash_label(f)})", latency))
    return facts_table(pairs)


def _context(results: Results, *, title: str | None, images: bool) -> dict:
    from .. import __version__

    Figure = None
    rc = None
    if images:
        matplotlib, Figure = plots()
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
        matplotlib.rcParams.update(RC)
        return build()


def _environment(format: str):
    import jinja2

    from ..resources import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "report")),
        autoescape=format == "html",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_cell
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
