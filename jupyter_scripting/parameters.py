"""Script parameters the papermill way (README, "Parameters").

A notebook's first cell tagged ``parameters`` declares the parameters and their defaults
(``name = "World"``, ``count: int = 3  # how many``). A run takes values for them from
the request: the JSON body's top-level keys, form fields, the query string (see
``values_of``). The values are checked against the types that the annotations and the
defaults give (as papermill's ``inspect_notebook`` infers them)
before any kernel starts, then injected in a new cell tagged ``injected-parameters``
right after the ``parameters`` cell, and recorded in the executed notebook's
``metadata.papermill.parameters``, exactly as papermill does: a papermill notebook runs
unchanged, and ``request`` stays available beside them.

Per script, ``parameters`` is ``"strict"`` (unknown names are refused), ``"lenient"``
(papermill's own way: unknown names are injected unchecked, those that are no Python
name left to ``request``), ``"off"`` (nothing is injected), or ``None``: strict when the
notebook has a ``parameters`` cell, else off.
"""

from __future__ import annotations

import ast
import json
import keyword
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .errors import BadRequest, InvalidParameters

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

#: JSON Schema types of the Python types an annotation or a default may name.
_JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "tuple": "array",
    "dict": "object",
    "None": "null",
    "NoneType": "null",
}


@dataclass(frozen=True)
class Parameter:
    """One name of a ``parameters`` cell."""

    name: str
    #: JSON Schema types the value may have (empty: any).
    types: tuple[str, ...]
    #: The Python annotation as written, if any.
    annotation: str | None
    #: The default's source text, and its value when it is a literal (else ``None``).
    default_source: str
    default: Any
    has_literal_default: bool
    help: str | None

    def schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema property."""
        prop: dict[str, Any] = {}
        if len(self.types) == 1:
            prop["type"] = self.types[0]
        elif self.types:
            prop["type"] = list(self.types)
        if self.has_literal_default and _json_ready(self.default):
            prop["default"] = self.default
        if self.help:
            prop["description"] = self.help
        prop["x-python"] = (
            f"{self.name}: {self.annotation} = {self.default_source}"
            if self.annotation
            else f"{self.name} = {self.default_source}"
        )
        return prop


def parameters_cell(nb: Any) -> int | None:
    """Index of the notebook's first code cell tagged ``parameters``, if any."""
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell):
            return index
    return None


def inspect(nb: Any) -> list[Parameter] | None:
    """The parameters the notebook declares, or None without a ``parameters`` cell.

    Top-level assignments to one name count (``a = 1``, ``b: int = 2``); a cell that is
    not valid Python declares none."""
    index = parameters_cell(nb)
    if index is None:
        return None
    source = _source(nb["cells"][index])
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, annotation = node.targets[0], None
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, annotation = node.target, node.annotation
        else:
            continue
        if not isinstance(target, ast.Name) or node.value is None:
            continue
        default_source = ast.get_source_segment(source, node.value) or ""
        try:
            default, literal = ast.literal_eval(node.value), True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            default, literal = None, False
        written = ast.get_source_segment(source, annotation) if annotation else None
        types = _types_of(annotation, default if literal else _UNKNOWN)
        found[target.id] = Parameter(
            name=target.id,
            types=types,
            annotation=written,
            default_source=default_source,
            default=default,
            has_literal_default=literal,
            help=_comment_after(lines, node),
        )
    return list(found.values())


def effective_mode(setting: str | None, declared: list[Parameter] | None) -> str:
    """The script's setting, or what ``None`` means for this notebook."""
    if setting is not None:
        return setting
    return "strict" if declared is not None else "off"


def schema(declared: list[Parameter] | None, mode: str, title: str) -> dict[str, Any]:
    """The parameters as a JSON Schema (2020-12) of the request's JSON body."""
    doc: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
    }
    if mode == "off":
        doc["description"] = "This script takes no parameters; the body is the script's."
        return doc
    doc["properties"] = {p.name: p.schema() for p in declared or []}
    doc["additionalProperties"] = mode == "lenient"
    doc["x-parameters"] = mode
    return doc


def values_of(
    declared: list[Parameter], mode: str, body: bytes, content_type: str | None, query: Any
) -> dict[str, Any]:
    """The request's values for the declared parameters, checked; ``InvalidParameters``
    lists every problem.

    Values come from the query string, then from the body, which wins: a JSON object (a
    JSON content type, or a form-encoded body that is one, as ``curl -d '{...}'`` sends
    it) or form fields. Text values (query and form) are read as the parameter's type:
    ``3``, ``true``, JSON for lists and objects. Another kind of body is the script's.
    Every value given is checked, also one the body overrides: a request that gives a
    wrong value anywhere is refused."""
    by_name = {p.name: p for p in declared}
    problems: list[dict[str, str]] = []
    given: list[tuple[str, Any, bool]] = [
        (name, values[-1], True) for name, values in _query(query).items() if values
    ]
    media = (content_type or "").split(";")[0].strip().lower()
    is_json = media == "application/json" or media.endswith("+json")
    form = media in ("", "application/x-www-form-urlencoded")
    if body.strip() and (is_json or (form and body.lstrip()[:1] == b"{")):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            if is_json:
                raise BadRequest(
                    "The body is not valid JSON (this script takes its parameters from it)."
                ) from None
            data = {}  # a form body that only looks like JSON: the script's
        if not isinstance(data, dict):  # null too
            raise InvalidParameters(
                [{"name": "(body)", "problem": "the JSON body must be an object of parameters"}]
            )
        given += [(name, value, False) for name, value in data.items()]
    elif body.strip() and media == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        given += [(name, values[-1], True) for name, values in fields.items() if values]
    values: dict[str, Any] = {}
    unknown: set[str] = set()
    for name, value, textual in given:
        parameter = by_name.get(name)
        if parameter is None:
            if mode == "strict":
                if name not in unknown:
                    unknown.add(name)
                    known = ", ".join(sorted(by_name)) or "none"
                    unknown_one = f"unknown parameter (this script takes: {known})"
                    problems.append({"name": name, "problem": unknown_one})
            elif name.isidentifier() and not keyword.iskeyword(name):
                # Lenient is papermill's way: an unknown name is injected as it came (a
                # text value stays text); one that is no Python name is left to request.
                values[name] = value
            continue
        if textual:
            value = _from_text(value, parameter.types)
        problem = _check(value, parameter.types)
        if problem:
            problems.append({"name": name, "problem": problem})
        else:
            values[name] = value
    if problems:
        raise InvalidParameters(problems)
    return values


