"""A test deployment on one machine: one frontend and two mailbox servers in
two sites, each a separate `mailgate serve` process, sharing a directory on
PostgreSQL, with one mailbox database per backend (issue: frontend/backend)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailgate.admin import ops
from mailgate.config import load_config

PASSWORD = "Deploy-pw1"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    name: str
    data: Path
    role: str
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, "MAILGATE_DATA": str(self.data), "PYTHONUNBUFFERED": "1"}

    def cli(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mailgate.admin.cli", *args], input=input,
                              capture_output=True, env=self.env(), timeout=120)

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "mailgate.admin.cli", "serve", "--role", self.role],
                                        env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"{self.name} exited before it was ready:\n" + "".join(self.output))
            self.output.append(line)
            if line.startswith("ready in"):
                break
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log(self) -> str:
        return "".join(self.output)


@dataclass
class Deployment:
    frontend: Node
    backends: dict[str, Node]
    ports: dict[str, int]
    cert: Path
    blob_dirs: dict[str, Path]

    def wait_for(self, node: Node, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text not in node.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the log of {node.name}:\n{node.log()[-3000:]}")
            time.sleep(0.05)


def _configure(data: Path, directory: str, node: str, site: str, backend_address: str) -> None:
    toml = data / "mailgate.toml"
    text = toml.read_text()
    text = text.replace("[store]\n", f'[store]\nurl = "{directory}"\n')
    text = text.replace("[server]\n", f'[server]\nsite = "{site}"\nbackend_address = "{backend_address}"\n')
    text = re.sub(r'(?m)^node = ".*"$', f'node = "{node}"', text)
    toml.write_text(text)


@pytest.fixture()
async def deployment(tmp_path: Path, pg_server):
    directory = (await pg_server.create_database())[1]
    db_urls = {"DBA": (await pg_server.create_database())[1], "DBB": (await pg_server.create_database())[1]}
    fe_data = tmp_path / "fe"
    await ops.init_data_dir(fe_data, hostname="localhost", unprivileged=True, bind="127.0.0.1")
    cert, key = fe_data / "tls" / "cert.pem", fe_data / "tls" / "key.pem"
    _configure(fe_data, directory, "fe", "site-a", "127.0.0.1")
    nodes = {"fe": Node("fe", fe_data, "frontend")}
    for name, site, address in (("mbx1", "site-a", "127.0.0.1"), ("mbx2", "site-b", "127.0.0.2")):
        data = tmp_path / name
        await ops.init_data_dir(data, hostname="localhost", tls_cert=cert, tls_key=key, unprivileged=True,
                                bind="127.0.0.1")
        _configure(data, directory, name, site, address)
        nodes[name] = Node(name, data, "backend")
    ports = {name: free_port() for name in ("imap", "imaps", "pop3", "pop3s", "imap_backend", "pop_backend")}
    config = load_config(fe_data)
    await ops.set_protocol_settings(config, "imap", {
        "ssl_bindings": f"127.0.0.1:{ports['imaps']}", "unencrypted_or_tls_bindings": f"127.0.0.1:{ports['imap']}",
        "proxy_target_port": str(ports["imap_backend"])})
    await ops.set_protocol_settings(config, "pop", {
        "ssl_bindings": f"127.0.0.1:{ports['pop3s']}", "unencrypted_or_tls_bindings": f"127.0.0.1:{ports['pop3']}",
        "proxy_target_port": str(ports["pop_backend"])})
    blob_dirs = {db: tmp_path / f"blobs-{db}" for db in db_urls}
    started: list[Node] = []
    try:
        for name in ("mbx1", "mbx2", "fe"):
            nodes[name].start()
            started.append(nodes[name])
        fe = nodes["fe"]
        for db, server in (("DBA", "mbx1"), ("DBB", "mbx2")):
            result = fe.cli("database", "add", db, "--url", db_urls[db], "--server", server,
                            "--blob-dir", str(blob_dirs[db]))
            assert result.returncode == 0, result.stdout + result.stderr
        for address, db in (("alice@example.com", "DBA"), ("bob@example.com", "DBB"), ("carol@example.com", "DBA")):
            result = fe.cli("mailbox", "add", address, "--password-stdin", "--database", db,
                            input=PASSWORD.encode() + b"\n")
            assert result.returncode == 0, result.stdout + result.stderr
        yield Deployment(fe, {"mbx1": nodes["mbx1"], "mbx2": nodes["mbx2"]}, ports, cert, blob_dirs)
    finally:
        for node in reversed(started):
            node.stop()
        await asyncio.sleep(0)
