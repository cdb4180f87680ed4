// Sign in and sign up (a new tenant with its owner).
import { login, signup } from "./api.js";
import { h, field, input, onSubmit } from "./dom.js";

function card(title, form, footer) {
  return h("section", { class: "card auth-card" },
    h("div", { class: "brand big" }, h("img", { src: "/assets/icon.svg", alt: "", width: 32, height: 32 }), "Keepwatch"),
    h("h1", {}, title), form, h("p", { class: "muted" }, footer));
}

export function loginView({ main, go }) {
  const form = h("form", { novalidate: true },
    field("Email", "email", input({ type: "email", autocomplete: "username", required: true })),
    field("Password", "password", input({ type: "password", autocomplete: "current-password", required: true })),
    h("button", { type: "submit", class: "primary wide" }, "Sign in"));
  onSubmit(form, async (f) => {
    await login(f.email.value.trim(), f.password.value);
    go("#/monitors");
  });
  main.append(card("Sign in", form, ["No account yet? ", h("a", { href: "#/signup" }, "Create one")]));
}

export function signupView({ main, go }) {
  const form = h("form", { novalidate: true },
    field("Organisation", "tenant_name", input({ autocomplete: "organization", required: true })),
    field("Email", "email", input({ type: "email", autocomplete: "username", required: true })),
    field("Password", "password", input({ type: "password", autocomplete: "new-password", required: true, minlength: 10 }),
      "At least 10 characters."),
    h("button", { type: "submit", class: "primary wide" }, "Create account"));
  onSubmit(form, async (f) => {
    await signup(f.email.value.trim(), f.password.value, f.tenant_name.value.trim());
    go("#/monitors");
  });
  main.append(card("Create your account", form, ["Already have one? ", h("a", { href: "#/login" }, "Sign in")]));
}
