"""The SDK's pieces that need no bindings: defaults as YAML, the params
schema checker, metadata checks, k8s helpers, the test kit, the build's
refusals."""

import pytest
import yaml
from capstan_sdk import Metadata, MetadataError, Policy, PolicyError, Rule, Violation, _yaml, build, k8s, schema, testing
from capstan_sdk.host import hcl


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": 1, "b": 2.5, "c": True, "d": None, "e": "text"},
        {"yes": "no", "on": "off", "a key": "#not a comment", "k: v": "- item", "x": "123", "y": ""},
        {"nested": {"empty": {}, "list": [], "deeper": {"z": ["a", 1, False]}}},
        {"list": [{"a": 1, "b": {"c": [1, 2]}}, [1, [2]], {}, "s"]},
        {"multi": "line one\nline two\t\"quoted\" \\ back", "unicode": "naïve ✓", "rules": {"run-as-non-root": True}},
    ],
)
def test_defaults_are_written_as_yaml_that_reads_back_the_same(value):
    text = _yaml.dump(value)
    assert yaml.safe_load(text) == value, text


def test_defaults_yaml_is_block_style():
    assert _yaml.dump({"part_of": "", "rules": {"name-label": True}}) == 'part_of: ""\nrules:\n  name-label: true\n'


def test_the_schema_checker_covers_what_params_use():
    s = {
        "type": "object",
        "required": ["n"],
        "additionalProperties": False,
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 5},
            "s": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
            "l": {"type": "array", "items": {"enum": ["a", "b"]}},
            "m": {"type": "object", "additionalProperties": {"type": "boolean"}},
        },
    }
    assert schema.errors(s, {"n": 2, "s": "ab", "l": ["a"], "m": {"x/y": True}}) == []
    assert schema.errors(s, {"n": True}) == [("/n", "is not of type 'integer'")]
    assert schema.errors(s, {"n": 9, "s": "ABCD", "l": ["c"], "m": {"x/y": 1}, "o": 1}) == [
        ("/n", "is greater than the maximum of 5"),
        ("/s", "is longer than 3 characters"),
        ("/s", "does not match '^[a-z]+$'"),
        ("/l/0", "is not one of 'a', 'b'"),
        ("/m/x~1y", "is not of type 'boolean'"),
        ("", "unknown property 'o' (allowed: l, m, n, s)"),
    ]
    assert schema.errors(s, {}) == [("", "'n' is a required property")]
    assert schema.errors(s, {}, ignore_required=True) == []


class Minimal(Policy):
    def metadata(self):
        return Metadata("acme/minimal", "0.1.0", "One rule.", [Rule("one-rule", "The rule.")])

    def check(self, request):
        return [Violation.error("one-rule", i, "", "found") for i, o in enumerate(request.objects) if o.get("bad")]


def test_every_metadata_problem_is_listed_at_once():
    class Broken(Minimal):
        def metadata(self):
            return Metadata(
                "Acme/Minimal",
                "1.0",
                " ",
                [Rule("one", "x"), Rule("one", "y"), Rule("Two", "")],
                params_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
                defaults={"n": "three"},
            )

    with pytest.raises(MetadataError) as raised:
        testing.check_metadata(Broken)
    assert str(raised.value).splitlines()[1:] == [
        "  name 'Acme/Minimal' is not `publisher/name` (lowercase letters, digits, `-`, `_`, `.`)",
        "  version '1.0' is not a semantic version such as 0.1.0",
        "  description is empty: `capstan plugin inspect` shows it",
        "  rule id 'one' is listed twice",
        "  rule id 'Two' is not kebab-case (such as `run-as-non-root`)",
        "  rule 'Two' has no description",
        "  defaults at /n: is not of type 'integer'",
    ]


def test_a_metadata_that_raises_names_the_class():
    class Raises(Minimal):
        def metadata(self):
            raise ValueError("no")

    with pytest.raises(MetadataError, match=r"Raises.metadata\(\) raised ValueError: no"):
        testing.check_metadata(Raises)


