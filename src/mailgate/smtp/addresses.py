"""The common case of a MAIL FROM / RCPT TO path, parsed without the email
package.

aiosmtpd hands every path to email._header_value_parser (get_angle_addr),
which builds a token tree per address: a noticeable share of the CPU an
LMTP delivery costs. Nearly every path is a plain <dot-atom@domain>, for
which the answer is the text between the brackets; anything else (quoted
local parts, address literals, source routes, comments, non-ASCII, the null
path <>) returns None and goes the general way. tests/smtp/test_units.py
checks this against get_angle_addr.
"""

from __future__ import annotations

import re

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9-]+"
# <local@domain>, then end of input or blanks and the parameters (which must
# not start with a comment: the general parser would drop it).
_SIMPLE = re.compile(
    rf"[ \t]*<({_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})*)>(?:[ \t]+([^ \t(].*)?)?",
    re.DOTALL,
)


def simple_path(arg: str) -> tuple[str, str] | None:
    """(address, parameters) of a plain <local@domain> path, or None."""
    m = _SIMPLE.fullmatch(arg)
    if m is None:
        return None
    return m.group(1), m.group(2) or ""
