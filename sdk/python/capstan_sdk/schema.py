"""A small JSON Schema checker for the test kit: enough of draft 2020-12
for a policy's params (types, `properties`, `required`,
`additionalProperties`, `items`, `enum`, `const`, `pattern`, lengths,
bounds, `allOf`/`anyOf`/`oneOf`), so that a plain-Python test refuses the
params the engine would refuse. Other keywords are not checked here; the
engine checks the whole schema.

Messages never repeat the value: params may be copied from anywhere.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def errors(schema: Any, value: Any, *, ignore_required: bool = False) -> list[tuple[str, str]]:
    """`(JSON Pointer, message)` for each way `value` breaks `schema`."""
    return list(_errors(schema, value, "", ignore_required))


def _errors(schema: Any, value: Any, at: str, ignore_required: bool) -> Iterator[tuple[str, str]]:
    if schema is True or schema is None:
        return
    if schema is False:
        yield at, "no value is allowed here"
        return
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_TYPES[t](value) for t in names if t in _TYPES):
            yield at, f"is not of type {' or '.join(repr(t) for t in names)}"
            return
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        yield at, "is not one of " + ", ".join(repr(e) for e in schema["enum"])
    if "const" in schema and not _same(value, schema["const"]):
        yield at, f"is not {schema['const']!r}"
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            yield at, f"is shorter than {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield at, f"is longer than {schema['maxLength']} characters"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield at, f"does not match {schema['pattern']!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield at, f"is less than the minimum of {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            yield at, f"is greater than the maximum of {schema['maximum']}"
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            yield at, f"is not greater than {schema['exclusiveMinimum']}"
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            yield at, f"is not less than {schema['exclusiveMaximum']}"
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            yield at, f"has fewer than {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield at, f"has more than {schema['maxItems']} items"
        if "items" in schema:
            for i, item in enumerate(value):
                yield from _errors(schema["items"], item, f"{at}/{i}", ignore_required)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        if not ignore_required:
            for name in schema.get("required", []):
                if name not in value:
                    yield at, f"{name!r} is a required property"
        for name, item in value.items():
            if name in properties:
                yield from _errors(properties[name], item, f"{at}/{_escape(name)}", ignore_required)
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                if extra is False:
                    allowed = ", ".join(sorted(properties)) or "none"
                    yield at, f"unknown property {name!r} (allowed: {allowed})"
                else:
                    yield from _errors(extra, item, f"{at}/{_escape(name)}", ignore_required)
    for sub in schema.get("allOf", []):
        yield from _errors(sub, value, at, ignore_required)
    if "anyOf" in schema and not any(not errors(s, value, ignore_required=ignore_required) for s in schema["anyOf"]):
        yield at, "matches none of the schemas of anyOf"
    if "oneOf" in schema:
        matching = sum(1 for s in schema["oneOf"] if not errors(s, value, ignore_required=ignore_required))
        if matching != 1:
            yield at, f"matches {matching} of the schemas of oneOf, not exactly one"


def _same(a: Any, b: Any) -> bool:
    # JSON equality: True is not 1.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b
