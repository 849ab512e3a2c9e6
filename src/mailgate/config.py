"""Bootstrap configuration: the data folder and its mailgate.toml.

Only what a server needs before it can reach the store lives here (hostname,
node name, store location, certificate). Everything an admin changes while the
server runs (bindings, limits, login rules) lives in the store's settings.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "mailgate.toml"
ENV_DATA = "MAILGATE_DATA"


ROLES = ("all", "frontend", "backend")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


class ConfigError(Exception):
    """The data folder or its configuration is missing or invalid."""


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path
    hostname: str
    node: str
    store_path: Path
    blob_dir: Path
    tls_cert: Path
    tls_key: Path
    log_dir: Path
    # The directory store (accounts, settings, topology): "sqlite:///PATH"
    # or "postgresql://...". Without [store] url, the SQLite file `path`.
    store_url: str = ""
    # Topology: this server's site, roles ("all", or "frontend"/"backend")
    # and the address its backend (ProxyTargetPort) listeners use.
    site: str = ""
    roles: tuple[str, ...] = ("all",)
    backend_address: str = "127.0.0.1"
    # [tls] backend_ca: the CA (or the backends' shared certificate) a
    # frontend checks backends against before handing them the proxy secret.
    backend_ca_file: Path | None = None
    # [store] orphan_sweep_delay: seconds after start-up before the first
    # orphan-blob sweep (it walks every blob file: on a big store that is
    # disk and CPU a server just started should give to its clients first).
    orphan_sweep_delay: float = 600.0
    # [server] event_loop: "auto" (uvloop when installed), "uvloop" or "asyncio".
    event_loop: str = "auto"

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_NAME


def resolve_data_dir(explicit: str | os.PathLike[str] | None) -> Path:
    value = explicit or os.environ.get(ENV_DATA)
    if not value:
        raise ConfigError(f"no data folder: give --data DIR or set {ENV_DATA}")
    return Path(value).expanduser().resolve()


def load_config(data_dir: Path) -> Config:
    path = data_dir / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{data_dir} is not a mailgate data folder (no {CONFIG_NAME}); run 'mailgate init' first")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    server = raw.get("server", {})
    store = raw.get("store", {})
    tls = raw.get("tls", {})

    def rel(value: object, default: str) -> Path:
        p = Path(str(value or default))
        return p if p.is_absolute() else data_dir / p

    hostname = str(server.get("hostname") or "localhost")
    store_path = rel(store.get("path"), "mailgate.db")
    roles = server.get("roles", ["all"])
    if isinstance(roles, str):
        roles = [r.strip() for r in roles.split(",") if r.strip()]
    bad = sorted(set(roles) - set(ROLES))
    if bad or not roles:
        raise ConfigError(f"{path}: [server] roles must be some of {', '.join(ROLES)}, not {roles!r}")
    return Config(
        data_dir=data_dir,
        hostname=hostname,
        node=str(server.get("node") or hostname.split(".")[0]),
        store_path=store_path,
        blob_dir=rel(store.get("blobs"), "blobs"),
        tls_cert=rel(tls.get("cert"), "tls/cert.pem"),
        tls_key=rel(tls.get("key"), "tls/key.pem"),
        log_dir=rel(server.get("log_dir"), "logs"),
        store_url=_store_url(store.get("url"), store_path, data_dir),
        site=str(server.get("site") or ""),
        roles=tuple(roles),
        backend_address=str(server.get("backend_address") or "127.0.0.1"),
        backend_ca_file=rel(tls.get("backend_ca"), "") if tls.get("backend_ca") else None,
        event_loop=_choice(server.get("event_loop", "auto"), EVENT_LOOPS, path, "[server] event_loop"),
        orphan_sweep_delay=_seconds(store.get("orphan_sweep_delay", 600), path, "[store] orphan_sweep_delay"),
    )


def _choice(value: object, choices: tuple[str, ...], path: Path, name: str) -> str:
    if value not in choices:
        raise ConfigError(f"{path}: {name} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _seconds(value: object, path: Path, name: str) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= 7 * 86400:
        raise ConfigError(f"{path}: {name} must be a number of seconds from 0 to 604800, not {value!r}")
    return seconds


def _store_url(value: object, store_path: Path, data_dir: Path) -> str:
    """The directory store's URL; a relative SQLite path is inside the data folder."""
    if not value:
        return "sqlite://" + str(store_path)
    url = str(value)
    if url.startswith("sqlite:"):
        rest = url.removeprefix("sqlite:").removeprefix("//")
        p = Path(rest)
        return "sqlite://" + str(p if p.is_absolute() else data_dir / p)
    if url.startswith(("postgresql:", "postgres:")):
        return url
    raise ConfigError(f"[store] url must start with sqlite: or postgresql:, not {url[:40]!r}")


def render_config(hostname: str, node: str) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return (
        "# mailgate bootstrap configuration. Listener bindings, limits and login\n"
        "# rules live in the store: see 'mailgate imap show' / 'mailgate pop show'.\n"
        "[server]\n"
        f"hostname = {q(hostname)}\n"
        f"node = {q(node)}\n"
        'log_dir = "logs"\n\n'
        "[store]\n"
        'path = "mailgate.db"\n'
        'blobs = "blobs"\n\n'
        "[tls]\n"
        'cert = "tls/cert.pem"\n'
        'key = "tls/key.pem"\n'
    )
