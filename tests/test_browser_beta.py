"""The Train page's rate-distortion plane in Chromium: drawn from the bundled sweep, again after a reload,
inside an 800 px window, and in Chinese."""

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
