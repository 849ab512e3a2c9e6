"""The LIST pattern matcher and the folder-tree helpers, without a store."""

from __future__ import annotations

import re
import time

from hypothesis import given
from hypothesis import strategies as st

from mailgate.session.imap.list_match import Pattern, Tree, ancestors, is_hidden, sort_key
from mailgate.storage.models import Folder


def m(pattern: str, name: str) -> bool:
    return Pattern(pattern).matches(name)


def test_star_and_percent() -> None:
    assert m("*", "a/b/c")
    assert m("%", "abc") and not m("%", "a/b")
    assert m("a/%", "a/b") and not m("a/%", "a/b/c")
    assert m("a/*", "a/b/c") and not m("a/*", "a")
    assert m("a*", "a") and m("a*", "a/b") and m("a*", "abc")
    assert m("%/%", "x/y") and not m("%/%", "x")
    assert m("a%c", "abc") and m("a%c", "ac") and not m("a%c", "a/c")
    assert m("*c", "a/b/c") and not m("%c", "a/b/c")


def test_literal_characters() -> None:
    assert m("a.b", "a.b") and not m("a.b", "axb")  # no regex meaning
    assert m("(x)+", "(x)+") and m("[a]", "[a]")
    assert not m("abc", "abcd") and not m("abcd", "abc")
    assert m("", "") and not m("", "a")


def test_inbox_prefix_is_case_insensitive_only_for_inbox() -> None:
    assert m("inbox", "INBOX")
    assert m("Inbox/%", "INBOX/Sub")
    assert m("inb*", "INBOX/x/y")
    assert not m("inbox/sub", "INBOX/Sub")  # below INBOX, case matters
    assert not m("inboxes", "Inboxes")
    assert not m("inbox*", "Inboxes")


def _reference(pattern: str, name: str) -> bool:
    rx = "".join(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, name, re.DOTALL) is not None


@given(st.text(alphabet="ab/*%", max_size=8), st.text(alphabet="ab/", max_size=10))
def test_matches_like_a_regex(pattern: str, name: str) -> None:
    assert Pattern(pattern).matches(name) == _reference(pattern, name)


def test_pathological_pattern_is_fast() -> None:
    pattern = Pattern("*a" * 2000 + "b")
    name = "a" * 1000
    start = time.perf_counter()
    assert not pattern.matches(name)
    assert not Pattern("%a" * 2000 + "b").matches(name)
    assert not Pattern("*" + "a" * 1000).matches("a" * 1023 + "b")
    assert not Pattern("*a" * 500 + "b").matches(name)
    assert time.perf_counter() - start < 1


def test_ends_with_percent() -> None:
    assert Pattern("a/%").ends_with_percent and not Pattern("a/*").ends_with_percent


def test_hidden_and_ancestors() -> None:
    assert is_hidden(".sync") and is_hidden("Work/.cache") and is_hidden("a/.b/c")
    assert not is_hidden("a.b") and not is_hidden("Work/x.y")
    assert list(ancestors("a/b/c")) == ["a", "a/b"]
    assert list(ancestors("a")) == []


def test_sort_key_puts_inbox_tree_first() -> None:
    names = ["Archive", "INBOX/z", "INBOXES", "INBOX", "Ä", "B"]
    assert sorted(names, key=sort_key) == ["INBOX", "INBOX/z", "Archive", "B", "INBOXES", "Ä"]


def _f(name: str, use: str | None = None) -> Folder:
    return Folder(1, 1, name, 1, 1, 1, use)


def test_tree_attributes() -> None:
    tree = Tree([_f("INBOX"), _f("a/b"), _f("Sent", "\\Sent"), _f("x"), _f("x/.h")], show_hidden=False)
    assert tree.attributes("INBOX") == ("\\HasNoChildren",)
    assert tree.attributes("a") == ("\\Noselect", "\\HasChildren")
    assert tree.attributes("Sent", subscribed=True) == ("\\Sent", "\\HasNoChildren", "\\Subscribed")
    assert tree.attributes("gone") == ("\\NonExistent", "\\HasNoChildren")
    assert tree.attributes("x") == ("\\HasNoChildren",)
    shown = Tree([_f("x"), _f("x/.h")], show_hidden=True)
    assert shown.attributes("x") == ("\\HasChildren",)
