"""Argument parsers for commands valid outside the selected state.

Each takes the cursor just after the command name and returns the command;
parser.py checks nothing is left over.  Argument-less commands are built by
parser.py directly.
"""

from __future__ import annotations

import binascii

from . import commands as c
from . import grammar as g
from .grammar import Cursor, ParseError

_STATUS_ITEMS = frozenset({"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED",
                           "SIZE", "HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID"})
_LIST_SELECT = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
_LIST_RETURN = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE"})
_USE_ATTRS = frozenset({"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
                        "\\Trash", "\\Important"})
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def decode_base64(raw: bytes) -> bytes:
    """SASL data: strict base64, "=" meaning empty (RFC 4959)."""
    if raw == b"=":
        return b""
    if not raw or any(b not in _B64 for b in raw):
        raise ParseError("invalid base64")
    try:
        return binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error:
        raise ParseError("invalid base64") from None


def authenticate(cur: Cursor, tag: str) -> c.Authenticate:
    cur.sp()
    mech = g.keyword(cur, "a SASL mechanism")
    initial = None
    if not cur.at_end():
        cur.sp()
        initial = decode_base64(cur.run(_B64))
    return c.Authenticate(tag, mech, initial)


def login(cur: Cursor, tag: str) -> c.Login:
    cur.sp()
    user = g.text_utf8(g.astring(cur, "a user name"), "user name")
    cur.sp()
    return c.Login(tag, user, g.astring(cur, "a password"))


def enable(cur: Cursor, tag: str) -> c.Enable:
    caps = []
    while not cur.at_end():
        cur.sp()
        caps.append(g.keyword(cur, "a capability"))
    if not caps:
        raise ParseError("ENABLE needs at least one capability")
    return c.Enable(tag, tuple(caps))


def _id_pair(cur: Cursor) -> tuple[str, str | None]:
    key = g.string(cur).decode("utf-8", "replace")
    cur.sp()
    value = g.nstring(cur)
    return key, None if value is None else value.decode("utf-8", "replace")


def id_(cur: Cursor, tag: str) -> c.Id:
    cur.sp()
    if cur.take(b"NIL"):
        return c.Id(tag, None)
    cur.expect(b"(", "'(' or NIL")
    pairs = []
    if not cur.take(b")"):
        while True:
            pairs.append(_id_pair(cur))
            if cur.take(b")"):
                break
            cur.sp()
    return c.Id(tag, tuple(pairs))


# -- folders ---------------------------------------------------------------------

def _qresync(cur: Cursor) -> c.QResync:
    cur.expect(b"(", "'('")
    validity = g.nz_number(cur, "a UIDVALIDITY")
    cur.sp()
    modseq = g.number64(cur)
    if modseq == 0:
        raise ParseError("mod-sequence must not be zero")
    known = match = None
    if cur.take(b" "):
        if cur.peek() != 0x28:
            known = g.known_uids(cur)
            if cur.take(b" "):
                match = _seq_match(cur)
        else:
            match = _seq_match(cur)
    cur.expect(b")", "')'")
    return c.QResync(validity, modseq, known, match)


def _seq_match(cur: Cursor) -> tuple:
    cur.expect(b"(", "'('")
    seqs = g.known_uids(cur)
    cur.sp()
    uids = g.known_uids(cur)
    cur.expect(b")", "')'")
    return (seqs, uids)


def select(cur: Cursor, tag: str, readonly: bool = False) -> c.Select:
    cur.sp()
    name = g.mailbox(cur)
    condstore = False
    qresync = None
    if cur.take(b" "):
        cur.expect(b"(", "'('")
        while True:
            param = g.keyword(cur, "a SELECT parameter")
            if param == "CONDSTORE":
                condstore = True
            elif param == "QRESYNC":
                cur.sp()
                qresync = _qresync(cur)
            else:
                raise ParseError(f"unknown SELECT parameter {param}")
            if cur.take(b")"):
                break
            cur.sp()
    return c.Select(tag, name, readonly, condstore, qresync)


def examine(cur: Cursor, tag: str) -> c.Select:
    return select(cur, tag, readonly=True)


def _use_attr(cur: Cursor) -> str:
    value = g.flag(cur)
    canonical = {a.upper(): a for a in _USE_ATTRS}.get(value.upper())
    if canonical is None:
        raise ParseError(f"unknown special-use attribute {value}")
    return canonical


def create(cur: Cursor, tag: str) -> c.Create:
    cur.sp()
    name = g.mailbox(cur)
    use: tuple[str, ...] = ()
    if cur.take(b" "):
        cur.expect(b"(", "'('")
        cur.expect(b"USE ", "USE")
        use = tuple(g.paren_list(cur, _use_attr))
        cur.expect(b")", "')'")
    return c.Create(tag, name, use)


