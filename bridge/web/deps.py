"""Dependencies for the routes: each route asks for the services it uses, never builds one.

The container is reached here only; a route names ``RelayDep``, ``MetricsDep``, … .
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from bridge.channel import ChannelRegistry
from bridge.media import MediaLinks
from bridge.metrics import Metrics
from bridge.receivers import ReceiverMonitor
from bridge.relay import Relay
from bridge.settings import Settings
from bridge.worker import Worker
from storage import Store

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


def get_store(request: Request) -> Store:
    return get_container(request).store


def get_worker(request: Request) -> Worker:
    return get_container(request).worker


def get_receivers(request: Request) -> ReceiverMonitor:
    return get_container(request).receivers


def get_media_links(request: Request) -> MediaLinks:
    return get_container(request).media


def get_channels(request: Request) -> ChannelRegistry:
    return get_container(request).channels


RelayDep = Annotated[Relay, Depends(get_relay)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
WorkerDep = Annotated[Worker, Depends(get_worker)]
ReceiversDep = Annotated[ReceiverMonitor, Depends(get_receivers)]
MediaLinksDep = Annotated[MediaLinks, Depends(get_media_links)]
ChannelsDep = Annotated[ChannelRegistry, Depends(get_channels)]
