"""The plain Python types a policy works with: what the engine asks
(`CheckRequest`, `Subject`) and what a policy answers (`Violation`,
`Metadata`, `Rule`).

They mirror the `policy` interface of `wit/capstan-plugin.wit`, with the
JSON already parsed: `objects` are dicts and `params` is a dict. They know
nothing of WebAssembly, so a policy's tests use them as they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.Enum):
    """How serious a violation is. Only `ERROR` fails a component, and only
    under a policy in `enforce` mode; `WARNING` and `INFO` are shown."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Rule:
    """One rule a policy checks."""

    #: Stable and kebab-case, such as `run-as-non-root`: what violations,
    #: exceptions and the `rules` param name.
    id: str
    #: One line for `capstan plugin inspect`.
    description: str


@dataclass
class Metadata:
    """What a policy is and what it accepts, as `describe` tells the engine."""

    #: `publisher/name`, such as `acme/naming-policy`: what a `policy`
    #: block's `plugin` names.
    name: str
    #: The policy's own semver version; a `policy` block's `version` range
    #: picks it.
    version: str
    #: One paragraph for `capstan plugin inspect`.
    description: str
    #: Every rule it checks.
    rules: list[Rule]
    #: A JSON Schema (draft 2020-12) of the params a `policy` block may
    #: set, as a dict. Unless the policy opts out (`Policy.switchable_rules`),
    #: the SDK adds a `rules` property: `{rule-id: bool}`, every rule on.
    params_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    #: The default params (JSON values), which a `policy` block's `params`
    #: are merged over, objects key by key. The SDK writes them as YAML.
    defaults: dict[str, Any] = field(default_factory=dict)

    def rule_ids(self) -> list[str]:
        return [rule.id for rule in self.rules]


@dataclass(frozen=True)
class Subject:
    """The component whose plan is checked."""

    #: The component's directory name, such as `oob-consent`.
    name: str
    environment: str
    #: The Kubernetes namespace its objects go in.
    namespace: str
    #: Its `type` in component.hcl, such as `postgres`.
    component_type: str
    #: The plugin that planned it, such as `capstan/app`.
    plugin: str


@dataclass
class CheckRequest:
    """One component's plan, as a policy sees it."""

    subject: Subject
    #: The planned Kubernetes objects (parsed manifests, namespaces set).
    #: Every Secret's `data` and `stringData` values read `(sensitive)`: a
    #: policy never sees a secret.
    objects: list[dict[str, Any]]
    #: The `policy` block's params merged over the defaults, already
    #: validated by the engine against the params schema.
    params: dict[str, Any]

    def enabled(self, rule: str) -> bool:
        """Whether the `rules` param leaves `rule` on (the default). The SDK
        drops violations of switched-off rules anyway; this only saves work."""
        switches = self.params.get("rules")
        if not isinstance(switches, dict):
            return True
        return switches.get(rule, True) is not False


@dataclass
class Violation:
    """One place where the plan breaks a rule."""

    #: The rule's id, as the metadata lists it.
    rule: str
    #: The index of the object in the request's `objects`.
    object: int
    #: A JSON Pointer (RFC 6901) into that object: the offending value, or
    #: where the missing one belongs. `capstan_sdk.k8s.pointer` builds one.
    path: str
    #: What is wrong and what would be right.
    message: str
    severity: Severity = Severity.ERROR

    @classmethod
    def error(cls, rule: str, object: int, path: str, message: str) -> Violation:
        return cls(rule, object, path, message, Severity.ERROR)

    @classmethod
    def warning(cls, rule: str, object: int, path: str, message: str) -> Violation:
        return cls(rule, object, path, message, Severity.WARNING)

    @classmethod
    def info(cls, rule: str, object: int, path: str, message: str) -> Violation:
        return cls(rule, object, path, message, Severity.INFO)


class PolicyError(Exception):
    """The policy cannot check this request (params it cannot use, say).

    Raised from `check`, it reaches the engine as the policy's error, which
    reports a failing plugin, not a violation. Any other exception does too,
    with its type and where it was raised; this one carries only its message.
    """
