"""Writes a policy's default params as YAML, the form `describe` gives them
in (the engine merges a `policy` block's params over them, and `capstan
plugin inspect` shows them). Block style for maps and lists; every string
double-quoted, which YAML reads exactly as JSON writes it."""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
# Words some YAML readers take for booleans or null even as keys.
_AMBIGUOUS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def dump(value: dict[str, Any]) -> str:
    if not value:
        return "{}\n"
    return "".join(_map(value, 0))


def _key(key: str) -> str:
    if _PLAIN_KEY.match(key) and key.lower() not in _AMBIGUOUS:
        return key
    return _scalar(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _inline(value: Any) -> str | None:
    """The value on the key's own line, or None when it takes a block."""
    if isinstance(value, dict):
        return "{}" if not value else None
    if isinstance(value, list):
        return "[]" if not value else None
    return _scalar(value)


def _map(value: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"a defaults key must be a string, not {type(key).__name__}")
        inline = _inline(item)
        if inline is not None:
            lines.append(f"{pad}{_key(key)}: {inline}\n")
        else:
            lines.append(f"{pad}{_key(key)}:\n")
            lines.extend(_block(item, indent + 2))
    return lines


def _block(value: Any, indent: int) -> list[str]:
    if isinstance(value, dict):
        return _map(value, indent)
    pad = " " * indent
    lines = []
    for item in value:
        inline = _inline(item)
        if inline is not None:
            lines.append(f"{pad}- {inline}\n")
        else:
            # The item's first line goes after the dash, the rest under it.
            inner = _block(item, indent + 2)
            lines.append(f"{pad}- {inner[0][indent + 2:]}")
            lines.extend(inner[1:])
    return lines
