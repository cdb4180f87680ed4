// Incidents across the tenant's monitors, open or closed, newest first.
import { api } from "./api.js";
import { h, mount, badge, when, select, errorBox, loading } from "./dom.js";
import { duration } from "./view_monitors.js";

export async function incidentsView(ctx) {
  const { main } = ctx;
  const state = select([["", "All"], ["open", "Open"], ["closed", "Closed"]], "", { "aria-label": "State" });
  const body = h("div", {}, loading());
  const more = h("div", { class: "more" });
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Incidents")), h("div", { class: "toolbar" }, state), body, more);
  const names = new Map();
  let rows = [];

  async function load(cursor) {
    try {
      if (!names.size) {
        const ms = await api("GET", "/api/v1/monitors", undefined, { limit: 200 });
        for (const m of ms.items) names.set(m.monitor_id, m.name);
      }
      const page = await api("GET", "/api/v1/incidents", undefined, { limit: 50, cursor, state: state.value });
      rows = cursor ? rows.concat(page.items) : page.items;
      mount(body, rows.length
        ? h("table", { class: "table" },
          h("thead", {}, h("tr", {}, ["State", "Monitor", "Cause", "Opened", "Closed", "Duration"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows.map((i) => h("tr", {},
            h("td", { "data-label": "State" }, badge(i.state)),
            h("td", { "data-label": "Monitor" }, h("a", { href: "#/monitors/" + encodeURIComponent(i.monitor_id) }, names.get(i.monitor_id) || i.monitor_id)),
            h("td", { "data-label": "Cause" }, i.cause || "—"),
            h("td", { "data-label": "Opened" }, when(i.opened_at)),
            h("td", { "data-label": "Closed" }, i.closed_at ? when(i.closed_at) : "ongoing"),
            h("td", { "data-label": "Duration", class: "num" }, typeof i.duration_ms === "number" ? duration(i.duration_ms) : "—")))))
        : h("p", { class: "empty" }, "No incidents."));
      mount(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor) }, "Load more") : null);
    } catch (e) {
      mount(body, errorBox(e));
    }
  }
  state.addEventListener("change", () => load());
  let again = 0;
  ctx.onLive((m) => {
    if (m.type !== "incident_opened" && m.type !== "incident_closed") return;
    clearTimeout(again);
    again = setTimeout(() => load(), 500);
  });
  ctx.onCleanup(() => clearTimeout(again));
  await load();
}
