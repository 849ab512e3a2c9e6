"""The two servers under test, set up alike: same users and password hash,
same corpus, plaintext ports (TLS only where a workload asks), fsync on.

Both log in users `user<i>@bench.test` with password "pass" stored as the
same argon2id hash (m=19 MiB, t=2, p=1: mailgate's own parameters), so a LOGIN
costs the same work on both.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import proc

PASSWORD = "pass"
# The `mailgate` console script, run with this interpreter (python -m on the
# CLI module is avoided: it imports the module twice).
MAILGATE_CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'mailgate'; "
                "from mailgate.admin.cli import main; sys.exit(main())"]
DOMAIN = "bench.test"
PEERS = Path(os.environ.get("MGBENCH_PEERS", "/work/shared/peers"))


def user(i: int) -> str:
    return f"user{i}@{DOMAIN}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0, banner: bytes = b"") -> float:
    """Polls until the port answers (with `banner` in its first line); returns
    the monotonic time at which it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if banner:
                    s.settimeout(5)
                    data = s.recv(512)
                    if banner not in data:
                        raise OSError("no banner")
                return time.monotonic()
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"port {port} did not answer within {timeout} s")


_HASH: str | None = None


def password_hash() -> str:
    global _HASH
    if _HASH is None:
        from mailgate.directory.passwords import hash_password

        _HASH = hash_password(PASSWORD)
    return _HASH


class Server:
    name = "?"
    host = "127.0.0.1"
    ports: dict[str, int]
    startup_seconds: float | None = None

    def pids(self) -> list[int]:
        raise NotImplementedError

    def rss(self) -> proc.Memory:
        return proc.memory(self.pids())

    def reset_peak(self) -> None:
        proc.reset_peak(self.pids())

    @property
    def lmtp_available(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ports["lmtp"]), timeout=2) as s:
                s.settimeout(5)
                return s.recv(512).startswith(b"220")
        except OSError:
            return False


# --- mailgate -------------------------------------------------------------------

class Mailgate(Server):
    name = "mailgate"

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "mailgate"
        self.data = self.dir / "data"
        self.ports = {k: free_port() for k in ("imap", "imaps", "pop3", "pop3s", "submission", "smtp", "lmtp")}
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []
        self.env = {**os.environ, "MAILGATE_DATA": str(self.data), "PYTHONUNBUFFERED": "1"}

    def setup(self, n_users: int) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        subprocess.run([*MAILGATE_CLI, "init", "--hostname", "localhost",
                        "--unprivileged-ports", "--bind", "127.0.0.1"], check=True, env=self.env,
                       capture_output=True, timeout=120)
        asyncio.run(self._prepare(n_users))

    async def _prepare(self, n_users: int) -> None:
        from mailgate.admin import ops
        from mailgate.config import load_config
        from mailgate.delivery import ensure_default_folders

        config = load_config(self.data)
        p = self.ports
        big = "2147483647"
        await ops.set_protocol_settings(config, "imap", {
            "ssl_bindings": f"127.0.0.1:{p['imaps']}",
            "unencrypted_or_tls_bindings": f"127.0.0.1:{p['imap']}",
            "login_type": "plain-text-login",
            "max_connections_per_user": big, "max_connection_from_single_ip": big,
            "max_connections": big})
        await ops.set_protocol_settings(config, "pop", {
            "ssl_bindings": f"127.0.0.1:{p['pop3s']}",
            "unencrypted_or_tls_bindings": f"127.0.0.1:{p['pop3']}",
            "login_type": "plain-text-login",
            "max_connections_per_user": big, "max_connection_from_single_ip": big,
            "max_connections": big})
        await ops.set_protocol_settings(config, "smtp", {
            "submission_bindings": f"127.0.0.1:{p['submission']}",
            "inbound_bindings": f"127.0.0.1:{p['smtp']}",
            "lmtp_bindings": f"127.0.0.1:{p['lmtp']}"})
        hashed = password_hash()
        async with ops.open_store(config) as (store, _):
            # the metrics endpoint (if this version has one) on a free port
            await store.put_settings("monitoring", {"metrics_bindings": f"127.0.0.1:{free_port()}"})
            for i in range(1, n_users + 1):
                account = await store.create_account(user(i), hashed, home_server=config.node)
                await ensure_default_folders(store, account)

    def preload(self, jobs: list[tuple[str, str, str, range, bool]]) -> float:
        """jobs: (user, folder, corpus kind, indexes, small). Delivers straight
        into the store with mailgate.delivery.deliver (the server may run)."""
        started = time.monotonic()
        asyncio.run(self._preload(jobs))
        return time.monotonic() - started

    async def _preload(self, jobs) -> None:
        from mailgate.config import load_config
        from mailgate.delivery import deliver
        from mailgate.storage.blobs import BlobStore
        from mailgate.storage.sqlite import SqliteStore

        from .corpus import flags_for, message

        config = load_config(self.data)
        store = SqliteStore(config.store_path)
        await store.open()
        try:
            blobs = BlobStore(config.blob_dir)
            for address, folder, kind, indexes, small in jobs:
                account = await store.get_account(address)
                assert account is not None
                for i in indexes:
                    await deliver(store, blobs, account, folder, message(kind, i, small=small),
                                  flags=flags_for(i))
        finally:
            await store.close()

    def start(self, *, profile_to: Path | None = None) -> float:
        assert self.process is None
        self.output = []
        started = time.monotonic()
        self.process = subprocess.Popen([*MAILGATE_CLI, "serve"], env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        cwd=self.dir)
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("mailgate exited before it was ready:\n" + "".join(self.output))
            self.output.append(line)
            if line.startswith("ready in"):
                break
        ready = wait_port(self.ports["imap"], banner=b"* OK")
        self.startup_seconds = ready - started

        def drain(p=self.process) -> None:
            for line in p.stdout:  # type: ignore[union-attr]
                self.output.append(line)
                if len(self.output) > 20000:
                    del self.output[:10000]

        threading.Thread(target=drain, daemon=True).start()
        return self.startup_seconds

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process and self.process.poll() is None else []

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def errors_logged(self) -> list[str]:
        return [line.rstrip() for line in self.output if " ERROR " in line or "Traceback" in line]


