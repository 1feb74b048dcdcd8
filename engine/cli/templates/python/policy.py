"""Capstan policy `{{name}}`: every object Capstan plans carries a label
(by default `app.kubernetes.io/name`), so the cluster's tooling can tell
what it belongs to."""

from capstan_sdk import Metadata, Policy, Rule, Violation, k8s


class {{Struct}}(Policy):
    def metadata(self):
        return Metadata(
            name="{{name}}",
            version="0.1.0",
            description="Every object carries the configured label.",
            rules=[Rule("required-label", "Every object has the label `label` (default app.kubernetes.io/name).")],
            params_schema={
                "type": "object",
                "properties": {"label": {"type": "string", "minLength": 1}},
                "required": ["label"],
            },
            defaults={"label": "app.kubernetes.io/name"},
        )

    def check(self, request):
        label = request.params["label"]
        return [
            Violation.error("required-label", i, "/metadata/labels", f"{k8s.describe(o)} has no label `{label}`; add it")
            for i, o in enumerate(request.objects)
            if not k8s.labels(o).get(label)
        ]
