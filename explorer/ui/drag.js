// Drag to decode: the decoded image follows the pointer.
// In-browser mode runs the MLP decoder here (weights arrive once per model and stay in
// window.__latentExplorer); server mode streams throttled values to Python instead.
// User-supplied strings are only ever set through textContent, never as HTML.

const G = (window.__latentExplorer = window.__latentExplorer || {
  decoders: {},   // decoder id -> { decode(z) -> Float64Array, shape }
  stats: { frames: 0, distinct: 0, lastHash: null, decodeMs: [], frameTimes: [] },
  views: new WeakMap(),
});

function b64ToFloat32(text) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

function makeDecoder(spec) {
  const layers = spec.layers.map((l) => ({ w: b64ToFloat32(l.w), b: b64ToFloat32(l.b), nIn: l.n_in, nOut: l.n_out, act: l.act }));
  return {
    shape: spec.shape,
    decode(z) {
      let h = Float64Array.from(z);
      for (const L of layers) {
        const out = new Float64Array(L.nOut);
        for (let o = 0; o < L.nOut; o++) {
          let s = L.b[o];
          const row = o * L.nIn;
          for (let i = 0; i < L.nIn; i++) s += L.w[row + i] * h[i];
          out[o] = L.act === "relu" ? (s > 0 ? s : 0) : 1 / (1 + Math.exp(-s));
        }
        h = out;
      }
      return h;
    },
  };
}

// Test hook: decode with a cached decoder, as the page does.
window.latentExplorerDecode = (id, z) => Array.from(G.decoders[id].decode(z));

function registerDecoders(data) {
  for (const [id, spec] of Object.entries(data.decoders || {})) {
    if (spec.layers && !G.decoders[id]) G.decoders[id] = makeDecoder(spec);
  }
}

function drawImage(canvas, pixels, shape) {
  const [c, h, w] = shape;
  if (canvas.width !== w) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  let hash = 0;
  for (let p = 0; p < h * w; p++) {
    const r = pixels[p], g = c === 3 ? pixels[h * w + p] : r, b = c === 3 ? pixels[2 * h * w + p] : r;
    img.data[4 * p] = Math.round(r * 255);
    img.data[4 * p + 1] = Math.round(g * 255);
    img.data[4 * p + 2] = Math.round(b * 255);
    img.data[4 * p + 3] = 255;
    hash = (hash * 31 + img.data[4 * p]) | 0;
  }
  ctx.putImageData(img, 0, 0);
  return hash;
}

function recordFrame(hash, decodeMs) {
  const s = G.stats;
  s.frames += 1;
  if (hash !== s.lastHash) s.distinct += 1;
  s.lastHash = hash;
  s.decodeMs.push(decodeMs);
  s.frameTimes.push(performance.now());
  if (s.decodeMs.length > 5000) { s.decodeMs.splice(0, 2500); s.frameTimes.splice(0, 2500); }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function lerp(a, b, t) { return a.map((v, i) => (1 - t) * v + t * b[i]); }
function slerp(a, b, t) {
  const na = Math.hypot(...a), nb = Math.hypot(...b);
  if (na < 1e-12 || nb < 1e-12) return lerp(a, b, t);
  const dot = a.reduce((s, v, i) => s + (v / na) * (b[i] / nb), 0);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot)));
  if (omega < 1e-6) return lerp(a, b, t);
  const so = Math.sin(omega), norm = (1 - t) * na + t * nb;
  return a.map((v, i) => ((Math.sin((1 - t) * omega) * v / na + Math.sin(t * omega) * b[i] / nb) / so) * norm);
}

