// The sidebar's page links carry their page's view as it is now, not as it was when the links were drawn.
// They are drawn on a full run, each with its page's query (routes.page_links: the shared view and what
// that page read); a fragment (a map pick, a slider, the scrubber) changes the URL afterwards, and
// Streamlit's page_link would still go (left click: its props) or point (href: new tab, copied link) at
// the old query. So:
//  - every link's href is rewritten whenever the URL or the sidebar changes, and again just before it is
//    used (pointer down, context menu, focus, drag): this page's link to location.search, another page's
//    to its own query with the shared keys (pair, pick, lang...) as location.search has them now;
//  - a plain left click (or Enter) is taken from Streamlit's handler: the new URL is pushed and a
//    popstate lets Streamlit run that page with it, as Back/Forward would. Modified clicks (new
//    tab or window) and middle clicks follow the browser's default with the current href.

const LINKS = '.st-key-page_links a[data-testid="stPageLink-NavLink"]'; // app.py's container of them
const G = (window.__latentExplorerLinks = window.__latentExplorerLinks || {
  installed: false,
  syncs: 0,
  shared: [],
  pages: {},
});

function target(a) {
  // The page's path, from the href Streamlit drew ("decoder?…", the first page's "?…"): pages sit
  // side by side under the app's root. Kept aside, as ours replaces the attribute.
  if (!a.dataset.lePath || a.getAttribute("href") !== a.dataset.leHref) {
    const page = (a.getAttribute("href") || "").split("?")[0];
    a.dataset.lePage = page; // the page's url_path, the key of G.pages ("" for the first page)
    a.dataset.lePath = new URL(page || "./", location.href).pathname;
  }
  if (a.dataset.lePath === location.pathname || !(a.dataset.lePage in G.pages)) {
    return a.dataset.lePath + location.search;
  }
  const query = new URLSearchParams(G.pages[a.dataset.lePage]);
  const now = new URLSearchParams(location.search);
  for (const key of G.shared) {
    if (now.has(key)) query.set(key, now.get(key));
    else query.delete(key);
  }
  const text = query.toString();
  return a.dataset.lePath + (text ? "?" + text : "");
}

function sync() {
  for (const a of document.querySelectorAll(LINKS)) {
    const href = target(a);
    if (a.getAttribute("href") !== href) a.setAttribute("href", href);
    a.dataset.leHref = href;
  }
  G.syncs += 1;
  document.documentElement.dataset.pageLinks = "ready"; // for tests: the listener is in place
}

function linkOf(event) {
  const a = event.target && event.target.closest ? event.target.closest(LINKS) : null;
  return a && !a.closest('[aria-disabled="true"]') ? a : null;
}

function onUse(event) {
  if (linkOf(event)) sync();
}

function onClick(event) {
  const a = linkOf(event);
  if (!a || event.button !== 0 || event.defaultPrevented) return;
  sync();
  event.stopPropagation(); // Streamlit's handler would go to the query the link was drawn with
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return; // the browser opens href
  event.preventDefault();
  const href = a.getAttribute("href");
  if (href !== location.pathname + location.search) history.pushState({}, "", href);
  window.dispatchEvent(new PopStateEvent("popstate", { state: history.state }));
}

function install() {
  if (G.installed) return;
  G.installed = true;
  for (const name of ["pushState", "replaceState"]) {
    const original = history[name].bind(history);
    history[name] = (...args) => {
      const out = original(...args);
      sync();
      return out;
    };
  }
  window.addEventListener("popstate", sync, true);
  window.addEventListener("click", onClick, true); // capture: before React's listener on its root
  for (const name of ["pointerdown", "auxclick", "contextmenu", "focusin", "dragstart", "mouseover"]) {
    window.addEventListener(name, onUse, true);
  }
  const watch = () => {
    const bar = document.querySelector('[data-testid="stSidebar"]'); // the links' container may be redrawn
    if (!bar) return setTimeout(watch, 200);
    new MutationObserver(sync).observe(bar, { subtree: true, childList: true, attributes: true, attributeFilter: ["href"] });
    sync();
  };
  watch();
}

export default function (component) {
  const data = JSON.parse(component.data.json); // routes.page_links: {shared: [keys], pages: {path: query}}
  G.shared = data.shared;
  G.pages = data.pages;
  install();
  sync();
}
