"""acme/naming-policy built into a component and run by the real engine:
`capstan plugin inspect` and `capstan plan` on a stack whose client.hcl
enforces it (capstan_sdk.host). Needs componentize-py (tests/setup.sh) and
a capstan binary (`cargo build -p capstan-cli`, or CAPSTAN_BIN).

The CLI's end-to-end tests (engine/cli/tests/cli/python_policy.rs) run this
file with their binary and hand over the bundle they built and signed
(CAPSTAN_POLICY_BUNDLE, CAPSTAN_POLICY_PUBLIC_KEY): packing a 19 MB
component takes a debug build half a minute."""

import os
from pathlib import Path

import pytest
from capstan_sdk import build, host

HERE = Path(__file__).resolve().parent
PLUGIN = "acme/naming-policy"


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    bundle, key = os.environ.get("CAPSTAN_POLICY_BUNDLE"), os.environ.get("CAPSTAN_POLICY_PUBLIC_KEY")
    if bundle and key:
        return host.Signed(PLUGIN, Path(bundle), Path(key))
    work = tmp_path_factory.mktemp("publish")
    wasm = build.build("naming_policy:NamingPolicy", work / "naming-policy.wasm", python_path=[HERE]).path
    return host.sign(wasm, PLUGIN, into=work)


@pytest.fixture
def workspace(signed):
    with host.Workspace(signed) as ws:
        ws.component("web/api", host.app_component("registry.example/api:1.0.0"))
        yield ws


def test_inspect_lists_the_rules_and_params(workspace, signed):
    run = workspace.run("plugin", "inspect", f"dist/{signed.bundle.name}").ok()
    for expected in [PLUGIN, "0.1.0", "part_of", "name_prefix", "name-label", "part-of-label", "name-prefix"]:
        assert expected in run.output, run


def test_an_enforced_policy_fails_the_plan_naming_the_rule_and_the_component(workspace):
    workspace.policy("naming", params={"part_of": "open-finance"}, version="^0.1")
    run = workspace.plan()
    assert run.code != 0, run
    for expected in ["naming", "part-of-label", "api", "'open-finance'"]:
        assert expected in run.output, run
    # The built-in app plugin sets app.kubernetes.io/name on everything.
    assert "name-label" not in run.output, run


def test_with_the_rules_it_breaks_switched_off_the_plan_passes(workspace):
    off = {"part-of-label": False, "pod-template-labels": False}
    workspace.policy("naming", params={"part_of": "open-finance", "rules": off})
    workspace.plan().ok()
