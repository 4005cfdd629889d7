"""A monitoring session: what a board said, filed by record kind, and its latency figures."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TFLiteEdgeError
from .records import Garbled, Record


@dataclass
class Session:
    """What a board said during one monitor: hello, timed runs, layers, outputs, results."""

    port: str = ""
    hello: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    outs: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    garbled: list[Garbled] = field(default_factory=list)
    resets: int = 0  # hello lines after the first: the board rebooted while we listened

    def add(self, record: Record) -> None:
        """File one record; a `hello` after measurements means a reset and starts afresh."""
        kind, f = record.kind, dict(record.fields)
        if kind == "hello":
            if self.hello or self.runs or self.layers or self.outs or self.done:
                self.resets += 1
            self.hello = f
            self.runs, self.layers, self.outs, self.done = [], [], [], None
            self.results, self.errors = [], []
        elif kind == "run":
            self.runs.append(f)
        elif kind == "layer":
            self.layers.append(f)
        elif kind == "out":
            self.outs.append(f)
        elif kind == "done":
            self.done = f
        elif kind == "result":
            self.results.append(f)
        elif kind == "error":
            self.errors.append(f)

    @classmethod
    def from_records(cls, records: Iterable[Record | Garbled], port: str = "") -> Session:
        """A session built from records (and garbled lines) in the order they arrived."""
        session = cls(port=port)
        for item in records:
            if isinstance(item, Garbled):
                session.garbled.append(item)
            else:
                session.add(item)
        return session

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Session:
        """A session read back from a JSONL record log written by `read_records`."""
        items: list[Record | Garbled] = []
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise TFLiteEdgeError(f"cannot read the record log {path}: {err}") from err
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                if doc["kind"] == "garbled":
                    items.append(Garbled(doc["raw"], doc["reason"], doc.get("record_kind")))
                else:
                    items.append(Record.from_dict(doc))
            except (ValueError, KeyError, TypeError) as err:
                raise TFLiteEdgeError(
                    f"{path}:{n} is not a tflite-edge record log line ({err}); expected the "
                    "JSONL written by `tflite-edge monitor --out`"
                ) from err
        return cls.from_records(items, port=str(path))

    @property
    def clock_hz(self) -> int:
        """The board's nominal clock from its hello line (0 when unknown)."""
        return int(self.hello.get("clock_hz", 0) or 0)

    def latency(self) -> dict[str, Any]:
        """Run count and min/median/p90/max of the timed runs, in cycles and in us."""
        return {
            "runs": len(self.runs),
            "cycles": _stats([r["cycles"] for r in self.runs]),
            "us": _stats([r["us"] for r in self.runs if "us" in r]),
        }

    def layers_summary(self) -> list[dict[str, Any]]:
        """Per layer (by idx): op, runs seen, median cycles, share of the sum of the medians."""
        import numpy as np

        by_idx: dict[int, list[dict[str, Any]]] = {}
        for rec in self.layers:
            by_idx.setdefault(rec["idx"], []).append(rec)
        rows = []
        for idx in sorted(by_idx):
            recs = by_idx[idx]
            median = float(np.median([r["cycles"] for r in recs]))
            rows.append({"idx": idx, "op": recs[0]["op"], "runs": len(recs), "cycles": median})
        total = sum(r["cycles"] for r in rows)
        for row in rows:
            row["share"] = row["cycles"] / total if total else 0.0
        return rows

    @property
    def output_crc32(self) -> str | None:
        """The CRC32 of the output when every timed run agrees on it, else None."""
        crcs = {o["crc32"] for o in self.outs}
        return crcs.pop() if len(crcs) == 1 else None

    def table(self, emulated: bool | None = None) -> str:
        """A plain-text latency table: runs, min/median/p90/max in cycles and us, per layer.

        On emulated boards cycles are labelled as emulated instruction counts and us as an
        estimate at the board's nominal clock. `emulated=None` asks the board registry about
        the board named in the hello line.
        """
        if emulated is None:
            emulated = _board_is_emulated(self.hello.get("board"))
        lat = self.latency()
        h = self.hello
        head = (
            ", ".join(f"{k} {h[k]}" for k in ("board", "runtime", "kernels", "model") if k in h)
            or f"unknown board (no hello line from {self.port or 'the port'})"
        )
        lines = [f"{head}: {lat['runs']} timed runs"]
        if h.get("ram") is not None or h.get("flash") is not None:
            lines.append(f"ram {h.get('ram', '?')} bytes, flash {h.get('flash', '?')} bytes")
        if lat["runs"]:
            mhz = f"{self.clock_hz / 1e6:g} MHz" if self.clock_hz else "the nominal clock"
            cyc = "cycles (emulated instruction counts)" if emulated else "cycles"
            us = f"us (estimate at {mhz})" if emulated else "us"
            width = max(len(cyc), len(us))
            cols = ("min", "median", "p90", "max")
            lines.append(f"{'':<{width}}  " + "  ".join(f"{c:>12}" for c in cols))
            for label, stats in ((cyc, lat["cycles"]), (us, lat["us"])):
                if stats is not None:
                    lines.append(
                        f"{label:<{width}}  " + "  ".join(f"{_num(stats[c]):>12}" for c in cols)
                    )
        else:
            lines.append("no timed runs were reported")
        layers = self.layers_summary()
        if layers:
            lines.append(f"per layer (median of the runs{', emulated' if emulated else ''}):")
            op_w = max(len("op"), *(len(r["op"]) for r in layers))
            lines.append(f"  {'idx':>4}  {'op':<{op_w}}  {'cycles':>12}  {'share':>6}")
            for r in layers:
                lines.append(
                    f"  {r['idx']:>4}  {r['op']:<{op_w}}  {_num(r['cycles']):>12}  "
                    f"{r['share']:>6.1%}"
                )
        if self.output_crc32:
            lines.append(f"output crc32 {self.output_crc32}")
        elif self.outs:
            lines.append(
                f"output crc32 differs between runs: {sorted({o['crc32'] for o in self.outs})}"
            )
        lines.extend(self.notes())
        return "\n".join(lines)

    def notes(self) -> list[str]:
        """Warnings a reader of the figures should see: resets, missing runs, garbled lines."""
        notes = []
        if self.resets:
            notes.append(
                f"note: the board reset {self.resets} time(s) while monitored; "
                "figures are from its last boot"
            )
        if self.done is not None and self.done.get("runs") != len(self.runs):
            notes.append(
                f"note: the board reported {self.done.get('runs')} runs but "
                f"{len(self.runs)} run lines arrived"
            )
        if self.garbled:
            notes.append(
                f"note: {len(self.garbled)} garbled TFLE line(s) ignored, the first: "
                f"{self.garbled[0].reason}"
            )
        return notes

    def to_dict(self) -> dict[str, Any]:
        """Everything in the session, plus latency and the layer summary, ready for JSON."""
        return {
            "port": self.port,
            "hello": self.hello,
            "emulated": _board_is_emulated(self.hello.get("board")),
            "latency": self.latency(),
            "layers_summary": self.layers_summary(),
            "output_crc32": self.output_crc32,
            "runs": self.runs,
            "layers": self.layers,
            "outs": self.outs,
            "done": self.done,
            "results": self.results,
            "errors": self.errors,
            "garbled": [asdict(g) for g in self.garbled],
            "resets": self.resets,
        }


def _stats(values: list[int]) -> dict[str, float | int] | None:
    if not values:
        return None
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    return {
        "min": int(min(values)),
        "median": float(np.median(a)),
        "p90": float(np.percentile(a, 90)),
        "max": int(max(values)),
    }


def _num(value: float | int) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _board_is_emulated(name: str | None) -> bool:
    if not name:
        return False
    try:
        from ..boards import get_board

        return get_board(name).emulated
    except TFLiteEdgeError:
        return False  # a board this install does not know: label nothing as emulated
