"""Arrow keys for the tour: a tiny component whose listener clicks the Back / Next buttons.

Clicking the real buttons keeps one code path for mouse and keyboard. Keys typed into an input,
a slider or a select are left alone, so a focused slider still moves with the arrows.
"""

from __future__ import annotations

import streamlit as st

_JS = """
export default function ({ data }) {
  const handler = (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    const target = event.target;
    const typing = 'input, textarea, select, [role="slider"], [contenteditable]';
    if (target && target.closest && target.closest(typing)) return;
    const key = data.keys[event.key];
    if (!key) return;
    const button = document.querySelector(`.st-key-${key} button`);
    if (button && !button.disabled) { event.preventDefault(); button.click(); }
  };
  document.addEventListener("keydown", handler);
  return () => document.removeEventListener("keydown", handler);
}
"""
_COMPONENT = st.components.v2.component("latent_explorer_keys", html="<span></span>", js=_JS)


def arrow_keys(key: str, left: str, right: str) -> None:
    """← clicks the button keyed `left`, → the one keyed `right`."""
    _COMPONENT(key=key, data={"keys": {"ArrowLeft": left, "ArrowRight": right}})
