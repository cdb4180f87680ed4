// The REST API v1 client of the dashboard: the session (tokens kept in
// sessionStorage, so they end with the tab), requests with the bearer token,
// the token refreshed shortly before it expires or once after a 401, and
// API errors as ApiError (status, code, message, field details).

const KEY = "keepwatch.session";
const TENANT_KEY = "keepwatch.tenant";
const listeners = new Set();
let refreshing = null;
let timer = 0;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || "request failed");
    this.status = status;
    this.code = code || "error";
    this.details = Array.isArray(details) ? details : [];
  }
}

export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return s && typeof s.access_token === "string" ? s : null;
  } catch {
    return null;
  }
}

function store(s) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const f of listeners) f(s);
}

// The tenant a platform admin acts on (sent as X-Tenant-ID); "" for anyone
// else, or before a platform admin has chosen one.
export function actingTenant() {
  const s = session();
  return s && s.role === "platform_admin" ? sessionStorage.getItem(TENANT_KEY) || "" : "";
}

export function setActingTenant(tenant) {
  if (tenant) sessionStorage.setItem(TENANT_KEY, tenant);
  else sessionStorage.removeItem(TENANT_KEY);
  for (const f of listeners) f(session());
}

// Calls `f(session or null)` whenever the session changes.
export function onSession(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

function fromTokens(t) {
  return {
    access_token: t.access_token,
    refresh_token: t.refresh_token,
    expires_at: Date.now() + Number(t.expires_in || 900) * 1000,
    tenant_id: t.tenant_id,
    user_id: t.user_id,
    role: t.role,
  };
}

// Refreshes a minute before expiry (or halfway, for short tokens).
function schedule() {
  clearTimeout(timer);
  const s = session();
  if (!s || !s.refresh_token) return;
  const left = s.expires_at - Date.now();
  const lead = Math.min(60000, left / 2);
  timer = setTimeout(() => refresh().catch(() => {}), Math.max(1000, left - lead));
}

async function send(method, path, body, token, extra) {
  const headers = { Accept: "application/json", ...(extra || {}) };
  if (token) headers.Authorization = "Bearer " + token;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection and try again.");
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const retry = res.headers.get("Retry-After");
    let msg = e.message || res.statusText || "request failed";
    if (res.status === 429 && retry) msg += ` (try again in ${retry} s)`;
    throw new ApiError(res.status, e.code, msg, e.details);
  }
  return data;
}

// One refresh at a time; a failed refresh ends the session.
export function refresh() {
  const s = session();
  if (!s || !s.refresh_token) return Promise.reject(new ApiError(401, "unauthorized", "Please sign in."));
  if (!refreshing) {
    refreshing = send("POST", "/api/v1/auth/refresh", { refresh_token: s.refresh_token })
      .then((t) => {
        store({ ...fromTokens(t), role: t.role || s.role });
        return session();
      })
      .catch((e) => {
        if (e.status !== 0) store(null);
        throw e;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

// A call of API v1 as the signed-in user. `query` values that are empty are
// left out. A 401 refreshes the token once and retries.
export async function api(method, path, body, query) {
  let s = session();
  if (!s) throw new ApiError(401, "unauthorized", "Please sign in.");
  if (s.expires_at - Date.now() < 15000) s = await refresh();
  const url = withQuery(path, query);
  const tenant = actingTenant();
  const extra = tenant ? { "X-Tenant-ID": tenant } : undefined;
  try {
    return await send(method, url, body, s.access_token, extra);
  } catch (e) {
    if (e.status !== 401) throw e;
    s = await refresh();
    return send(method, url, body, s.access_token, extra);
  }
}

export function withQuery(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

// The wait_for of a write's answer: a read with it sees the write.
export function after(reply) {
  if (!reply || !Array.isArray(reply.offsets) || !reply.offsets.length) return undefined;
  return `${reply.partition}:${reply.offsets[reply.offsets.length - 1]}`;
}

export async function login(email, password) {
  store(fromTokens(await send("POST", "/api/v1/auth/login", { email, password })));
}

export async function signup(email, password, tenant_name) {
  store(fromTokens(await send("POST", "/api/v1/auth/signup", { email, password, tenant_name })));
}

export async function logout() {
  const s = session();
  sessionStorage.removeItem(TENANT_KEY);
  if (s) {
    try {
      await send("POST", "/api/v1/auth/logout", { refresh_token: s.refresh_token }, s.access_token);
    } catch {
      // The tokens are dropped here whatever the server said.
    }
  }
  store(null);
}

// Fills in the role from GET /api/v1/me (the token's truth).
export async function whoAmI() {
  const me = await api("GET", "/api/v1/me");
  const s = session();
  if (s && me && me.role && me.role !== s.role) store({ ...s, role: me.role, tenant_id: me.tenant_id });
  return me;
}

schedule();
