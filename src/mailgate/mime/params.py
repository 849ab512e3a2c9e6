"""Content-Type, Content-Disposition, Content-Transfer-Encoding parsing.

The answers follow Dovecot's conventions (see the corpus README): names and
values keep their case, parameter parsing stops at the first syntax error
and keeps what came before, RFC 2231 continuations are joined but their
charset/language prefix is left encoded.
"""

from __future__ import annotations

import re

from . import lex

Params = list[tuple[bytes, bytes]]

# Unquoted parameter values in the wild carry tspecials ('=' in boundaries,
# '/' in types); accept anything up to white space, ';', '"' or a comment.
_VALUE = frozenset(range(0x21, 0x100)) - frozenset(b';"(')
_SECTION = re.compile(rb"(.+?)\*(\d{1,3})(\*?)\Z", re.S)


def parse_params(data: bytes, i: int) -> Params:
    """`; key=value` pairs from index i; stops quietly at a syntax error."""
    out: Params = []
    n = len(data)
    while True:
        i = lex.skip_cfws(data, i)
        if i >= n or data[i] != 0x3B:  # ";"
            break
        i = lex.skip_cfws(data, i + 1)
        i, key = lex.run(data, i, lex.TOKEN)
        if not key:
            break  # "; ;" or a trailing garbage: Dovecot stops here (060)
        i = lex.skip_cfws(data, i)
        if i >= n or data[i] != 0x3D:  # "="
            break
        i = lex.skip_cfws(data, i + 1)
        if i < n and data[i] == 0x22:
            i, value = lex.quoted(data, i)
        else:
            i, value = lex.run(data, i, _VALUE)  # may be empty (050 `charset=`)
        out.append((key, value))
    return join_rfc2231(out)


def join_rfc2231(params: Params) -> Params:
    """RFC 2231 section 3: join name*0, name*1... into one parameter.

    The joined value is the raw concatenation; the key is `name*` when the
    first section is extended (`name*0*`), else `name`.  A set of sections
    without section 0 is left as it is (013).  Joined parameters come after
    the plain ones, as in Dovecot's answers.
    """
    plain: Params = []
    groups: dict[bytes, dict[int, tuple[bytes, bytes, bool]]] = {}
    order: list[bytes] = []
    for key, value in params:
        m = _SECTION.match(key)
        if m is None:
            plain.append((key, value))
            continue
        base = m.group(1).lower()
        if base not in groups:
            groups[base] = {}
            order.append(base)
        groups[base].setdefault(int(m.group(2)), (key, value, bool(m.group(3))))
    for base in order:
        sections = groups[base]
        if 0 not in sections:
            plain.extend((k, v) for _, (k, v, _e) in sorted(sections.items()))
            continue
        first_key, _, extended = sections[0]
        name = _SECTION.match(first_key).group(1)  # type: ignore[union-attr]
        values = []
        n = 0
        while n in sections:
            values.append(sections[n][1])
            n += 1
        plain.append((name + (b"*" if extended else b""), b"".join(values)))
    return plain


def parse_content_type(value: bytes) -> tuple[bytes, bytes, Params] | None:
    """(type, subtype, params), or None when the value is not type/subtype."""
    i = lex.skip_cfws(value, 0)
    i, ctype = lex.run(value, i, lex.TOKEN)
    i = lex.skip_cfws(value, i)
    if not ctype or i >= len(value) or value[i] != 0x2F:  # "/"
        return None
    i = lex.skip_cfws(value, i + 1)
    i, subtype = lex.run(value, i, lex.TOKEN)
    if not subtype:
        return None
    return ctype, subtype, parse_params(value, i)


def parse_disposition(value: bytes) -> tuple[bytes, Params] | None:
    """(type, params); the type may be empty (030 `; filename=...`)."""
    if not value.strip(b" \t\r\n"):
        return None
    i = lex.skip_cfws(value, 0)
    i, dtype = lex.run(value, i, lex.TOKEN)
    return dtype, parse_params(value, i)


def parse_cte(value: bytes | None) -> bytes:
    """The encoding as written, or 7bit when absent or not a single token.

    RFC 2045 6.1 makes the value one token; `quoted/printable` (049) is not
    one and is treated as absent, i.e. 7bit (section 6.1 default).
    """
    if value is None:
        return b"7bit"
    i = lex.skip_cfws(value, 0)
    i, token = lex.run(value, i, lex.TOKEN)
    if not token or lex.skip_cfws(value, i) != len(value):
        return b"7bit"
    return token


def parse_language(value: bytes) -> list[bytes]:
    """Content-Language (RFC 3282): comma-separated tags, comments skipped."""
    out = []
    for piece in value.split(b","):
        i = lex.skip_cfws(piece, 0)
        _, tag = lex.run(piece, i, lex.TOKEN)
        if tag:
            out.append(tag)
    return out


def get_param(params: Params, name: bytes) -> bytes | None:
    lname = name.lower()
    for key, value in params:
        if key.lower() == lname:
            return value
    return None
