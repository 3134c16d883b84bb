"""explorer/ui/waiting.py's wait for a page's long requests: a request this run asked for is drawn the moment
it arrives (no progress, no poll after it), one asked for before is not waited on again, and a click or key
in the tab (a pending rerun) ends the wait at once."""

import threading
import time
from types import SimpleNamespace

from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequests, ScriptRequestType

from explorer.ui import waiting


class FakeTicket:
    def __init__(self, created: float):
        self.created, self.finished = created, threading.Event()

    @property
    def done(self) -> bool:
        return self.finished.is_set()


def finish_soon(ticket: FakeTicket, after: float = 0.2) -> threading.Timer:
    timer = threading.Timer(after, ticket.finished.set)
    timer.start()
    return timer


def test_a_fresh_request_is_waited_for_until_it_arrives(monkeypatch):
    monkeypatch.setattr(waiting, "_ctx", lambda: None)
    asked = time.monotonic()
    fresh = FakeTicket(asked)
    finish_soon(fresh, waiting.GRACE + 0.2)  # later than the old grace, within the fresh one
    waiting._wait([fresh], asked)
    assert fresh.done


def test_a_request_asked_for_by_an_earlier_run_is_not_waited_on_again(monkeypatch):
    monkeypatch.setattr(waiting, "_ctx", lambda: None)
    old = FakeTicket(time.monotonic() - waiting.FRESH_GRACE)
    timer = finish_soon(old)
    waiting._wait([old], time.monotonic())
    assert not old.done
    timer.cancel()


def test_a_pending_rerun_ends_the_wait_at_once(monkeypatch):
    assert ScriptRequests()._state == ScriptRequestType.CONTINUE  # the private field the wait reads is there
    requests = SimpleNamespace(_state=ScriptRequestType.CONTINUE)
    monkeypatch.setattr(waiting, "_ctx", lambda: SimpleNamespace(script_requests=requests))
    asked = time.monotonic()
    fresh = FakeTicket(asked)
    timer = finish_soon(fresh, waiting.FRESH_GRACE / 2)
    threading.Timer(0.1, setattr, (requests, "_state", ScriptRequestType.RERUN)).start()  # a click
    waiting._wait([fresh], asked)
    assert not fresh.done
    timer.cancel()


def test_asking_for_a_new_pick_releases_the_last_picks_requests_it_no_longer_needs(monkeypatch):
    """waiting.ask under one name: the requests it asked for last time and not now are released for this tab
    (Runner.release), the ones asked for again are not; what it asked for is submitted."""
    import streamlit as st

    released, submitted = [], []
    fake = SimpleNamespace(
        release=lambda task, args, who: released.append((task, args, who)),
        submit=lambda task, args, who: submitted.append((task, args)) or FakeTicket(time.monotonic()),
    )
    monkeypatch.setattr(waiting, "runner", lambda: fake)
    monkeypatch.setattr(waiting, "_ctx", lambda: SimpleNamespace(session_id="tab"))
    monkeypatch.setattr(st, "session_state", {})
    first = [("pick", ("set", 1.0, 5)), ("same_decoder", ("set", 1.0, 5))]
    waiting.ask(first, "pick")
    assert not released and submitted == first
    second = [("pick", ("set", 1.0, 6)), ("same_decoder", ("set", 1.0, 5))]  # one kept, one new
    waiting.ask(second, "pick")
    assert released == [("pick", ("set", 1.0, 5), "tab")]
    waiting.ask([("split", ())], "other")  # another name: releases nothing of the pick's
    assert len(released) == 1
