"""acme/naming-policy's rules, called as the engine calls them, in plain
Python (capstan_sdk.testing): no wasm, no engine."""

import pytest
from capstan_sdk import Severity, testing
from capstan_sdk.testing import ParamsRefused, deployment, obj

from naming_policy import NAME, PART_OF, NamingPolicy

GOOD = {NAME: "of-api", PART_OF: "open-finance"}
PARAMS = {"part_of": "open-finance", "name_prefix": "of-"}


def found(objects, params=None):
    return [(v.rule, v.object, v.path) for v in testing.check(NamingPolicy, objects, params)]


def test_the_metadata_is_what_the_engine_accepts():
    meta = testing.check_metadata(NamingPolicy)
    assert meta.name == "acme/naming-policy"
    assert meta.rule_ids() == ["name-label", "part-of-label", "pod-template-labels", "dns-1123-name", "name-prefix"]
    # The SDK adds the switches: every rule on unless a policy block says otherwise.
    assert meta.defaults == {"part_of": "", "name_prefix": "", "rules": dict.fromkeys(meta.rule_ids(), True)}


def test_well_named_and_labelled_objects_pass():
    objects = [
        deployment("of-api", labels=GOOD),
        obj("Service", "of-api", labels=GOOD, spec={"ports": [{"port": 80}]}),
        obj("ConfigMap", "of-api-config", labels=GOOD, data={"a": "b"}),
    ]
    assert found(objects, PARAMS) == []


def test_an_object_without_the_labels_breaks_both_label_rules_at_the_missing_labels():
    assert found([obj("ConfigMap", "api")]) == [
        ("name-label", 0, "/metadata/labels/app.kubernetes.io~1name"),
        ("part-of-label", 0, "/metadata/labels/app.kubernetes.io~1part-of"),
    ]


def test_part_of_must_be_the_param_when_given_and_anything_otherwise():
    wrong = obj("ConfigMap", "api", labels={NAME: "api", PART_OF: "payments"})
    assert found([wrong]) == []
    [violation] = testing.check(NamingPolicy, [wrong], {"part_of": "open-finance"})
    assert violation.rule == "part-of-label"
    assert violation.severity is Severity.ERROR
    assert violation.message == "ConfigMap api has app.kubernetes.io/part-of='payments'; it must be 'open-finance'"


def test_a_workloads_pod_template_carries_the_labels_too():
    workload = deployment("of-api", labels=GOOD, pod_labels={NAME: "of-api"})
    assert found([workload], PARAMS) == [
        ("pod-template-labels", 0, "/spec/template/metadata/labels/app.kubernetes.io~1part-of"),
    ]
    cron = obj(
        "CronJob",
        "of-report",
        labels=GOOD,
        api_version="batch/v1",
        spec={"jobTemplate": {"spec": {"template": {"metadata": {}, "spec": {"containers": []}}}}},
    )
    assert [path for _, _, path in found([cron], PARAMS)] == [
        "/spec/jobTemplate/spec/template/metadata/labels/app.kubernetes.io~1name",
        "/spec/jobTemplate/spec/template/metadata/labels/app.kubernetes.io~1part-of",
    ]


@pytest.mark.parametrize("name", ["API", "api_v2", "-api", "api-", "a.b", "x" * 64])
def test_names_that_are_not_lowercase_dns_1123_labels_are_refused(name):
    assert found([obj("ConfigMap", name, labels=GOOD)]) == [("dns-1123-name", 0, "/metadata/name")]


def test_every_name_starts_with_the_prefix_when_one_is_given():
    objects = [obj("ConfigMap", "of-api", labels=GOOD), obj("Secret", "api-env", labels=GOOD)]
    assert found(objects) == []
    assert found(objects, {"name_prefix": "of-"}) == [("name-prefix", 1, "/metadata/name")]


def test_each_rule_can_be_switched_off_by_its_id():
    bare = obj("ConfigMap", "Api")
    everything = {rule for rule, _, _ in found([bare], {"name_prefix": "of-"})}
    assert everything == {"name-label", "part-of-label", "dns-1123-name", "name-prefix"}
    for rule in everything:
        left = {r for r, _, _ in found([bare], {"name_prefix": "of-", "rules": {rule: False}})}
        assert left == everything - {rule}


def test_params_the_schema_refuses_never_reach_the_policy():
    with pytest.raises(ParamsRefused) as refused:
        testing.check(NamingPolicy, [], {"partof": "open-finance"})
    assert refused.value.errors == [("", "unknown property 'partof' (allowed: name_prefix, part_of, rules)")]
    with pytest.raises(ParamsRefused, match="params at /rules: unknown property 'no-such-rule'"):
        testing.check(NamingPolicy, [], {"rules": {"no-such-rule": False}})
    with pytest.raises(ParamsRefused, match="params at /name_prefix: does not match"):
        testing.check(NamingPolicy, [], {"name_prefix": "Of_"})


def test_a_secret_is_checked_by_its_metadata_alone():
    # The engine (and the test kit) replace a Secret's values before a
    # policy sees them; its labels and name are checked like any object's.
    secret = obj("Secret", "api-env", labels={NAME: "api"}, stringData={"password": "hunter2"})
    found = testing.check(NamingPolicy, [secret], PARAMS)
    assert [v.rule for v in found] == ["part-of-label", "name-prefix"]
    assert not any("hunter2" in v.message for v in found)
