"""mailgate.toml: defaults and refusals of the bootstrap settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgate.config import ConfigError, load_config, render_config


def _folder(tmp_path: Path, extra: str = "") -> Path:
    text = render_config("mail.example.org", "mail1").replace("[store]\n", "[store]\n" + extra, 1)
    (tmp_path / "mailgate.toml").write_text(text)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    config = load_config(_folder(tmp_path))
    assert config.node == "mail1"
    assert config.roles == ("all",)
    assert config.orphan_sweep_delay == 600.0  # the first orphan sweep waits ten minutes
    assert config.event_loop == "auto"  # uvloop when installed
    assert config.store_url == "sqlite://" + str(tmp_path / "mailgate.db")


def test_orphan_sweep_delay_is_read(tmp_path: Path) -> None:
    assert load_config(_folder(tmp_path, "orphan_sweep_delay = 0\n")).orphan_sweep_delay == 0.0
    assert load_config(_folder(tmp_path, "orphan_sweep_delay = 86400\n")).orphan_sweep_delay == 86400.0


@pytest.mark.parametrize("value", ["-1", "604801", '"soon"'])
def test_orphan_sweep_delay_out_of_range_names_the_setting(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"orphan_sweep_delay must be a number of seconds from 0 to 604800"):
        load_config(_folder(tmp_path, f"orphan_sweep_delay = {value}\n"))


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    text = render_config("h", "n").replace("[server]\n", '[server]\nroles = ["web"]\n', 1)
    (tmp_path / "mailgate.toml").write_text(text)
    with pytest.raises(ConfigError, match="roles must be some of"):
        load_config(tmp_path)


def test_event_loop_choice(tmp_path: Path) -> None:
    text = render_config("h", "n").replace("[server]\n", '[server]\nevent_loop = "asyncio"\n', 1)
    (tmp_path / "mailgate.toml").write_text(text)
    assert load_config(tmp_path).event_loop == "asyncio"
    (tmp_path / "mailgate.toml").write_text(text.replace('"asyncio"', '"trio"'))
    with pytest.raises(ConfigError, match="event_loop must be one of auto, uvloop, asyncio"):
        load_config(tmp_path)
