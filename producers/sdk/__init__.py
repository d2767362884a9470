"""The ministry SDK: `Publisher` validates, encodes through the registry and produces events."""

from producers.sdk.futures import DeliveryTimeoutError, LightFuture
from producers.sdk.gate import NotGrantedError, SourceGate
from producers.sdk.publisher import Delivery, FlushReport, Publisher, PublishError

__all__ = [
    "Delivery",
    "DeliveryTimeoutError",
    "FlushReport",
    "LightFuture",
    "NotGrantedError",
    "PublishError",
    "Publisher",
    "SourceGate",
]
