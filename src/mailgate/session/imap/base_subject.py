"""The base subject of RFC 5256 section 2.1 (SORT SUBJECT, THREAD).

Input is the subject already decoded from RFC 2047 (step 1's conversion to
UTF-8); this module does the rest of step 1 (white space) and steps 2-6.
"""

from __future__ import annotations

import re

__all__ = ["base_subject", "subject_key"]

_WSP_RUN = re.compile(r"[ \t\r\n]+")
# (2) subj-trailer = "(fwd)" / WSP
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])\Z", re.I)
# subj-blob = "[" *BLOBCHAR "]" *WSP
_BLOB = r"\[[^\[\]]*\][ \t]*"
# (3) subj-leader = (*subj-blob subj-refwd) / WSP
#     subj-refwd  = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
_LEADER = re.compile(rf"(?:(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:|[ \t])", re.I)
_BLOB_PREFIX = re.compile(_BLOB)
_FWD_HDR = "[fwd:"


def base_subject(subject: str) -> tuple[str, bool]:
    """(base subject, is_reply_or_forward) per RFC 5256 2.1.

    ``is_reply_or_forward`` is what THREAD=REFERENCES step 5 calls "a reply
    or forward": a "Re:"/"Fw:"/"Fwd:" leader, a "(fwd)" trailer or a
    "[fwd: ...]" wrapper was removed.
    """
    s = _WSP_RUN.sub(" ", subject)  # (1) tabs, continuations, runs of spaces
    is_reply = False
    while True:
        # (2) trailers
        while True:
            m = _TRAILER.search(s)
            if m is None:
                break
            if m.group(0) != " " and m.group(0) != "\t":
                is_reply = True
            s = s[: m.start()]
        # (3)-(5) leaders and blobs
        while True:
            changed = False
            while True:
                m = _LEADER.match(s)
                if m is None or not m.group(0):
                    break
                if m.group(0).strip():
                    is_reply = True
                s = s[m.end():]
                changed = True
            m = _BLOB_PREFIX.match(s)
            if m is not None and s[m.end():].strip():
                s = s[m.end():]
                changed = True
            if not changed:
                break
        # (6) "[fwd:" ... "]"
        if s[:5].lower() == _FWD_HDR and s.endswith("]"):
            s = s[5:-1]
            is_reply = True
            continue
        break
    return s.strip(" \t"), is_reply


def subject_key(subject: str) -> str:
    """Base subject in the form SORT and THREAD compare (case-folded, as
    i;unicode-casemap does for the ASCII range and beyond)."""
    return base_subject(subject)[0].lower()
