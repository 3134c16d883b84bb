"""Long requests as a page sees them (explorer/offload.py): the results when they are ready; else their
progress, a Cancel button and a fragment that polls them and reruns the page once they have arrived.
The script thread never computes them, so the session stays responsive while they run."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import streamlit as st

from explorer.offload import RequestRefused, RequestStopped, Ticket, runner
from explorer.ui.lang import error_text, show_error, t

GRACE = 0.8  # seconds a script waits for a quick result (a cached one, a small pair) before drawing progress
FRESH_GRACE = 2.0  # ... for one asked for by this run: it is drawn the moment it arrives, not at a poll after it
SLICE = 0.05  # seconds between looks, while waiting, at whether the user has asked for another run
POLL = 1.0  # seconds between the progress fragment's looks
STOPPED = "long_stopped"  # Session State: the requests this session cancelled (it asks for them again on demand)
ASKED = "long_asked"  # Session State: name -> the requests ask() last asked for under it

Request = tuple[str, tuple]  # (task, arguments): explorer.long_tasks' function name and its hashable args


def _ctx():
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx()


def _who() -> str:
    ctx = _ctx()
    return ctx.session_id if ctx is not None else "script"


def _tickets(requests: list[Request]) -> list[Ticket]:
    who = _who()
    return [runner().submit(task, args, who) for task, args in requests]


def ready(requests: list[Request]) -> list[Any] | None:
    """The results if every request has one now (asking keeps them alive), else None; draws nothing."""
    tickets = _tickets(requests)
    if all(tk.state == "done" for tk in tickets):
        return [tk.result for tk in tickets]
    return None


def ask(requests: list[Request], replaces: str) -> float:
    """Ask for requests now without waiting, so the pool works on them while the page draws what comes
    before (results() waits for them where they are drawn; one refused is said there). replaces names what
    they are (a page's pick): the tab's requests asked under that name before and not among these are
    released (Runner.release: a queued one nobody else waits for is dropped, none counts against the tab's
    limit), so picks made in quick succession neither fill the tab's quota nor queue work for picks gone
    by. The time asked: pass it to results() so they count as asked by this run."""
    asked, who = time.monotonic(), _who()
    before = st.session_state.get(ASKED, {}).get(replaces, [])
    for task, args in set(before) - set(requests):
        runner().release(task, args, who)
    st.session_state.setdefault(ASKED, {})[replaces] = list(requests)
    with contextlib.suppress(RequestRefused):
        _tickets(requests)
    return asked


def results(requests: list[Request], what: str, name: str, asked: float | None = None) -> list[Any] | None:
    """The results of the requests, or None after drawing their progress (what: the catalogue key naming
    them; name: unique on the page, for widget keys; asked: when this run asked for them, if before, see
    ask()). A task's own error is raised as the page would have raised it; a stopped request (over its
    budget, its worker gone) is shown with a Try again button."""
    stopped = st.session_state.setdefault(STOPPED, set())
    keys = {(task, args) for task, args in requests}
    if keys & stopped:
        st.info(t("long_cancelled", what=t(what)), icon=":material/block:")
        st.button(t("long_again"), key=f"long_again_{name}", on_click=stopped.difference_update, args=(keys,))
        return None
    try:
        asked = time.monotonic() if asked is None else asked
        tickets = _tickets(requests)
    except RequestRefused as exc:  # too many under way for this tab or this server: said, not queued
        st.warning(error_text(exc), icon=":material/hourglass_disabled:")
        return None
    _wait(tickets, asked)
    failed = next((tk for tk in tickets if tk.state == "failed"), None)
    if failed is not None:
        if not isinstance(failed.error, RequestStopped):
            raise failed.error
        show_error(
            t("long_failed", what=t(what), reason=error_text(failed.error)), failed.error, icon=":material/timer_off:"
        )
        st.button(t("long_again"), key=f"long_again_{name}", on_click=runner().forget, args=(failed,))
        return None
    if all(tk.state == "done" for tk in tickets):
        return [tk.result for tk in tickets]
    _progress(requests, what)
    st.button(t("long_cancel"), key=f"long_cancel_{name}", on_click=_cancel, args=(requests,), icon=":material/close:")
    return None


def _wait(tickets: list[Ticket], asked: float) -> None:
    """Wait, woken by the tickets' `finished` events, up to FRESH_GRACE from its asking for a request this run
    asked for, GRACE for one another tab asked for a moment ago (one asked for by an earlier run is past it:
    not waited on again); stop as soon as the user asks for another run (a click, a key): a wait never holds
    up the tab's interactions."""
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType

    ctx = _ctx()
    requests = getattr(ctx, "script_requests", None)
    for tk in tickets:
        grace = FRESH_GRACE if tk.created >= asked else GRACE
        while not tk.done and (left := tk.created + grace - time.monotonic()) > 0:
            if getattr(requests, "_state", ScriptRequestType.CONTINUE) != ScriptRequestType.CONTINUE:
                return  # a rerun or stop is pending: draw the progress now; Streamlit acts at the next element
            tk.finished.wait(min(SLICE, left))


def result(task: str, args: tuple, what: str, name: str, asked: float | None = None) -> Any | None:
    found = results([(task, args)], what, name, asked)
    return None if found is None else found[0]


def _cancel(requests: list[Request]) -> None:
    who = _who()
    for tk in _tickets(requests):
        runner().cancel(tk, who)
    st.session_state.setdefault(STOPPED, set()).update((task, args) for task, args in requests)


def describe(ticket: Ticket) -> str:
    """Where a request is: queued (its place), waiting for a slot, or computing (seconds of its limit)."""
    if ticket.state == "queued":
        return t("long_queued", place=runner().position(ticket))
    if ticket.state == "starting":
        return t("long_starting")
    if ticket.state == "waiting":
        return t("long_waiting", k=runner().k)
    if ticket.state == "elsewhere":
        return t("long_elsewhere")
    return t("long_running", elapsed=ticket.elapsed(), cpu=ticket.cpu, limit=ticket.seconds)


@st.fragment(run_every=POLL)
def _progress(requests: list[Request], what: str) -> None:
    tickets = _tickets(requests)  # asking again keeps them alive (offload.ABANDON_SECONDS)
    if all(tk.done for tk in tickets):
        st.rerun()  # the whole page, which now finds the results
    pending = [tk for tk in tickets if not tk.done]
    st.markdown(t("long_progress", what=t(what), where=describe(pending[0])))
    st.progress(min(1.0, max(tk.used() for tk in pending)))
    st.caption(t("long_note"))
