"""`mailgate serve`: every role in one asyncio process.

Listeners follow the bindings stored in the settings: a watcher re-reads them
every second, opens new bindings and closes removed ones, so `mailgate imap set`
and friends apply without a restart.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import queue
import signal
import ssl
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from logging.handlers import QueueHandler, QueueListener
from typing import Any, Protocol

from .admin.ops import open_store
from .config import Config
from .directory.topology import register_server, this_server
from .observability.status import publish as publish_status
from .observability.status import shutdown as shutdown_status
from .runtime import Runtime
from .storage.index_snapshots import IndexSnapshots
from .session.imap.folder_cache import folder_index_cache
from .settings import ImapSettings, PopSettings, SettingsError, SmtpSettings, from_strings
from .transport.certs import server_context
from .transport.listener import Listener

log = logging.getLogger("mailgate")

SETTINGS_POLL_SECONDS = 1.0
ORPHAN_MIN_AGE_SECONDS = 3600
ORPHAN_SWEEP_INTERVAL_SECONDS = 86400  # after the first sweep, once a day


class ListenerLike(Protocol):
    async def start(self) -> None: ...

    async def stop(self, drain_seconds: float = 5.0) -> None: ...


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One kind of listener: its service, whether TLS is implicit, where its
    bindings come from, and how to make a listener for one binding."""

    service: str  # "imap4" / "pop3" / "smtp" ...
    label: str  # what clients call it
    implicit_tls: bool
    bindings: Callable[[Runtime], tuple[str, ...]]
    make_listener: Callable[[str, Runtime, bool], ListenerLike]


def _stream_listener(driver_module: str, driver_name: str, backend: bool = False
                     ) -> Callable[[str, Runtime, bool], ListenerLike]:
    """Listeners for drivers of the form `async def run(conn, runtime, mode=...)`.
    Client listeners proxy after login on a frontend; backend listeners take
    proxied logins only."""

    def make(binding: str, runtime: Runtime, implicit_tls: bool) -> ListenerLike:
        import importlib

        run = getattr(importlib.import_module(driver_module), driver_name)
        mode = "backend" if backend else ("frontend" if "frontend" in runtime.roles else "client")
        return Listener(binding, lambda conn: run(conn, runtime, mode=mode), implicit_tls, runtime.tls_context)

    return make


_POP3 = _stream_listener("mailgate.transport.pop3_driver", "run_pop3")
_IMAP = _stream_listener("mailgate.transport.imap_driver", "run_imap")
_POP3_BACKEND = _stream_listener("mailgate.transport.pop3_driver", "run_pop3", backend=True)
_IMAP_BACKEND = _stream_listener("mailgate.transport.imap_driver", "run_imap", backend=True)


def client_facing(runtime: Runtime, bindings: tuple[str, ...]) -> tuple[str, ...]:
    """A node that is only a mailbox server has no client listeners."""
    return bindings if runtime.roles & {"all", "frontend"} else ()


def _backend_binding(runtime: Runtime, port: int) -> tuple[str, ...]:
    if "backend" not in runtime.roles:
        return ()
    host = runtime.backend_address
    return (f"[{host}]:{port}" if ":" in host else f"{host}:{port}",)


def endpoints() -> list[Endpoint]:
    found = [
        Endpoint("imap4", "IMAP4 (STARTTLS)", False,
                 lambda r: client_facing(r, r.imap.unencrypted_or_tls_bindings), _IMAP),
        Endpoint("imap4", "IMAP4 (TLS)", True, lambda r: client_facing(r, r.imap.ssl_bindings), _IMAP),
        Endpoint("pop3", "POP3 (STLS)", False,
                 lambda r: client_facing(r, r.pop.unencrypted_or_tls_bindings), _POP3),
        Endpoint("pop3", "POP3 (TLS)", True, lambda r: client_facing(r, r.pop.ssl_bindings), _POP3),
        Endpoint("imap4", "IMAP4 backend", True,
                 lambda r: _backend_binding(r, r.imap.proxy_target_port), _IMAP_BACKEND),
        Endpoint("pop3", "POP3 backend", True,
                 lambda r: _backend_binding(r, r.pop.proxy_target_port), _POP3_BACKEND),
    ]
    found.extend(_extra_endpoints())
    return found


