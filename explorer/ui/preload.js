// Imports Streamlit's Plotly chart module as soon as the app's first element arrives (see
// explorer/ui/preload.py). Its URL is resolved against Streamlit's own entry script, so it is the
// very URL Streamlit imports later: the browser fetches and runs the module once.
const MODULE = "__CHART_MODULE__";

export default function () {
  const G = (window.__latentExplorerPreload = window.__latentExplorerPreload || { state: "" });
  if (G.state) return; // once per tab
  const entry = document.querySelector('script[src*="/static/js/index."]');
  if (!entry) {
    G.state = "skipped";
    return;
  }
  G.state = "loading";
  import(new URL(MODULE, entry.src).href).then(
    () => (G.state = "done"),
    () => (G.state = "failed") // Streamlit still loads it itself when a chart needs it
  );
}
