// Monitors: the live list, one monitor's page (stats chart, heartbeats,
// incidents) and the create/edit form.
import { api, after, ApiError } from "./api.js";
import { h, mount, clear, badge, pct, latency, ago, when, field, input, select, onSubmit, errorBox, loading, toast, dialog, confirmAction } from "./dom.js";
import { statsChart } from "./chart.js";

const KINDS = [["http", "HTTP(S)"], ["keyword", "HTTP keyword"], ["tcp", "TCP port"], ["push", "Push (heartbeat)"]];

function shownStatus(m) {
  return m.active === false ? "paused" : m.status;
}

function pauseButton(m, done) {
  const paused = m.active === false;
  return h("button", { type: "button", class: "small", onclick: async (ev) => {
    ev.target.disabled = true;
    try {
      const r = await api("POST", `/api/v1/monitors/${encodeURIComponent(m.monitor_id)}/${paused ? "resume" : "pause"}`);
      toast(`${m.name} ${paused ? "resumed" : "paused"}`);
      done(r);
    } catch (e) {
      toast(e.message, "error");
      ev.target.disabled = false;
    }
  } }, paused ? "Resume" : "Pause");
}

// ---- the list

export async function monitorsView(ctx) {
  const { main, may, query } = ctx;
  const name = input({ type: "search", placeholder: "Search by name", "aria-label": "Search by name", value: query.get("name") || "" });
  const status = select([["", "All statuses"], "up", "down", "pending", "maintenance"], query.get("status") || "", { "aria-label": "Status" });
  const summary = h("div", { class: "summary" });
  const body = h("div", {});
  const more = h("div", { class: "more" });
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Monitors"),
      may("manage_monitors") ? h("a", { class: "button primary", href: "#/monitors/new" }, "New monitor") : null),
    h("div", { class: "toolbar" }, name, status), summary, body, more);

  let items = [];
  let rows = new Map();
  let seq = 0;

  function row(m) {
    const tr = h("tr", { class: "status-" + shownStatus(m) },
      h("td", { "data-label": "Status" }, badge(shownStatus(m))),
      h("td", { "data-label": "Name", class: "name" }, h("a", { href: "#/monitors/" + encodeURIComponent(m.monitor_id) }, m.name),
        m.tags && m.tags.length ? h("div", { class: "tags" }, m.tags.map((t) => h("span", { class: "tag" }, t))) : null),
      h("td", { "data-label": "Target", class: "target" }, h("span", { class: "kind" }, m.kind), " ", m.target),
      h("td", { "data-label": "24h", class: "num" }, pct(m.uptime_24h)),
      h("td", { "data-label": "7d", class: "num" }, pct(m.uptime_7d)),
      h("td", { "data-label": "30d", class: "num" }, pct(m.uptime_30d)),
      h("td", { "data-label": "Latency", class: "num" }, latency(m.last_latency_us)),
      h("td", { "data-label": "Last check", title: when(m.last_check_at) }, ago(m.last_check_at)),
      may("manage_monitors") ? h("td", { class: "actions" }, pauseButton(m, (r) => reload(after(r)))) : null);
    return tr;
  }

  function draw() {
    const counts = {};
    for (const m of items) counts[shownStatus(m)] = (counts[shownStatus(m)] || 0) + 1;
    mount(summary, Object.entries(counts).map(([k, n]) => h("span", { class: "count" }, badge(k), " ", String(n))));
    if (!items.length) {
      mount(body, h("div", { class: "empty" },
        name.value || status.value ? "No monitor matches." : "No monitors yet.",
        !name.value && !status.value && may("manage_monitors") ? [" ", h("a", { href: "#/monitors/new" }, "Create your first monitor")] : null));
      return;
    }
    rows = new Map();
    const tbody = h("tbody", {}, items.map((m) => {
      const r = row(m);
      rows.set(m.monitor_id, r);
      return r;
    }));
    mount(body, h("table", { class: "table monitors" },
      h("thead", {}, h("tr", {}, ["Status", "Name", "Target", "24h", "7d", "30d", "Latency", "Last check"].map((t) => h("th", {}, t)),
        may("manage_monitors") ? h("th", {}, h("span", { class: "sr-only" }, "Actions")) : null)),
      tbody));
  }

  async function load(cursor, wait_for) {
    const mine = ++seq;
    const page = await api("GET", "/api/v1/monitors", undefined,
      { limit: 100, cursor, name: name.value.trim(), status: status.value, wait_for });
    if (mine !== seq) return;
    items = cursor ? items.concat(page.items) : page.items;
    draw();
    mount(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor).catch(showError) }, "Load more") : null);
  }

  function showError(e) {
    mount(body, errorBox(e));
  }

  async function reload(wait_for) {
    try {
      await load(undefined, wait_for);
    } catch (e) {
      showError(e);
    }
  }

  let typing = 0;
  name.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => reload(), 250);
  });
  status.addEventListener("change", () => reload());

  // Live: a check or a status change updates its row in place; a monitor
  // created, changed or deleted reloads the list (once per burst).
  let pending = 0;
  ctx.onLive((m) => {
    const i = items.findIndex((x) => x.monitor_id === m.monitor_id);
    if (m.type === "check" && i >= 0) {
      items[i] = { ...items[i], last_check_at: m.time, last_check_ok: m.ok, last_latency_us: m.ok ? m.latency_us : items[i].last_latency_us };
    } else if (m.type === "status_changed" && i >= 0) {
      items[i] = { ...items[i], status: m.to, status_since: m.time };
    } else if (/^monitor_/.test(m.type)) {
      clearTimeout(pending);
      pending = setTimeout(() => reload(), 500);
      return;
    } else {
      return;
    }
    const old = rows.get(m.monitor_id);
    if (old) {
      const fresh = row(items[i]);
      old.replaceWith(fresh);
      rows.set(m.monitor_id, fresh);
      fresh.classList.add("flash");
    }
  });
  // Uptime figures come from the read model: refresh them every minute.
  const every = setInterval(() => reload(), 60000);
  ctx.onCleanup(() => {
    clearInterval(every);
    clearTimeout(pending);
    clearTimeout(typing);
  });

  body.append(loading());
  await load(undefined, query.get("wait_for") || undefined).catch(showError);
}