def _extra_endpoints() -> list[Endpoint]:
    """Endpoints of services that live in their own packages (SMTP, ...)."""
    try:
        from .smtp.endpoints import smtp_endpoints
    except ImportError:
        return []
    return list(smtp_endpoints())


def _background_tasks(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    """Long-running jobs of services in their own packages (the SMTP relay
    queue runner), started with the listeners and cancelled at shutdown."""
    try:
        from .smtp.endpoints import background_tasks
    except ImportError:
        return []
    return list(background_tasks(runtime))


class Server:
    def __init__(self, config: Config, runtime: Runtime) -> None:
        self.config = config
        self.runtime = runtime
        self.listeners: dict[tuple[str, str, bool, str], ListenerLike] = {}
        self.registered: object = None  # this node as last written to the directory (topology)

    async def load_settings(self) -> None:
        store = self.runtime.store
        try:
            self.runtime.imap = from_strings(ImapSettings, await store.get_settings("imap"))
            self.runtime.pop = from_strings(PopSettings, await store.get_settings("pop"))
            self.runtime.smtp = from_strings(SmtpSettings, await store.get_settings("smtp"))
        except SettingsError as exc:
            log.error("stored settings are invalid, keeping the previous ones: %s", exc)
        await self.runtime.policy.refresh(self.runtime)  # services, throttling, logs, disconnects

    async def reconcile(self) -> None:
        """Open listeners for bindings that appeared, close those that went."""
        wanted: dict[tuple[str, str, bool, str], Endpoint] = {}
        for endpoint in endpoints():
            if not self.runtime.policy.service_running(endpoint.service):
                continue  # `mailgate service stop`: its listeners close
            for binding in endpoint.bindings(self.runtime):
                wanted[(endpoint.service, endpoint.label, endpoint.implicit_tls, binding)] = endpoint
        for key in [k for k in self.listeners if k not in wanted]:
            listener = self.listeners.pop(key)
            await listener.stop(drain_seconds=0)
            log.info("closed %s on %s", key[1], key[3])
        for key, endpoint in wanted.items():
            if key in self.listeners:
                continue
            listener = endpoint.make_listener(key[3], self.runtime, endpoint.implicit_tls)
            try:
                await listener.start()
            except (OSError, ValueError) as exc:
                log.error("cannot listen on %s for %s: %s", key[3], endpoint.label, exc)
                continue
            self.listeners[key] = listener

    async def watch_settings(self) -> None:
        while not self.runtime.shutting_down.is_set():
            try:
                await asyncio.wait_for(self.runtime.shutting_down.wait(), SETTINGS_POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
            if self.runtime.shutting_down.is_set():
                return
            await self.load_settings()
            if this_server(self.runtime) != self.registered:  # ProxyTargetPort changed: re-register
                self.registered = await register_server(self.runtime)
            await self.reconcile()
            await publish_status(self)

    async def stop(self) -> None:
        await asyncio.gather(*(listener.stop() for listener in self.listeners.values()))
        self.listeners.clear()


def client_settings_text(config: Config, server: Server) -> str:
    lines = [f"mailgate {config.node} is serving {config.hostname}. Client settings:"]
    for endpoint in endpoints():
        for binding in endpoint.bindings(server.runtime):
            port = binding.rpartition(":")[2]
            security = "SSL/TLS" if endpoint.implicit_tls else "STARTTLS"
            lines.append(f"  {endpoint.label:<18} server {config.hostname}  port {port}  encryption {security}")
    return "\n".join(lines)


def _log_off_the_loop() -> QueueListener | None:
    """Log lines go to stderr from a thread: a slow reader of that pipe (a
    service manager, a terminal) must not stall the event loop on every
    delivery's log line. Leaves logging alone when it is set up already."""
    root = logging.getLogger()
    if root.handlers:
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(records, handler)
    listener.start()
    root.addHandler(QueueHandler(records))
    root.setLevel(logging.INFO)
    return listener


async def run_server(config: Config) -> int:
    listener = _log_off_the_loop()
    try:
        return await _run_server(config)
    finally:
        if listener is not None:
            listener.stop()  # writes what is queued
            for handler in logging.getLogger().handlers[:]:
                if isinstance(handler, QueueHandler):
                    logging.getLogger().removeHandler(handler)


async def _run_server(config: Config) -> int:
    started = time.monotonic()
    try:
        tls = server_context(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        log.error("cannot load the certificate %s: %s", config.tls_cert, exc)
        return 1
    # Big folders' indexes are kept in files for the first SELECT after a start.
    folder_index_cache.snapshots = IndexSnapshots(config.data_dir / "cache" / "index")
    async with open_store(config, listen=True) as (store, blobs):
        runtime = Runtime(store=store, blobs=blobs, hostname=config.hostname, tls_context=tls,
                          node=config.node, site=config.site, directory_url=config.store_url)
        runtime.policy.log_dir = config.log_dir
        await _prepare_roles(config, runtime)
        server = Server(config, runtime)
        await server.load_settings()
        server.registered = await register_server(runtime)  # the directory's topology: frontends route here
        await server.reconcile()
        await publish_status(server)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runtime.shutting_down.set)
        print(client_settings_text(config, server), flush=True)
        print(f"ready in {time.monotonic() - started:.2f} s", flush=True)
        tune_gc()
        # The default executor starts its first thread on first use: let that
        # be now rather than inside a client's first SELECT of a big folder.
        await loop.run_in_executor(None, int)
        sweep = asyncio.create_task(_sweep_orphans_periodically(runtime, config.orphan_sweep_delay))
        watcher = asyncio.create_task(server.watch_settings())
        background = [asyncio.create_task(job) for job in _background_tasks(runtime)]
        await runtime.shutting_down.wait()
        log.info("shutting down: draining connections")
        sweep.cancel()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await watcher
        await server.stop()
        await shutdown_status(server)
        await runtime.close_mailbox_stores()
    log.info("stopped")
    return 0


# Collector thresholds once the server runs (CPython's are 700, 10, 10). A
# full collection walks every tracked object: with 10,000 idle connections
# that is ~0.4 s with the event loop stopped, and the allocations of one
# delivery's fan-out to them used to trigger one in the middle of it (every
# idler notified in 0.8-1.15 s instead of 0.45 s). Collecting the youngest
# generation after 20,000 allocations instead of 700 makes full collections
# rare; cycles wait a little longer to be freed.
GC_THRESHOLDS = (20_000, 20, 50)


def tune_gc() -> None:
    """Everything loaded so far (modules, settings, certificates) lives as
    long as the server: frozen, the collector's full passes never walk it
    again; then the thresholds above."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _prepare_roles(config: Config, runtime: Runtime) -> None:
    """Frontend and backend nodes share the proxy credential through the
    directory; frontends check backends' certificates with backend_ca_file."""
    from .proxy.backend_link import backend_client_context
    from .proxy.credentials import ensure_proxy_secret

    runtime.roles = frozenset(getattr(config, "roles", None) or {"all"})
    runtime.backend_address = getattr(config, "backend_address", None) or runtime.backend_address
    if runtime.roles != {"all"}:
        runtime.proxy_secret = await ensure_proxy_secret(runtime.store)
        runtime.backend_tls = backend_client_context(getattr(config, "backend_ca_file", None))


async def _sweep_orphans_periodically(runtime: Runtime, delay: float) -> None:
    """The first sweep waits ``delay`` seconds ([store] orphan_sweep_delay), so
    a restarted server serves its clients before walking every blob file."""
    await asyncio.sleep(delay)
    while True:
        await _sweep_orphans(runtime)
        await asyncio.sleep(ORPHAN_SWEEP_INTERVAL_SECONDS)


async def _sweep_orphans(runtime: Runtime) -> None:
    """Remove blobs no row points at (left by a crash between the blob write and
    the row commit). Only old ones: a delivery in flight elsewhere is young."""
    try:
        # Every database keeping its blobs in this folder counts (a shared
        # folder); when one cannot be read, nothing is swept.
        referenced = await runtime.mailboxes.referenced_blob_ids(runtime.blobs.root)
        if referenced is None:
            log.warning("orphan sweep skipped: a mailbox database is unreachable")
            return
        removed = await asyncio.to_thread(runtime.blobs.sweep, referenced, ORPHAN_MIN_AGE_SECONDS)
        if removed:
            log.info("removed %d orphan blobs", removed)
    except asyncio.CancelledError:
        raise
    except Exception:  # the sweep is housekeeping: never fatal
        log.exception("orphan sweep failed")