def inject(nb: Any, values: Mapping[str, Any]) -> None:
    """Put ``values`` into the notebook as papermill does (in place): a new cell tagged
    ``injected-parameters`` replaces an earlier one or follows the ``parameters`` cell,
    and ``metadata.papermill.parameters`` records them."""
    import nbformat

    lines = ["# Parameters"] + [f"{name} = {_literal(value)}" for name, value in values.items()]
    cell = nbformat.v4.new_code_cell(source="\n".join(lines) + "\n")
    cell.metadata["tags"] = [INJECTED_TAG]
    cells = nb.cells
    injected = next((i for i, c in enumerate(cells) if INJECTED_TAG in _tags(c)), None)
    if injected is not None:
        cells[injected] = cell
    else:
        index = parameters_cell(nb)
        cells.insert(0 if index is None else index + 1, cell)
    nb.metadata.setdefault("papermill", {})["parameters"] = dict(values)


class Declarations:
    """The parameters of notebook texts inspected before: a version is immutable, so it
    is parsed for its parameters once, not on every run (least recently used out)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._seen: OrderedDict[str, list[Parameter] | None] = OrderedDict()

    def of(self, text: str) -> list[Parameter] | None:
        """``inspect`` of the notebook ``text`` (None: no parameters cell)."""
        if text in self._seen:
            self._seen.move_to_end(text)
            return self._seen[text]
        try:
            nb = json.loads(text)
        except ValueError:
            return None  # (stored versions are valid notebooks)
        declared = inspect(nb) if isinstance(nb, dict) else None
        self._seen[text] = declared
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return declared


# -- helpers ------------------------------------------------------------------------

_UNKNOWN = object()


def _tags(cell: Any) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return tags if isinstance(tags, list) else []


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _types_of(annotation: ast.expr | None, default: Any) -> tuple[str, ...]:
    """JSON Schema types from an annotation (``int``, ``list[str]``, ``int | None``,
    ``Optional[float]``, ``"str"``) or else from a literal default."""
    if annotation is not None:
        names = _annotation_names(annotation)
        if names is not None:
            types = []
            for name in names:
                json_type = _JSON_TYPES.get(name)
                if json_type is None:
                    return ()  # a type we cannot check: any value
                if json_type not in types:
                    types.append(json_type)
            if "number" in types and "integer" in types:
                types.remove("integer")
            return tuple(types)
        return ()
    if default is _UNKNOWN or default is None:
        return ()  # an expression, or None: any value
    json_type = _JSON_TYPES.get(type(default).__name__)
    return (json_type,) if json_type else ()


def _annotation_names(node: ast.expr) -> list[str] | None:
    """The type names a union annotation lists (their parameters dropped), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _annotation_names(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None
    if isinstance(node, ast.Constant) and node.value is None:
        return ["None"]
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):  # typing.List, t.Optional...
        return [node.attr]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _annotation_names(node.left), _annotation_names(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Subscript):
        outer = _annotation_names(node.value)
        if outer is None or len(outer) != 1:
            return None
        name = {"List": "list", "Dict": "dict", "Tuple": "tuple"}.get(outer[0], outer[0])
        if name in ("Optional", "Union"):
            inner = node.slice
            parts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
            names: list[str] = ["None"] if name == "Optional" else []
            for part in parts:
                found = _annotation_names(part)
                if found is None:
                    return None
                names += found
            return names
        return [name]
    return None


def _comment_after(lines: list[str], node: ast.stmt) -> str | None:
    """The ``# comment`` that ends the assignment's last line, as its help text."""
    if node.end_lineno is None or node.end_col_offset is None:
        return None
    rest = lines[node.end_lineno - 1][node.end_col_offset :].strip()
    if rest.startswith("#"):
        text = rest.lstrip("#").strip()
        return None if text.startswith("type:") else text or None
    return None


def _query(query: Any) -> dict[str, list[str]]:
    if isinstance(query, str):
        return parse_qs(query, keep_blank_values=True)
    return {str(k): [str(v) for v in values] for k, values in dict(query).items()}


def _from_text(text: str, types: tuple[str, ...]) -> Any:
    """A query-string value read as the parameter's type (left a string if it is not)."""
    if not types or "string" in types:
        return text
    if "boolean" in types and text.lower() in ("true", "false", "1", "0", "yes", "no"):
        return text.lower() in ("true", "1", "yes")
    if "null" in types and text.lower() in ("", "none", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _check(value: Any, types: tuple[str, ...]) -> str | None:
    """What is wrong with ``value`` for these JSON Schema types, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if not types:
        return None
    actual = _json_type(value)
    if actual in types or (actual == "integer" and "number" in types):
        return None
    expected = " or ".join(_NAMES[t] for t in types)
    return f"must be {expected}, not {_NAMES[actual]}"


_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _literal(value: Any) -> str:
    """A Python literal of a JSON value (``repr`` of JSON data is one; no NaN/inf here)."""
    return repr(value)


def _json_ready(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
