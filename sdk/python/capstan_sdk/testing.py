"""Calling a policy from an ordinary pytest run, in plain Python, no wasm.

`check` does what the engine does around the component's `check`: it
merges the params over the policy's defaults, refuses params its schema
refuses, hands the objects over as JSON would with every Secret's values
replaced, and checks the answer the way the glue does. So a test sees what an operator would.

```python
from capstan_sdk import testing

def test_a_deployment_without_labels_is_refused():
    found = testing.check(NamingPolicy, [testing.deployment("api")], {"part_of": "open-finance"})
    assert [v.rule for v in found] == ["name-label", "part-of-label"]
```

`capstan_sdk.build` builds the component and `capstan_sdk.host` runs it
through the real `capstan` binary.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from . import schema
from .policy import Policy, describe, merged, run_check
from .types import CheckRequest, Metadata, Subject, Violation


class ParamsRefused(Exception):
    """The engine would refuse these params before calling the policy:
    `errors` holds `(JSON Pointer, message)` for each problem."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"params at {at or '/'}: {message}" for at, message in errors))


def _instance(policy: type[Policy] | Policy) -> Policy:
    return policy() if isinstance(policy, type) else policy


def check_metadata(policy: type[Policy] | Policy) -> Metadata:
    """The metadata as the engine sees it; raises `MetadataError` listing
    every problem (the same check makes a broken policy fail to build)."""
    return describe(_instance(policy))


def subject(
    name: str = "app",
    *,
    environment: str = "test",
    namespace: str = "default",
    component_type: str = "app",
    plugin: str = "capstan/app",
) -> Subject:
    return Subject(name, environment, namespace, component_type, plugin)


_default_subject = subject  # `check` takes a `subject` argument


def params_for(policy: type[Policy] | Policy, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """`params` merged over the policy's defaults, as a `policy` block's
    are; raises `ParamsRefused` where the schema refuses the result."""
    meta = check_metadata(policy)
    result = merged(meta.defaults, params or {})
    problems = schema.errors(meta.params_schema, result)
    if problems:
        raise ParamsRefused(problems)
    return result


def check(
    policy: type[Policy] | Policy,
    objects: list[dict[str, Any]],
    params: dict[str, Any] | None = None,
    *,
    subject: Subject | None = None,
) -> list[Violation]:
    """The violations `policy` finds in `objects`, called as the engine
    calls it. Raises `ParamsRefused` for params the engine would refuse,
    `PolicyError` for an answer it could not use, and whatever the policy
    raised."""
    instance = _instance(policy)
    meta = describe(instance)
    full = merged(meta.defaults, params or {})
    problems = schema.errors(meta.params_schema, full)
    if problems:
        raise ParamsRefused(problems)
    # Through JSON, as over the sandbox boundary: a policy gets its own
    # copy, and objects that are not JSON fail here as they would there.
    sent = without_secret_values(json.loads(json.dumps(objects, allow_nan=False)))
    request = CheckRequest(subject or _default_subject(), sent, full)
    return run_check(instance, meta, request)


#: What the engine puts in place of every value of a Secret's `data` and
#: `stringData` before a policy sees it.
REDACTED = "(sensitive)"


def without_secret_values(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`objects` as the engine sends them to a policy: each Secret's
    `data` and `stringData` values replaced by `REDACTED`, keys kept."""
    out = copy.deepcopy(objects)
    for o in out:
        if isinstance(o, dict) and o.get("kind") == "Secret":
            for field in ("data", "stringData"):
                if isinstance(o.get(field), dict):
                    o[field] = dict.fromkeys(o[field], REDACTED)
    return out


def obj(
    kind: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    namespace: str = "default",
    api_version: str = "v1",
    **fields: Any,
) -> dict[str, Any]:
    """A Kubernetes object: `obj("ConfigMap", "api-config", data={...})`."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        metadata["labels"] = dict(labels)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **copy.deepcopy(fields)}


def deployment(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    pod_labels: dict[str, str] | None = None,
    image: str = "registry.example/app:1.0.0",
    namespace: str = "default",
) -> dict[str, Any]:
    """A one-container Deployment; the pod template carries `pod_labels`
    (else `labels`)."""
    template_labels = dict(pod_labels if pod_labels is not None else labels or {})
    return obj(
        "Deployment",
        name,
        labels=labels,
        namespace=namespace,
        api_version="apps/v1",
        spec={
            "replicas": 1,
            "selector": {"matchLabels": template_labels},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    )
