"""The SDK's own tests, from the checkout: `python3 -m pytest sdk/python`."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SDK))


@pytest.fixture(scope="session")
def wit_bindings(tmp_path_factory):
    """The bindings componentize-py generates for the policy-plugin world,
    importable here: the glue runs on CPython against the same generated
    types as in the component (only the host import, `log`, is a stub)."""
    from capstan_sdk import build

    out = tmp_path_factory.mktemp("bindings")
    wit = out / "wit"
    wit.mkdir()
    (wit / build.WIT_FILE).write_text(build.find_wit().read_text())
    command = build._componentize_command()
    done = subprocess.run(
        [*command, "-d", str(wit), "-w", build.WORLD, "bindings", str(out / "py")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(out / "py"))
    importlib.invalidate_caches()
    yield
    sys.path.remove(str(out / "py"))
