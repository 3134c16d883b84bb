"""Arrow keys for the tour: a tiny component whose listener clicks the Back / Next buttons.

Clicking the real buttons keeps one code path for mouse and keyboard. Keys typed into an input,
a slider or a select are left alone, so a focused slider still moves with the arrows.

Streamlit loads each widget's code lazily: on a first visit (or a busy machine) the buttons can still be
skeletons when the listener starts, so a key pressed then is held until its button is drawn rather than
lost. Presses quicker than the page are queued and clicked one at a time (see _JS). The listener marks
<html data-arrow-keys="ready"> once it listens (the browser test waits for it).
"""

from __future__ import annotations

import streamlit as st

from explorer.ui.bridge import component_data

HOLD_MS = 10_000  # a key pressed before its button exists is kept this long, then dropped

_JS = """
export default function (component) {
  const data = JSON.parse(component.data.json); // one JSON text: explorer/ui/bridge.py
  // net presses not yet clicked (+ right, - left); the URL's value of data.param when we last clicked
  let queued = 0, since = 0, clickedAt = null, timer = null;
  const button = (key) => document.querySelector(`.st-key-${key} button`);
  const shown = () => new URLSearchParams(window.location.search).get(data.param);
  const running = () => document.querySelector('[data-testid="stStatusWidget"]') !== null;
  const pump = () => {
    timer = null;
    if (queued === 0) return;
    const found = button(queued > 0 ? data.keys.ArrowRight : data.keys.ArrowLeft);
    // A button's target is fixed when it is drawn: the next click waits until the last one has moved
    // the view (its URL value changed, the run ended), or three quick presses would all send "step 2".
    const settled = clickedAt === null || (shown() !== clickedAt.value && !running());
    if (found && (settled || Date.now() > clickedAt.until)) {
      if (found.disabled) { queued = 0; return; }
      clickedAt = { value: shown(), until: Date.now() + data.hold };
      found.click();
      queued -= Math.sign(queued);
    } else if (Date.now() > since + data.hold) { queued = 0; return; } // never drawn: dropped
    if (queued !== 0) timer = setTimeout(pump, 50);
  };
  const handler = (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    const target = event.target;
    const typing = 'input, textarea, select, [role="slider"], [contenteditable]';
    if (target && target.closest && target.closest(typing)) return;
    const key = data.keys[event.key];
    if (!key) return;
    const found = button(key);
    if (found && found.disabled && queued === 0) return;
    event.preventDefault();
    queued += event.key === "ArrowRight" ? 1 : -1;
    since = Date.now();
    if (timer === null) pump();
  };
  document.addEventListener("keydown", handler);
  document.documentElement.dataset.arrowKeys = "ready";
  return () => {
    document.removeEventListener("keydown", handler);
    clearTimeout(timer);
    delete document.documentElement.dataset.arrowKeys;
  };
}
"""
_COMPONENT = st.components.v2.component("latent_explorer_keys", html="<span></span>", js=_JS)


def arrow_keys(key: str, left: str, right: str, param: str) -> None:
    """← clicks the button keyed `left`, → the one keyed `right`; quick presses are clicked one by one, each
    once the URL's `param` (the view the buttons move) has changed since the click before."""
    data = {"keys": {"ArrowLeft": left, "ArrowRight": right}, "hold": HOLD_MS, "param": param}
    _COMPONENT(key=key, data=component_data(data))
