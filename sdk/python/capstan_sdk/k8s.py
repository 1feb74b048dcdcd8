"""Reading planned Kubernetes objects: JSON Pointers to cite in a
violation, labels, and the pod template and containers of every workload
kind, each with its path."""

from __future__ import annotations

from typing import Any, Iterator

#: Where each workload kind keeps its pod template (the object holding the
#: pod's `metadata` and `spec`).
POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def pointer(*tokens: str | int) -> str:
    """The JSON Pointer (RFC 6901) of a path: `pointer("metadata", "labels",
    "app.kubernetes.io/name")` is `/metadata/labels/app.kubernetes.io~1name`."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def get(obj: Any, *tokens: str | int, default: Any = None) -> Any:
    """The value at a path, or `default` where the path leaves the object."""
    for t in tokens:
        if isinstance(obj, dict) and isinstance(t, str) and t in obj:
            obj = obj[t]
        elif isinstance(obj, list) and isinstance(t, int) and 0 <= t < len(obj):
            obj = obj[t]
        else:
            return default
    return obj


def kind(obj: dict[str, Any]) -> str:
    return obj.get("kind", "") if isinstance(obj.get("kind"), str) else ""


def name(obj: dict[str, Any]) -> str:
    value = get(obj, "metadata", "name", default="")
    return value if isinstance(value, str) else ""


def labels(obj: dict[str, Any]) -> dict[str, str]:
    """The object's `metadata.labels` (empty when it has none)."""
    value = get(obj, "metadata", "labels", default={})
    return value if isinstance(value, dict) else {}


def describe(obj: dict[str, Any]) -> str:
    """`Deployment api`: how a message names an object."""
    return f"{kind(obj) or 'object'} {name(obj) or '(unnamed)'}"


def pod_template(obj: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """`(path, template)` of a workload's pod template, or of a Pod itself
    (path `""`); None for other kinds. The template has `metadata` and
    `spec` like a Pod."""
    if kind(obj) == "Pod":
        return "", obj
    tokens = POD_TEMPLATE_PATHS.get(kind(obj))
    if tokens is None:
        return None
    template = get(obj, *tokens)
    return (pointer(*tokens), template) if isinstance(template, dict) else None


def containers(obj: dict[str, Any], *, init: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
    """`(path, container)` of each container of a Pod or workload, init
    containers included unless `init=False`."""
    found = pod_template(obj)
    if found is None:
        return
    at, template = found
    fields = ("initContainers", "containers") if init else ("containers",)
    for field in fields:
        for i, container in enumerate(get(template, "spec", field, default=[]) or []):
            if isinstance(container, dict):
                yield f"{at}/spec/{field}/{i}", container
