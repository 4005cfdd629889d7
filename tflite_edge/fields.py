"""Typed fields of the JSON result documents: `Field`, `Schema` and the reader that checks a
document against them (`results.py` declares the documents with them).

"int" means a non-negative JSON integer, "number" a non-negative integer or float,
"fraction" a number in [0, 1]; dicts passed from Python may hold numpy scalars and 1-D arrays
where numbers and lists are expected. A key of the wrong type is a `ResultsError` naming the
document and the key.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import DataError


class ResultsError(DataError):
    """A result document that is missing, not JSON, or has a key of the wrong type."""

    def __init__(self, message: str, *, source: str, key: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.key = key


# ----------------------------------------------------------------------------------------------
# Typed access to one JSON object; every failure names the document and the key


_MISSING = object()


class _Reader:
    """Typed access to one JSON object; every failure names the document and the key."""

    def __init__(self, data: Mapping, source: str, prefix: str = "") -> None:
        self.data = data
        self.source = source
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, expected: str, found: Any = _MISSING) -> NoReturn:
        what = "is missing" if found is _MISSING else f"is {describe_value(found)}"
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

    def int_map(self, key: str) -> tuple[tuple[str, int], ...]:
        sub = self.obj(key)
        pairs: tuple[tuple[str, int], ...] = ()
        if sub is None:
            return pairs
        for name, value in sub.data.items():
            nbytes = _as_int(value)
            if nbytes is None:
                # section names start with a dot: name them in brackets, not after one
                self.fail(f"{key}[{json.dumps(str(name))}]", "a non-negative integer", value)
            pairs += ((str(name), nbytes),)
        return pairs


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


def describe_value(value: Any) -> str:
    """A JSON value as a message shows it: its kind and (the start of) its text."""
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


# ----------------------------------------------------------------------------------------------
# Value types and fields


class Checked:
    """A checked document (or an object inside one): its values by key, read as attributes."""

    __slots__ = ("source", "_values")

    def __init__(self, source: str, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("a checked document is read-only")

    def __repr__(self) -> str:
        return f"Checked({self.source!r}, {self._values!r})"

    def replace(self, **changes: Any) -> Checked:
        """A copy with some values changed (derived values, defaults filled in)."""
        return Checked(self.source, {**self._values, **changes})


@dataclass(frozen=True)
class ValueType:
    """How a value of one type is documented (`label`) and read (`read(reader, key, required)`)."""

    label: str
    read: Callable[[_Reader, str, bool], Any]


def _scalar(label: str, method: str, **kw: Any) -> ValueType:
    return ValueType(
        label, lambda r, key, required: getattr(r, method)(key, required=required, **kw)
    )


def _series(label: str, method: str) -> ValueType:
    return ValueType(label, lambda r, key, required: getattr(r, method)(key))


TEXT = _scalar("str", "text")
INT = _scalar("int", "integer")
NUMBER = _scalar("number", "number")
FRACTION = _scalar("fraction", "number", fraction=True)
FLAG = _scalar("bool", "flag")
INTS = _series("[int]", "ints")
NUMBERS = _series("[number]", "numbers")
STRS = _series("[str]", "strs")
INT_MAP = _series("{name: int}", "int_map")


def obj(*fields: Field) -> ValueType:
    """An object with the given fields (a Checked when present, else None)."""

    def read(r: _Reader, key: str, required: bool) -> Checked | None:
        sub = r.obj(key, required=required)
        return None if sub is None else read_fields(sub, fields)

    return ValueType("{" + ", ".join(f.key for f in fields) + "}", read)


def items(*fields: Field) -> ValueType:
    """A list of objects with the given fields (a tuple of Checked, empty when absent)."""

    def read(r: _Reader, key: str, required: bool) -> tuple[Checked, ...]:
        return tuple(read_fields(item, fields) for item in r.items(key))

    return ValueType("[{" + ", ".join(f.key for f in fields) + "}]", read)


OWN = "own"  # Field.write: the stage's result object has an attribute of the key's name


@dataclass(frozen=True)
class Field:
    """One key of a document: its type, meaning, whether required, how it is written and read.

    `write` takes the stage's result object (FlashResult, ValidationResult) and returns the
    value (OWN: its attribute of the same name; None: the stage does not write the key).
    `read=False` declares a key the report does not check. `check(value, values, reader)`
    checks a value against the keys read before it (`reader.fail` to refuse it).
    """

    key: str
    type: ValueType
    doc: str = ""
    required: bool = False
    write: Callable[[Any], Any] | str | None = None
    read: bool = True
    check: Callable[[Any, dict[str, Any], _Reader], None] | None = None


def read_fields(r: _Reader, fields: tuple[Field, ...]) -> Checked:
    """The checked values of `fields` in r's object, in the order they are declared."""
    values: dict[str, Any] = {}
    for f in fields:
        if not f.read:
            continue
        value = f.type.read(r, f.key, f.required)
        if f.check is not None:
            f.check(value, values, r)
        values[f.key] = value
    return Checked(r.source, values)


@dataclass(frozen=True)
class Schema:
    """One kind of document: its fields, how it is recognised without a kind, derived values."""

    kind: str
    fields: tuple[Field, ...]
    recognise: Callable[[Mapping], bool]
    writes_kind: bool = False  # whether the stage's to_dict() starts with "kind"
    finish: Callable[[Checked], Checked] | None = None  # derived values, once all are checked

    def write(self, result: Any) -> dict[str, Any]:
        """The document of a stage's result object, key by key as declared."""
        doc: dict[str, Any] = {"kind": self.kind} if self.writes_kind else {}
        for f in self.fields:
            if f.write == OWN:
                doc[f.key] = getattr(result, f.key)
            elif f.write is not None:
                doc[f.key] = f.write(result)
        return doc

    def read(self, data: Mapping, source: str) -> Checked:
        """The checked document (ResultsError naming the key that is wrong)."""
        checked = read_fields(_Reader(data, source), self.fields)
        return self.finish(checked) if self.finish is not None else checked


# ----------------------------------------------------------------------------------------------
# The documents
