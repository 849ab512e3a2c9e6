"""The MIME corpus against Dovecot 2.3.19's recorded answers.

All 60 messages of shared/corpus/mime are delivered in name order with
INTERNALDATE 01-Jul-2024 12:00:00 +0000 (so UID n is file n, as for
Dovecot); then every recorded SEARCH goes through the real command parser
and search_uids, and every recorded FETCH through fetch_responses and the
serializer.  Answers are compared semantically: a quoted string and a
literal with the same content are equal, literal8 and literal too.

Where we differ on purpose, the tables below say why.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
import pytest_asyncio

from mailgate.session.imap.fetch import FetchOutcome, fetch_responses
from mailgate.session.imap.search import search_uids

from reading_helpers import Mailbox, parse, parse_fetch, wire

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("MAILGATE_CORPUS") or REPO_ROOT.parent / "shared" / "corpus")
MIME = CORPUS / "mime"
ANSWERS = MIME / "dovecot-answers.json"

pytestmark = pytest.mark.skipif(not ANSWERS.is_file(), reason=f"corpus not found at {CORPUS}")
in_module_loop = pytest.mark.asyncio(loop_scope="module")

INTERNALDATE = dt.datetime(2024, 7, 1, 12, 0, 0, tzinfo=dt.timezone.utc)

_MISSING_DATE = ("040 has no usable Date header.  Dovecot takes it as sent on 1-Jan-1970; we take "
                 "its internal date (01-Jul-2024), the rule RFC 5256 section 3 gives SORT DATE, so "
                 "SEARCH SENT* and SORT agree and a broken Date is not 'sent before' every date "
                 "(corpus README, questionable answer 5; search_eval.SENT_DATE_FALLBACK)")

# SEARCH commands where we answer differently on purpose: command -> (our UIDs, why).
SEARCH_DEVIATIONS: dict[str, tuple[list[int], str]] = {
    "UID SEARCH SENTBEFORE 1-Jan-2024": ([39, 41], _MISSING_DATE),
    "UID SEARCH SENTSINCE 1-Jun-2024": ([24, 25, 40], _MISSING_DATE),
    "UID SEARCH SENTON 1-Jan-1970": ([], _MISSING_DATE),
}

_BINARY_ONE_RULE = ("BINARY decodes by the Content-Transfer-Encoding BODYSTRUCTURE reports (the first "
                    "field; a non-token value is 7bit), so a client that trusts BODYSTRUCTURE gets what "
                    "it expects; Dovecot's BINARY reads the raw header instead (README answer 2)")
_BINARY_SIZE = ("RFC 3516 4.2: BINARY.SIZE is the size of the decoded section, the length of what "
                "BINARY[] returns; Dovecot's BINARY.SIZE of a multipart does not match its own BINARY[] "
                "(017: 654 vs 877 bytes, 025: 1406 vs 2010)")
_BINARY_SIZE_049 = ("RFC 3516: UNKNOWN-CTE is for a section whose own encoding is unknown; Dovecot fails "
                    "BINARY.SIZE of every part once one part is unknown (README answer 3)")

# FETCH answers where we differ on purpose: (file, item) -> why.  These are
# decisions of the mime package (ENVELOPE, BODYSTRUCTURE, binary_section),
# so they are tolerated either way: this test checks the session layer.
FETCH_DEVIATIONS: dict[tuple[str, str], str] = {
    ("017-nested-three-levels.eml", "SUMMARY"): _BINARY_SIZE,
    ("025-calendar-request-with-ics-attachment.eml", "SUMMARY"): _BINARY_SIZE,
    ("043-duplicated-headers.eml", "SUMMARY"): _BINARY_ONE_RULE,
    ("043-duplicated-headers.eml", "BINARY.SIZE[1]"): _BINARY_ONE_RULE,
    ("043-duplicated-headers.eml", "BINARY.PEEK[1]"): _BINARY_ONE_RULE,
    ("049-wrong-cte-values.eml", "BINARY.PEEK[2]"): _BINARY_ONE_RULE,
    ("049-wrong-cte-values.eml", "BINARY.SIZE[2]"): _BINARY_ONE_RULE,
    ("049-wrong-cte-values.eml", "BINARY.SIZE[5]"): _BINARY_SIZE_049 + " (we answer PARSE, as BINARY.PEEK[5] does)",
    ("049-wrong-cte-values.eml", "BINARY.SIZE[6]"): _BINARY_SIZE_049 + " (we answer PARSE, as BINARY.PEEK[6] does)",
    ("049-wrong-cte-values.eml", "BINARY.SIZE[7]"): _BINARY_SIZE_049,
    ("051-content-type-no-subtype.eml", "SUMMARY"): (
        "RFC 2045 5.2: an invalid Content-Type is taken as text/plain; charset=us-ascii, not \"\" \"\" "
        "(README answer 4; mime package)"),
    ("060-header-syntax-oddities.eml", "SUMMARY"): (
        "ENVELOPE message-id without the folding space Dovecot keeps (README answer 1; mime package)"),
}


def _load() -> dict:
    return json.loads(ANSWERS.read_text(encoding="utf-8")) if ANSWERS.is_file() else {"messages": {}, "search": []}


DATA = _load()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def corpus(tmp_path_factory):
    box = await Mailbox(tmp_path_factory.mktemp("corpus")).setup()
    for i, path in enumerate(sorted(MIME.glob("*.eml")), 1):
        uid = await box.add(path.read_bytes(), date=INTERNALDATE)
        assert uid == i
    await box.select()
    return box


def _expected_uids(entry: dict) -> list[int]:
    line = base64.b64decode(entry["response"]).decode().split()
    assert line[:2] == ["*", "SEARCH"]
    return [int(x) for x in line[2:]]


@in_module_loop
@pytest.mark.parametrize("entry", DATA["search"], ids=lambda e: e["command"].split("\r\n")[0][11:60])
async def test_search_like_dovecot(corpus, entry):
    cmd = parse(entry["command"])
    got = await search_uids(corpus.ctx, cmd.key, uid_mode=cmd.uid)
    expected = _expected_uids(entry)
    if entry["command"] in SEARCH_DEVIATIONS:
        ours, _why = SEARCH_DEVIATIONS[entry["command"]]
        assert expected != ours, "Dovecot now agrees: drop the deviation"
        expected = ours
    assert got == expected


def test_search_deviations_are_still_in_the_corpus():
    commands = {e["command"] for e in DATA["search"]}
    assert set(SEARCH_DEVIATIONS) <= commands


def _status(result: str) -> str:
    """"OK Fetch completed." -> "OK"; "NO [PARSE] ..." -> "NO [PARSE]"."""
    words = result.split(" ")
    return words[0] + (" " + words[1] if words[0] == "NO" and words[1].startswith("[") else "")


def _compare(item: dict, ours: bytes, status: str) -> list[str]:
    problems = []
    if status != _status(item["result"]):
        problems.append(f"completion {status} vs {item['result']}")
    got = parse_fetch(ours)
    mine = got[0][1] if got else {}
    if "response" in item:
        theirs_all = parse_fetch(base64.b64decode(item["response"]))
        theirs = theirs_all[0][1] if theirs_all else {}
        for name in sorted(set(mine) | set(theirs)):
            if mine.get(name) != theirs.get(name):
                problems.append(f"{name}: ours {str(mine.get(name))[:200]} / dovecot {str(theirs.get(name))[:200]}")
    else:  # 056: digests of the big values, plain values for the rest
        for name, value in item["attributes"].items():
            ours_value = mine.get(name.upper())
            if isinstance(value, dict):
                digest = hashlib.sha256(ours_value[1]).hexdigest() if isinstance(ours_value, tuple) else None
                if digest != value["content_sha256"]:
                    problems.append(f"{name}: content digest differs")
            else:
                [(_, theirs)] = parse_fetch(b"* 1 FETCH (" + name.encode() + b" " + base64.b64decode(value) + b")\r\n")
                if ours_value != theirs[name.upper()]:
                    problems.append(f"{name}: ours {str(ours_value)[:200]}")
    return problems


@in_module_loop
@pytest.mark.parametrize("name", sorted(DATA["messages"]))
async def test_fetch_like_dovecot(corpus, name):
    message = DATA["messages"][name]
    failures = {}
    for key, item in message["items"].items():
        cmd = parse(item["command"])
        outcome = FetchOutcome()
        responses = [x async for x in fetch_responses(corpus.ctx, cmd, outcome=outcome)]
        tagged = outcome.tagged(cmd.tag)
        status = tagged.status + (f" [{tagged.code.name}]" if tagged.code is not None else "")
        problems = _compare(item, wire(responses), status)
        if problems and (name, key) not in FETCH_DEVIATIONS:
            failures[key] = problems
    assert not failures, json.dumps(failures, indent=1, ensure_ascii=False)
    # PEEK everywhere: the corpus run must not have set \Seen.
    assert "\\Seen" not in corpus.ctx.selected.meta[message["uid"]].flags


def test_fetch_deviations_name_real_items():
    for name, key in FETCH_DEVIATIONS:
        assert key in DATA["messages"][name]["items"], (name, key)


def _flatten(nodes) -> list[int]:
    out = []
    for n in nodes:
        if n.number is not None:
            out.append(n.number)
        out.extend(_flatten(n.children))
    return out


@in_module_loop
@pytest.mark.parametrize("line", [
    "UID SORT (ARRIVAL) UTF-8 ALL", "UID SORT (CC) UTF-8 ALL", "UID SORT (DATE) UTF-8 ALL",
    "UID SORT (REVERSE FROM) UTF-8 ALL", "UID SORT (SIZE) UTF-8 ALL", "UID SORT (SUBJECT) UTF-8 ALL",
    "UID SORT (TO) UTF-8 ALL", "UID SORT (DISPLAYFROM) UTF-8 ALL", "UID SORT (DISPLAYTO) UTF-8 ALL",
])
async def test_sort_handles_every_corpus_message(corpus, line):
    from mailgate.session.imap.sort import sort_response

    [result] = await sort_response(corpus.ctx, parse(line))
    assert sorted(result.numbers) == list(range(1, 61))


@in_module_loop
@pytest.mark.parametrize("algorithm", ["ORDEREDSUBJECT", "REFERENCES"])
async def test_thread_handles_every_corpus_message(corpus, algorithm):
    from mailgate.session.imap.thread import thread_response

    result = await thread_response(corpus.ctx, parse(f"UID THREAD {algorithm} UTF-8 ALL"))
    assert sorted(_flatten(result.threads)) == list(range(1, 61))
