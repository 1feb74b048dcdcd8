"""Running a built policy through the real engine: the `capstan` binary,
on a stack in a temporary directory, as an operator would.

```python
from capstan_sdk import host

signed = host.sign("policy.wasm", "acme/naming-policy", into=tmp_dir)
with host.Workspace(signed) as ws:
    ws.policy("naming", params={"part_of": "open-finance"})
    ws.component("web/api", host.app_component("registry.example/api:1.0.0"))
    run = ws.plan()
    assert run.code == 1 and "part-of-label" in run.output
```

`sign` generates a key and packs and signs the component; a workspace
copies the bundle into `dist/` and writes a client.hcl that reads `dist/`
as a `plugin_source` and trusts the key for the policy's publisher: the
path a policy takes in production, signature checks included. The binary is `$CAPSTAN_BIN`, else
`capstan` on the PATH, else the checkout's `target/debug/capstan`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CHECKOUT = Path(__file__).resolve().parent.parent.parent.parent


class CapstanNotFound(Exception):
    pass


def find_capstan() -> str:
    """The `capstan` binary to run."""
    explicit = os.environ.get("CAPSTAN_BIN")
    if explicit:
        if not Path(explicit).is_file():
            raise CapstanNotFound(f"CAPSTAN_BIN={explicit} is not a file")
        return explicit
    on_path = shutil.which("capstan")
    if on_path:
        return on_path
    built = _CHECKOUT / "target" / "debug" / "capstan"
    if built.is_file():
        return str(built)
    raise CapstanNotFound("no capstan binary: set CAPSTAN_BIN, put capstan on the PATH, or run `cargo build -p capstan-cli`")


@dataclass
class Run:
    """What one `capstan` run printed; `str(run)` shows all of it, for
    assertion messages."""

    command: str
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr: a refusal reaches the operator on either."""
        return self.stdout + self.stderr

    def ok(self) -> Run:
        if self.code != 0:
            raise AssertionError(f"capstan failed:\n{self}")
        return self

    def __str__(self) -> str:
        return f"$ {self.command}\nexit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "capstan" / "compiled"


def hcl(value: Any) -> str:
    """A JSON-like value as an HCL expression (`{ part_of = "x" }`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        # JSON's escapes are HCL's; `${` and `%{` would start a template.
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = []
        for key, item in value.items():
            name = key if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key) else json.dumps(key)
            items.append(f"{name} = {hcl(item)}")
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"no HCL for a {type(value).__name__}")


def app_component(image: str, *, replicas: int = 1, port: int | None = 8080) -> str:
    """A component.hcl for Capstan's built-in app plugin."""
    inputs = {"image": image, "replicas": replicas}
    if port is not None:
        inputs["port"] = port
    body = "\n".join(f"  {k} = {hcl(v)}" for k, v in inputs.items())
    return (
        'component {\n  type    = "app"\n  plugin  = "capstan/app"\n  version = "^0.1"\n}\n'
        f"inputs = {{\n{body}\n}}\n"
    )