def test_the_test_kit_checks_answers_as_the_glue_does():
    assert testing.check(Minimal, [{"bad": False}, {"bad": True}]) == [Violation.error("one-rule", 1, "", "found")]
    assert testing.check(Minimal, [{"bad": True}], {"rules": {"one-rule": False}}) == []

    class OutOfRange(Minimal):
        def check(self, request):
            return [Violation.error("one-rule", 3, "", "x")]

    with pytest.raises(PolicyError, match="for object 3; the request has 1 objects"):
        testing.check(OutOfRange, [{}])

    class NotAPointer(Minimal):
        def check(self, request):
            return [Violation.error("one-rule", 0, "metadata.name", "x")]

    with pytest.raises(PolicyError, match="'metadata.name', which is not a JSON Pointer"):
        testing.check(NotAPointer, [{}])


def test_the_test_kit_hands_over_a_copy_as_json_would():
    seen = []

    class Mutates(Minimal):
        def check(self, request):
            request.objects[0]["metadata"] = "changed"
            seen.append(request.objects[0])
            return []

    mine = {"metadata": {"name": "a"}, "spec": ("tuple", "becomes", "list")}
    testing.check(Mutates, [mine])
    assert mine["metadata"] == {"name": "a"}
    assert seen[0]["spec"] == ["tuple", "becomes", "list"]


def test_k8s_helpers_give_paths_as_json_pointers():
    assert k8s.pointer("metadata", "labels", "app.kubernetes.io/name") == "/metadata/labels/app.kubernetes.io~1name"
    assert k8s.pointer("a~b", 0) == "/a~0b/0"
    d = testing.deployment("api")
    d["spec"]["template"]["spec"]["initContainers"] = [{"name": "init"}]
    assert [(p, c["name"]) for p, c in k8s.containers(d)] == [
        ("/spec/template/spec/initContainers/0", "init"),
        ("/spec/template/spec/containers/0", "main"),
    ]
    assert [p for p, _ in k8s.containers(d, init=False)] == ["/spec/template/spec/containers/0"]
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    assert [p for p, _ in k8s.containers(pod)] == ["/spec/containers/0"]
    assert k8s.pod_template({"kind": "ConfigMap"}) is None
    assert list(k8s.containers({"kind": "Deployment", "spec": {}})) == []
    assert k8s.describe(d) == "Deployment api"


def test_params_are_written_as_hcl():
    assert hcl({"part_of": "open-finance", "rules": {"name-prefix": False}, "n": [1, "${x}"]}) == (
        '{ part_of = "open-finance", rules = { "name-prefix" = false }, n = [1, "$${x}"] }'
    )


def test_a_build_names_what_is_wrong(tmp_path):
    with pytest.raises(build.BuildError, match="not `module:Class`"):
        build.build("not a module", tmp_path / "x.wasm")
    with pytest.raises(build.BuildError, match="no capstan-plugin.wit there"):
        build.find_wit(tmp_path)


def test_a_policy_that_fails_to_import_fails_the_build_with_its_traceback(tmp_path):
    (tmp_path / "broken_policy.py").write_text("from capstan_sdk import Policy\nraise ValueError('broken on purpose')\n")
    with pytest.raises(build.BuildError) as raised:
        build.build("broken_policy:Broken", tmp_path / "x.wasm", python_path=[tmp_path])
    message = str(raised.value)
    assert "ValueError: broken on purpose" in message, message
    assert "Stack backtrace" not in message
    assert not (tmp_path / "x.wasm").exists()


def test_the_test_kit_hides_secret_values_as_the_engine_does():
    seen = []

    class Looks(Minimal):
        def check(self, request):
            seen.extend(request.objects)
            return []

    secret = {"kind": "Secret", "data": {"password": "aHVudGVyMg=="}, "stringData": {"user": "app"}}
    config = {"kind": "ConfigMap", "data": {"password": "not a secret"}}
    testing.check(Looks, [secret, config])
    assert seen[0]["data"] == {"password": "(sensitive)"} and seen[0]["stringData"] == {"user": "(sensitive)"}
    assert seen[1] == config
    assert secret["data"]["password"] == "aHVudGVyMg=="
