// DOM helpers of the dashboard. Everything from the API is put in the page
// as text nodes or attribute values, never parsed as HTML.

const SVG = "http://www.w3.org/2000/svg";

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = String(v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  return el;
}

// h("a", {href: "#/x", class: "btn"}, "text", child, [more])
export function h(tag, attrs, ...kids) {
  return append(apply(document.createElement(tag), attrs), kids);
}

export function s(tag, attrs, ...kids) {
  return append(apply(document.createElementNS(SVG, tag), attrs), kids);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function mount(el, ...kids) {
  return append(clear(el), kids);
}

// ---- formatting

export function pct(v) {
  if (typeof v !== "number" || !isFinite(v)) return "—";
  return (Math.floor(v * 10000) / 100).toFixed(2) + "%";
}

export function latency(us) {
  if (typeof us !== "number" || !isFinite(us)) return "—";
  if (us < 1000) return us + " µs";
  if (us < 10000000) return Math.round(us / 1000) + " ms";
  return (us / 1e6).toFixed(1) + " s";
}

export function when(t) {
  if (!t) return "—";
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function ago(t) {
  if (!t) return "never";
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " d ago";
}

export function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(cents / 100);
  } catch {
    return (cents / 100).toFixed(2) + " " + (currency || "");
  }
}

export function badge(status) {
  const known = ["up", "down", "pending", "maintenance", "paused", "open", "closed", "active", "scheduled",
    "ended", "cancelled", "suspended", "paid", "draft", "issued", "revoked"];
  const st = String(status || "unknown");
  return h("span", { class: "badge " + (known.includes(st) ? st : "other") }, st);
}

// ---- feedback

export function toast(message, kind) {
  let box = document.getElementById("toasts");
  if (!box) box = document.body.appendChild(h("div", { id: "toasts", role: "status" }));
  const t = h("div", { class: "toast " + (kind || "info") }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

export function errorBox(e) {
  return h("div", { class: "alert error", role: "alert" }, e && e.message ? e.message : String(e));
}

export function loading() {
  return h("p", { class: "muted" }, "Loading…");
}

// ---- forms

// A labelled field; `input` is the control. Errors for `name` land in its
// .field-error element.
export function field(label, name, input, hint) {
  input.name = name;
  if (!input.id) input.id = "f-" + name + "-" + Math.random().toString(36).slice(2, 8);
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: input.id }, label),
    input,
    hint ? h("small", { class: "hint" }, hint) : null,
    h("div", { class: "field-error", "aria-live": "polite" }));
}

export function input(attrs) {
  return h("input", { type: "text", ...attrs });
}

export function select(options, value, attrs) {
  return h("select", attrs || {}, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h("option", { value: v, selected: v === value ? true : null }, label);
  }));
}

// Shows an ApiError on a form: the message on top, each detail beside its
// field (or on top when the field is not on the form).
export function showErrors(form, e) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll(".field.invalid")) el.classList.remove("invalid");
  let top = form.querySelector(".form-error");
  if (!top) {
    top = h("div", { class: "form-error alert error", role: "alert" });
    form.prepend(top);
  }
  top.textContent = "";
  top.hidden = !e;
  if (!e) return;
  const loose = [];
  for (const d of e.details || []) {
    const name = d && typeof d.field === "string" ? d.field.split(/[.[]/)[0] : "";
    const f = name && form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (f) {
      f.classList.add("invalid");
      const box = f.querySelector(".field-error");
      box.textContent = (box.textContent ? box.textContent + "; " : "") + String(d.message || "invalid");
    } else if (d) {
      loose.push((d.field ? d.field + ": " : "") + String(d.message || "invalid"));
    }
  }
  top.append(h("strong", {}, e.message || "Request failed"));
  if (loose.length) top.append(h("ul", {}, loose.map((m) => h("li", {}, m))));
}

// Runs `submit(form)` on submit with the button disabled; errors shown on
// the form. `submit` returns nothing or a promise.
export function onSubmit(form, submit) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach((b) => (b.disabled = true));
    showErrors(form, null);
    try {
      await submit(form);
    } catch (e) {
      showErrors(form, e);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return form;
}

// A modal dialog holding `content`; returns {close}.
// A modal dialog; `onClose` (optional) runs once it is closed, whether by
// its own buttons, the × or Escape.
export function dialog(title, content, onClose) {
  const d = h("dialog", { class: "modal", "aria-label": title },
    h("header", {}, h("h2", {}, title), h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: () => close() }, "×")),
    content);
  document.body.append(d);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    d.close();
    d.remove();
    if (onClose) onClose();
  };
  d.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    close();
  });
  d.showModal();
  const first = d.querySelector("input, select, textarea");
  if (first) first.focus();
  return { close };
}

export function confirmAction(message) {
  return window.confirm(message);
}