export default function (component) {
  const { parentElement, setStateValue } = component;
  const data = JSON.parse(component.data.json); // one JSON text: explorer/ui/bridge.py
  const mount = parentElement.querySelector(".le-mount") || parentElement;
  registerDecoders(data);
  // Python sends a decoder's weights to the first component that needs it; another
  // component mounted in the same run may start before that one has registered them.
  const expectBrowser = data.models.every((m) => data.decoders && data.decoders[m.id]);
  const ready = () => data.models.every((m) => G.decoders[m.id]);
  const show = () => {
    let view = G.views.get(mount);
    const inBrowser = ready();
    if (!view || view.mode !== data.mode || view.signature !== data.signature || view.inBrowser !== inBrowser) {
      mount.replaceChildren();
      view = build(mount, data, setStateValue, inBrowser);
      G.views.set(mount, view);
    }
    view.update(data);
  };
  if (expectBrowser && !ready()) {
    const started = performance.now();
    const wait = () => (ready() || performance.now() - started > 3000 ? show() : requestAnimationFrame(wait));
    requestAnimationFrame(wait);
  } else {
    show();
  }
}

function throttled(fn, ms) {
  let last = 0, timer = null, pending = null;
  return (value) => {
    pending = value;
    const now = performance.now();
    if (now - last >= ms) { last = now; fn(pending); }
    else if (!timer) timer = setTimeout(() => { timer = null; last = performance.now(); fn(pending); }, ms - (now - last));
  };
}

function figureFor(m) {
  const fig = el("div", "le-figure");
  const canvas = el("canvas", "le-image");
  canvas.dataset.model = m.id;
  fig.appendChild(canvas);
  fig.appendChild(el("div", "le-caption", m.label));
  return { model: m, canvas, fig };
}

// view.render / moved / released: decode here at most once a frame, or stream to Python.
function attachDecoding(view, figures, setStateValue) {
  const { data, inBrowser } = view;
  const stream = throttled((value) => setStateValue(data.state_name, value), data.throttle_ms || 100);
  let scheduled = false, latest = null;
  view.render = (value) => {
    latest = value;
    if (!inBrowser || scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      for (const f of figures) {
        const z = view.codeFor(f.model, latest);
        const t0 = performance.now();
        const pixels = G.decoders[f.model.id].decode(z);
        const ms = performance.now() - t0;
        recordFrame(drawImage(f.canvas, pixels, f.model.shape), ms);
      }
    });
  };
  view.moved = (value) => { if (inBrowser) view.render(value); else stream(value); };
  view.released = (value) => { view.dragging = false; setStateValue(data.state_name, value); };
  view.codeFor = (m, z) => z;
}

function buildSliders(view, row) {
  const data = view.data;
  const grid = el("div", "le-sliders");
  const inputs = data.dims.map((d, i) => {
    const [lo, hi] = data.ranges[i];
    grid.appendChild(el("label", null, `z${d}`));
    const input = el("input");
    Object.assign(input, { type: "range", min: lo, max: hi, step: (hi - lo) / 500 });
    input.setAttribute("aria-label", data.words.dimension.replace("{d}", d));
    input.dataset.dim = d;
    grid.appendChild(input);
    const out = el("output");
    grid.appendChild(out);
    return { input, out, d };
  });
  const current = () => {
    const z = view.data.base.slice();
    for (const s of inputs) { z[s.d] = parseFloat(s.input.value); s.out.textContent = z[s.d].toFixed(2); }
    return z;
  };
  for (const s of inputs) {
    s.input.addEventListener("pointerdown", () => (view.dragging = true));
    s.input.addEventListener("input", () => view.moved(current()));
    s.input.addEventListener("change", () => view.released(current()));
  }
  row.appendChild(grid);
  view.update = (d) => {
    view.data = d;
    if (!view.dragging) {
      inputs.forEach((s) => (s.input.value = d.value[s.d]));
      view.render(current());
    }
  };
}

