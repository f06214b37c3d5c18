"""Dependencies for the routes: each route asks for the services it uses, never builds one.

The container is reached here only; a route names ``RelayDep``, ``MetricsDep``, … .
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from bridge.metrics import Metrics
from bridge.relay import Relay
from bridge.settings import Settings

if TYPE_CHECKING:
    from bridge.container import Container


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def get_relay(request: Request) -> Relay:
    return get_container(request).relay


def get_metrics(request: Request) -> Metrics:
    return get_container(request).metrics


def get_settings(request: Request) -> Settings:
    return get_container(request).settings


ContainerDep = Annotated["Container", Depends(get_container)]
RelayDep = Annotated[Relay, Depends(get_relay)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
