// A list page over one collection of API v1 (status pages, channels,
// maintenance windows, members, API keys): a table, "load more" by cursor,
// and create / edit / delete through a dialog whose form shows the API's
// field errors beside the fields.
import { api, after } from "./api.js";
import { h, mount, errorBox, loading, onSubmit, dialog, toast, confirmAction } from "./dom.js";

// opts: title, path, id (key of an item's id), columns [[label, item => node]],
// empty, intro, create {label, form(item) -> {fields, body()}} (null: no
// create), edit (same shape, method PATCH; null: none), remove {label,
// confirm(item)} (null: none), canWrite, afterCreate(reply) (optional).
export async function crudPage(ctx, opts) {
  const { main } = ctx;
  const body = h("div", {}, loading());
  const more = h("div", { class: "more" });
  let items = [];
  let waitFor;

  const head = h("div", { class: "page-head" }, h("h1", {}, opts.title),
    opts.canWrite && opts.create ? h("button", { type: "button", class: "primary", onclick: () => openForm(null) }, opts.create.label) : null);
  main.append(head, opts.intro ? h("p", { class: "muted intro" }, opts.intro) : null, body, more);

  async function openForm(item) {
    const spec = item ? opts.edit : opts.create;
    const { fields, body: toBody } = await spec.form(item);
    const form = h("form", { class: "form", novalidate: true }, fields,
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary" }, item ? "Save" : spec.label),
        h("button", { type: "button", class: "ghost", onclick: () => d.close() }, "Cancel")));
    onSubmit(form, async () => {
      const b = toBody();
      const r = item
        ? await api("PATCH", `${opts.path}/${encodeURIComponent(item[opts.id])}`, b)
        : await api("POST", opts.path, b);
      d.close();
      toast(item ? "Saved" : "Created");
      if (!item && opts.afterCreate) opts.afterCreate(r);
      await load(undefined, after(r));
    });
    const d = dialog(item ? (spec.title || "Edit") : spec.label, form);
  }

  async function remove(item) {
    if (!confirmAction(opts.remove.confirm(item))) return;
    try {
      const r = await api("DELETE", `${opts.path}/${encodeURIComponent(item[opts.id])}`);
      toast("Done");
      await load(undefined, after(r));
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function load(cursor, wait_for) {
    if (wait_for) waitFor = wait_for;
    try {
      const page = await api("GET", opts.path, undefined, { limit: 100, cursor, wait_for: wait_for || (cursor ? undefined : waitFor), ...(opts.query || {}) });
      items = cursor ? items.concat(page.items) : page.items;
      const writeCol = opts.canWrite && (opts.edit || opts.remove);
      mount(body, items.length
        ? h("table", { class: "table" },
          h("thead", {}, h("tr", {}, opts.columns.map(([t]) => h("th", {}, t)), writeCol ? h("th", {}, h("span", { class: "sr-only" }, "Actions")) : null)),
          h("tbody", {}, items.map((it) => h("tr", {},
            opts.columns.map(([t, f]) => h("td", { "data-label": t }, f(it))),
            writeCol ? h("td", { class: "actions" },
              opts.edit && (!opts.editable || opts.editable(it)) ? h("button", { type: "button", class: "small", onclick: () => openForm(it) }, opts.edit.button || "Edit") : null,
              opts.remove && (!opts.removable || opts.removable(it)) ? h("button", { type: "button", class: "small danger", onclick: () => remove(it) }, opts.remove.label) : null) : null))))
        : h("p", { class: "empty" }, opts.empty));
      mount(more, page.next_cursor ? h("button", { type: "button", onclick: () => load(page.next_cursor) }, "Load more") : null);
    } catch (e) {
      mount(body, errorBox(e));
    }
  }

  await load();
  return { reload: () => load() };
}

// A checkbox list of the tenant's monitors; returns {node, value()}.
export async function monitorPicker(selected, label, hint) {
  let monitors = [];
  try {
    monitors = (await api("GET", "/api/v1/monitors", undefined, { limit: 200 })).items;
  } catch {
    monitors = [];
  }
  const chosen = new Set(selected || []);
  const node = h("fieldset", { class: "checks field", dataset: { field: "monitor_ids" } }, h("legend", {}, label),
    monitors.length
      ? monitors.map((m) => h("label", { class: "check" },
        h("input", { type: "checkbox", value: m.monitor_id, checked: chosen.has(m.monitor_id), onchange: (ev) => {
          if (ev.target.checked) chosen.add(m.monitor_id);
          else chosen.delete(m.monitor_id);
        } }), " ", m.name))
      : h("p", { class: "muted" }, "No monitors yet."),
    hint ? h("small", { class: "hint" }, hint) : null,
    h("div", { class: "field-error" }));
  return { node, value: () => [...chosen], names: new Map(monitors.map((m) => [m.monitor_id, m.name])) };
}
