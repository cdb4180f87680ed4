// Usage, invoices and the audit log.
import { api } from "./api.js";
import { h, mount, badge, when, money, field, input, onSubmit, errorBox, loading } from "./dom.js";

function day(d) {
  return d.toISOString().slice(0, 10);
}

export async function usageView(ctx) {
  const { main } = ctx;
  const to = new Date();
  const from = new Date(to.getTime() - 29 * 86400e3);
  const fromIn = input({ type: "date", value: day(from) });
  const toIn = input({ type: "date", value: day(to) });
  const out = h("div", {}, loading());
  const form = onSubmit(h("form", { class: "toolbar", novalidate: true },
    field("From", "from", fromIn), field("To", "to", toIn), h("button", { type: "submit" }, "Show")), () => load());
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Usage")), form, out);

  async function load() {
    const u = await api("GET", "/api/v1/usage", undefined, { from: fromIn.value, to: toIn.value });
    const t = u.totals || {};
    const peak = Math.max(1, ...(u.days || []).map((d) => d.checks));
    mount(out,
      h("div", { class: "tiles" },
        tile("Checks", fmt(t.checks)), tile("Notifications", fmt(t.notifications)), tile("API calls", fmt(t.api_calls)),
        tile("Monitor hours", fmt(Math.round(t.monitor_hours || 0))), tile("Peak active monitors", fmt(t.peak_active_monitors))),
      (u.days || []).length
        ? h("table", { class: "table compact" },
          h("thead", {}, h("tr", {}, ["Day", "Checks", "", "Notifications", "API calls", "Monitor hours", "Peak monitors"].map((x) => h("th", {}, x)))),
          h("tbody", {}, u.days.map((d) => h("tr", {},
            h("td", { "data-label": "Day" }, d.day),
            h("td", { "data-label": "Checks", class: "num" }, fmt(d.checks)),
            h("td", { class: "bar-cell" }, h("progress", { max: peak, value: d.checks, "aria-label": "checks" })),
            h("td", { "data-label": "Notifications", class: "num" }, fmt(d.notifications)),
            h("td", { "data-label": "API calls", class: "num" }, fmt(d.api_calls)),
            h("td", { "data-label": "Monitor hours", class: "num" }, fmt(Math.round(d.monitor_hours))),
            h("td", { "data-label": "Peak monitors", class: "num" }, fmt(d.peak_active_monitors))))))
        : h("p", { class: "empty" }, "No usage in this range."));
  }
  try {
    await load();
  } catch (e) {
    mount(out, errorBox(e));
  }
}

function fmt(n) {
  return typeof n === "number" ? n.toLocaleString() : "—";
}

function tile(label, value) {
  return h("div", { class: "tile" }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value));
}

export async function invoicesView(ctx) {
  const { main } = ctx;
  const body = h("div", {}, loading());
  const more = h("div", { class: "more" });
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Invoices")), body, more);
  let items = [];
  async function load(cursor) {
    try {
      const page = await api("GET", "/api/v1/invoices", undefined, { limit: 50, cursor });
      items = cursor ? items.concat(page.items) : page.items;
      mount(body, items.length
        ? h("table", { class: "table" },
          h("thead", {}, h("tr", {}, ["Month", "Status", "Total"].map((x) => h("th", {}, x)))),
          h("tbody", {}, items.map((i) => h("tr", {},
            h("td", { "data-label": "Month" }, h("a", { href: "#/invoices/" + encodeURIComponent(i.invoice_id) }, i.month)),
            h("td", { "data-label": "Status" }, badge(i.status)),
            h("td", { "data-label": "Total", class: "num" }, money(i.total_cents, i.currency))))))
        : h("p", { class: "empty" }, "No invoices yet."));
      mount(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor) }, "Load more") : null);
    } catch (e) {
      mount(body, errorBox(e));
    }
  }
  await load();
}

export async function invoiceView(ctx) {
  const { main, params } = ctx;
  main.append(h("p", { class: "crumbs" }, h("a", { href: "#/invoices" }, "← Invoices")));
  const box = main.appendChild(h("div", {}, loading()));
  try {
    const inv = await api("GET", "/api/v1/invoices/" + encodeURIComponent(params[0]));
    mount(box,
      h("div", { class: "page-head" }, h("h1", {}, "Invoice " + inv.month, " ", badge(inv.status))),
      h("table", { class: "table" },
        h("thead", {}, h("tr", {}, ["Item", "Plan", "Quantity", "Unit price", "Amount"].map((x) => h("th", {}, x)))),
        h("tbody", {}, (inv.lines || []).map((l) => h("tr", {},
          h("td", { "data-label": "Item" }, l.description || l.kind),
          h("td", { "data-label": "Plan" }, l.plan),
          h("td", { "data-label": "Quantity", class: "num" }, String(Math.round(l.quantity * 100) / 100)),
          h("td", { "data-label": "Unit price", class: "num" }, money(l.unit_price_cents, inv.currency)),
          h("td", { "data-label": "Amount", class: "num" }, money(l.amount_cents, inv.currency))))),
        h("tfoot", {}, h("tr", {}, h("th", { colspan: 4 }, "Total"), h("th", { class: "num" }, money(inv.total_cents, inv.currency))))));
  } catch (e) {
    mount(box, errorBox(e.status === 404 ? new Error("No such invoice.") : e));
  }
}

export async function auditView(ctx) {
  const { main } = ctx;
  const action = input({ placeholder: "e.g. keepwatch.monitor.created.v2" });
  const entity = input({ placeholder: "e.g. monitor/m_…" });
  const body = h("div", {}, loading());
  const more = h("div", { class: "more" });
  const form = onSubmit(h("form", { class: "toolbar", novalidate: true },
    field("Action", "action", action), field("Entity", "entity", entity), h("button", { type: "submit" }, "Filter")), () => load());
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Audit log")), form, body, more);
  let items = [];
  async function load(cursor) {
    const page = await api("GET", "/api/v1/audit", undefined, { limit: 100, cursor, action: action.value.trim(), entity: entity.value.trim() });
    items = cursor ? items.concat(page.items) : page.items;
    mount(body, items.length
      ? h("table", { class: "table compact" },
        h("thead", {}, h("tr", {}, ["Time", "Who", "Action", "Entity", "Change"].map((x) => h("th", {}, x)))),
        h("tbody", {}, items.map((a) => h("tr", {},
          h("td", { "data-label": "Time" }, when(a.time)),
          h("td", { "data-label": "Who" }, `${a.actor.kind} ${a.actor.id}`, a.actor.ip ? h("div", { class: "muted" }, a.actor.ip) : null),
          h("td", { "data-label": "Action" }, a.action),
          h("td", { "data-label": "Entity" }, a.entity, " ", h("span", { class: "mono muted" }, a.aggregate)),
          h("td", { "data-label": "Change" }, h("details", {}, h("summary", {}, "details"),
            h("pre", { class: "mono" }, JSON.stringify({ before: a.before, after: a.after }, null, 2))))))))
      : h("p", { class: "empty" }, "Nothing recorded."));
    mount(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor).catch((e) => mount(body, errorBox(e))) }, "Load more") : null);
  }
  try {
    await load();
  } catch (e) {
    mount(body, errorBox(e));
  }
}
