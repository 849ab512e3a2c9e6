"""QUOTA (RFC 9208): one quota root per account, named "".

The only resource is STORAGE, in units of 1024 octets: the usage is the sum
of the account's message sizes (rounded up, so one byte in use shows as 1),
the limit is ``Account.quota_bytes`` (rounded down). The account is read
again on each command, so a quota an administrator changes with the CLI
applies to sessions already logged in.

An account without a quota has no quota root: GETQUOTAROOT answers with a
QUOTAROOT line naming none, and GETQUOTA "" is NO [NONEXISTENT] (a QUOTA
response must list at least one resource). SETQUOTA is refused with
NO [NOPERM]: quotas are set by administrators with the CLI (QUOTASET is not
announced).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from .context import SessionContext, canonical_folder_name

QUOTA_ROOT = ""


async def _quota(ctx: SessionContext) -> r.Quota | None:
    assert ctx.account is not None
    account = await ctx.runtime.directory.get_account_by_id(ctx.account.id) or ctx.account
    if account.quota_bytes is None:
        return None
    used = await ctx.store.account_usage(account.id)
    return r.Quota(QUOTA_ROOT, (("STORAGE", -(-used // 1024), account.quota_bytes // 1024),))


async def handle_getquota(ctx: SessionContext, cmd: c.GetQuota) -> AsyncIterator[r.Response]:
    quota = await _quota(ctx) if cmd.root == QUOTA_ROOT else None
    if quota is None:
        yield r.Tagged(cmd.tag, "NO", "No such quota root.", r.NONEXISTENT)
        return
    yield quota
    yield r.Tagged(cmd.tag, "OK", "GETQUOTA completed.")


async def handle_getquotaroot(ctx: SessionContext, cmd: c.GetQuotaRoot) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    name = canonical_folder_name(cmd.mailbox)
    if await ctx.store.get_folder(ctx.account.id, name) is None:
        yield r.Tagged(cmd.tag, "NO", "No such folder.", r.NONEXISTENT)
        return
    quota = await _quota(ctx)
    yield r.QuotaRoot(name, (QUOTA_ROOT,) if quota is not None else ())
    if quota is not None:
        yield quota
    yield r.Tagged(cmd.tag, "OK", "GETQUOTAROOT completed.")


async def handle_setquota(ctx: SessionContext, cmd: c.SetQuota) -> AsyncIterator[r.Response]:
    yield r.Tagged(cmd.tag, "NO", "Quotas are set by the administrator.", r.NOPERM)
