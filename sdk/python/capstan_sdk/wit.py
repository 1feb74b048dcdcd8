"""The glue between a `capstan_sdk.Policy` and the `policy` export of the
`policy-plugin` world: the class componentize-py calls, converting the
generated WIT types to and from the SDK's, parsing the JSON, and turning
every failure into the `err` string that names it.

Only importable inside a component build (it imports the generated
`wit_world` bindings). An entry module is two lines:

```python
from capstan_sdk.wit import export
from naming_policy import NamingPolicy
Policy = export(NamingPolicy)
```

`python3 -m capstan_sdk.build naming_policy:NamingPolicy -o policy.wasm`
writes that module and runs componentize-py.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

import wit_world.exports
from componentize_py_types import Err
from wit_world.exports import policy as wit
from wit_world.imports import types as wit_types

from . import _yaml, log
from .policy import Policy as _Policy
from .policy import describe, run_check
from .types import CheckRequest, PolicyError, Subject


def export(policy: type[_Policy] | _Policy) -> type:
    """The class to bind to the name `Policy` in the entry module.

    componentize-py instantiates it once while building, which instantiates
    `policy` (when given a class) and checks its metadata: a policy whose
    metadata the engine would refuse fails to build, with every problem
    listed."""

    class Policy(wit_world.exports.Policy):
        def __init__(self) -> None:
            self._policy = policy() if isinstance(policy, type) else policy
            self._meta = describe(self._policy)
            m = self._meta
            self._described = wit.PolicyMetadata(
                name=m.name,
                version=m.version,
                description=m.description,
                params_schema=json.dumps(m.params_schema, sort_keys=True),
                defaults=_yaml.dump(m.defaults),
                rules=[wit.Rule(id=r.id, description=r.description) for r in m.rules],
            )

        def describe(self) -> wit.PolicyMetadata:
            return self._described

        def check(self, request: wit.CheckRequest) -> list[wit.Violation]:
            log._in_call = True
            try:
                return self._check(request)
            except Err:
                raise
            except PolicyError as err:
                raise Err(str(err)) from None
            except Exception as err:  # anything else: an error value, never a trap
                raise Err(_failure(err)) from None
            finally:
                log._in_call = False

        def _check(self, request: wit.CheckRequest) -> list[wit.Violation]:
            s = request.subject
            subject = Subject(s.name, s.environment, s.namespace, s.component_type, s.plugin)
            objects = [_parse(text, f"objects[{i}]", dict) for i, text in enumerate(request.objects)]
            params = _parse(request.params, "params", dict)
            found = run_check(self._policy, self._meta, CheckRequest(subject, objects, params))
            return [
                wit.Violation(
                    rule=v.rule,
                    object=v.object,
                    path=v.path,
                    message=v.message,
                    severity=wit_types.Severity[v.severity.name],
                )
                for v in found
            ]

    return Policy


def _parse(text: str, what: str, expected: type) -> Any:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise PolicyError(f"{what} is not JSON: {err}") from None
    if not isinstance(value, expected):
        raise PolicyError(f"{what} is a JSON {type(value).__name__}, not an object")
    return value


def _failure(err: Exception) -> str:
    """`check() failed: KeyError: 'x' (at naming_policy.py:42, in check)`:
    the policy's own frame nearest the failure, without the SDK's."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "/capstan_sdk/" not in f.filename]
    where = ""
    if frames:
        f = frames[-1]
        where = f" (at {f.filename.rsplit('/', 1)[-1]}:{f.lineno}, in {f.name})"
    return f"check() failed: {type(err).__name__}: {err}{where}"
