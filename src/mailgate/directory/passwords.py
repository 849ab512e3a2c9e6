"""Password hashing: argon2id for new hashes; imported crypt-style hashes accepted.

Accounts migrated from other servers (Dovecot, Postfix setups) often carry
`{SHA512-CRYPT}$6$...` or `{ARGON2ID}$argon2id$...` hashes; they verify here and
are re-hashed with argon2id at the next successful login (see needs_rehash).
"""

from __future__ import annotations

import hmac
import hashlib
import base64

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Modest parameters: logins are frequent and the machine small; argon2id with
# 19 MiB / 2 passes is the OWASP minimum recommendation.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# A hash to verify against when the account does not exist, so an unknown
# address costs the same time as a wrong password. A literal with _hasher's
# parameters (a test checks they match): hashing one at import cost every
# start-up and every CLI command a full argon2 run.
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c+9+hXOYRuMVDZzVti6JEQ$vaJ991HzHYeF/EObwTSaEMv1Yo9aUZEnflkFA1pmuVs"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    scheme, _, rest = _split_scheme(stored)
    try:
        if scheme in ("", "ARGON2ID", "ARGON2I"):
            return _hasher.verify(rest, password)
        if scheme in ("SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "CRYPT"):
            return _verify_crypt(rest, password)
        if scheme == "SSHA512":
            raw = base64.b64decode(rest)
            digest, salt = raw[:64], raw[64:]
            return hmac.compare_digest(hashlib.sha512(password.encode() + salt).digest(), digest)
        if scheme == "PLAIN":
            return hmac.compare_digest(rest.encode(), password.encode())
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
        return False
    return False


def needs_rehash(stored: str) -> bool:
    scheme, _, rest = _split_scheme(stored)
    if scheme not in ("", "ARGON2ID"):
        return True
    try:
        return _hasher.check_needs_rehash(rest)
    except InvalidHashError:
        return True


def _split_scheme(stored: str) -> tuple[str, str, str]:
    if stored.startswith("{") and "}" in stored:
        scheme, rest = stored[1:].split("}", 1)
        return scheme.upper(), "}", rest
    return "", "", stored


def _verify_crypt(hashed: str, password: str) -> bool:
    try:
        import crypt  # deprecated in 3.11, removed in 3.13; only for imported hashes
    except ImportError:  # pragma: no cover - Python 3.13+
        return False
    return hmac.compare_digest(crypt.crypt(password, hashed) or "", hashed)
