"""What ``channels.telegram.lazy_types`` relies on in pydantic and aiogram is still there.

lazy_types defers aiogram's eager ``model_rebuild`` calls by patching pydantic at import time.
If a new pydantic or aiogram release moves any of the names below, these tests say exactly
which one, instead of the bridge failing in an obscure way (or silently building everything).
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import aiogram
import pydantic
from pydantic import BaseModel

HINT = (
    "channels/telegram/lazy_types.py relies on it: check that module against this "
    f"release (pydantic {pydantic.VERSION}, aiogram {aiogram.__version__})"
)


def test_pydantic_model_rebuild_is_a_classmethod_with_the_private_arguments() -> None:
    rebuild = BaseModel.__dict__.get("model_rebuild")
    assert isinstance(rebuild, classmethod), f"BaseModel.model_rebuild is no classmethod; {HINT}"
    parameters = inspect.signature(rebuild.__func__).parameters
    for name in ("force", "raise_errors", "_parent_namespace_depth", "_types_namespace"):
        assert name in parameters, f"BaseModel.model_rebuild has no {name!r} argument; {HINT}"
    assert parameters["_parent_namespace_depth"].default == 2, (
        f"pydantic changed the default namespace depth of model_rebuild; {HINT}"
    )


def test_pydantic_models_still_say_whether_they_are_built() -> None:
    class Probe(BaseModel):
        model_config = pydantic.ConfigDict(defer_build=True)
        x: int

    assert hasattr(Probe, "__pydantic_complete__"), f"no __pydantic_complete__; {HINT}"


def test_aiogram_types_rebuild_every_type_with_a_types_namespace_at_import() -> None:
    spec = importlib.util.find_spec("aiogram.types")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert "model_rebuild(_types_namespace=_types_namespace)" in source, (
        f"aiogram.types no longer calls model_rebuild(_types_namespace=...) at import; {HINT}"
    )


def test_aiogram_types_are_declared_with_deferred_build() -> None:
    from aiogram.types.base import TelegramObject

    assert TelegramObject.model_config.get("defer_build") is True, (
        f"aiogram's TelegramObject no longer defers building its validators; {HINT}"
    )


def test_aiogram_bases_lazy_types_patches_exist() -> None:
    from aiogram.client.context_controller import BotContextController
    from aiogram.methods import SendMessage
    from aiogram.methods.base import Response

    assert issubclass(BotContextController, BaseModel), f"BotContextController; {HINT}"
    assert issubclass(Response, BaseModel), f"aiogram.methods.base.Response; {HINT}"
    assert hasattr(SendMessage, "__returning__"), f"TelegramMethod.__returning__; {HINT}"
