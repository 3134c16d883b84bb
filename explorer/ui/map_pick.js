// The latent map's pick layer: it reports clicks on the map's Plotly chart and draws the picked
// point over it. The chart's figure never changes with a pick, so Streamlit sends a reference to it
// (not its 180 KB) and Plotly does not redraw it; only this element's few bytes change.
// It reads Plotly's public events (gd.on) and its axes' pixel mapping (_fullLayout.xaxis.l2p).

const NS = "http://www.w3.org/2000/svg";
const STAR = "M0,-10L2.9,-3.5L10,-3.1L4.5,1.5L6.2,8.4L0,4.7L-6.2,8.4L-4.5,1.5L-10,-3.1L-2.9,-3.5Z";
const G = (window.__latentExplorerPick = window.__latentExplorerPick || {
  layers: {}, // component key -> { chart, points, label, send }
  hooked: new WeakSet(), // Plotly graph divs whose events we listen to
  observed: new WeakSet(), // chart containers watched for a remounted graph
});

function graphOf(layer) {
  const gd = document.querySelector(`.st-key-${layer.chart} .js-plotly-plot`);
  return gd && gd._fullLayout && gd.on ? gd : null;
}

function pickOf(ev) {
  const p = ev && ev.points && ev.points[0];
  if (!p || p.customdata == null) return null;
  const cd = Array.isArray(p.customdata) ? p.customdata : [p.customdata[0], p.customdata[1]];
  return { panel: Number(cd[0]), item: Number(cd[1]), x: Number(p.x), y: Number(p.y) };
}

function hook(gd, key) {
  if (G.hooked.has(gd)) return;
  G.hooked.add(gd);
  gd.on("plotly_click", (ev) => {
    const pick = pickOf(ev);
    const layer = G.layers[key];
    if (pick && layer) layer.send({ ...pick, n: (layer.clicks = (layer.clicks || 0) + 1) });
  });
  // Pan and zoom move the axes: hide the star while they move, draw it again when they settle.
  gd.on("plotly_relayouting", () => { const svg = gd.querySelector("svg.le-pick"); if (svg) svg.style.display = "none"; });
  gd.on("plotly_afterplot", () => draw(key));
}

function overlay(gd) {
  const host = gd.querySelector(".svg-container") || gd;
  let svg = host.querySelector(":scope > svg.le-pick");
  if (!svg) {
    svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "le-pick");
    svg.style.cssText = "position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none;overflow:hidden";
    host.appendChild(svg);
  }
  return svg;
}

function draw(key) {
  const layer = G.layers[key];
  const gd = layer && graphOf(layer);
  if (!gd) return false;
  hook(gd, key);
  const svg = overlay(gd);
  svg.replaceChildren();
  svg.style.display = "";
  layer.points.forEach((point, panel) => {
    const suffix = panel ? String(panel + 1) : "";
    const xa = gd._fullLayout["xaxis" + suffix], ya = gd._fullLayout["yaxis" + suffix];
    if (!point || !xa || !ya) return;
    const x = xa._offset + xa.l2p(point[0]), y = ya._offset + ya.l2p(point[1]);
    if (!(x >= xa._offset && x <= xa._offset + xa._length && y >= ya._offset && y <= ya._offset + ya._length)) return;
    const star = document.createElementNS(NS, "path");
    star.setAttribute("d", STAR);
    star.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
    star.setAttribute("fill", "gold");
    star.setAttribute("stroke", "black");
    star.setAttribute("stroke-width", "1.5");
    star.dataset.panel = String(panel);
    svg.appendChild(star);
  });
  svg.dataset.pick = layer.label; // what is drawn, for tests and screen readers
  svg.setAttribute("aria-label", `current point: ${layer.label}`);
  return true;
}

// Draw as soon as the chart exists (Plotly's code may still be loading), and again whenever
// Streamlit mounts a new graph in the chart's container (another figure: ellipses, projection).
function drawSoon(key, tries = 600) {
  if (!draw(key) && tries > 0) setTimeout(() => drawSoon(key, tries - 1), 100);
}

function watch(key) {
  const box = document.querySelector(`.st-key-${G.layers[key].chart}`);
  if (!box || G.observed.has(box)) return;
  G.observed.add(box);
  new MutationObserver(() => {
    const gd = graphOf(G.layers[key]);
    if (gd && !G.hooked.has(gd)) drawSoon(key);
  }).observe(box, { childList: true, subtree: true });
}

export default function (component) {
  const { data, setTriggerValue, key } = component;
  const name = key || data.chart;
  G.layers[name] = { ...(G.layers[name] || {}), ...data, send: (v) => setTriggerValue("click", v) };
  drawSoon(name);
  setTimeout(() => watch(name), 0);
}
