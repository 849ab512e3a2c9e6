"""SASL PLAIN (RFC 4616) and LOGIN as challenge/response steps, without I/O.

A session creates an exchange for the mechanism named in AUTH, calls start()
with the decoded initial response (or None), then step() with each decoded
client line, until it gets Credentials or a SaslFailure.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str  # the authentication identity (authcid)
    password: str = ""
    # The identity to act as, when it differs from username (SASL PLAIN's
    # authzid). Only a frontend's proxy login may use it: policy/gate.py.
    authzid: str = ""


@dataclass(frozen=True, slots=True)
class SaslChallenge:
    data: bytes


@dataclass(frozen=True, slots=True)
class SaslFailure:
    text: str


Step = Credentials | SaslChallenge | SaslFailure


class SaslExchange(Protocol):
    def start(self, initial: bytes | None) -> Step: ...

    def step(self, data: bytes) -> Step: ...


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class PlainExchange:
    """authzid NUL authcid NUL passwd. An authzid other than the authcid
    (acting as another user) is passed on; the login policy accepts it only
    from a frontend's proxy credential on a backend listener."""

    __slots__ = ()

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return SaslChallenge(b"")
        return self.step(initial)

    def step(self, data: bytes) -> Step:
        parts = data.split(b"\x00")
        if len(parts) != 3:
            return SaslFailure("Malformed PLAIN response.")
        decoded = [_utf8(part) for part in parts]
        authzid, authcid, password = decoded
        if authzid is None or authcid is None or password is None:
            return SaslFailure("Malformed PLAIN response.")
        if authzid and authzid.lower() != authcid.lower():
            return Credentials(authcid, password, authzid)
        return Credentials(authcid, password)


class LoginExchange:
    """The non-standard LOGIN mechanism: "Username:", then "Password:"."""

    __slots__ = ("_username",)

    def __init__(self) -> None:
        self._username: str | None = None

    def start(self, initial: bytes | None) -> Step:
        if initial is None or initial == b"":
            return SaslChallenge(b"Username:")
        return self.step(initial)

    def step(self, data: bytes) -> Step:
        text = _utf8(data)
        if text is None:
            return SaslFailure("Malformed LOGIN response.")
        if self._username is None:
            self._username = text
            return SaslChallenge(b"Password:")
        return Credentials(self._username, text)


MECHANISMS: dict[str, Callable[[], SaslExchange]] = {
    "PLAIN": PlainExchange,
    "LOGIN": LoginExchange,
}


def decode_base64(text: str) -> bytes | None:
    """Client base64 ("=" alone is an empty initial response, RFC 5034)."""
    if text == "=":
        return b""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