def _one_mailbox(cls: type) -> object:
    def parse(cur: Cursor, tag: str) -> object:
        cur.sp()
        return cls(tag, g.mailbox(cur))
    return parse


delete = _one_mailbox(c.Delete)
subscribe = _one_mailbox(c.Subscribe)
unsubscribe = _one_mailbox(c.Unsubscribe)
getquotaroot = _one_mailbox(c.GetQuotaRoot)


def rename(cur: Cursor, tag: str) -> c.Rename:
    cur.sp()
    old = g.mailbox(cur)
    cur.sp()
    return c.Rename(tag, old, g.mailbox(cur))


def _status_att(cur: Cursor) -> str:
    item = g.keyword(cur, "a STATUS item")
    if item not in _STATUS_ITEMS:
        raise ParseError(f"unknown STATUS item {item}")
    return item


def status(cur: Cursor, tag: str) -> c.Status:
    cur.sp()
    name = g.mailbox(cur)
    cur.sp()
    return c.Status(tag, name, tuple(g.paren_list(cur, _status_att, allow_empty=False)))


def list_(cur: Cursor, tag: str) -> c.List:
    cur.sp()
    selection: list[str] = []
    extended = False
    if cur.peek() == 0x28:
        extended = True
        for opt in g.paren_list(cur, lambda x: g.keyword(x, "a selection option")):
            if opt not in _LIST_SELECT:
                raise ParseError(f"unknown LIST selection option {opt}")
            selection.append(opt)
        if "RECURSIVEMATCH" in selection and len(set(selection) - {"RECURSIVEMATCH", "REMOTE"}) == 0:
            raise ParseError("RECURSIVEMATCH needs another selection option")
        cur.sp()
    reference = g.mailbox(cur)
    cur.sp()
    if cur.peek() == 0x28:
        extended = True
        patterns = tuple(g.paren_list(cur, g.list_mailbox, allow_empty=False))
    else:
        patterns = (g.list_mailbox(cur),)
    returns: list[str] = []
    status_items: tuple[str, ...] = ()
    if cur.take(b" "):
        extended = True
        cur.expect(b"RETURN ", "RETURN")
        cur.expect(b"(", "'('")
        while not cur.take(b")"):
            if returns:
                cur.sp()
            opt = g.keyword(cur, "a return option")
            if opt == "STATUS":
                cur.sp()
                status_items = tuple(g.paren_list(cur, _status_att, allow_empty=False))
            elif opt not in _LIST_RETURN:
                raise ParseError(f"unknown LIST return option {opt}")
            returns.append(opt)
    return c.List(tag, reference, patterns, tuple(dict.fromkeys(selection)),
                  tuple(dict.fromkeys(returns)), status_items, extended)


def lsub(cur: Cursor, tag: str) -> c.Lsub:
    cur.sp()
    reference = g.mailbox(cur)
    cur.sp()
    return c.Lsub(tag, reference, g.list_mailbox(cur))


def _append_message(cur: Cursor) -> c.AppendMessage:
    flags: tuple[str, ...] = ()
    when = None
    if cur.peek() == 0x28:
        flags = g.flag_list(cur)
        cur.sp()
    if cur.peek() == 0x22:
        when = g.date_time(cur)
        cur.sp()
    if cur.take(b"UTF8 "):
        cur.expect(b"(", "'('")
        lit = g.literal(cur, allow_binary=True)
        cur.expect(b")", "')'")
        return c.AppendMessage(lit, flags, when, utf8=True)
    return c.AppendMessage(g.literal(cur, allow_binary=True), flags, when)


def append(cur: Cursor, tag: str) -> c.Append:
    cur.sp()
    name = g.mailbox(cur)
    messages = []
    while cur.take(b" "):  # MULTIAPPEND (RFC 3502): more messages follow
        messages.append(_append_message(cur))
    if not messages:
        raise ParseError("APPEND needs a message literal")
    return c.Append(tag, name, tuple(messages))


def compress(cur: Cursor, tag: str) -> c.Compress:
    cur.sp()
    return c.Compress(tag, g.keyword(cur, "a compression mechanism"))


def _quota_root(cur: Cursor) -> str:
    return g.text_utf8(g.astring(cur, "a quota root"), "quota root")


def getquota(cur: Cursor, tag: str) -> c.GetQuota:
    cur.sp()
    return c.GetQuota(tag, _quota_root(cur))


def _resource_limit(cur: Cursor) -> tuple[str, int]:
    name = g.keyword(cur, "a resource name")
    cur.sp()
    return name, g.number64(cur, "a limit")


def setquota(cur: Cursor, tag: str) -> c.SetQuota:
    cur.sp()
    root = _quota_root(cur)
    cur.sp()
    return c.SetQuota(tag, root, tuple(g.paren_list(cur, _resource_limit)))
