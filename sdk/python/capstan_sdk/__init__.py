"""The Capstan policy SDK for Python: write a policy plugin as one class
over plain dataclasses, build it into a WebAssembly component with
componentize-py, test it with pytest.

```python
from capstan_sdk import Metadata, Policy, Rule, Violation, k8s

class NoLatest(Policy):
    def metadata(self):
        return Metadata(
            name="acme/no-latest", version="0.1.0",
            description="Images are pinned.",
            rules=[Rule("pinned-image", "No container runs an image tagged `latest`.")],
        )

    def check(self, request):
        return [
            Violation.error("pinned-image", i, path + "/image", "pin the image to a version")
            for i, o in enumerate(request.objects)
            for path, c in k8s.containers(o)
            if c.get("image", "").endswith(":latest")
        ]
```

Modules: `types` (the dataclasses), `policy` (the base class and the
checks around it), `k8s` (pointers, labels, pod templates, containers),
`log`, `testing` (pytest without wasm), `build` (componentize-py), `host`
(the built component through the `capstan` binary), and `wit` (the glue
the component exports; importable only inside a build).

The SDK does not read files, the network or the environment from inside
the component: a policy is pure, and sees only what the engine sends.
"""

from . import k8s, log
from .policy import MetadataError, Policy
from .types import CheckRequest, Metadata, PolicyError, Rule, Severity, Subject, Violation

__all__ = [
    "CheckRequest",
    "Metadata",
    "MetadataError",
    "Policy",
    "PolicyError",
    "Rule",
    "Severity",
    "Subject",
    "Violation",
    "k8s",
    "log",
]
