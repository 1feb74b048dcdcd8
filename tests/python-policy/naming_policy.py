"""acme/naming-policy: an organisation's naming and labelling rules, as a
Capstan policy plugin written in Python.

Every object says which application it is and what it is part of (the
labels `app.kubernetes.io/name` and `app.kubernetes.io/part-of`), and so do
the pods a workload makes; every name is a lowercase DNS-1123 label and
starts with the organisation's prefix when it has one.

Params (a `policy` block's `params`, over the defaults):
- `part_of`: the value `app.kubernetes.io/part-of` must have, such as
  `open-finance`; empty (the default): any non-empty value.
- `name_prefix`: what every name starts with, such as `of-`; empty (the
  default): no prefix.
- `rules`: switches rules off by id, such as `{ name-prefix = false }`.
"""

from __future__ import annotations

import re

from capstan_sdk import CheckRequest, Metadata, Policy, Rule, Violation, k8s

NAME = "app.kubernetes.io/name"
PART_OF = "app.kubernetes.io/part-of"
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A label value Kubernetes accepts, empty aside.
LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"

RULES = [
    Rule("name-label", f"Every object carries the label `{NAME}`."),
    Rule("part-of-label", f"Every object carries the label `{PART_OF}`, set to `part_of` when that is given."),
    Rule("pod-template-labels", f"A workload's pod template carries `{NAME}` and `{PART_OF}` too, so its pods do."),
    Rule("dns-1123-name", "Every name is a lowercase DNS-1123 label: at most 63 of a-z, 0-9 and `-`, alphanumeric at both ends."),
    Rule("name-prefix", "Every name starts with `name_prefix` when that is given."),
]


class NamingPolicy(Policy):
    def metadata(self) -> Metadata:
        return Metadata(
            name="acme/naming-policy",
            version="0.1.0",
            description=(
                "Acme's naming and labelling rules: every object says which application it is "
                f"(`{NAME}`) and what it is part of (`{PART_OF}`), and so do the pods of a workload; "
                "names are lowercase DNS-1123 labels and start with the organisation's prefix."
            ),
            rules=RULES,
            params_schema={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "part_of": {
                        "type": "string",
                        "maxLength": 63,
                        "pattern": LABEL_VALUE,
                        "description": f"The value `{PART_OF}` must have; empty: any value.",
                    },
                    "name_prefix": {
                        "type": "string",
                        "maxLength": 62,
                        "pattern": r"^([a-z0-9][-a-z0-9]*)?$",
                        "description": "What every object's name starts with, such as `of-`; empty: no prefix.",
                    },
                },
            },
            defaults={"part_of": "", "name_prefix": ""},
        )

    def check(self, request: CheckRequest) -> list[Violation]:
        part_of = request.params["part_of"]
        prefix = request.params["name_prefix"]
        found: list[Violation] = []
        for i, obj in enumerate(request.objects):
            what = k8s.describe(obj)
            found += _labels(i, what, k8s.labels(obj), "/metadata/labels", part_of, "")
            template = k8s.pod_template(obj)
            if template is not None and template[0]:  # a workload's template, not a Pod itself
                at, body = template
                labels = k8s.get(body, "metadata", "labels", default={}) or {}
                found += [
                    Violation.error("pod-template-labels", v.object, v.path, v.message)
                    for v in _labels(i, what, labels, f"{at}/metadata/labels", part_of, "pod template of ")
                ]
            name = k8s.name(obj)
            if not DNS_1123_LABEL.match(name) or len(name) > 63:
                found.append(
                    Violation.error(
                        "dns-1123-name",
                        i,
                        "/metadata/name",
                        f"{what}: {name!r} is not a lowercase DNS-1123 label "
                        "(at most 63 of a-z, 0-9 and '-', alphanumeric at both ends)",
                    )
                )
            if prefix and not name.startswith(prefix):
                found.append(
                    Violation.error("name-prefix", i, "/metadata/name", f"{what}: the name does not start with {prefix!r}")
                )
        return found


def _labels(i: int, what: str, labels: dict, at: str, part_of: str, whose: str) -> list[Violation]:
    """The label violations of one `metadata.labels`, as `name-label` and
    `part-of-label` (the caller renames them for a pod template)."""
    found = []
    if not labels.get(NAME):
        found.append(
            Violation.error("name-label", i, at + k8s.pointer(NAME), f"{whose}{what} has no label {NAME}; set it to the application's name")
        )
    value = labels.get(PART_OF)
    if not value:
        wanted = f"set it to {part_of!r}" if part_of else "set it to what the application is part of"
        found.append(Violation.error("part-of-label", i, at + k8s.pointer(PART_OF), f"{whose}{what} has no label {PART_OF}; {wanted}"))
    elif part_of and value != part_of:
        found.append(
            Violation.error("part-of-label", i, at + k8s.pointer(PART_OF), f"{whose}{what} has {PART_OF}={value!r}; it must be {part_of!r}")
        )
    return found
