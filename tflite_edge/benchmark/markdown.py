"""BENCHMARKS.md: the documents of one run as tables, through templates/bench/BENCHMARKS.md.j2.

This module turns figures into finished table cells; the template holds the text around them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import DataError
from .documents import load_results, write_text
from .plan import (
    COMPRESSION_BOARD,
    PUBLISHED_SOURCE,
    PUBLISHED_STACKS,
    SAME_BOARD_RUNTIMES,
    TABLES,
)

TEMPLATE = "BENCHMARKS.md.j2"


def _n(v: Any, digits: int = 0) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.{digits}f}"


def _pct(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f} %"


def _table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> dict:
    """A table for the template: header cells, alignment row, rows of cells (default: every
    column but the first right-aligned)."""
    right = right if right is not None else set(range(1, len(headers)))
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    return {"headers": headers, "align": align, "rows": rows}


def _cell(value: Any) -> str:
    """A body cell: a pipe in a name must not start a new column."""
    return str(value).replace("|", "\\|")


def _header(run: dict[str, Any] | None) -> dict[str, Any]:
    m = (run or {}).get("machine", {})
    qemu = m.get("qemu") or "qemu-system-arm (version unknown)"
    det = (run or {}).get("determinism")
    if det is not None:
        listed = "; ".join(
            f"{d['table']}/{d['row']} {d['field']}: {d['before']} -> {d['now']}"
            for d in det.get("differences", [])[:10]
        )
        det = {
            "compared": det.get("compared"),
            "differences": det.get("differences"),
            "listed": listed,
        }
    wall = run.get("wall_seconds") if run else None
    return {
        "machine": {
            "cpus": m.get("cpus", "?"),
            "arch": m.get("machine", ""),
            "cpu_model": m.get("cpu_model", "unknown CPU"),
            "system": m.get("system", ""),
            "qemu": re.sub(r"^QEMU emulator version ", "QEMU ", qemu).split(" (")[0],
            "arm_gcc": m.get("arm_gcc") or "arm-none-eabi-gcc",
            "gcc": m.get("gcc") or "gcc",
            "tensorflow": m.get("tensorflow") or "?",
            "tflite_micro": m.get("tflite_micro") or "?",
            "valgrind": m.get("valgrind") or "Valgrind not installed",
        },
        "tflm_tree": None
        if not (run or {}).get("tflm_dir")
        else {"dir": run["tflm_dir"], "sha256": (run.get("tflm_tree_sha256") or "?")[:12]},
        "wall_minutes": None if wall is None else f"{wall / 60:.1f}",
        "smoke": bool(run and run.get("smoke")),
        "determinism": det,
    }


def _emulated(rows: list[dict]) -> dict | None:
    if not rows:
        return None
    table = []
    for d in rows:
        i = d["instructions"]
        table.append([
            d["board"], f"`{d['model']}`", _n(d["macs"]), _n(i["median"]),
            _n(d["instructions_per_mac"], 2), _n(d["aot_ram_bytes"]),
            f"{_n(d['tflm_arena']['total'])} / {_n(d['tflm_arena']['activations'])}",
            f"{_n(d['ram_ratio'], 2)} / {_n(d['ram_ratio_activations'], 2)}",
            _n(d["weight_bytes"]), _n(d["code_bytes"]), _n(d["image_flash_bytes"]),
            _n(d["bit_exact"]),
        ])  # fmt: skip
    headers = [
        "board",
        "model",
        "MACs",
        "instructions / inference",
        "instr. / MAC",
        "AOT RAM (B)",
        "TFLM arena total / activations (B)",
        "AOT RAM / TFLM total / activations",
        "weights (B)",
        "code (B)",
        "image flash (B)",
        "output = TFLM",
    ]
    published = None
    with_published = [d for d in rows if d.get("published_ms")]
    if with_published:
        ptable = []
        for d in with_published:
            p = d["published_ms"]
            ptable.append([
                f"`{d['model']}`", d["board"], _n(d["instructions"]["median"]),
                _n(d["estimate_ms_at_120mhz"], 2),
                *[_n(p.get(s), 2) for s in PUBLISHED_STACKS],
            ])  # fmt: skip
        pheaders = [
            "model",
            "our board",
            "our instructions",
            "our estimate at 120 MHz (ms)",
            *[f"{s} (ms, published)" for s in PUBLISHED_STACKS],
        ]
        published = _table(pheaders, ptable, right=set(range(2, 4 + len(PUBLISHED_STACKS))))
    return {"table": _table(headers, table, right=set(range(2, 12))), "published": published}


def _dotted(doc: dict[str, Any], field: str) -> Any:
    for part in field.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def _failure(message: str) -> str:
    """A build or run failure in one line: its first line, and the first compiler error."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "failed"
    error = next((line for line in lines[1:] if re.search(r"\berror\b", line)), None)
    return lines[0] + (f" (`{error}`)" if error else "")