# --- Dovecot ----------------------------------------------------------------------

DOVECOT_PORTS = {"imap": 20143, "imaps": 20993, "pop3": 20110, "pop3s": 20995, "lmtp": 20024}


class Dovecot(Server):
    name = "dovecot"

    def __init__(self, workdir: Path, fmt: str = "maildir", maxconn: int = 12000) -> None:
        self.dir = workdir / "dovecot"
        self.fmt = fmt
        self.maxconn = maxconn
        self.ports = dict(DOVECOT_PORTS)
        self.hibernate = False
        self.master_pid: int | None = None
        log = self.dir / "log" / "dovecot.log"
        self.log_offset = log.stat().st_size if log.exists() else 0  # errors of this run only

    @staticmethod
    def available() -> bool:
        return shutil.which("dovecot") is not None and (PEERS / "dovecot" / "setup.sh").is_file()

    def setup(self, n_users: int) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        for parent in [self.dir, *self.dir.parents]:  # the mail user must traverse
            if str(parent) in ("/", "/tmp"):
                break
            parent.chmod(parent.stat().st_mode | 0o755)
        subprocess.run(["bash", str(PEERS / "dovecot" / "setup.sh"), str(self.dir), self.fmt, str(self.maxconn)],
                       check=True, capture_output=True, timeout=120)
        import pwd

        pw = pwd.getpwnam("vbench")
        hashed = "{ARGON2ID}" + password_hash()
        with open(self.dir / "users", "w") as fh:
            for i in range(1, n_users + 1):
                fh.write(f"{user(i)}:{hashed}:{pw.pw_uid}:{pw.pw_gid}::{self.dir}/mail/{user(i)}::\n")
        base = (self.dir / "dovecot.conf").read_text()
        # Login processes: Dovecot's default high-security mode runs one
        # login process per connection still logging in (or, with TLS, per
        # connection for its whole life) with process_limit 100, which answers
        # "* BYE Connection queue full" at 100 concurrent clients. Raised like
        # the other connection limits of the peer configuration.
        base += ("\nservice imap-login {\n  process_limit = %d\n}\n"
                 "service pop3-login {\n  process_limit = %d\n}\n" % (self.maxconn, self.maxconn))
        (self.dir / "dovecot.conf").write_text(base)
        hib = (PEERS / "dovecot" / "hibernate.conf.inc").read_text()
        # Bulk preload only: no fsync while the corpus goes in (measurements
        # run with the default mail_fsync=optimized).
        (self.dir / "dovecot-preload.conf").write_text(base + "\nmail_fsync = never\n")
        (self.dir / "dovecot-hibernate.conf").write_text(base + "\n" + hib)

    def conf(self, variant: str = "") -> Path:
        return self.dir / {"": "dovecot.conf", "preload": "dovecot-preload.conf",
                           "hibernate": "dovecot-hibernate.conf"}[variant]

    def start(self, variant: str = "") -> float:
        assert self.master_pid is None
        self.hibernate = variant == "hibernate"
        started = time.monotonic()
        subprocess.run(["dovecot", "-c", str(self.conf(variant))], check=True, timeout=60)
        ready = wait_port(self.ports["imap"], banner=b"* OK")
        self.startup_seconds = ready - started
        self.master_pid = int((self.dir / "run" / "master.pid").read_text().split()[0])
        return self.startup_seconds

    def pids(self) -> list[int]:
        if self.master_pid is None:
            return []
        return [self.master_pid, *proc.children(self.master_pid)]

    def process_names(self) -> dict[str, int]:
        return proc.names(self.pids())

    def stop(self) -> None:
        if self.master_pid is None:
            return
        pid, self.master_pid = self.master_pid, None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not proc.alive(pid) and not proc.port_open(self.ports["imap"]):
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot master {pid} did not stop")

    def errors_logged(self) -> list[str]:
        log = self.dir / "log" / "dovecot.log"
        if not log.exists():
            return []
        with open(log, "rb") as fh:
            fh.seek(self.log_offset if self.log_offset <= log.stat().st_size else 0)
            text = fh.read().decode(errors="replace")
        return [line.rstrip() for line in text.splitlines()
                if "Error" in line or "Panic" in line or "Fatal" in line]


