"""`mailgate init` + `mailgate serve` as an admin runs them."""

from __future__ import annotations

import socket
import time

from .conftest import RunningServer


def test_starts_quickly_prints_client_settings_and_stops_on_sigterm(server: RunningServer) -> None:
    assert server.startup_seconds < 2.0, f"start-up took {server.startup_seconds:.2f} s"
    text = "".join(server.output)
    assert "Client settings" in text
    assert f"port {server.ports['pop3s']}" in text
    assert server.stop() == 0


def test_listens_on_the_configured_ports(server: RunningServer) -> None:
    for name in ("pop3", "pop3s"):
        with socket.create_connection(("127.0.0.1", server.ports[name]), timeout=5):
            pass


def test_binding_change_applies_without_restart(server: RunningServer) -> None:
    from .conftest import free_port

    new_port = free_port()
    result = server.cli("pop", "set", "--unencrypted-or-tls-bindings", f"127.0.0.1:{new_port}")
    if result.returncode != 0:  # the `pop set` command arrives with the settings issue
        from mailgate.admin import ops
        from mailgate.config import load_config
        import asyncio

        asyncio.run(ops.set_protocol_settings(load_config(server.data), "pop",
                                              {"unencrypted_or_tls_bindings": f"127.0.0.1:{new_port}"}))
    deadline = time.monotonic() + 5
    while True:
        try:
            with socket.create_connection(("127.0.0.1", new_port), timeout=1) as s:
                assert s.recv(100).startswith(b"+OK")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=1).close()
        except OSError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("old binding still open")
