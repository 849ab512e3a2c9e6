"""What a running server publishes each settings tick: its status file (read
by `mailgate service status`) and its metrics endpoint.

The status file, `<data>/run/status-<node>.json`, lists each service's state,
listeners and current connection counts. It is rewritten only when it
changes; a reader knows the server is alive from its pid.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..policy.state import SERVICES
from ..transport.listener import Listener
from .metrics import serve_http

if TYPE_CHECKING:
    from ..config import Config
    from ..server import Server

log = logging.getLogger("mailgate.status")


def status_path(config: Config) -> Path:
    return config.data_dir / "run" / f"status-{config.node}.json"


def snapshot(server: Server) -> dict[str, Any]:
    policy = server.runtime.policy
    services: dict[str, Any] = {}
    for service in (*SERVICES, "smtp"):
        listeners = []
        for (svc, label, implicit_tls, binding), listener in sorted(server.listeners.items()):
            if svc != service:
                continue
            port = getattr(listener, "bound_port", None) if getattr(listener, "server", None) else None
            listeners.append({"label": label, "binding": binding, "port": port, "implicit_tls": implicit_tls})
        services[service] = {
            "running": policy.service_running(service),
            "listeners": listeners,
            "connections": policy.tracker.count(service),
            "tls_connections": policy.tracker.count(service, tls=True),
        }
    metrics = sorted(policy.metrics_listeners)
    return {"node": server.config.node, "pid": os.getpid(), "services": services, "metrics": metrics}


async def publish(server: Server) -> None:
    await _reconcile_metrics(server)
    text = json.dumps(snapshot(server), indent=1, sort_keys=True)
    policy = server.runtime.policy
    if text == policy.published:
        return
    path = status_path(server.config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # readers never see half a file
        policy.published = text
    except OSError as exc:
        log.error("cannot write %s: %s", path, exc)


async def _reconcile_metrics(server: Server) -> None:
    policy = server.runtime.policy
    current: dict[str, Listener] = policy.metrics_listeners
    wanted = set(policy.monitoring.metrics_bindings)
    for binding in [b for b in current if b not in wanted]:
        await current.pop(binding).stop(drain_seconds=0)
        log.info("closed metrics endpoint on %s", binding)
    for binding in wanted - set(current):
        listener = Listener(binding, serve_http, False, None)
        try:
            await listener.start()
        except (OSError, ValueError) as exc:
            if binding not in policy.metrics_failed:  # retried each tick; said once
                log.error("cannot serve metrics on %s: %s", binding, exc)
                policy.metrics_failed.add(binding)
            continue
        policy.metrics_failed.discard(binding)
        current[binding] = listener
        log.info("metrics on http://%s/metrics", binding)


async def shutdown(server: Server) -> None:
    policy = server.runtime.policy
    for listener in policy.metrics_listeners.values():
        await listener.stop(drain_seconds=0)
    policy.metrics_listeners.clear()
    policy.close()
    try:
        status_path(server.config).unlink()
    except OSError:
        pass
