"""Issue 28 in Chromium: the Train page's rate-distortion plane (the bundled sweep's, and a user's own runs'),
and the Inference page's posterior-family maps; each inside an 800 px window, in Chinese, after a reload
(and Back for the families)."""

import pytest

from tests.helpers import chart_faults, open_drawn, wait_drawn
from training.sweep import read_results, summaries

pytestmark = pytest.mark.browser

# The plane's figure as Plotly drew it: the starred beta = 1 point, the labels beside the means, the axis
# title and the legend's texts.
PLANE = """() => {
  const plot = document.querySelector('.st-key-rate_distortion_bundled .js-plotly-plot');
  if (!plot || !plot.data) return null;
  const star = plot.data.find(t => t.marker && t.marker.symbol === 'star');
  const means = plot.data.find(t => t.mode === 'markers+lines+text');
  return {
    star: star ? [star.x[0], star.y[0]] : null,
    labels: means ? means.text : [],
    x: plot.layout.xaxis.title.text,
    legend: [...plot.querySelectorAll('.legendtext')].map(e => e.textContent),
    width: plot.getBoundingClientRect().right,
  };
}"""


def test_the_bundled_beta_plane_survives_a_reload_fits_800_px_and_speaks_chinese(browser, app_url):
    one = next(s for s in summaries(read_results()) if s.beta == 1.0)
    for width, lang, rate, legend in ((1400, "en", "rate R", "equal ELBO"), (800, "zh", "码率 R", "等 ELBO 线")):
        errors: list = []
        url = f"{app_url}/train?dataset=digits&pair=digits-8d&lang={lang}"
        page = open_drawn(browser, url, width=width, errors=errors)
        for _ in range(2):  # as first drawn, then after a reload
            page.locator(".st-key-rate_distortion_bundled").scroll_into_view_if_needed()
            plane = page.evaluate(PLANE)
            assert plane is not None and plane["star"] == pytest.approx([one.rate.mean, one.distortion.mean])
            assert f"β 1 · {one.active_units[0]:.2g}/{one.latent_dim}" in plane["labels"]
            assert plane["x"].startswith(rate) and any(legend in t for t in plane["legend"])
            assert plane["width"] <= width and not chart_faults(page)  # nothing under the toolbar or overlapping
            page.reload()
            wait_drawn(page)
        assert not errors
        page.close()


FAMILY_MAPS = """() => [...document.querySelectorAll('[class*="st-key-fam_map_"] .le-chart > svg')].map(p => ({
  title: p.getAttribute('aria-label'),
  drawn: [...p.querySelectorAll('text')].map(t => t.textContent),  // the title among the drawn words
  right: p.getBoundingClientRect().right,
}))"""


def test_the_families_section_in_chinese_at_800_px_after_back_and_a_reload(browser, app_url):
    """moons-sparse-2d and its three siblings (found by their sidecars): one map per model, titled in
    Chinese, inside the window, and again after going to another page and Back, and after a reload."""
    errors: list = []
    url = f"{app_url}/inference?dataset=moons&pair=moons-sparse-2d&pick=250&lang=zh"
    page = open_drawn(browser, url, width=800, errors=errors)
    want = ["对角高斯", "全协方差高斯", "归一化流", "对角高斯，IWAE-50 训练"]

    def maps_drawn() -> None:
        page.wait_for_function(f"() => ({FAMILY_MAPS})().length === 4", timeout=300_000, polling=500)
        wait_drawn(page)
        page.locator(".st-key-fam_map_diag").scroll_into_view_if_needed()
        maps = page.evaluate(FAMILY_MAPS)
        assert sorted(m["title"] for m in maps) == sorted(want)  # two columns: DOM order is column by column
        assert all(m["title"] in m["drawn"] for m in maps)
        assert all(m["right"] <= 800 for m in maps) and not chart_faults(page)
        assert page.get_by_text("后验分布族：哪种 q 缩小了哪部分差距").count() == 1

    maps_drawn()
    page.locator("[data-testid=stSidebar] a[href*='decoder']").first.click()
    page.wait_for_url("**/decoder**")
    wait_drawn(page)
    page.go_back()
    page.wait_for_url("**/inference**")
    assert "pick=250" in page.url
    maps_drawn()
    page.reload()
    maps_drawn()
    assert not errors
    page.close()


@pytest.mark.slow
def test_the_plane_of_a_users_own_runs_in_chinese_at_800_px(browser, tmp_path):
    """Four tiny VAEs of the user's (two betas, two seeds) under runs/: the Train page's plane of them,
    one curve with a point per beta at its seeds' mean, in Chinese, inside 800 px, again after a reload."""
    import json

    import numpy as np

    from bench.harness import streamlit_server
    from tests.helpers import beta_runs

    runs = tmp_path / "runs"
    beta_runs(runs)
    env = {"LATENT_EXPLORER_RUNS": str(runs)}
    plane = PLANE.replace("rate_distortion_bundled", "rate_distortion")
    with streamlit_server(env=env, max_seconds=600) as url:
        errors: list = []
        page = open_drawn(browser, f"{url}/train?dataset=moons&pair=runs/beta-0.5-s0&lang=zh", width=800, errors=errors)
        for _ in range(2):
            page.locator(".st-key-rate_distortion").scroll_into_view_if_needed()
            drawn = page.evaluate(plane)
            means = page.evaluate(
                "() => document.querySelector('.st-key-rate_distortion .js-plotly-plot').data"
                ".find(t => t.mode === 'markers+lines+text').x"
            )
            for i, beta in enumerate((0.5, 4.0)):
                m = [json.loads((runs / f"beta-{beta}-s{s}" / "vae.json").read_text())["metrics"] for s in (0, 1)]
                assert means[i] == pytest.approx(np.mean([v["rate"] for v in m]))
            assert drawn["x"].startswith("码率 R") and any("等 ELBO 线" in t for t in drawn["legend"])
            assert drawn["width"] <= 800 and not chart_faults(page)
            page.reload()
            wait_drawn(page)
        assert not errors
        page.close()
