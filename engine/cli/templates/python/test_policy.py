"""The policy called as the engine calls it, without wasm."""

from capstan_sdk.testing import check, check_metadata

from policy import {{Struct}}


def config_map(labels):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "labels": labels}}


def test_metadata_is_valid():
    check_metadata({{Struct}})


def test_an_object_without_the_label_is_a_violation_at_its_labels():
    violations = check({{Struct}}, [config_map({"app.kubernetes.io/name": "api"}), config_map({})])
    assert [(v.rule, v.object, v.path) for v in violations] == [("required-label", 1, "/metadata/labels")]


def test_the_label_is_a_param():
    violations = check({{Struct}}, [config_map({"app.kubernetes.io/name": "api"})], {"label": "team"})
    assert [v.rule for v in violations] == ["required-label"]