# --- mailgate as frontend + backend (two processes) ----------------------------------

class MailgateProxied(Server):
    """The same mailgate data as `Mailgate` (its SQLite store and blobs), run as
    two processes: `serve --role backend` on that data dir (backend listeners
    only, on the IMAP/POP3 proxy_target_port settings) and `serve --role
    frontend` on a second data dir whose `[store] url` points at the backend's
    store. Clients reach the frontend on the shared client bindings (the same
    ports as the single-process server), which proxies each login to the
    backend over TLS.

    name stays "mailgate": it is the same store, so the mix's checks of
    appended UIDs (keyed by server name) carry over between the two."""

    name = "mailgate"
    label = "mailgate frontend->backend"

    def __init__(self, direct: Mailgate) -> None:
        self.direct = direct
        self.ports = dict(direct.ports)  # client bindings are settings in the shared store
        self.fe_dir = direct.dir.parent / "mailgate-fe"
        self.fe_data = self.fe_dir / "data"
        self.backend: subprocess.Popen | None = None
        self.frontend: subprocess.Popen | None = None
        self.output: list[str] = []

    def prepare(self) -> None:
        """Idempotent: backend ports in the store, the frontend's data dir."""
        asyncio.run(self._prepare())

    async def _prepare(self) -> None:
        import re

        from mailgate.admin import ops
        from mailgate.config import load_config

        config = load_config(self.direct.data)
        if "backend_imap" not in self.ports:
            self.ports["backend_imap"] = free_port()
            self.ports["backend_pop3"] = free_port()
        await ops.set_protocol_settings(config, "imap", {"proxy_target_port": str(self.ports["backend_imap"])})
        await ops.set_protocol_settings(config, "pop", {"proxy_target_port": str(self.ports["backend_pop3"])})
        if (self.fe_data / "mailgate.toml").exists():
            return
        if self.fe_dir.exists():
            shutil.rmtree(self.fe_dir)
        self.fe_dir.mkdir(parents=True)
        tls = self.direct.data / "tls"
        await ops.init_data_dir(self.fe_data, hostname="localhost", tls_cert=tls / "cert.pem",
                                tls_key=tls / "key.pem", unprivileged=True, bind="127.0.0.1")
        toml = self.fe_data / "mailgate.toml"
        text = toml.read_text()
        store = (self.direct.data / "mailgate.db").resolve()
        text = text.replace("[store]\n", f'[store]\nurl = "sqlite:///{store}"\n', 1)
        text = re.sub(r'(?m)^node = ".*"$', 'node = "fe"', text)
        toml.write_text(text)
        if config.node == "fe":
            raise RuntimeError("the backend's node is also called 'fe'")

    def _spawn(self, data: Path, role: str, cwd: Path) -> subprocess.Popen:
        env = {**os.environ, "MAILGATE_DATA": str(data), "PYTHONUNBUFFERED": "1"}
        p = subprocess.Popen([*MAILGATE_CLI, "serve", "--role", role], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=cwd)
        assert p.stdout is not None
        while True:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"mailgate {role} exited before it was ready:\n" + "".join(self.output[-200:]))
            self.output.append(f"[{role}] {line}")
            if line.startswith("ready in"):
                break

        def drain() -> None:
            for line in p.stdout:  # type: ignore[union-attr]
                self.output.append(f"[{role}] {line}")
                if len(self.output) > 20000:
                    del self.output[:10000]

        threading.Thread(target=drain, daemon=True).start()
        return p

    def start(self) -> float:
        assert self.backend is None and self.frontend is None
        self.output = []
        started = time.monotonic()
        self.backend = self._spawn(self.direct.data, "backend", self.direct.dir)
        wait_port(self.ports["backend_imap"])
        self.frontend = self._spawn(self.fe_data, "frontend", self.fe_dir)
        ready = wait_port(self.ports["imap"], banner=b"* OK")
        self.startup_seconds = ready - started
        return self.startup_seconds

    def pids(self) -> list[int]:
        return [p.pid for p in (self.frontend, self.backend) if p and p.poll() is None]

    def stop(self) -> None:
        for attr in ("frontend", "backend"):
            p = getattr(self, attr)
            if p is None:
                continue
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            setattr(self, attr, None)

    def errors_logged(self) -> list[str]:
        # the same error repeated (a listener retried every second) once, with a count
        seen: dict[str, int] = {}
        first: dict[str, str] = {}
        for line in self.output:
            if " ERROR " in line or "Traceback" in line:
                key = line.split(" ERROR ", 1)[-1].strip()
                seen[key] = seen.get(key, 0) + 1
                first.setdefault(key, line.rstrip())
        return [first[k] + (f"  [x{n}]" if n > 1 else "") for k, n in seen.items()]
