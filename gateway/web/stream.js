// The live stream: WebSocket /api/v1/stream?access_token=<token> (and, for a
// platform admin, &tenant=<the tenant it acts on>). Messages
// are JSON objects with "type" and "monitor_id" ("check", "status_changed",
// "incident_opened", ...); unknown types are passed on and may be ignored,
// malformed ones are dropped. The socket is reopened with exponential
// backoff (1 s doubling to 30 s, with jitter) and with the current token;
// the dashboard works without it, only less live.
import { session, actingTenant } from "./api.js";

export function openStream(onMessage, onState) {
  let ws = null;
  let stopped = false;
  let delay = 1000;
  let timer = 0;

  const state = (st) => onState && onState(st);

  function connect() {
    const sess = session();
    if (stopped || !sess) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const tenant = actingTenant();
    const url = `${proto}//${location.host}/api/v1/stream?access_token=${encodeURIComponent(sess.access_token)}` +
      (tenant ? `&tenant=${encodeURIComponent(tenant)}` : "");
    state("connecting");
    try {
      ws = new WebSocket(url);
    } catch {
      retry();
      return;
    }
    ws.addEventListener("open", () => {
      delay = 1000;
      state("live");
    });
    ws.addEventListener("message", (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!m || typeof m !== "object" || typeof m.type !== "string") return;
      try {
        onMessage(m);
      } catch (e) {
        console.warn("stream message handler failed", e);
      }
    });
    ws.addEventListener("close", () => {
      ws = null;
      retry();
    });
    ws.addEventListener("error", () => {
      if (ws) ws.close();
    });
  }

  function retry() {
    if (stopped) return;
    state("offline");
    clearTimeout(timer);
    const wait = delay * (0.75 + Math.random() * 0.5);
    delay = Math.min(30000, delay * 2);
    timer = setTimeout(connect, wait);
  }

  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (ws) ws.close();
      state("off");
    },
    // Reconnects at once (a new token, the network back).
    restart() {
      if (stopped) return;
      delay = 1000;
      if (ws) ws.close();
      else {
        clearTimeout(timer);
        connect();
      }
    },
  };
}
