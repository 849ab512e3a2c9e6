"""A real `mailgate serve` process on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailgate.admin import ops
from mailgate.config import load_config

PASSWORD = "Secret-pw1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    data: Path
    process: subprocess.Popen
    ports: dict[str, int]
    startup_seconds: float
    output: list[str] = field(default_factory=list)

    @property
    def cert(self) -> Path:
        return self.data / "tls" / "cert.pem"

    def cli(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "MAILGATE_DATA": str(self.data)}
        return subprocess.run([sys.executable, "-m", "mailgate.admin.cli", *args], input=input,
                              capture_output=True, env=env, timeout=60)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return self.process.returncode


def start_server(tmp: Path, users: dict[str, str] | None = None) -> RunningServer:
    data = tmp / "data"
    env = {**os.environ, "MAILGATE_DATA": str(data), "PYTHONUNBUFFERED": "1"}
    subprocess.run([sys.executable, "-m", "mailgate.admin.cli", "init", "--hostname", "localhost",
                    "--unprivileged-ports", "--bind", "127.0.0.1"], check=True, env=env,
                   capture_output=True, timeout=60)
    config = load_config(data)
    ports = {name: free_port() for name in ("imap", "imaps", "pop3", "pop3s", "submission", "smtp", "lmtp")}

    async def prepare() -> None:
        await ops.set_protocol_settings(config, "imap", {
            "ssl_bindings": f"127.0.0.1:{ports['imaps']}",
            "unencrypted_or_tls_bindings": f"127.0.0.1:{ports['imap']}"})
        await ops.set_protocol_settings(config, "pop", {
            "ssl_bindings": f"127.0.0.1:{ports['pop3s']}",
            "unencrypted_or_tls_bindings": f"127.0.0.1:{ports['pop3']}"})
        await ops.set_protocol_settings(config, "smtp", {
            "submission_bindings": f"127.0.0.1:{ports['submission']}",
            "inbound_bindings": f"127.0.0.1:{ports['smtp']}",
            "lmtp_bindings": f"127.0.0.1:{ports['lmtp']}"})
        for address, password in (users or {}).items():
            await ops.add_mailbox(config, address, password)

    asyncio.run(prepare())
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "mailgate.admin.cli", "serve"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("server exited before it was ready:\n" + "".join(output))
        output.append(line)
        if line.startswith("ready in"):
            break
    startup = time.monotonic() - started
    server = RunningServer(data, process, ports, startup, output)
    # Keep draining output so the pipe never fills and blocks the server.
    import threading

    def drain() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return server


@pytest.fixture()
def server(tmp_path: Path):
    running = start_server(tmp_path, {"alice@example.com": PASSWORD, "bob@example.com": PASSWORD})
    yield running
    running.stop()