// ---- one monitor

const RANGES = {
  "1h": { resolution: "minute", span: 3600e3 },
  "24h": { resolution: "hour", span: 86400e3 },
  "7d": { resolution: "hour", span: 7 * 86400e3 },
  "30d": { resolution: "day", span: 30 * 86400e3 },
};

export async function monitorView(ctx) {
  const { main, params, may, go, query } = ctx;
  const id = params[0];
  const path = "/api/v1/monitors/" + encodeURIComponent(id);
  const head = h("div", {});
  const tiles = h("div", { class: "tiles" });
  const chartBox = h("div", { class: "chart-box" });
  const rangeSel = select(Object.keys(RANGES).map((k) => [k, "Last " + k]), "24h", { "aria-label": "Range" });
  const beats = h("div", {});
  const incidents = h("div", {});
  main.append(head, tiles,
    h("section", { class: "card" }, h("div", { class: "section-head" }, h("h2", {}, "Latency and uptime"), rangeSel), chartBox),
    h("div", { class: "two" },
      h("section", { class: "card" }, h("h2", {}, "Recent checks"), beats),
      h("section", { class: "card" }, h("h2", {}, "Incidents"), incidents)));

  let m;
  head.append(loading());
  try {
    m = await api("GET", path, undefined, { wait_for: query.get("wait_for") || undefined });
  } catch (e) {
    // Nothing of the monitor's page stays under the error (no empty chart).
    mount(main, h("p", {}, h("a", { href: "#/monitors" }, "← Monitors")), errorBox(e.status === 404 ? new Error("No such monitor.") : e));
    return;
  }

  function drawHead() {
    const actions = may("manage_monitors")
      ? h("div", { class: "actions" },
        h("a", { class: "button", href: `#/monitors/${encodeURIComponent(id)}/edit` }, "Edit"),
        pauseButton(m, async (r) => {
          m = await api("GET", path, undefined, { wait_for: after(r) });
          drawHead();
        }),
        h("button", { type: "button", class: "danger small", onclick: async () => {
          if (!confirmAction(`Delete the monitor “${m.name}”? Its history goes with it.`)) return;
          try {
            const r = await api("DELETE", path);
            toast("Monitor deleted");
            go("#/monitors?wait_for=" + encodeURIComponent(after(r) || ""));
          } catch (e) {
            toast(e.message, "error");
          }
        } }, "Delete"))
      : null;
    mount(head,
      h("p", { class: "crumbs" }, h("a", { href: "#/monitors" }, "← Monitors")),
      h("div", { class: "page-head" },
        h("div", {}, h("h1", {}, m.name, " ", badge(shownStatus(m))),
          h("p", { class: "muted" }, h("span", { class: "kind" }, m.kind), " ", m.target, ` · every ${m.interval_s} s`,
            m.tags && m.tags.length ? [" · ", m.tags.map((t) => h("span", { class: "tag" }, t))] : null)),
        actions));
    mount(tiles,
      tile("Status", [badge(shownStatus(m)), h("small", {}, "since " + ago(m.status_since))]),
      tile("Uptime 24h", pct(m.uptime_24h)),
      tile("Uptime 7d", pct(m.uptime_7d)),
      tile("Uptime 30d", pct(m.uptime_30d)),
      tile("Last latency", latency(m.last_latency_us)),
      tile("Avg latency 24h", latency(m.avg_latency_us_24h)),
      tile("Last check", [ago(m.last_check_at), m.last_check_ok === false ? h("small", { class: "bad" }, "failed") : null]));
  }

  async function drawChart() {
    const r = RANGES[rangeSel.value];
    const to = new Date();
    const from = new Date(to.getTime() - r.span);
    try {
      const st = await api("GET", path + "/stats", undefined, { resolution: r.resolution, from: from.toISOString(), to: to.toISOString() });
      mount(chartBox, statsChart(st));
    } catch (e) {
      mount(chartBox, errorBox(e));
    }
  }

  const beatRows = h("tbody", {});
  function beatRow(b) {
    return h("tr", {},
      h("td", { "data-label": "Time", title: when(b.time) }, ago(b.time)),
      h("td", { "data-label": "Result" }, badge(b.ok ? "up" : "down")),
      h("td", { "data-label": "Latency", class: "num" }, latency(b.latency_us)),
      h("td", { "data-label": "HTTP", class: "num" }, b.http_status ? String(b.http_status) : "—"),
      h("td", { "data-label": "Error", class: "error-text" }, b.error || ""));
  }
  async function loadBeats(cursor) {
    try {
      const page = await api("GET", path + "/heartbeats", undefined, { limit: 25, cursor });
      if (!cursor) {
        clear(beatRows);
        mount(beats, page.items.length
          ? h("table", { class: "table compact" }, h("thead", {}, h("tr", {}, ["Time", "Result", "Latency", "HTTP", "Error"].map((t) => h("th", {}, t)))), beatRows)
          : h("p", { class: "empty" }, "No checks yet."));
      }
      beatRows.append(...page.items.map(beatRow));
      const old = beats.querySelector(".more");
      if (old) old.remove();
      if (page.next_cursor) beats.append(h("div", { class: "more" }, h("button", { type: "button", onclick: () => loadBeats(page.next_cursor) }, "Older checks")));
    } catch (e) {
      mount(beats, errorBox(e));
    }
  }

  async function loadIncidents() {
    try {
      const page = await api("GET", "/api/v1/incidents", undefined, { monitor_id: id, limit: 20 });
      mount(incidents, page.items.length
        ? h("ul", { class: "list" }, page.items.map((i) => h("li", {},
          badge(i.state), " ", h("strong", {}, i.cause || "down"),
          h("div", { class: "muted" }, when(i.opened_at), i.closed_at ? " → " + when(i.closed_at) : " — ongoing",
            typeof i.duration_ms === "number" ? ` (${duration(i.duration_ms)})` : ""))))
        : h("p", { class: "empty" }, "No incidents. "));
    } catch (e) {
      mount(incidents, errorBox(e));
    }
  }

  drawHead();
  rangeSel.addEventListener("change", drawChart);
  await Promise.all([drawChart(), loadBeats(), loadIncidents()]);

  let again = 0;
  ctx.onLive((msg) => {
    if (msg.monitor_id !== id) return;
    if (msg.type === "check") {
      m = { ...m, last_check_at: msg.time, last_check_ok: msg.ok, last_latency_us: msg.ok ? msg.latency_us : m.last_latency_us };
      drawHead();
      const table = beats.querySelector("table");
      if (table) beatRows.prepend(beatRow({ time: msg.time, ok: msg.ok, latency_us: msg.latency_us, http_status: msg.http_status, error: msg.error }));
      else loadBeats();
    } else if (msg.type === "status_changed") {
      m = { ...m, status: msg.to, status_since: msg.time };
      drawHead();
    } else if (msg.type === "incident_opened" || msg.type === "incident_closed") {
      loadIncidents();
    } else if (msg.type === "monitor_deleted") {
      toast("This monitor was deleted");
      go("#/monitors");
    } else if (/^monitor_/.test(msg.type)) {
      clearTimeout(again);
      again = setTimeout(async () => {
        try {
          m = await api("GET", path);
          drawHead();
        } catch {
          // Kept as shown; the next message or a reload brings it up to date.
        }
      }, 500);
    }
  });
  const every = setInterval(async () => {
    try {
      m = await api("GET", path);
      drawHead();
    } catch {
      // As above.
    }
  }, 60000);
  ctx.onCleanup(() => {
    clearInterval(every);
    clearTimeout(again);
  });
}

