// Status pages, notification channels and maintenance windows.
import { h, badge, when, field, input } from "./dom.js";
import { crudPage, monitorPicker } from "./crud.js";

export async function statusPagesView(ctx) {
  const names = (await monitorPicker([], "")).names;
  const form = async (item) => {
    const slug = input({ value: item ? item.slug : "", placeholder: "acme", pattern: "[a-z0-9-]+" });
    const title = input({ value: item ? item.title : "", placeholder: "Acme status" });
    const picker = await monitorPicker(item ? item.monitor_ids : [], "Monitors on the page", "Shown in this order of ticking.");
    return {
      fields: [field("Slug", "slug", slug, "Lowercase letters, digits and dashes: the page is /status/<slug>."),
        field("Title", "title", title), picker.node],
      body: () => {
        const b = { slug: slug.value.trim(), title: title.value.trim(), monitor_ids: picker.value() };
        if (item) {
          if (b.slug === item.slug) delete b.slug;
          if (b.title === item.title) delete b.title;
        }
        return b;
      },
    };
  };
  await crudPage(ctx, {
    title: "Status pages",
    intro: "Public pages showing the status of the monitors you choose.",
    path: "/api/v1/status-pages",
    id: "page_id",
    empty: "No status pages yet.",
    canWrite: ctx.may("manage_status_pages"),
    columns: [
      ["Title", (p) => h("strong", {}, p.title)],
      ["Public page", (p) => h("a", { href: p.public_url || "/status/" + encodeURIComponent(p.slug), target: "_blank", rel: "noopener" }, "/status/" + p.slug)],
      ["Monitors", (p) => (p.monitor_ids || []).map((id) => names.get(id) || id).join(", ") || "—"],
      ["Updated", (p) => when(p.updated_at)],
    ],
    create: { label: "New status page", form },
    edit: { title: "Edit status page", form },
    remove: { label: "Delete", confirm: (p) => `Delete the status page “${p.title}”? Its public URL stops working.` },
  });
}

export async function channelsView(ctx) {
  const form = (item) => {
    const name = input({ value: item ? item.name : "", placeholder: "On-call webhook" });
    const url = input({ type: "url", value: item ? item.url : "", placeholder: "https://hooks.example.com/keepwatch" });
    const secret = input({ type: "password", autocomplete: "new-password", placeholder: item ? "unchanged" : "optional" });
    return {
      fields: [field("Name", "name", name), field("Webhook URL", "url", url),
        field("Signing secret", "secret", secret, "Used to sign each notification. Leave empty for none" + (item ? " / to keep it." : "."))],
      body: () => {
        const b = {};
        if (!item || name.value.trim() !== item.name) b.name = name.value.trim();
        if (!item || url.value.trim() !== item.url) b.url = url.value.trim();
        if (secret.value) b.secret = secret.value;
        return b;
      },
    };
  };
  await crudPage(ctx, {
    title: "Notification channels",
    intro: "Webhooks told when a monitor goes down or comes back.",
    path: "/api/v1/channels",
    id: "channel_id",
    empty: "No channels yet.",
    canWrite: ctx.may("manage_channels"),
    columns: [
      ["Name", (c) => h("strong", {}, c.name)],
      ["Kind", (c) => c.kind],
      ["URL", (c) => h("span", { class: "mono" }, c.url)],
      ["Updated", (c) => when(c.updated_at)],
    ],
    create: { label: "New channel", form },
    edit: { title: "Edit channel", form },
    remove: { label: "Delete", confirm: (c) => `Delete the channel “${c.name}”? Monitors stop alerting it.` },
  });
}

// <input type=datetime-local> value (local time) for a Date.
function localValue(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function isoOf(v) {
  const d = new Date(v);
  return isNaN(d) ? v : d.toISOString();
}

export async function maintenanceView(ctx) {
  const names = (await monitorPicker([], "")).names;
  await crudPage(ctx, {
    title: "Maintenance windows",
    intro: "While a window is active its monitors are in maintenance: checks do not open incidents or alert.",
    path: "/api/v1/maintenance",
    id: "window_id",
    empty: "No maintenance windows.",
    canWrite: ctx.may("manage_maintenance"),
    columns: [
      ["Title", (w) => h("strong", {}, w.title)],
      ["Status", (w) => badge(w.status)],
      ["Starts", (w) => when(w.starts_at)],
      ["Ends", (w) => when(w.ends_at)],
      ["Monitors", (w) => (w.monitor_ids || []).length ? w.monitor_ids.map((id) => names.get(id) || id).join(", ") : "all"],
    ],
    create: {
      label: "Schedule maintenance",
      form: async () => {
        const now = new Date(Date.now() + 5 * 60000);
        const title = input({ placeholder: "Database upgrade" });
        const starts = input({ type: "datetime-local", value: localValue(now) });
        const ends = input({ type: "datetime-local", value: localValue(new Date(now.getTime() + 3600000)) });
        const picker = await monitorPicker([], "Monitors", "None ticked: all monitors.");
        return {
          fields: [field("Title", "title", title), h("div", { class: "row" }, field("Starts", "starts_at", starts), field("Ends", "ends_at", ends)), picker.node],
          body: () => ({ title: title.value.trim(), starts_at: isoOf(starts.value), ends_at: isoOf(ends.value), monitor_ids: picker.value() }),
        };
      },
    },
    edit: null,
    removable: (w) => w.status === "scheduled" || w.status === "active",
    remove: { label: "Cancel", confirm: (w) => `Cancel the maintenance window “${w.title}”?` },
  });
}
