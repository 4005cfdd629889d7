"""The report's plots: matplotlib figures with fixed settings, as embedded PNG images."""

from __future__ import annotations

import base64
import io

from ..results import Checked
from .cells import Image, flash_label, fmt_int, fmt_pct, region, short, unit

# Fixed matplotlib settings so the PNG bytes depend only on the data (and matplotlib's version),
# not on a user's matplotlibrc. parse_math is off so a "$" in a board name is text, not TeX.
RC = {
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
COLORS = (
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


def plots():
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


def size_accuracy_chart(Figure, variants: list[Checked]) -> Image:
    """Size and accuracy of each variant of the model, side by side."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax_size, ax_acc = fig.subplots(1, 2)
    names = [v.name for v in variants]
    x = list(range(len(variants)))
    colors = [COLORS[i % len(COLORS)] for i in x]
    kib = [v.bytes / 1024 for v in variants]
    bars = ax_size.bar(x, kib, color=colors)
    _annotate_bars(ax_size, bars, [f"{k:,.1f}" for k in kib])
    ax_size.set_title("Model size")
    _thousands(ax_size.yaxis)
    ax_size.set_ylabel("KiB")
    acc = [100 * v.accuracy if v.accuracy is not None else 0.0 for v in variants]
    bars = ax_acc.bar(x, acc, color=colors)
    _annotate_bars(ax_acc, bars, [fmt_pct(v.accuracy) for v in variants])
    ax_acc.set_title("Accuracy")
    ax_acc.set_ylabel("%")
    ax_acc.set_ylim(0, 105)
    for ax in (ax_size, ax_acc):
        ax.set_xticks(x, [short(n, 24) for n in names], rotation=15 if len(variants) > 3 else 0)
        ax.grid(axis="x", visible=False)
    return _png(fig, "model size and accuracy of each variant")


def _chart_label(f: Checked) -> str:
    return f"{short(f.board, 20)} {short(f.runtime, 8)}"


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
    ax.set_yticks(y, [short(label, 48) for label, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("KiB")
    ax.set_title(title)
    ax.margins(x=0.15)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def memory_chart(Figure, flashes: list[Checked]) -> Image | None:
    """Runtime RAM and flash (beside TFLM's arena), and the images by section; None if none."""
    runtime_rows: list[tuple[str, list[tuple[str, int]]]] = []
    for f in flashes:
        if f.ram_bytes is not None:
            runtime_rows.append((f"{_chart_label(f)} RAM", [("activation RAM", f.ram_bytes)]))
        if f.tflm_arena is not None:
            a = f.tflm_arena
            runtime_rows.append(
                (
                    f"{short(f.board, 20)} TFLM arena",
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
        flash = [(n, b) for n, b in f.sections if region(n) in ("flash", "flash + RAM")]
        ram = [(n, b) for n, b in f.sections if region(n) in ("RAM", "flash + RAM")]
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
    colors = {n: COLORS[i % len(COLORS)] for i, n in enumerate(names)}
    for ax, (rows, title) in zip(axes, panels, strict=True):
        _stacked_barh(ax, rows, colors, title)
        _thousands(ax.xaxis)
    return _png(fig, "flash and RAM by runtime and by section")


def histogram(Figure, f: Checked) -> Image:
    """The latency of every run, with its median."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    values = np.asarray(f.cycles_all, dtype=np.float64)
    fig = Figure(figsize=(7, 2.8), layout="constrained")
    ax = fig.subplots()
    title = f"Latency over {len(values)} runs: {flash_label(f)}"
    low, high = float(values.min()), float(values.max())
    if low == high:
        # -icount makes every emulated run count the same instructions: one bar, said plainly
        half = max(0.5, 0.002 * low)
        ax.bar([low], [len(values)], width=2 * half, color=COLORS[0])
        ax.set_xlim(low - 10 * half, low + 10 * half)
        title += " (every run the same)"
    else:
        bins = int(min(30, len(np.unique(values))))
        ax.hist(values, bins=bins, color=COLORS[0])
    ax.axvline(
        f.cycles.median,
        color=COLORS[3],
        linestyle="--",
        label=f"median {fmt_int(f.cycles.median)}",
    )
    ax.set_xlabel(unit(f)[0])
    ax.set_ylabel("runs")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(short(title, 90))
    _thousands(ax.xaxis)
    ax.legend(fontsize=8)
    return _png(fig, f"latency histogram, {flash_label(f)}")


def layers_chart(Figure, f: Checked) -> Image:
    """Per-layer latency, one bar per layer."""
    fig = Figure(figsize=(7, 1.0 + 0.22 * len(f.layers)), layout="constrained")
    ax = fig.subplots()
    labels = [short(f"{layer.idx} {layer.op}") for layer in f.layers]
    y = list(range(len(f.layers)))
    ax.barh(y, [layer.cycles for layer in f.layers], color=COLORS[0])
    ax.set_yticks(y, labels, fontsize=7 if len(f.layers) > 30 else 8)
    ax.invert_yaxis()
    ax.set_xlabel(unit(f)[0])
    _thousands(ax.xaxis)
    ax.grid(axis="y", visible=False)
    ax.set_title(short(f"Per layer: {flash_label(f)}", 80))
    return _png(fig, f"per-layer latency, {flash_label(f)}")
