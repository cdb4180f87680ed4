// Members, API keys and the tenant's settings.
import { api, session, after } from "./api.js";
import { h, mount, badge, when, field, input, select, onSubmit, errorBox, loading, dialog, toast } from "./dom.js";
import { crudPage } from "./crud.js";
import { ROLES } from "./roles.js";

export async function membersView(ctx) {
  const me = session();
  await crudPage(ctx, {
    title: "Members",
    intro: "People of your organisation and their roles.",
    path: "/api/v1/members",
    id: "user_id",
    empty: "No members.",
    canWrite: ctx.may("manage_members"),
    columns: [
      ["Email", (m) => [m.email, me && m.user_id === me.user_id ? h("span", { class: "tag" }, "you") : null]],
      ["Role", (m) => badge(m.role)],
      ["Added", (m) => when(m.added_at)],
    ],
    create: {
      label: "Add member",
      form: () => {
        const email = input({ type: "email", autocomplete: "off" });
        const role = select(ROLES, "member");
        const password = input({ type: "password", autocomplete: "new-password" });
        return {
          fields: [field("Email", "email", email), field("Role", "role", role),
            field("Initial password", "password", password, "10 characters or more; share it with them safely.")],
          body: () => ({ email: email.value.trim(), role: role.value, password: password.value }),
        };
      },
    },
    edit: {
      title: "Change role",
      button: "Change role",
      form: (m) => {
        const role = select(ROLES, m.role);
        return { fields: [h("p", {}, m.email), field("Role", "role", role)], body: () => ({ role: role.value }) };
      },
    },
    remove: { label: "Remove", confirm: (m) => `Remove ${m.email} from the organisation?` },
  });
}

export async function apiKeysView(ctx) {
  await crudPage(ctx, {
    title: "API keys",
    intro: "Keys for scripts and integrations. A key is shown once, when it is made.",
    path: "/api/v1/api-keys",
    id: "key_id",
    empty: "No API keys.",
    canWrite: ctx.may("manage_api_keys"),
    columns: [
      ["Name", (k) => h("strong", {}, k.name)],
      ["Scope", (k) => (k.scope === "read_write" ? "read and write" : "read only")],
      ["Created", (k) => when(k.created_at)],
      ["State", (k) => (k.revoked_at ? [badge("revoked"), " ", when(k.revoked_at)] : badge("active"))],
    ],
    create: {
      label: "New API key",
      form: () => {
        const name = input({ placeholder: "CI deploy checks" });
        const scope = select([["read", "Read only"], ["read_write", "Read and write (monitors, maintenance, status pages)"]], "read");
        return { fields: [field("Name", "name", name), field("Scope", "scope", scope)], body: () => ({ name: name.value.trim(), scope: scope.value }) };
      },
    },
    afterCreate: (r) => {
      if (!r || !r.key) return;
      const d = dialog("Your new API key", h("div", {},
        h("p", {}, "Copy it now: it will not be shown again. Use it as a bearer token: Authorization: Bearer <key>."),
        h("input", { type: "text", readonly: true, value: r.key, class: "mono wide", onfocus: (ev) => ev.target.select() }),
        h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => d.close() }, "Done"))));
    },
    edit: null,
    removable: (k) => !k.revoked_at,
    remove: { label: "Revoke", confirm: (k) => `Revoke the key “${k.name}”? Anything using it stops working.` },
  });
}

export async function settingsView(ctx) {
  const { main, may } = ctx;
  const box = h("div", {}, loading());
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Settings")), box);
  async function load(wait_for) {
    try {
      const [t, me] = await Promise.all([api("GET", "/api/v1/tenant", undefined, { wait_for }), api("GET", "/api/v1/me")]);
      const info = h("section", { class: "card" }, h("h2", {}, "Organisation"),
        h("dl", { class: "facts" },
          h("dt", {}, "Name"), h("dd", {}, t.name),
          h("dt", {}, "Tenant id"), h("dd", { class: "mono" }, t.tenant_id),
          h("dt", {}, "Plan"), h("dd", {}, t.plan),
          h("dt", {}, "Status"), h("dd", {}, badge(t.status)),
          h("dt", {}, "Created"), h("dd", {}, when(t.created_at))));
      const you = h("section", { class: "card" }, h("h2", {}, "You"),
        h("dl", { class: "facts" },
          h("dt", {}, "Role"), h("dd", {}, badge(me.role)),
          h("dt", {}, "User id"), h("dd", { class: "mono" }, me.user_id || me.key_id || "—")));
      let edit = null;
      if (may("manage_tenant")) {
        const name = input({ value: t.name });
        const plan = input({ value: t.plan });
        edit = onSubmit(h("form", { class: "card form", novalidate: true }, h("h2", {}, "Change"),
          field("Name", "name", name), field("Plan", "plan", plan, "The name of a plan of the catalogue."),
          h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"))), async () => {
          const b = {};
          if (name.value.trim() !== t.name) b.name = name.value.trim();
          if (plan.value.trim() !== t.plan) b.plan = plan.value.trim();
          if (!Object.keys(b).length) return;
          const r = await api("PATCH", "/api/v1/tenant", b);
          toast("Saved");
          await load(after(r));
        });
      }
      mount(box, h("div", { class: "two" }, info, you), edit);
    } catch (e) {
      mount(box, errorBox(e));
    }
  }
  await load();
}
