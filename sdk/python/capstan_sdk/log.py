"""Logging from a policy. In the component, messages go to the engine
through the `log` import, which tags them with the policy and the
component and caps their size; elsewhere (a pytest run) to Python's
`logging`, logger `capstan_sdk.policy`.

Only during a call: componentize-py runs the module's top level and the
policy's constructor while building the component, when there is no host
to log to; a message then goes to `logging` as well."""

from __future__ import annotations

import logging
import sys

_logger = logging.getLogger("capstan_sdk.policy")
_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
#: Set by the glue (`capstan_sdk.wit`) while the engine's call runs.
_in_call = False


def _emit(level: str, message: str) -> None:
    if _in_call and sys.platform == "wasi":
        from wit_world.imports import log as host

        host.log(getattr(host.Level, level.upper()), str(message))
    else:
        _logger.log(_LEVELS[level], "%s", message)


def trace(message: str) -> None:
    _emit("trace", message)


def debug(message: str) -> None:
    _emit("debug", message)


def info(message: str) -> None:
    _emit("info", message)


def warn(message: str) -> None:
    _emit("warn", message)


def error(message: str) -> None:
    _emit("error", message)
