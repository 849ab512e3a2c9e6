"""BODY and BODYSTRUCTURE (RFC 3501 7.4.2) from the part tree."""

from __future__ import annotations

from mailgate.protocol.imap.wire import astring_bytes, nstring_bytes

from .envelope import build_envelope
from .params import Params, parse_language
from .structure import Buffer, Node, count_lf


def _params(params: Params | None) -> bytes:
    if not params:
        return b"NIL"
    return b"(%s)" % b" ".join(astring_bytes(k) + b" " + astring_bytes(v) for k, v in params)


def _disposition(node: Node) -> bytes:
    disp = node.disposition
    if disp is None:
        return b"NIL"
    return b"(%s %s)" % (astring_bytes(disp[0]), _params(disp[1]))


def _language(node: Node) -> bytes:
    value = node.first("content-language")
    tags = parse_language(value) if value is not None else []
    if not tags:
        return b"NIL"
    return b"(%s)" % b" ".join(astring_bytes(t) for t in tags)


def _ext_tail(node: Node) -> bytes:
    """body-fld-dsp SP body-fld-lang SP body-fld-loc."""
    return b"%s %s %s" % (_disposition(node), _language(node),
                          nstring_bytes(node.first("content-location")))


def build(buf: Buffer, node: Node, extended: bool) -> bytes:
    """One body / bodystructure element; recursion depth is bounded by the
    parser's MAX_DEPTH."""
    if node.kind == "multipart":
        inner = b"".join(build(buf, c, extended) for c in node.children)
        out = b"(%s %s" % (inner, astring_bytes(node.csub))
        if extended:
            out += b" %s %s" % (_params(node.params), _ext_tail(node))
        return out + b")"
    size = node.body_end - node.body_start
    fields = [
        astring_bytes(node.ctype), astring_bytes(node.csub), _params(node.params),
        nstring_bytes(node.first("content-id")),
        nstring_bytes(node.first("content-description")),
        astring_bytes(node.cte), b"%d" % size,
    ]
    if node.kind == "message" and node.message is not None:
        fields.append(build_envelope(node.message.fields))
        fields.append(build(buf, node.message, extended))
        fields.append(b"%d" % count_lf(buf, node.body_start, node.body_end))
    elif node.ctype.lower() == b"text":
        fields.append(b"%d" % count_lf(buf, node.body_start, node.body_end))
    if extended:
        fields.append(nstring_bytes(node.first("content-md5")))
        fields.append(_ext_tail(node))
    return b"(%s)" % b" ".join(fields)
