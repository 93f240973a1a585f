"""Structured logs: one JSON object a line on stdout, the node id bound to every line.

Owns the log format and the catalogue of event names (the README documents the same list;
`lab.logs` and users' `jq` filters rely on the names). Every line carries `timestamp`
(ISO-8601, UTC), `level`, `event` and `node`. Per-message outcomes that can come at the
message rate (`message_deduplicated`, `ttl_drop`, `stale_message`, `send_failed`) are at
debug level, so that info stays readable under load; one line per update per node
(`update_applied`) stays at info, because tracing an update needs it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from node.core import (
    Applied,
    BootstrapFailed,
    Bootstrapped,
    Deduplicated,
    Event,
    MovieChanged,
    PeerChanged,
    Reaped,
    Refused,
    Stale,
    TtlDropped,
)

__all__ = ["make_logger", "log_event", "EVENTS"]

#: event name -> (level, meaning); the README's log catalogue.
EVENTS: dict[str, tuple[str, str]] = {
    "node_started": ("info", "the node listens; its settings"),
    "node_stopping": ("info", "shutdown began (SIGTERM/SIGINT)"),
    "node_stopped": ("info", "shutdown finished"),
    "bootstrap_ok": ("info", "joined through `via`; `peers` known"),
    "bootstrap_failed": ("warning", "the bootstrap node did not answer; retry in `retry_in_s`"),
    "movie_changed": ("info", "this node's new favourite `movie` at `version`"),
    "update_applied": (
        "info",
        "first arrival of news: `origin`, `version`, `movie`, from "
        "`sender`, after `hops` hops and `delay_ms`, `via` push or sync",
    ),
    "message_deduplicated": ("debug", "a message whose `uuid` was already handled"),
    "ttl_drop": ("debug", "applied but not forwarded: TTL spent"),
    "stale_message": ("debug", "news no newer than the `known` version"),
    "peer_state": ("info", "a peer's health changed from `old` to `new`"),
    "origin_reaped": ("info", "a departed origin was dropped from state"),
    "request_refused": ("warning", "a request was refused: `reason`, `detail`"),
    "send_failed": ("debug", "a request to `peer` failed: `error`"),
}

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def make_logger(
    node_id: str, fmt: str = "json", level: str = "info", stream: TextIO | None = None
) -> Any:
    """A logger for one node (no global configuration: several nodes can share a process)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        renderer,
    ]
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream or sys.stdout),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=True,
    )
    return logger.bind(node=node_id)


def log_event(log: Any, event: Event) -> None:
    """One core event as one log line (see EVENTS)."""
    match event:
        case Applied():
            log.info(
                "update_applied",
                origin=event.origin,
                version=event.version,
                movie=event.movie,
                sender=event.sender,
                hops=event.hops,
                ttl=event.ttl,
                delay_ms=None if event.delay_s is None else round(event.delay_s * 1000, 2),
                via=event.via,
                uuid=event.uuid,
            )
        case Deduplicated():
            log.debug(
                "message_deduplicated",
                uuid=event.uuid,
                origin=event.origin,
                version=event.version,
                sender=event.sender,
            )
        case TtlDropped():
            log.debug(
                "ttl_drop",
                uuid=event.uuid,
                origin=event.origin,
                version=event.version,
                sender=event.sender,
            )
        case Stale():
            log.debug(
                "stale_message",
                uuid=event.uuid,
                origin=event.origin,
                version=event.version,
                known=event.known,
                sender=event.sender,
            )
        case MovieChanged():
            log.info(
                "movie_changed",
                version=event.version,
                counter=event.counter,
                movie=event.movie,
                previous=event.previous,
                uuid=event.uuid,
            )
        case PeerChanged():
            log.info("peer_state", peer=event.peer, old=event.old, new=event.new)
        case Bootstrapped():
            log.info("bootstrap_ok", via=event.via, peers=event.peers)
        case BootstrapFailed():
            log.warning("bootstrap_failed", via=event.via, retry_in_s=event.retry_in_s)
        case Reaped():
            log.info("origin_reaped", origin=event.origin, version=event.version)
        case Refused():
            log.warning(
                "request_refused", reason=event.reason, detail=event.detail, sender=event.sender
            )
