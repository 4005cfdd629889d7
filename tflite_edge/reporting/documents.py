"""Reading result documents for a report: files, dicts and lists of them, checked by kind.

What each kind of document holds, and how it is checked, is declared once in
tflite_edge.results (`describe()` prints it); this module finds the documents and files them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import KINDS, Checked, ResultsError, describe_value, read_document

_DICT_SOURCE = "results"  # how a document passed as a dict is named in messages: results[0]


@dataclass(frozen=True)
class Results:
    """Every checked document of a report, by kind, in the order given."""

    conversions: tuple[Checked, ...] = ()
    flashes: tuple[Checked, ...] = ()
    validations: tuple[Checked, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.conversions or self.flashes or self.validations)


def file_source(source: str) -> str | None:
    """The file a document came from; dicts passed in Python have no file worth naming."""
    return None if re.fullmatch(rf"{_DICT_SOURCE}\[\d+\]", source) else source


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
                    f"{describe_value(doc)}",
                    source=doc_source,
                )
            kind, checked = read_document(doc, doc_source)
            by_kind[kind].append(checked)
    return Results(
        conversions=tuple(by_kind["conversion"]),
        flashes=tuple(by_kind["flash"]),
        validations=tuple(by_kind["validation"]),
    )
