"""Builds a policy into a WebAssembly component with componentize-py.

    python3 -m capstan_sdk.build naming_policy:NamingPolicy -o policy.wasm [-p DIR]... [--wit PATH] [--world W]

`module:Class` names the policy class; the build writes the entry module
that exports it (see `capstan_sdk.wit`). A bare `module` is an entry
module of one's own, which binds `Policy`. `-p` adds a directory to search
for the module and what it imports (default: the current directory); the
SDK's own directory is always added. `--wit` is Capstan's
`capstan-plugin.wit`, or a directory holding it (default: `$CAPSTAN_WIT`,
else the checkout this SDK lies in). `--world plugin` builds a component
plugin from an entry module of one's own, on the generated bindings (the
SDK's classes are for policies only).

Only that one WIT file is handed to componentize-py: the `wit/` directory
of the repository also holds the frozen 0.1 contract (`wit/v0.1/`), whose
package would clash with 0.2's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: The componentize-py this SDK is built and tested with (tests/setup.sh
#: installs it).
COMPONENTIZE_PY = "componentize-py==0.25.1"
WIT_FILE = "capstan-plugin.wit"
WORLD = "policy-plugin"
ENTRY_MODULE = "capstan_policy_entry"
_SDK_ROOT = Path(__file__).resolve().parent.parent


class BuildError(Exception):
    """The component could not be built; the message says why, with
    componentize-py's own output when it ran."""


@dataclass
class Built:
    path: Path
    seconds: float


def find_wit(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The `capstan-plugin.wit` to build against."""
    candidates = [explicit] if explicit else [os.environ.get("CAPSTAN_WIT"), _SDK_ROOT.parent.parent / "wit"]
    for candidate in candidates:
        if not candidate:
            continue
        path = Path(candidate)
        if path.is_dir():
            path = path / WIT_FILE
        if path.is_file():
            return path
        if explicit:
            raise BuildError(f"{explicit}: no {WIT_FILE} there")
    raise BuildError(f"cannot find Capstan's {WIT_FILE}: pass --wit (or set CAPSTAN_WIT) to it or to its directory")


def _componentize_command() -> list[str]:
    if importlib.util.find_spec("componentize_py") is None:
        raise BuildError(
            f"componentize-py is not installed for {sys.executable}: "
            f"run tests/setup.sh, or pip install {COMPONENTIZE_PY}"
        )
    # The module's own entry point, under this interpreter: no PATH lookup.
    return [sys.executable, "-c", "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()"]


def _entry_source(target: str) -> tuple[str, str | None]:
    """`(module to componentize, entry module source or None)`."""
    module, _, cls = target.partition(":")
    if not module.replace(".", "_").isidentifier() or (cls and not cls.isidentifier()):
        raise BuildError(f"{target!r} is not `module:Class` or `module`")
    if not cls:
        return module, None
    source = (
        "# Written by capstan_sdk.build: the export componentize-py binds.\n"
        "from capstan_sdk.wit import export\n"
        f"from {module} import {cls}\n\n"
        f"Policy = export({cls})\n"
    )
    return ENTRY_MODULE, source


def build(
    target: str,
    output: str | os.PathLike[str],
    *,
    python_path: list[str | os.PathLike[str]] | None = None,
    wit: str | os.PathLike[str] | None = None,
    world: str = WORLD,
) -> Built:
    """Builds `target` (`module:Class` or an entry `module`) into `output`,
    for `world` (`policy-plugin`; `plugin` takes an entry module only)."""
    command = _componentize_command()
    wit_file = find_wit(wit)
    module, entry = _entry_source(target)
    if entry is not None and world != WORLD:
        raise BuildError(f"`module:Class` builds a policy; for the {world} world, name an entry module of your own")
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    search = [Path(p).resolve() for p in (python_path or ["."])]
    with tempfile.TemporaryDirectory(prefix="capstan-policy-build-") as tmp:
        staged_wit = Path(tmp, "wit")
        staged_wit.mkdir()
        shutil.copyfile(wit_file, staged_wit / WIT_FILE)
        paths = []
        if entry is not None:
            entry_dir = Path(tmp, "entry")
            entry_dir.mkdir()
            (entry_dir / f"{ENTRY_MODULE}.py").write_text(entry)
            paths.append(entry_dir)
        paths += [*search, _SDK_ROOT]
        args = [*command, "-q", "-d", str(staged_wit), "-w", world, "componentize", module]
        for p in paths:
            args += ["-p", str(p)]
        args += ["-o", str(output)]
        started = time.monotonic()
        # componentize-py finds a virtualenv's packages through VIRTUAL_ENV;
        # nothing else of the environment matters to it.
        done = subprocess.run(args, capture_output=True, text=True, cwd=tmp)
        seconds = time.monotonic() - started
    if done.returncode != 0 or not output.is_file():
        said = _without_backtrace(done.stdout + done.stderr)
        raise BuildError(f"componentize-py failed to build {target} (exit {done.returncode}):\n{said}")
    return Built(output, seconds)


def _without_backtrace(text: str) -> str:
    """componentize-py's error as an author needs it: the Python traceback
    of the build, without the wrapper's own traceback before it and the
    repeat and Rust backtrace after it."""
    _, marker, rest = text.partition("AssertionError: ")
    text = rest if marker else text
    for tail in ("\nCaused by:", "\nStack backtrace:"):
        text = text.partition(tail)[0]
    return text.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m capstan_sdk.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="module:Class (the policy class) or module (an entry module binding `Policy`)")
    parser.add_argument("-o", "--output", required=True, help="the .wasm file to write")
    parser.add_argument("-p", "--python-path", action="append", help="where to find the module (repeatable; default .)")
    parser.add_argument("--world", default=WORLD, help=f"the WIT world (default {WORLD}; `plugin` for a component plugin)")
    parser.add_argument("--wit", help=f"{WIT_FILE} or its directory (default: $CAPSTAN_WIT, else this checkout's wit/)")
    args = parser.parse_args(argv)
    try:
        built = build(args.target, args.output, python_path=args.python_path, wit=args.wit, world=args.world)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    size = built.path.stat().st_size
    print(f"built {built.path} ({size / 1e6:.1f} MB) in {built.seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
