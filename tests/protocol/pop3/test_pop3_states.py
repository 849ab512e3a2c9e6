"""The state table, CAPA lines and the SASL mechanisms."""

from __future__ import annotations

from mailgate.protocol.pop3 import (
    ALLOWED,
    KEYWORDS,
    Capa,
    Pass,
    Quit,
    Retr,
    Stat,
    State,
    Stls,
    User,
    allowed,
    capabilities,
)
from mailgate.protocol.sasl import (
    Credentials,
    LoginExchange,
    PlainExchange,
    SaslChallenge,
    SaslFailure,
    decode_base64,
)


def test_every_command_is_allowed_somewhere_and_nothing_in_update() -> None:
    everywhere = set().union(*ALLOWED.values())
    assert everywhere == set(KEYWORDS)
    assert ALLOWED[State.UPDATE] == frozenset()


def test_table() -> None:
    assert allowed(State.AUTHORIZATION, User("a"))
    assert allowed(State.AUTHORIZATION, Stls())
    assert not allowed(State.AUTHORIZATION, Stat())
    assert not allowed(State.AUTHORIZATION, Retr(1))
    assert allowed(State.TRANSACTION, Retr(1))
    assert not allowed(State.TRANSACTION, Pass("x"))
    assert not allowed(State.TRANSACTION, Stls())
    for state in (State.AUTHORIZATION, State.TRANSACTION):
        assert allowed(state, Capa()) and allowed(state, Quit())


def test_capabilities() -> None:
    before = capabilities(state=State.AUTHORIZATION, user_login=False, sasl=(), stls=True)
    assert b"STLS" in before and b"USER" not in before
    assert not any(line.startswith(b"SASL") for line in before)
    for line in (b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING",
                 b"EXPIRE NEVER", b"LOGIN-DELAY 0", b"IMPLEMENTATION mailgate"):
        assert line in before
    after = capabilities(state=State.AUTHORIZATION, user_login=True, sasl=("PLAIN", "LOGIN"), stls=False)
    assert b"USER" in after and b"SASL PLAIN LOGIN" in after and b"STLS" not in after
    logged_in = capabilities(state=State.TRANSACTION, user_login=True, sasl=("PLAIN",), stls=True)
    assert b"USER" not in logged_in and b"STLS" not in logged_in


def test_plain() -> None:
    assert PlainExchange().start(None) == SaslChallenge(b"")
    assert PlainExchange().start(b"\0bob\0pw d") == Credentials("bob", "pw d")
    assert PlainExchange().start(b"bob\0bob\0pw") == Credentials("bob", "pw")
    # Acting as another user is passed on; only the login policy may allow
    # it (a frontend's proxy credential on a backend listener).
    assert PlainExchange().start(b"eve\0bob\0pw") == Credentials("bob", "pw", "eve")
    assert isinstance(PlainExchange().step(b"bob\0pw"), SaslFailure)
    assert isinstance(PlainExchange().step(b"\0\xff\0pw"), SaslFailure)


def test_login() -> None:
    exchange = LoginExchange()
    assert exchange.start(None) == SaslChallenge(b"Username:")
    assert exchange.step(b"bob") == SaslChallenge(b"Password:")
    assert exchange.step(b"pw") == Credentials("bob", "pw")
    exchange = LoginExchange()
    assert exchange.start(b"bob") == SaslChallenge(b"Password:")
    assert isinstance(LoginExchange().step(b"\xff"), SaslFailure)


def test_decode_base64() -> None:
    assert decode_base64("=") == b""
    assert decode_base64("") == b""
    assert decode_base64("Ym9i") == b"bob"
    assert decode_base64("Ym9") is None
    assert decode_base64("é") is None
