"""The glue the component exports (`capstan_sdk.wit`), on CPython against
componentize-py's generated bindings: conversions both ways, and every
failure an `err` value that names it, never an exception out of the guest."""

import json

import pytest
import yaml
from capstan_sdk import Metadata, Policy, PolicyError, Rule, Severity, Violation, k8s


class Replicas(Policy):
    def metadata(self):
        return Metadata(
            name="acme/replicas",
            version="1.2.3",
            description="Small Deployments.",
            rules=[Rule("max-replicas", "At most `max` replicas."), Rule("has-replicas", "Replicas are set.")],
            params_schema={"type": "object", "properties": {"max": {"type": "integer"}}},
            defaults={"max": 3},
        )

    def check(self, request):
        if request.params["max"] < 0:
            raise PolicyError("max is negative")
        if request.params["max"] == 13:
            return [Violation.error("no-such-rule", 0, "", "x")]
        if request.params["max"] == 99:
            return {}["missing"]  # a bug in the policy
        found = []
        for i, o in enumerate(request.objects):
            replicas = k8s.get(o, "spec", "replicas")
            if replicas is None:
                found.append(Violation.warning("has-replicas", i, "/spec", f"{request.subject.name}: no replicas"))
            elif replicas > request.params["max"]:
                found.append(Violation.error("max-replicas", i, "/spec/replicas", "too many"))
        return found


@pytest.fixture
def wit(wit_bindings):
    from wit_world.exports import policy as wit_policy
    from wit_world.imports import types as wit_types

    return wit_policy, wit_types


@pytest.fixture
def exported(wit_bindings):
    from capstan_sdk.wit import export

    return export(Replicas)()


def request(wit, objects, params):
    wit_policy, _ = wit
    subject = wit_policy.Subject("api", "dev", "web", "app", "capstan/app")
    return wit_policy.CheckRequest(subject, [o if isinstance(o, str) else json.dumps(o) for o in objects], json.dumps(params))


def test_describe_gives_the_wit_record_with_schema_json_and_defaults_yaml(exported):
    d = exported.describe()
    assert (d.name, d.version, d.description) == ("acme/replicas", "1.2.3", "Small Deployments.")
    assert [(r.id, r.description) for r in d.rules] == [("max-replicas", "At most `max` replicas."), ("has-replicas", "Replicas are set.")]
    schema = json.loads(d.params_schema)
    assert schema["properties"]["rules"]["properties"]["max-replicas"]["type"] == "boolean"
    assert yaml.safe_load(d.defaults) == {"max": 3, "rules": {"max-replicas": True, "has-replicas": True}}


def test_check_parses_the_json_and_converts_the_violations(exported, wit):
    _, wit_types = wit
    objects = [{"kind": "Deployment", "spec": {"replicas": 5}}, {"kind": "Deployment", "spec": {}}]
    found = exported.check(request(wit, objects, {"max": 3}))
    assert [(v.rule, v.object, v.path, v.message, v.severity) for v in found] == [
        ("max-replicas", 0, "/spec/replicas", "too many", wit_types.Severity.ERROR),
        ("has-replicas", 1, "/spec", "api: no replicas", wit_types.Severity.WARNING),
    ]


def test_violations_of_switched_off_rules_are_dropped(exported, wit):
    objects = [{"kind": "Deployment", "spec": {"replicas": 5}}]
    assert exported.check(request(wit, objects, {"max": 3, "rules": {"max-replicas": False}})) == []


@pytest.mark.parametrize(
    ("objects", "params", "err"),
    [
        (["{not json"], {"max": 1}, "objects[0] is not JSON: Expecting property name enclosed in double quotes"),
        (["[1]"], {"max": 1}, "objects[0] is a JSON list, not an object"),
        ([], {"max": -1}, "max is negative"),
        ([{}], {"max": 13}, "check() returned a violation of rule 'no-such-rule', which metadata() does not list"),
        ([], {"max": 99}, "check() failed: KeyError: 'missing' (at test_glue.py:"),
    ],
)
def test_every_failure_is_an_err_value_naming_it(exported, wit, objects, params, err):
    from componentize_py_types import Err

    with pytest.raises(Err) as raised:
        exported.check(request(wit, objects, params))
    assert raised.value.value.startswith(err), raised.value.value


def test_params_that_are_not_an_object_are_an_err(exported, wit):
    from componentize_py_types import Err

    wit_policy, _ = wit
    subject = wit_policy.Subject("api", "dev", "web", "app", "capstan/app")
    with pytest.raises(Err, match="params"):
        exported.check(wit_policy.CheckRequest(subject, [], "[]"))


def test_a_policy_whose_metadata_the_engine_would_refuse_fails_at_export(wit_bindings):
    from capstan_sdk import MetadataError
    from capstan_sdk.wit import export

    class Bad(Replicas):
        def metadata(self):
            m = super().metadata()
            m.name = "replicas"
            m.rules.append(Rule("Max_Replicas", "x"))
            return m

    with pytest.raises(MetadataError) as raised:
        export(Bad)()
    message = str(raised.value)
    assert "name 'replicas' is not `publisher/name`" in message
    assert "rule id 'Max_Replicas' is not kebab-case" in message
