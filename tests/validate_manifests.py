#!/usr/bin/env python3
"""Validates rendered Kubernetes manifests the way an API server would.

Usage: validate_manifests.py [--crds DIR] [--allow-missing-crd GROUP/VERSION/KIND]... PATH...

Each PATH is a YAML file or a directory (every *.yaml / *.yml under it, multi-document
files allowed). Every object is checked:

* built-in kinds against the Kubernetes 1.30 OpenAPI schemas bundled in the PyPI package
  `kubernetes-validate`, in strict mode (unknown fields are errors, as with kubectl's
  default server-side field validation);
* custom resources against the upstream CRD schemas (`$CAPSTAN_CRDS_DIR`, else `--crds`,
  else `tests/crds` in this repository), converted from the Kubernetes
  "structural" OpenAPI subset to JSON Schema: `nullable` also allows null,
  `x-kubernetes-int-or-string` accepts an integer or a string, and objects with
  `properties` but no `x-kubernetes-preserve-unknown-fields` refuse unknown fields,
  which is what the API server does. CEL rules (`x-kubernetes-validations`) and
  defaults are not evaluated: no validator outside an API server does that.
* every object's metadata: a name that is a DNS-1123 subdomain, string labels.

A custom resource whose CRD is not in the directory is an error: a kind nobody can
check is not "valid". `--allow-missing-crd` lists the exceptions a caller knows about
(each is reported as a warning so it stays visible).

Exits 0 when every object is valid, 1 with one line per problem
(`file: Kind/name: error at /json/path`), 2 on usage errors.
"""

import argparse
import copy
import glob
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - environment problem, not a validation result
    sys.exit(f"validate_manifests.py: missing Python module ({e}); run tests/setup.sh")

KUBERNETES_VERSION = "1.30.0"
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def default_crds_dir():
    if os.environ.get("CAPSTAN_CRDS_DIR"):
        return os.environ["CAPSTAN_CRDS_DIR"]
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "crds")


def to_json_schema(node):
    """Converts one node of a structural OpenAPI v3 schema to JSON Schema, in a copy."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(v) for v in value]
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "format", "default", "example"):
            continue  # handled below, or not a JSON-Schema assertion
        else:
            out[key] = copy.deepcopy(value)

    if node.get("x-kubernetes-int-or-string") and "type" not in node:
        # The anyOf branches in some CRDs already say this; adding it is harmless.
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else list(out["type"]) + ["null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    if (
        out.get("type") in ("object", ["object", "null"])
        and "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


# libyaml's loader is ~10x faster on the 5 MB of CRDs; fall back when it is not built in.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_crd_schemas(root, groups):
    """(group, version, kind) -> JSON Schema, for every served version of every CRD under root
    whose group is in `groups` (parsing only the files that mention one of them)."""
    schemas = {}
    paths = sorted(glob.glob(os.path.join(root, "**", "*.yaml"), recursive=True))
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if not any(f"group: {g}" in text for g in groups):
            continue
        for crd in yaml.load_all(text, Loader=SAFE_LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if not version.get("served"):
                    continue
                schema = version.get("schema", {}).get("openAPIV3Schema")
                if schema is None:
                    continue
                key = (spec["group"], version["name"], spec["names"]["kind"])
                schemas[key] = with_implicit_root_fields(to_json_schema(schema))
    return schemas


def with_implicit_root_fields(schema):
    """The API server accepts apiVersion, kind and metadata at the root of every custom
    resource, whether its CRD's schema lists them or not (controller-gen's CRDs do; NACK's
    hand-written ones list only spec and status). Adds them where missing, so the closed
    root object does not refuse them."""
    properties = schema.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties.setdefault("metadata", {"type": "object"})
    return schema


def json_path(error):
    return "/" + "/".join(str(p) for p in error.absolute_path)


def check_metadata(obj):
    problems = []
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ["metadata is missing or not an object"]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        problems.append("metadata.name is missing")
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        problems.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    for field in ("labels", "annotations"):
        values = meta.get(field, {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            problems.append(f"metadata.{field} must map strings to strings")
    for key, value in (meta.get("labels") or {}).items():
        if isinstance(value, str) and (len(value) > 63 or not re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", value)):
            problems.append(f"label {key}={value!r} is not a valid label value")
    return problems


class Validator:
    def __init__(self, crds_dir, allow_missing, groups):
        self.crd_schemas = load_crd_schemas(crds_dir, groups)
        self.crds_dir = crds_dir
        self.allow_missing = allow_missing
        self.warnings = []

    def validate(self, obj):
        """Returns a list of problems with one object (empty when valid)."""
        if not isinstance(obj, dict):
            return ["a document that is not a mapping"]
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return ["apiVersion and kind are required"]
        problems = check_metadata(obj)
        group, _, version = api_version.rpartition("/")
        key = (group, version, kind)
        if key in self.crd_schemas:
            validator = jsonschema.Draft7Validator(self.crd_schemas[key])
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                problems.append(f"{error.message} at {json_path(error)}")
            return problems
        import kubernetes_validate

        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if f"{api_version}/{kind}" in self.allow_missing:
                self.warnings.append(f"{api_version} {kind}: no schema, allowed by --allow-missing-crd")
            elif "." in group:
                problems.append(f"no CRD serves {api_version} {kind} in {self.crds_dir}")
            else:
                problems.append(f"{api_version} {kind} is not a Kubernetes {KUBERNETES_VERSION} kind")
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{e.message} at {json_path(e)}")
        return problems


def yaml_files(paths):
    for path in paths:
        if os.path.isdir(path):
            found = sorted(glob.glob(os.path.join(path, "**", "*.y*ml"), recursive=True))
            yield from (f for f in found if f.endswith((".yaml", ".yml")))
        else:
            yield path


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--crds", default=default_crds_dir())
    parser.add_argument("--allow-missing-crd", action="append", default=[], metavar="GROUP/VERSION/KIND")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.crds):
        print(f"validate_manifests.py: CRD directory {args.crds} does not exist", file=sys.stderr)
        return 2

    failures, checked, files = [], 0, []
    for path in yaml_files(args.paths):
        try:
            with open(path, encoding="utf-8") as fh:
                files.append((path, list(yaml.load_all(fh, Loader=SAFE_LOADER))))
        except (OSError, yaml.YAMLError) as e:
            failures.append(f"{path}: cannot read: {e}")
    groups = {
        obj["apiVersion"].rpartition("/")[0]
        for _, docs in files
        for obj in docs
        if isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) and "." in obj["apiVersion"].rpartition("/")[0]
    }
    validator = Validator(args.crds, set(args.allow_missing_crd), groups)
    for path, docs in files:
        for index, obj in enumerate(docs):
            if obj is None:
                continue
            checked += 1
            name = obj.get("metadata", {}).get("name", f"#{index}") if isinstance(obj, dict) else f"#{index}"
            kind = obj.get("kind", "?") if isinstance(obj, dict) else "?"
            for problem in validator.validate(obj):
                failures.append(f"{path}: {kind}/{name}: {problem}")

    for warning in sorted(set(validator.warnings)):
        print(f"warning: {warning}", file=sys.stderr)
    for failure in failures:
        print(failure, file=sys.stderr)
    if checked == 0:
        print("validate_manifests.py: no objects found", file=sys.stderr)
        return 1
    if failures:
        return 1
    print(f"{checked} objects valid (Kubernetes {KUBERNETES_VERSION}, CRDs from {args.crds})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