function tile(label, value) {
  return h("div", { class: "tile" }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value));
}

export function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.round(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

// ---- create and edit

// A number field's value: a number when it is one, else the text as typed
// (the server then says what is wrong beside the field).
function num(v) {
  const t = String(v).trim();
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

export async function monitorFormView(ctx) {
  const { main, params, go } = ctx;
  const id = params[0];
  const editing = !!id;
  main.append(loading());
  let current = null;
  let channels = [];
  try {
    [current, channels] = await Promise.all([
      editing ? api("GET", "/api/v1/monitors/" + encodeURIComponent(id)) : null,
      api("GET", "/api/v1/channels", undefined, { limit: 200 }).then((p) => p.items).catch(() => []),
    ]);
  } catch (e) {
    mount(main, errorBox(e));
    return;
  }
  clear(main);

  const kind = select(KINDS, current ? current.kind : "http", { disabled: editing ? true : null });
  let host = "";
  let port = "";
  if (current && current.kind === "tcp") {
    const i = current.target.lastIndexOf(":");
    host = i > 0 ? current.target.slice(0, i) : current.target;
    port = i > 0 ? current.target.slice(i + 1) : "";
  }
  const unchanged = editing ? "unchanged" : "";
  const f = {
    name: input({ required: true, value: current ? current.name : "", maxlength: 200 }),
    url: input({ type: "url", placeholder: "https://example.com/health", value: current && current.kind !== "tcp" && current.kind !== "push" ? current.target : "" }),
    host: input({ placeholder: "db.example.com", value: host }),
    port: input({ type: "number", min: 1, max: 65535, value: port }),
    keyword: input({ placeholder: editing ? unchanged : "text that must appear" }),
    keyword_absent: h("input", { type: "checkbox" }),
    interval_s: input({ type: "number", min: 1, value: current ? current.interval_s : 300 }),
    timeout_ms: input({ type: "number", min: 1, placeholder: editing ? unchanged : "10000" }),
    retries: input({ type: "number", min: 0, placeholder: editing ? unchanged : "0" }),
    grace_s: input({ type: "number", min: 0, placeholder: editing ? unchanged : "0" }),
    verify_tls: h("input", { type: "checkbox", checked: true }),
    tags: input({ placeholder: "production, api", value: current ? (current.tags || []).join(", ") : "" }),
  };
  const chosen = new Set();
  let channelsTouched = false;
  const channelBox = h("fieldset", { class: "checks" }, h("legend", {}, "Alert these channels"),
    channels.length
      ? channels.map((c) => h("label", { class: "check" }, h("input", { type: "checkbox", value: c.channel_id, onchange: (ev) => {
        channelsTouched = true;
        if (ev.target.checked) chosen.add(c.channel_id);
        else chosen.delete(c.channel_id);
      } }), " ", c.name))
      : h("p", { class: "muted" }, "No notification channels yet."),
    editing && channels.length ? h("small", { class: "hint" }, "Leave all unticked to keep the current channels.") : null);

  const groups = {
    url: field("URL", "url", f.url),
    host: field("Host", "host", f.host),
    port: field("Port", "port", f.port),
    keyword: field("Keyword", "keyword", f.keyword),
    keyword_absent: h("div", { class: "field inline", dataset: { field: "keyword_absent" } }, h("label", {}, f.keyword_absent, " Up when the keyword is absent"), h("div", { class: "field-error" })),
    grace_s: field("Grace (seconds)", "grace_s", f.grace_s, "Extra time after the interval before a missing beat counts."),
    verify_tls: h("div", { class: "field inline", dataset: { field: "verify_tls" } }, h("label", {}, f.verify_tls, " Verify TLS certificates"), h("div", { class: "field-error" })),
  };
  function showFor() {
    const k = kind.value;
    const on = {
      url: k === "http" || k === "keyword",
      host: k === "tcp",
      port: k === "tcp",
      keyword: k === "keyword",
      keyword_absent: k === "keyword",
      grace_s: k === "push",
      verify_tls: k === "http" || k === "keyword",
    };
    for (const [n, g] of Object.entries(groups)) g.hidden = !on[n];
  }
  kind.addEventListener("change", showFor);
  showFor();

  const form = h("form", { class: "card form", novalidate: true },
    field("Name", "name", f.name),
    field("Type", "kind", kind),
    groups.url, groups.host, groups.port, groups.keyword, groups.keyword_absent,
    h("div", { class: "row" },
      field("Interval (seconds)", "interval_s", f.interval_s, "Your plan sets the shortest."),
      field("Timeout (ms)", "timeout_ms", f.timeout_ms),
      field("Retries", "retries", f.retries, "Failed checks tolerated before down.")),
    groups.grace_s, groups.verify_tls,
    field("Tags", "tags", f.tags, "Comma-separated."),
    channelBox,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, editing ? "Save changes" : "Create monitor"),
      h("a", { class: "button ghost", href: editing ? "#/monitors/" + encodeURIComponent(id) : "#/monitors" }, "Cancel")));

  onSubmit(form, async () => {
    const k = kind.value;
    const body = {};
    const put = (name, value, initial) => {
      if (!editing || value !== initial) body[name] = value;
    };
    put("name", f.name.value.trim(), current && current.name);
    if (!editing) body.kind = k;
    if (k === "http" || k === "keyword") {
      put("url", f.url.value.trim(), current && current.target);
    }
    if (k === "tcp") {
      put("host", f.host.value.trim(), host);
      if (!editing || f.port.value !== port) body.port = num(f.port.value);
    }
    if (k === "keyword" && (!editing || f.keyword.value !== "")) {
      body.keyword = f.keyword.value;
      body.keyword_absent = f.keyword_absent.checked;
    }
    if (!editing || String(current.interval_s) !== f.interval_s.value.trim()) body.interval_s = num(f.interval_s.value);
    for (const n of ["timeout_ms", "retries"]) if (f[n].value.trim() !== "") body[n] = num(f[n].value);
    if (k === "push" && f.grace_s.value.trim() !== "") body.grace_s = num(f.grace_s.value);
    if ((k === "http" || k === "keyword") && (!editing || !f.verify_tls.checked)) body.verify_tls = f.verify_tls.checked;
    const tags = f.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
    if (!editing || tags.join(",") !== (current.tags || []).join(",")) body.tags = tags;
    if (!editing || channelsTouched) body.channel_ids = [...chosen];
    if (editing && !Object.keys(body).length) {
      go("#/monitors/" + encodeURIComponent(id));
      return;
    }
    const r = editing
      ? await api("PATCH", "/api/v1/monitors/" + encodeURIComponent(id), body)
      : await api("POST", "/api/v1/monitors", body);
    const target = "#/monitors/" + encodeURIComponent(editing ? id : r.monitor_id) + "?wait_for=" + encodeURIComponent(after(r) || "");
    toast(editing ? "Monitor saved" : "Monitor created");
    if (r && r.push_url) {
      const url = location.origin + r.push_url;
      const d = dialog("Push URL", h("div", {},
        h("p", {}, "Send a GET or POST to this URL at least every interval. It is shown only now — keep it safe."),
        h("input", { type: "text", readonly: true, value: url, class: "mono wide", onfocus: (ev) => ev.target.select() }),
        h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => d.close() }, "Continue"))),
        () => go(target));  // however it is closed: never back to the filled-in form
      return;
    }
    go(target);
  });

  main.append(
    h("p", { class: "crumbs" }, h("a", { href: editing ? "#/monitors/" + encodeURIComponent(id) : "#/monitors" }, "← Back")),
    h("h1", {}, editing ? "Edit " + current.name : "New monitor"),
    form);
}

export { ApiError };
