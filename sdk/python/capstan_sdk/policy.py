"""The `Policy` base class, and what the SDK does around it on every call:
completing and checking the metadata once, checking each answer.

The glue (`capstan_sdk.wit`) and the test kit (`capstan_sdk.testing`) both
go through `describe` and `run_check` here, so a test without wasm sees the
same refusals the engine would get from the built component.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .types import CheckRequest, Metadata, PolicyError, Rule, Severity, Violation

#: A rule id: lowercase words joined by single dashes.
RULE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
#: One segment of `publisher/name`, as bundles and registries accept it.
NAME_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
#: Semantic versioning 2.0.0, pre-release and build included.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)


class Policy:
    """A policy plugin: subclass it and implement `metadata` and `check`.

    ```python
    class FewReplicas(Policy):
        def metadata(self):
            return Metadata(
                name="acme/few-replicas", version="0.1.0",
                description="Keeps Deployments small.",
                rules=[Rule("max-replicas", "No Deployment asks for more than `max_replicas`.")],
                params_schema={"type": "object", "properties": {"max_replicas": {"type": "integer"}}},
                defaults={"max_replicas": 10},
            )

        def check(self, request):
            limit = request.params["max_replicas"]
            return [
                Violation.error("max-replicas", i, "/spec/replicas", f"more than {limit} replicas")
                for i, o in enumerate(request.objects)
                if o.get("kind") == "Deployment" and o.get("spec", {}).get("replicas", 1) > limit
            ]
    ```

    The class is instantiated once, with no arguments, when the component is
    built (componentize-py snapshots the initialised interpreter), and that
    instance answers every call: keep no state between calls. Nothing may
    call the host (`capstan_sdk.log` included) before the first call.
    """

    #: Add a `rules` param (`{rule-id: bool}`, every rule on by default) and
    #: drop the violations of the rules it switches off. A policy that
    #: declares its own `rules` param, or wants none, sets this to False.
    switchable_rules: bool = True

    def metadata(self) -> Metadata:
        raise NotImplementedError(f"{type(self).__name__} does not implement metadata()")

    def check(self, request: CheckRequest) -> list[Violation]:
        raise NotImplementedError(f"{type(self).__name__} does not implement check()")


class MetadataError(Exception):
    """The metadata a policy describes itself with is not what the engine
    accepts; the message lists every problem."""


def describe(policy: Policy) -> Metadata:
    """The policy's metadata as the engine will see it: the `rules` switch
    added (see `Policy.switchable_rules`), then checked. Raises
    `MetadataError` naming every problem at once."""
    try:
        meta = policy.metadata()
    except Exception as err:  # the author's code: say whose it is
        raise MetadataError(f"{type(policy).__name__}.metadata() raised {type(err).__name__}: {err}") from err
    if not isinstance(meta, Metadata):
        raise MetadataError(f"{type(policy).__name__}.metadata() returned {type(meta).__name__}, not capstan_sdk.Metadata")
    meta = copy.deepcopy(meta)
    if policy.switchable_rules:
        _add_rule_switches(meta)
    problems = metadata_problems(meta)
    if problems:
        raise MetadataError(f"policy {meta.name!r} metadata:\n  " + "\n  ".join(problems))
    return meta


def _add_rule_switches(meta: Metadata) -> None:
    schema = meta.params_schema
    if not isinstance(schema, dict) or not isinstance(meta.defaults, dict):
        return  # metadata_problems says so
    properties = schema.setdefault("properties", {})
    if "rules" in properties or "rules" in meta.defaults:
        return  # the policy's own; metadata_problems says why that clashes
    properties["rules"] = {
        "type": "object",
        "description": "Switches rules off by id (every rule is on by default).",
        "properties": {r.id: {"type": "boolean", "description": r.description} for r in meta.rules},
        "additionalProperties": False,
    }
    meta.defaults["rules"] = {r.id: True for r in meta.rules}


def metadata_problems(meta: Metadata) -> list[str]:
    """Every problem the engine or the SDK would find in `meta`."""
    problems = []
    publisher, _, name = meta.name.partition("/")
    if not (NAME_SEGMENT.match(publisher) and NAME_SEGMENT.match(name)):
        problems.append(f"name {meta.name!r} is not `publisher/name` (lowercase letters, digits, `-`, `_`, `.`)")
    if not SEMVER.match(meta.version):
        problems.append(f"version {meta.version!r} is not a semantic version such as 0.1.0")
    if not meta.description.strip():
        problems.append("description is empty: `capstan plugin inspect` shows it")
    if not meta.rules:
        problems.append("no rules: a policy checks at least one")
    seen = set()
    for i, rule in enumerate(meta.rules):
        if not isinstance(rule, Rule):
            problems.append(f"rules[{i}] is a {type(rule).__name__}, not capstan_sdk.Rule")
            continue
        if not RULE_ID.match(rule.id):
            problems.append(f"rule id {rule.id!r} is not kebab-case (such as `run-as-non-root`)")
        if rule.id in seen:
            problems.append(f"rule id {rule.id!r} is listed twice")
        seen.add(rule.id)
        if not rule.description.strip():
            problems.append(f"rule {rule.id!r} has no description")
    if not isinstance(meta.params_schema, dict) or meta.params_schema.get("type", "object") != "object":
        problems.append('params_schema must be a JSON Schema of an object ({"type": "object", ...})')
    else:
        try:
            json.dumps(meta.params_schema, allow_nan=False)
        except (TypeError, ValueError) as err:
            problems.append(f"params_schema is not JSON: {err}")
    if not isinstance(meta.defaults, dict):
        problems.append("defaults must be a dict (the params a policy block is merged over)")
    else:
        try:
            json.dumps(meta.defaults, allow_nan=False)
        except (TypeError, ValueError) as err:
            problems.append(f"defaults are not JSON values: {err}")
        else:
            if isinstance(meta.params_schema, dict):
                from . import schema  # here, to keep the import graph one-way

                for at, message in schema.errors(meta.params_schema, meta.defaults, ignore_required=True):
                    problems.append(f"defaults at {at or '/'}: {message}")
    return problems


def run_check(policy: Policy, meta: Metadata, request: CheckRequest) -> list[Violation]:
    """Calls `policy.check` and checks its answer: a list of `Violation`s,
    each naming a rule of `meta`, an object of the request, a JSON Pointer
    and a severity. Violations of switched-off rules are dropped. Raises
    `PolicyError` for an answer the engine could not use; other exceptions
    from the policy's code pass through for the caller to report."""
    found = policy.check(request)
    if found is None:
        found = []
    if not isinstance(found, (list, tuple)):
        raise PolicyError(f"check() returned {type(found).__name__}, not a list of capstan_sdk.Violation")
    known = set(meta.rule_ids())
    kept = []
    for i, v in enumerate(found):
        if not isinstance(v, Violation):
            raise PolicyError(f"check() returned {type(v).__name__} at index {i}, not a capstan_sdk.Violation")
        if v.rule not in known:
            raise PolicyError(f"check() returned a violation of rule {v.rule!r}, which metadata() does not list ({', '.join(sorted(known))})")
        if not isinstance(v.object, int) or isinstance(v.object, bool) or not 0 <= v.object < len(request.objects):
            raise PolicyError(f"check() returned a violation of rule {v.rule!r} for object {v.object!r}; the request has {len(request.objects)} objects")
        if not isinstance(v.path, str) or (v.path and not v.path.startswith("/")):
            raise PolicyError(f"check() returned a violation of rule {v.rule!r} at {v.path!r}, which is not a JSON Pointer (`/metadata/name`, or '' for the whole object)")
        if not isinstance(v.severity, Severity):
            raise PolicyError(f"check() returned a violation of rule {v.rule!r} with severity {v.severity!r}, not a capstan_sdk.Severity")
        if not isinstance(v.message, str) or not v.message.strip():
            raise PolicyError(f"check() returned a violation of rule {v.rule!r} without a message")
        if request.enabled(v.rule):
            kept.append(v)
    return kept


def merged(defaults: Any, over: Any) -> Any:
    """`over` merged into a copy of `defaults` as the engine merges a
    `policy` block's params: objects key by key, recursively; anything else
    (lists included) replaces."""
    if isinstance(defaults, dict) and isinstance(over, dict):
        out = dict(defaults)
        for key, value in over.items():
            out[key] = merged(out[key], value) if key in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)
