// The Keepwatch dashboard: a single-page app over REST API v1, served by the
// gateway (GET / and /assets/*). Hash routes (#/monitors, #/monitors/<id>,
// ...) pick a view; each view renders into <main> and may subscribe to the
// live stream, its subscriptions ending when the route changes.
import { session, onSession, logout, whoAmI, refresh, api, actingTenant, setActingTenant } from "./api.js";
import { h, mount, clear } from "./dom.js";
import { may } from "./roles.js";
import { openStream } from "./stream.js";
import { loginView, signupView } from "./view_auth.js";
import { monitorsView, monitorView, monitorFormView } from "./view_monitors.js";
import { incidentsView } from "./view_incidents.js";
import { statusPagesView, channelsView, maintenanceView } from "./view_setup.js";
import { membersView, apiKeysView, settingsView } from "./view_team.js";
import { usageView, invoicesView, invoiceView, auditView } from "./view_billing.js";

const root = document.getElementById("app");

// [pattern, view, action needed to see it (null: public)]
const ROUTES = [
  [/^\/login$/, loginView, null],
  [/^\/signup$/, signupView, null],
  [/^\/monitors$/, monitorsView, "read"],
  [/^\/monitors\/new$/, monitorFormView, "manage_monitors"],
  [/^\/monitors\/([^/]+)\/edit$/, monitorFormView, "manage_monitors"],
  [/^\/monitors\/([^/]+)$/, monitorView, "read"],
  [/^\/incidents$/, incidentsView, "read"],
  [/^\/status-pages$/, statusPagesView, "read"],
  [/^\/channels$/, channelsView, "read"],
  [/^\/maintenance$/, maintenanceView, "read"],
  [/^\/members$/, membersView, "read"],
  [/^\/api-keys$/, apiKeysView, "manage_api_keys"],
  [/^\/usage$/, usageView, "read_billing"],
  [/^\/invoices$/, invoicesView, "read_billing"],
  [/^\/invoices\/([^/]+)$/, invoiceView, "read_billing"],
  [/^\/audit$/, auditView, "read_audit"],
  [/^\/settings$/, settingsView, "read"],
];

const NAV = [
  ["#/monitors", "Monitors", "read"],
  ["#/incidents", "Incidents", "read"],
  ["#/status-pages", "Status pages", "read"],
  ["#/maintenance", "Maintenance", "read"],
  ["#/channels", "Channels", "read"],
  ["#/members", "Members", "read"],
  ["#/api-keys", "API keys", "manage_api_keys"],
  ["#/usage", "Usage", "read_billing"],
  ["#/invoices", "Invoices", "read_billing"],
  ["#/audit", "Audit log", "read_audit"],
  ["#/settings", "Settings", "read"],
];

// ---- the live stream, shared by the views

const subscribers = new Set();
let stream = null;
let streamState = "off";

function startStream() {
  const s = session();
  // A platform admin follows the tenant it acts on, once it has chosen one.
  if (stream || !s || (s.role === "platform_admin" && !actingTenant())) return;
  stream = openStream(
    (m) => {
      for (const f of subscribers) f(m);
    },
    (st) => {
      streamState = st;
      const el = document.getElementById("live");
      if (el) setLive(el);
    },
  );
}

function stopStream() {
  if (stream) stream.stop();
  stream = null;
}

function setLive(el) {
  const label = { live: "Live", connecting: "Connecting…", offline: "Offline — retrying", off: "Not live" }[streamState] || streamState;
  el.className = "live state-" + streamState;
  el.textContent = label;
  el.title = streamState === "live" ? "Updates arrive as checks run" : "Updates paused; the page still works — reload to refresh";
}

// ---- routing

let cleanup = [];

