"""How the server runs the SMTP services: three kinds of endpoint and the
relay queue runner, all sharing one SmtpContext per running server."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from ..runtime import Runtime
from ..server import Endpoint, ListenerLike, client_facing
from .context import SmtpContext
from .listener import UNIX_PREFIX, SmtpListener
from .routing import Service

_ATTR = "_mailgate_smtp_context"


def context_for(runtime: Runtime) -> SmtpContext:
    """The one SmtpContext of a running server. Kept on the Runtime object
    itself so it lives and dies with it (Runtime has no slot for services
    yet; a module-level registry would keep every Runtime alive)."""
    ctx = getattr(runtime, _ATTR, None)
    if not isinstance(ctx, SmtpContext):
        ctx = SmtpContext.create(runtime)
        setattr(runtime, _ATTR, ctx)
    return ctx


def _maker(service: Service):  # type: ignore[no-untyped-def]
    def make(binding: str, runtime: Runtime, implicit_tls: bool) -> ListenerLike:
        return SmtpListener(binding, context_for(runtime), service)

    return make


def _lmtp_bindings(runtime: Runtime) -> tuple[str, ...]:
    socket = runtime.smtp.lmtp_socket
    return runtime.smtp.lmtp_bindings + ((UNIX_PREFIX + socket,) if socket else ())


def smtp_endpoints() -> list[Endpoint]:
    return [
        # Submission is a client service: frontends (or one-node servers) only.
        Endpoint("smtp-submission", "SMTP (STARTTLS)", False,
                 lambda r: client_facing(r, r.smtp.submission_bindings), _maker(Service.SUBMISSION)),
        Endpoint("smtp-inbound", "SMTP inbound", False,
                 lambda r: r.smtp.inbound_bindings, _maker(Service.INBOUND)),
        Endpoint("lmtp", "LMTP", False, _lmtp_bindings, _maker(Service.LMTP)),
    ]


def background_tasks(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    """Long-running coroutines the server starts with its listeners and
    cancels at shutdown: the relay queue runner."""
    return [context_for(runtime).relay.run()]
