"""PyYAML's reading of the documents the Rust round-trip tests send.

Reads requests from stdin, one JSON object a line: {"yaml": <text>,
"expected": <value>}. Loads the text as a file would be loaded
(yaml.safe_load of its UTF-8 bytes) and answers one JSON line on stdout:
{"ok": true} when it read exactly the expected value, or {"error": "<why>"}.

The comparison is made here, not in Rust, because Python parses the floats
of both sides correctly rounded, and it is strict: a bool is not an int, an
int is not a float, a key must be a string (JSON would turn the key 1 into
"1"), and a type JSON has not (a timestamp, NaN) is never equal.
"""

import json
import sys

import yaml


def same(read, expected):
    if type(read) is not type(expected):
        return False
    if isinstance(read, dict):
        return read.keys() == expected.keys() and all(same(read[k], expected[k]) for k in read)
    if isinstance(read, list):
        return len(read) == len(expected) and all(same(r, e) for r, e in zip(read, expected))
    return read == expected


def answer(request):
    try:
        read = yaml.safe_load(request["yaml"].encode("utf-8"))
    except Exception as error:  # any failure to load is the answer
        return {"error": f"{type(error).__name__}: {error}"}
    if same(read, request["expected"]):
        return {"ok": True}
    return {"error": f"read {read!r}"}


def main():
    for line in sys.stdin:
        sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
        sys.stdout.flush()


main()