function current() {
  const raw = location.hash.replace(/^#/, "") || "/monitors";
  const [path, qs] = raw.split("?");
  return { path, query: new URLSearchParams(qs || "") };
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function shell(role) {
  const s = session();
  const nav = h("nav", { class: "nav", id: "nav" },
    NAV.filter(([, , a]) => may(role, a)).map(([href, label]) => h("a", { href }, label)));
  const menu = h("button", { type: "button", class: "menu icon", "aria-label": "Menu", "aria-controls": "nav", "aria-expanded": "false",
    onclick: () => {
      const open = nav.classList.toggle("open");
      menu.setAttribute("aria-expanded", String(open));
    } }, "☰");
  const live = h("span", { id: "live" });
  setLive(live);
  const main = h("main", { id: "main", tabindex: "-1" });
  mount(root,
    h("header", { class: "top" },
      menu,
      h("a", { class: "brand", href: "#/monitors" }, h("img", { src: "/assets/icon.svg", alt: "", width: 24, height: 24 }), "Keepwatch"),
      live,
      role === "platform_admin" ? tenantPicker() : h("span", { class: "who" }, s ? `${s.tenant_id} · ${role}` : ""),
      h("button", { type: "button", class: "ghost", onclick: async () => {
        await logout();
        go("#/login");
      } }, "Log out")),
    h("div", { class: "layout" }, nav, main));
  // The menu closes on any choice, also of the page already shown.
  nav.addEventListener("click", (ev) => {
    if (ev.target.closest("a")) {
      nav.classList.remove("open");
      menu.setAttribute("aria-expanded", "false");
    }
  });
  const top = root.querySelector("header.top");
  fitToHeader(top);
  if (window.ResizeObserver) new ResizeObserver(() => fitToHeader(top)).observe(top);
  return main;
}

// The layout's height and the narrow-screen menu's top follow the header's
// real height (--top-h), whatever its font, wrapping and live label make it.
function fitToHeader(top) {
  if (top && top.isConnected)
    document.documentElement.style.setProperty("--top-h", top.getBoundingClientRect().height + "px");
}

// A platform admin acts on one tenant at a time: chosen here from the
// platform's tenants, sent as X-Tenant-ID (and ?tenant= on the stream).
function tenantPicker() {
  const pick = h("select", { "aria-label": "Tenant", class: "who-select" }, h("option", { value: "" }, "Choose a tenant…"));
  pick.addEventListener("change", () => {
    setActingTenant(pick.value);
    stopStream();
    render();  // starts the stream again, on the chosen tenant
  });
  api("GET", "/api/v1/tenants", undefined, { limit: 200 })
    .then((page) => {
      for (const t of (page && page.items) || [])
        pick.append(h("option", { value: t.tenant_id }, `${t.name} (${t.tenant_id})${t.status === "active" ? "" : " · " + t.status}`));
      pick.value = actingTenant();
    })
    .catch(() => {});
  return h("span", { class: "who" }, pick, " · platform admin");
}

let lastRole = null;

async function render() {
  for (const f of cleanup) {
    try {
      f();
    } catch {
      // A view's cleanup must not stop the next view.
    }
  }
  cleanup = [];
  const { path, query } = current();
  const route = ROUTES.find(([re]) => re.test(path));
  const s = session();
  if (!route) return go("#/monitors");
  const [re, view, action] = route;
  const params = path.match(re).slice(1).map(decodeURIComponent);
  if (action === null) {
    if (s) return go("#/monitors");
    stopStream();
    clear(root);
    const main = root.appendChild(h("main", { class: "auth" })).appendChild(h("div", { class: "view" }));
    view({ main, params, query, role: null, onLive() {}, go, onCleanup() {} });
    return;
  }
  if (!s) return go("#/login");
  const role = s.role;
  if (lastRole !== role || !document.getElementById("main")) shell(role);
  lastRole = role;
  startStream();
  // Each render gets a fresh container: a view still awaiting the previous
  // route's answers writes into a detached element, never into this page.
  const main = clear(document.getElementById("main")).appendChild(h("div", { class: "view" }));
  if (window.scrollY) window.scrollTo(0, 0);
  for (const a of document.querySelectorAll("#nav a")) {
    const on = path === a.getAttribute("href").slice(1) || path.startsWith(a.getAttribute("href").slice(1) + "/");
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.getElementById("nav").classList.remove("open");
  if (role === "platform_admin" && !actingTenant()) {
    main.append(h("div", { class: "alert" }, "Platform admins act on one tenant at a time: choose it at the top."));
    return;
  }
  if (!may(role, action)) {
    main.append(h("div", { class: "alert" }, "Your role (" + role + ") may not see this page."));
    return;
  }
  const ctx = {
    main,
    params,
    query,
    role,
    go,
    may: (a) => may(role, a),
    onLive(f) {
      subscribers.add(f);
      cleanup.push(() => subscribers.delete(f));
    },
    onCleanup(f) {
      cleanup.push(f);
    },
  };
  try {
    await view(ctx);
  } catch (e) {
    main.append(h("div", { class: "alert error" }, e.message || String(e)));
  }
}

onSession((s) => {
  if (!s) {
    stopStream();
    lastRole = null;
    if (!location.hash.startsWith("#/login") && !location.hash.startsWith("#/signup")) go("#/login");
  } else if (stream) {
    stream.restart();
  }
});

window.addEventListener("hashchange", render);
window.addEventListener("online", () => stream && stream.restart());

(async () => {
  if (session()) {
    try {
      await whoAmI();
    } catch (e) {
      if (e.status === 401) {
        try {
          await refresh();
        } catch {
          // The session ended; render() sends to the login page.
        }
      }
    }
  }
  render();
})();