// A 360 px canvas over data.bounds: the codes as dots, a cross at view.cursor.
function makePad(view) {
  const pad = el("canvas", "le-pad");
  pad.width = 360; pad.height = 360;
  pad.tabIndex = 0;
  pad.setAttribute("aria-label", view.data.words.pad);
  const [x0, x1, y0, y1] = view.data.bounds;
  const toCode = (px, py) => [x0 + (px / 360) * (x1 - x0), y1 - (py / 360) * (y1 - y0)];
  const toPixel = (z) => [((z[0] - x0) / (x1 - x0)) * 360, ((y1 - z[1]) / (y1 - y0)) * 360];
  view.cursor = view.data.value.slice();
  const draw = () => {
    const ctx = pad.getContext("2d");
    ctx.clearRect(0, 0, 360, 360);
    const pts = view.data.points, cols = view.data.colours;
    for (let i = 0; i < pts.length; i++) {
      const [px, py] = toPixel(pts[i]);
      ctx.fillStyle = cols[i];
      ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
    }
    const [cx, cy] = toPixel(view.cursor);
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(cx - 9, cy); ctx.lineTo(cx + 9, cy); ctx.moveTo(cx, cy - 9); ctx.lineTo(cx, cy + 9); ctx.stroke();
  };
  const at = (e) => { const r = pad.getBoundingClientRect(); return toCode(((e.clientX - r.left) / r.width) * 360, ((e.clientY - r.top) / r.height) * 360); };
  return { pad, draw, at, step: [(x1 - x0) / 100, (y1 - y0) / 100] };
}

function buildMap(view, row) {  // display only: the codes and the current point, redrawn in a millisecond
  const { pad, draw } = makePad(view);
  pad.classList.add("le-map");
  pad.setAttribute("aria-label", view.data.label || view.data.words.map);
  row.appendChild(pad);
  view.update = (d) => { view.data = d; view.cursor = d.value.slice(); draw(); };
}

function buildPad(view, row) {
  const { pad, draw, at, step } = makePad(view);
  const moveTo = (z) => { view.cursor = z; draw(); view.moved(z); };
  pad.addEventListener("pointerdown", (e) => { view.dragging = true; pad.setPointerCapture(e.pointerId); moveTo(at(e)); });
  pad.addEventListener("pointermove", (e) => moveTo(at(e)));
  pad.addEventListener("pointerup", (e) => { view.cursor = at(e); draw(); view.released(view.cursor); });
  pad.addEventListener("keydown", (e) => {
    const moves = { ArrowLeft: [-step[0], 0], ArrowRight: [step[0], 0], ArrowUp: [0, step[1]], ArrowDown: [0, -step[1]] };
    if (!moves[e.key]) return;
    e.preventDefault();
    moveTo([view.cursor[0] + moves[e.key][0], view.cursor[1] + moves[e.key][1]]);
    view.released(view.cursor);
  });
  row.appendChild(pad);
  view.update = (d) => { view.data = d; if (!view.dragging) { view.cursor = d.value.slice(); draw(); view.render(view.cursor); } };
}

function buildScrub(view, row, box) {  // t from 0 to 1 along each model's own path
  const wrap = el("div", "le-scrub");
  const input = el("input");
  Object.assign(input, { type: "range", min: 0, max: 1, step: 0.001 });
  input.setAttribute("aria-label", view.data.words.t);
  const out = el("output");
  wrap.appendChild(input); wrap.appendChild(out);
  box.insertBefore(wrap, row);
  const t = () => { const v = parseFloat(input.value); out.textContent = ` t = ${v.toFixed(3)}`; return v; };
  input.addEventListener("pointerdown", () => (view.dragging = true));
  input.addEventListener("input", () => view.moved(t()));
  input.addEventListener("change", () => view.released(t()));
  view.codeFor = (m, tv) => { const p = view.data.paths[m.id]; return (p.method === "spherical" ? slerp : lerp)(p.a, p.b, tv); };
  view.update = (d) => { view.data = d; if (!view.dragging) { input.value = d.value; view.render(t()); } };
}

const BUILDERS = { sliders: buildSliders, pad: buildPad, map: buildMap, scrub: buildScrub };

function build(root, data, setStateValue, inBrowser) {
  const box = el("div", "le-root");
  root.appendChild(box);
  if (data.mode !== "map") box.appendChild(el("div", "le-mode", inBrowser ? data.words.browser : data.words.server));
  const view = { mode: data.mode, signature: data.signature, inBrowser, dragging: false, data };
  const figures = data.models.map(figureFor);
  attachDecoding(view, figures, setStateValue);
  const row = el("div", "le-row");
  box.appendChild(row);
  BUILDERS[data.mode](view, row, box);
  if (data.mode === "map") return view;  // no decoded images beside a map
  for (const f of figures) row.appendChild(f.fig);
  if (!inBrowser) for (const f of figures) f.fig.style.display = "none";
  return view;
}