def _same_board(rows: list[dict], run: dict[str, Any] | None) -> dict | None:
    """The same-board table; without rows, None, or `skipped` when the run had no TFLM tree."""
    if not rows:
        skipped = run is not None and "tflm_dir" in run and run["tflm_dir"] is None
        return {"skipped": True} if skipped else None
    keys = [key for key, *_ in SAME_BOARD_RUNTIMES]
    labels = [label for *_, label in SAME_BOARD_RUNTIMES]
    table, failures = [], []
    for d in rows:
        per = [d.get(k) or {} for k in keys]

        def cells(field: str, digits: int = 0, per: list[dict] = per) -> list[str]:
            """One cell per runtime: its figure (field, dotted), or `failed`."""
            return ["failed" if r.get("error") else _n(_dotted(r, field), digits) for r in per]

        failures += [
            f"{d['board']} `{d['model']}`, {label}: {_failure(r['error'])}"
            for label, r in zip(labels, per, strict=True)
            if r.get("error")
        ]
        table.append([
            f"`{d['model']}`", d["board"], _n(d["macs"]),
            *cells("instructions.median"),
            *cells("instructions_per_mac", 2),
            *[_n((d.get("ratios") or {}).get(k), 2) for k in keys[1:]],
            *cells("image_flash_bytes"), *cells("image_ram_bytes"), *cells("device_ram_bytes"),
            _n(d.get("crc_equal")), _n(d.get("crc_equals_interpreter")),
        ])  # fmt: skip
    ram = [
        "AOT plan RAM (B)" if kernels is None else f"{label} arena used (B)"
        for _key, _runtime, kernels, label in SAME_BOARD_RUNTIMES
    ]
    headers = [
        "model",
        "board",
        "MACs",
        *[f"{label} instructions" for label in labels],
        *[f"{label} instr. / MAC" for label in labels],
        *[f"{label} / {labels[0]}" for label in labels[1:]],
        *[f"{label} image flash (B)" for label in labels],
        *[f"{label} image RAM (B)" for label in labels],
        *ram,
        "CRC32 equal",
        "= TFLM interpreter",
    ]
    return {
        "table": _table(headers, table, right=set(range(2, len(headers)))),
        "failures": failures,
        "skipped": False,
    }


def _host(rows: list[dict]) -> dict | None:
    if not rows:
        return None
    table = []
    for d in rows:
        vg = d.get("valgrind") or {}
        ratio = vg["tflm"] / vg["aot"] if vg.get("aot") else None
        table.append([
            f"`{d['model']}`", _n(d["runs"]), _n(d["aot_median_us"], 2),
            _n(d["tflm_median_us"], 2), _n(d["speedup"], 2), _n(vg.get("aot")),
            _n(vg.get("tflm")), _n(ratio, 2), _n(d["outputs_equal"]),
        ])  # fmt: skip
    headers = [
        "model",
        "runs",
        "AOT median (µs)",
        "TFLM median (µs)",
        "TFLM / AOT time",
        "AOT instructions (Valgrind)",
        "TFLM instructions (Valgrind)",
        "TFLM / AOT instructions",
        "outputs equal",
    ]
    notes = sorted({d["valgrind_note"] for d in rows if d.get("valgrind_note")})
    return {"table": _table(headers, table), "valgrind_notes": notes}


def _compression(rows: list[dict]) -> dict | None:
    if not rows:
        return None
    board = next((d.get("board") for d in rows if d.get("board")), COMPRESSION_BOARD)
    table = []
    for d in sorted(rows, key=lambda r: r.get("order", 0)):
        dense, sparse = d.get("dense") or {}, d.get("sparse") or {}
        table.append([
            d["label"], _pct(d.get("accuracy")), _pct(d.get("sparsity")), _n(d["tflite_bytes"]),
            _n(dense.get("flash_bytes")), _n(sparse.get("flash_bytes")),
            _n(dense.get("instructions")), _n(sparse.get("instructions")),
        ])  # fmt: skip
    headers = [
        "variant",
        "accuracy (test)",
        "weight sparsity",
        ".tflite (B)",
        "dense AOT flash (B)",
        "sparse AOT flash (B)",
        f"dense instructions ({board})",
        f"sparse instructions ({board})",
    ]
    tests = next((d.get("test_samples") for d in rows if d.get("test_samples")), None)
    return {"table": _table(headers, table), "board": board, "test_samples": tests or "?"}


def _pipeline(rows: list[dict]) -> dict | None:
    if not rows:
        return None
    d = rows[0]
    table = [[s["stage"], s["what"], _n(s["seconds"], 1)] for s in d["stages"]]
    table.append(["**total**", "", _n(d["total_seconds"], 1)])
    return {
        "table": _table(["stage", "what", "wall time (s)"], table, right={2}),
        "model": d["model"],
        "board": d["board"],
    }


def _environment():
    import jinja2

    from ..resources import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "bench")),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    return env


def render_markdown(docs: Iterable[dict[str, Any]]) -> str:
    """BENCHMARKS.md from the result documents of one run (see `load_results`)."""
    docs = list(docs)
    by = {t: [d for d in docs if d.get("table") == t] for t in (*TABLES, "run")}
    run = by["run"][0] if by["run"] else None
    board_order = {b: i for i, b in enumerate((run or {}).get("boards", []))}
    emulated = sorted(
        by["emulated"],
        key=lambda d: (d["model"] == "digits_demo", d["model"], board_order.get(d["board"], 99)),
    )
    same_board = sorted(
        by["same_board"],
        key=lambda d: (d["model"] == "digits_demo", d["model"], board_order.get(d["board"], 99)),
    )
    host = sorted(by["host"], key=lambda d: (d["model"] == "digits_demo", d["model"]))
    context = {
        **_header(run),
        "published_source": PUBLISHED_SOURCE,
        "emulated": _emulated(emulated),
        "same_board": _same_board(same_board, run),
        "host": _host(host),
        "compression": _compression(by["compression"]),
        "pipeline": _pipeline(by["pipeline"]),
    }
    return _environment().get_template(TEMPLATE).render(**context)


def write_markdown(out_dir: str | Path, markdown: str | Path) -> Path:
    """Regenerate the Markdown file from the JSON results in out_dir."""
    docs = load_results(out_dir)
    if not docs:
        raise DataError(f"no benchmark results in {str(out_dir)!r}; run `tflite-edge bench` first")
    return write_text(Path(markdown), render_markdown(docs))
