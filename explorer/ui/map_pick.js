// The latent map's pick layer: it reports clicks on the map's Plotly chart and draws the picked
// point over it. The chart's figure never changes with a pick, so Streamlit sends a reference to it
// (not its 180 KB) and Plotly does not redraw it; only this element's few bytes change.
// A click on a dot is Plotly's plotly_click (its customdata is [panel, item]); a click elsewhere in
// a 2-D panel becomes that location, from the axes' pixel mapping (_fullLayout.xaxis.p2l/l2p).

const NS = "http://www.w3.org/2000/svg";
const STAR = "M0,-10L2.9,-3.5L10,-3.1L4.5,1.5L6.2,8.4L0,4.7L-6.2,8.4L-4.5,1.5L-10,-3.1L-2.9,-3.5Z";
const G = (window.__latentExplorerPick = window.__latentExplorerPick || {
  layers: {}, // chart key -> { chart, points, label, probes, probe, send }
  hooked: new WeakSet(), // Plotly graph divs whose events we listen to
  observed: new WeakSet(), // chart containers watched for a remounted graph
  press: null, // { gd, chart, x, y, onDot } of the pointer press on a map
});

function graphOf(chart) {
  const gd = document.querySelector(`.st-key-${chart} .js-plotly-plot`);
  return gd && gd._fullLayout && gd.on ? gd : null;
}

function axesOf(gd, panel) {
  const suffix = panel ? String(panel + 1) : "";
  return [gd._fullLayout["xaxis" + suffix], gd._fullLayout["yaxis" + suffix]];
}

const inside = (xa, ya, px, py) =>
  px >= xa._offset && px <= xa._offset + xa._length && py >= ya._offset && py <= ya._offset + ya._length;

// The panel and data coordinates under a client-space point, or null outside every panel.
function locate(gd, layer, cx, cy) {
  const box = (gd.querySelector(".main-svg") || gd).getBoundingClientRect();
  const px = cx - box.left, py = cy - box.top;
  for (let panel = 0; panel < layer.points.length; panel++) {
    const [xa, ya] = axesOf(gd, panel);
    if (xa && ya && inside(xa, ya, px, py)) return { panel, x: xa.p2l(px - xa._offset), y: ya.p2l(py - ya._offset) };
  }
  return null;
}

function send(chart, pick) {
  const layer = G.layers[chart];
  if (layer) layer.send({ ...pick, n: (layer.clicks = (layer.clicks || 0) + 1) }); // n: the same dot twice still counts
}

function hook(gd, chart) {
  if (G.hooked.has(gd)) return;
  G.hooked.add(gd);
  gd.addEventListener("pointerdown", (e) => { G.press = { gd, chart, x: e.clientX, y: e.clientY, onDot: false }; }, true);
  gd.on("plotly_click", (ev) => {
    const p = ev && ev.points && ev.points[0];
    if (!p || p.customdata == null) return;
    const cd = Array.isArray(p.customdata) ? p.customdata : [p.customdata[0], p.customdata[1]];
    if (G.press) G.press.onDot = true;
    send(chart, { panel: Number(cd[0]), item: Number(cd[1]), x: Number(p.x), y: Number(p.y) });
  });
  // Pan and zoom move the axes: hide the star while they move, draw it again when they settle.
  gd.on("plotly_relayouting", () => { const svg = gd.querySelector("svg.le-pick"); if (svg) svg.style.display = "none"; });
  gd.on("plotly_afterplot", () => draw(chart));
}

// After Plotly's mouseup (which emits plotly_click for a dot): a click that hit no dot and did not pan
// picks the location. Plotly may end the press on its drag cover, so the click is heard on the document.
document.addEventListener("click", (e) => {
  const press = G.press;
  G.press = null;
  const layer = press && G.layers[press.chart];
  if (!layer || !layer.probes || press.onDot || Math.hypot(e.clientX - press.x, e.clientY - press.y) > 4) return;
  const at = locate(press.gd, layer, e.clientX, e.clientY);
  if (at) send(press.chart, { panel: at.panel, item: layer.probe, x: at.x, y: at.y });
}, true);

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

function draw(chart) {
  const layer = G.layers[chart];
  const gd = layer && graphOf(chart);
  if (!gd) return false;
  hook(gd, chart);
  const svg = overlay(gd);
  svg.replaceChildren();
  svg.style.display = "";
  layer.points.forEach((point, panel) => {
    const [xa, ya] = axesOf(gd, panel);
    if (!point || !xa || !ya) return;
    const x = xa._offset + xa.l2p(point[0]), y = ya._offset + ya.l2p(point[1]);
    if (!inside(xa, ya, x, y)) return;
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
  svg.setAttribute("aria-label", layer.aria || layer.label);
  return true;
}

// Draw as soon as the chart exists (Plotly's code may still be loading), and again whenever
// Streamlit mounts a new graph in the chart's container (another figure: ellipses, projection).
function drawSoon(chart, tries = 600) {
  if (!draw(chart) && tries > 0) setTimeout(() => drawSoon(chart, tries - 1), 100);
}

function watch(chart) {
  const box = document.querySelector(`.st-key-${chart}`);
  if (!box || G.observed.has(box)) return;
  G.observed.add(box);
  new MutationObserver(() => {
    const gd = graphOf(chart);
    if (gd && !G.hooked.has(gd)) drawSoon(chart);
  }).observe(box, { childList: true, subtree: true });
}

export default function (component) {
  const { setTriggerValue } = component;
  const data = JSON.parse(component.data.json); // one JSON text: explorer/ui/bridge.py
  // One layer per chart: a remounted component (a new instance id) takes over the same layer.
  G.layers[data.chart] = { ...(G.layers[data.chart] || {}), ...data, send: (v) => setTriggerValue("click", v) };
  drawSoon(data.chart);
  setTimeout(() => watch(data.chart), 0);
}
