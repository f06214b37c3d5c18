"""Import aiogram so that each Telegram type builds its pydantic validator on first use.

``aiogram.types`` declares ~900 models with ``defer_build=True`` and then, at the end of its
``__init__``, calls ``model_rebuild`` on every one of them to resolve forward references.
That builds every validator eagerly: 165 MB of RSS and 2.4 s of start-up on pydantic 2.13,
for a bridge that validates a few dozen of those types. Here the import runs with that
``model_rebuild`` call deferred: the namespace aiogram hands over is kept, and pydantic's own
first-use rebuild (the mock validator it installs for deferred models) gets it back. The
types behave exactly as before; only the moment their validators are built moves.

This must run before anything imports aiogram; the package ``__init__`` calls it first.
If aiogram is already imported (a test importing it directly, say), it does nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

_AIOGRAM_TYPES = "aiogram.types"


def import_aiogram_lazily() -> None:
    if "aiogram" in sys.modules:
        return
    namespace: dict[str, Any] = {}
    eager = BaseModel.__dict__["model_rebuild"]
    build = eager.__func__
    importing = True

    def rebuild(
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        if not cls.__module__.startswith("aiogram."):  # only while importing: not ours
            _parent_namespace_depth += 1  # this wrapper is one frame more than pydantic counts
        elif importing and _types_namespace is not None:
            namespace.update(_types_namespace)  # aiogram's eager rebuild: deferred
            return None
        elif _types_namespace is None:  # first use: with the namespace aiogram had given
            _parent_namespace_depth, _types_namespace = 0, namespace
        built: bool | None = build(
            cls,
            force=force,
            raise_errors=raise_errors,
            _parent_namespace_depth=_parent_namespace_depth,
            _types_namespace=_types_namespace,
        )
        return built

    BaseModel.model_rebuild = classmethod(rebuild)  # type: ignore[assignment]
    try:
        importlib.import_module(_AIOGRAM_TYPES)
    finally:
        BaseModel.model_rebuild = eager  # type: ignore[method-assign]
    importing = False
    if not namespace:  # aiogram changed how it resolves its references: nothing was deferred
        return
    # the bases of every aiogram model that refers to a type: the types and methods
    # (BotContextController) and the Response[...] a method's answer is read into
    from aiogram.client.context_controller import BotContextController
    from aiogram.methods.base import Response

    for base in (BotContextController, Response):
        base.model_rebuild = classmethod(rebuild)  # type: ignore[method-assign, assignment]


# pydantic caches ``Response[Message]`` and the like in a WeakValueDictionary: aiogram asks for
# ``Response[method.__returning__]`` on every call and keeps no reference, so after a garbage
# collection the next call built the whole class again (3% of the bridge's time under load).
_answer_models: list[type[BaseModel]] = []


def build_hot_validators(methods: Iterable[type[BaseModel]]) -> None:
    """Build now what every running bridge needs at once (an update; the answer model of
    each Bot API method it calls), so that the first customer does not wait ~200 ms for
    them, and keep the answer models alive for good."""
    from aiogram.methods.base import Response
    from aiogram.types import Update

    Update.model_rebuild()
    for method in methods:
        answer = Response[method.__returning__]  # type: ignore[name-defined]
        answer.model_rebuild()
        if answer not in _answer_models:
            _answer_models.append(answer)
