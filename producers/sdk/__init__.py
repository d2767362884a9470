"""The ministry SDK: `Publisher` validates, encodes through the registry and produces events."""

from producers.sdk.publisher import Delivery, FlushReport, NotGrantedError, Publisher, PublishError

__all__ = ["Delivery", "FlushReport", "NotGrantedError", "PublishError", "Publisher"]
