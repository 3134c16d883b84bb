"""Arrow keys for the tour: a tiny component whose listener clicks the Back / Next buttons.

Clicking the real buttons keeps one code path for mouse and keyboard. Keys typed into an input,
a slider or a select are left alone, so a focused slider still moves with the arrows.

Streamlit loads each widget's code lazily: on a first visit (or a busy machine) the buttons can still be
skeletons when the listener starts, so a key pressed then is held until its button is drawn rather than
lost. The listener marks <html data-arrow-keys="ready"> once it listens (the browser test waits for it).
"""

from __future__ import annotations

import streamlit as st

from explorer.ui.bridge import component_data

HOLD_MS = 10_000  # a key pressed before its button exists is kept this long, then dropped

_JS = """
export default function (component) {
  const data = JSON.parse(component.data.json); // one JSON text: explorer/ui/bridge.py
  let pending = null, timer = null;
  const button = (key) => document.querySelector(`.st-key-${key} button`);
  const press = () => {
    const found = pending && button(pending.key);
    if (found || !pending || Date.now() > pending.until) {
      if (found && !found.disabled) found.click();
      pending = null; timer = null;
      return;
    }
    timer = setTimeout(press, 100);
  };
  const handler = (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    const target = event.target;
    const typing = 'input, textarea, select, [role="slider"], [contenteditable]';
    if (target && target.closest && target.closest(typing)) return;
    const key = data.keys[event.key];
    if (!key) return;
    const found = button(key);
    if (found && found.disabled) return;
    event.preventDefault();
    pending = { key, until: Date.now() + data.hold };
    if (timer === null) press();
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


def arrow_keys(key: str, left: str, right: str) -> None:
    """← clicks the button keyed `left`, → the one keyed `right`."""
    _COMPONENT(key=key, data=component_data({"keys": {"ArrowLeft": left, "ArrowRight": right}, "hold": HOLD_MS}))
