"""Guided tour: the tutorial's argument step by step, every number computed live (issue 18).

Text comes from explorer/i18n (one catalogue per language), numbers from explorer/tour.py, the step
renderers from explorer/ui/tour_steps.py; this page holds the frame. ?step= lives in the URL
(explorer/ui/urlstate.py), and so does ?lang=, chosen in the sidebar like on every page (explorer/ui/lang.py).
"""

from functools import partial

import numpy as np
import streamlit as st

from explorer import tour
from explorer.i18n import tr
from explorer.ui import urlstate
from explorer.ui.context import PageEnd, current_view
from explorer.ui.keys import arrow_keys
from explorer.ui.lang import current
from explorer.ui.text import plain
from explorer.ui.tour_steps import STEPS, TourContext
from explorer.ui.widgets import pair_models


def go(target: int) -> None:
    # The target is fixed when the button is drawn: a key pressed while a rerun is starting can send
    # the previous step's widget value, and "step + 1" would then repeat the step instead of moving on.
    st.session_state["step"] = int(np.clip(target, 1, tour.STEPS))


lang = current()
t = partial(tr, lang)
view = current_view()
if view.pair.kind != "pair":
    st.title(t("page_title"))
view.needs("pair")
crescent, full = tour.endpoints(view.dataset)
state = {"dataset": st.session_state.get("dataset", ""), "pair": view.pair_id}
if lang != "en":  # a full page opened from the tour leads back to the tour in its language
    state["lang"] = lang
context = TourContext(t, view, pair_models(view), crescent, full, state)

st.title(t("page_title"))
st.markdown(t("intro", pair=plain(view.pair_id)))
arrow_keys("tour_keys", "tour_back", "tour_next", "step")


@st.fragment
def walk(context: TourContext) -> None:
    """The step picker, Back / Next and the step: a step change reruns this alone, as a Decoder slider reruns its
    fragment (the sidebar, its metrics and page links are not rebuilt and re-sent)."""
    if "step" not in st.session_state and "step" not in st.query_params:
        st.session_state["step"] = 1  # no default= as well: go() writes the key, and both would warn every run
    step = st.segmented_control(t("step"), list(range(1, tour.STEPS + 1)), key="step", bind="query-params") or 1
    row = st.container(horizontal=True, vertical_alignment="center")  # the buttons as wide as their labels
    back, forward = ":material/arrow_back:", ":material/arrow_forward:"
    row.button(t("back"), key="tour_back", on_click=go, args=(step - 1,), disabled=step <= 1, icon=back)
    row.button(t("next"), key="tour_next", on_click=go, args=(step + 1,), disabled=step >= tour.STEPS, icon=forward)
    row.caption(t("keys_hint"))
    # The divider, the title and the lead-in in one element: each element is a message the server hands over
    lead = "" if step == tour.STEPS else "\n\n" + t(f"s{step}_body")  # the closing step has its own lead-in
    st.markdown(f"---\n\n### {t(f's{step}_title')}{lead}")
    try:
        with st.spinner(t("step_computing", step=step), show_time=True):  # a step's first visit computes
            STEPS[step](context)
    except PageEnd:  # a step waiting on a background request: its progress is drawn, and it reruns the page
        pass
    finally:
        urlstate.publish()  # a fragment rerun: app.py's publish does not run


walk(context)
