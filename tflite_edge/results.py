"""The result documents that flash, validate and bench write and report reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .builder import BuildResult
from .files import write_json


@dataclass
class FlashResult:
    """What a board reported after flashing: hello, timed runs, layers, output CRC32."""

    board: str
    runtime: str
    model_name: str
    model_sha256: str
    emulated: bool
    cycles_unit: str  # what `cycles` counts on this board
    session: Any  # tflite_edge.protocol.Session
    port: str
    build: BuildResult | None = None
    project_dir: Path | None = None
    tflm_crc32: str | None = None  # the TFLM interpreter's output CRC32 on the same input
    tflm_arena: dict[str, int] | None = None  # TFLM's arena for the same model (total/head/tail)

    @property
    def matches_tflm(self) -> bool | None:
        """True when the board's output equals the TFLM interpreter's, byte for byte."""
        if self.tflm_crc32 is None or self.output_crc32 is None:
            return None
        return self.output_crc32 == self.tflm_crc32

    @property
    def runs(self) -> int:
        return len(self.session.runs)

    @property
    def output_crc32(self) -> str | None:
        return self.session.output_crc32

    @property
    def clock_hz(self) -> int:
        return self.session.clock_hz

    @property
    def ram_bytes(self) -> int | None:
        """The runtime's activation RAM, as the board reported it (AOT plan, TFLM arena)."""
        return self.session.hello.get("ram")

    @property
    def flash_bytes(self) -> int | None:
        """The runtime's constant bytes in flash, as the board reported them."""
        return self.session.hello.get("flash")

    def table(self) -> str:
        """The latency table read over serial, labelled for what the board's cycles are."""
        return self.session.table(emulated=self.emulated)

    def summary(self) -> str:
        """The model, the board, the image's memory use and the latency table."""
        lines = [
            f"{self.model_name} (sha256 {self.model_sha256[:12]}) on {self.board}, "
            f"runtime {self.runtime}, read from {self.port}"
        ]
        if self.build is not None:
            b = self.build
            lines.append(
                f"image: flash {b.flash_bytes:,} B"
                + (f" of {b.flash_budget:,}" if b.flash_budget else "")
                + f", RAM {b.ram_bytes:,} B"
                + (f" of {b.ram_budget:,}" if b.ram_budget else "")
            )
        lines.append(self.table())
        if self.matches_tflm is not None:
            lines.append(
                "the board's output "
                + ("equals" if self.matches_tflm else f"DIFFERS from (crc32 {self.tflm_crc32})")
                + " the TFLM interpreter's on the same input"
            )
        lines.append(
            f"cycles are {self.cycles_unit}"
            + (
                f"; us are an estimate at the board's nominal {self.clock_hz / 1e6:g} MHz, "
                "one instruction per cycle"
                if self.emulated and self.clock_hz
                else ""
            )
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `tflite-edge flash --json` (DESIGN.md)."""
        s = self.session
        lat = s.latency()
        b = self.build
        return {
            "board": self.board,
            "runtime": self.runtime,
            "model": self.model_name,
            "model_sha256": self.model_sha256,
            "runs": lat["runs"],
            "emulated": self.emulated,
            "cycles_unit": self.cycles_unit,
            "clock_hz": s.clock_hz,
            "cycles": lat["cycles"],
            "us": lat["us"],
            "cycles_all": [r["cycles"] for r in s.runs],
            "us_all": [r["us"] for r in s.runs if "us" in r],
            "ram_bytes": self.ram_bytes,
            "flash_bytes": self.flash_bytes,
            "image_flash_bytes": b.flash_bytes if b else None,
            "image_ram_bytes": b.ram_bytes if b else None,
            "sections": dict(b.sections) if b else {},
            "layers": [
                {"i": r["i"], "idx": r["idx"], "op": r["op"], "cycles": r["cycles"]}
                for r in s.layers
            ],
            "output_crc32": self.output_crc32,
            "tflm_output_crc32": self.tflm_crc32,
            "output_matches_tflm": self.matches_tflm,
            "tflm_arena": self.tflm_arena,
            "port": self.port,
            "notes": s.notes(),
        }

    def save(self, path: str | Path) -> Path:
        """Write to_dict() as JSON (atomically) and return the path."""
        return write_json(path, self.to_dict())


@dataclass
class ValidationResult:
    """What the board answered, compared with TFLM and the labels."""

    board: str
    runtime: str
    model_sha256: str
    samples: int
    bit_exact: int
    bit_exact_share: float
    max_abs_diff: int
    mismatches: list[int] = field(default_factory=list)
    accuracy: float | None = None  # on-device, against the labels
    int8_host_accuracy: float | None = None  # TFLM on the host, same inputs and labels
    float_accuracy: float | None = None  # the Keras model, when given

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `tflite-edge validate --json` (kind = validation)."""
        return {"kind": "validation", **asdict(self)}

    def summary(self) -> str:
        """A short readable table."""
        rows = [
            ("board / runtime", f"{self.board} / {self.runtime}"),
            ("samples", str(self.samples)),
            ("bit-exact with TFLM", f"{self.bit_exact} ({self.bit_exact_share:.1%})"),
            ("max |board - TFLM|", str(self.max_abs_diff)),
        ]
        if self.float_accuracy is not None:
            rows.append(("float accuracy (Keras)", f"{self.float_accuracy:.2%}"))
        if self.int8_host_accuracy is not None:
            rows.append(("int8 accuracy (TFLM, host)", f"{self.int8_host_accuracy:.2%}"))
        if self.accuracy is not None:
            rows.append(("int8 accuracy (on device)", f"{self.accuracy:.2%}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def save(self, path: str | Path) -> Path:
        """Write the JSON document atomically."""
        return write_json(path, self.to_dict())