def _run(binary: str, root: Path, args: tuple[str, ...], env: dict[str, str] | None = None) -> Run:
    """`capstan <args>` in `root`, with `root/.home` as HOME."""
    # The operator's choices, which a caller makes explicitly in `env`.
    inherited = {k: v for k, v in os.environ.items() if k not in ("CI", "CAPSTAN_ALLOW_UNSIGNED", "CAPSTAN_LOG")}
    full = {**inherited, "HOME": str(root / ".home"), **(env or {})}
    # The private HOME would hide the compiled-plugin cache: compiling a
    # Python component takes far longer than running it.
    full.setdefault("CAPSTAN_CACHE_DIR", str(_user_cache()))
    done = subprocess.run(
        [binary, *args], cwd=root, env=full, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    return Run(f"capstan {' '.join(args)} (in {root})", done.returncode, done.stdout, done.stderr)


@dataclass
class Signed:
    """A plugin's bundle, signed, and the public key that verifies it."""

    plugin: str
    bundle: Path
    public_key: Path

    @property
    def publisher(self) -> str:
        return self.plugin.split("/", 1)[0]


def sign(
    wasm: str | os.PathLike[str],
    plugin: str,
    into: str | os.PathLike[str],
    *,
    binary: str | None = None,
) -> Signed:
    """Packs `wasm` (which describes itself as `plugin`) into a bundle in
    `into`, signed with a key generated there: `capstan plugin keygen`,
    `pack`, `sign`. Once per test session is enough (packing a ~19 MB
    component takes a while), and `Workspace`s share the result."""
    binary = binary or find_capstan()
    root = Path(into).resolve()
    root.mkdir(parents=True, exist_ok=True)
    publisher = plugin.split("/", 1)[0]
    bundle = f"dist/{plugin.replace('/', '-')}.bundle"
    _run(binary, root, ("plugin", "keygen", "-o", f"keys/{publisher}")).ok()
    packed = _run(binary, root, ("plugin", "pack", str(Path(wasm).resolve()), "-o", bundle)).ok()
    if f"{plugin} " not in packed.stdout:
        raise AssertionError(f"{wasm} does not describe itself as {plugin}:\n{packed}")
    _run(binary, root, ("plugin", "sign", bundle, "--key", f"keys/{publisher}.key")).ok()
    return Signed(plugin, root / bundle, root / "keys" / f"{publisher}.pub")


class Workspace:
    """A stack with environment `dev` and the signed bundles in a `dir`
    plugin source, their publishers' keys trusted for their plugins.
    Removed on exit when it made its own directory."""

    def __init__(
        self,
        *signed: Signed,
        root: str | os.PathLike[str] | None = None,
        binary: str | None = None,
    ):
        if not signed:
            raise ValueError("a Workspace needs at least one signed bundle")
        self.signed = signed
        self.plugin = signed[0].plugin
        self.binary = binary or find_capstan()
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="capstan-policy-")
        self.root = Path(root or self._tmp.name)
        self._policies: list[str] = []
        self.write("envs/dev/env.hcl", "")
        for s in signed:
            (self.root / "dist").mkdir(parents=True, exist_ok=True)
            (self.root / "keys").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(s.bundle, self.root / "dist" / s.bundle.name)
            shutil.copyfile(s.public_key, self.root / "keys" / f"{s.publisher}.pub")
        self._write_client()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, *args: str, env: dict[str, str] | None = None) -> Run:
        """`capstan <args>` in the workspace, with its own HOME."""
        return _run(self.binary, self.root, args, env)

    def policy(
        self,
        name: str,
        *,
        params: dict[str, Any] | None = None,
        mode: str = "enforce",
        version: str = "*",
        plugin: str | None = None,
    ) -> None:
        """Adds a `policy` block to client.hcl, for `plugin` (default: the
        first signed bundle's)."""
        block = (
            f'policy "{name}" {{\n  plugin  = "{plugin or self.plugin}"\n'
            f"  version = {hcl(version)}\n  mode    = {hcl(mode)}\n"
        )
        if params:
            block += f"  params  = {hcl(params)}\n"
        self._policies.append(block + "}\n")
        self._write_client()

    def component(self, path: str, component_hcl: str) -> None:
        """`path` is `<namespace>/<component>` under `envs/dev`."""
        namespace = path.split("/", 1)[0]
        self.write(f"envs/dev/{namespace}/namespace.hcl", f'namespace = "{namespace}"\n')
        self.write(f"envs/dev/{path}/component.hcl", component_hcl)

    def plan(self, *args: str) -> Run:
        return self.run("plan", "envs/dev", *args)

    def _write_client(self) -> None:
        parts = ['plugin_source "local" {\n  type = "dir"\n  path = "dist"\n}\n']
        for publisher in sorted({s.publisher for s in self.signed}):
            parts.append(
                f'trust "{publisher}" {{\n  key_files = ["keys/{publisher}.pub"]\n  plugins   = ["{publisher}/*"]\n}}\n'
            )
        self.write("client.hcl", "\n".join([*parts, *self._policies]))
