// The live stream: WebSocket /api/v1/stream?ticket=<ticket>, the ticket a
// single-use one from POST /api/v1/stream/ticket (so the token is never in a
// URL; a platform admin's ticket names the tenant it acts on through the
// X-Tenant-ID that api() sends). The server closes the stream (1008) when
// the credential stops being valid; it is reopened as below, with a fresh
// ticket, and stays closed once the session is gone. Messages
// are JSON objects with "type" and "monitor_id" ("check", "status_changed",
// "incident_opened", ...); unknown types are passed on and may be ignored,
// malformed ones are dropped. The socket is reopened with exponential
// backoff (1 s doubling to 30 s, with jitter) and with the current token;
// the dashboard works without it, only less live.
import { api, session } from "./api.js";

export function openStream(onMessage, onState) {
  let ws = null;
  let stopped = false;
  let delay = 1000;
  let timer = 0;
  let asking = false; // a ticket request is on its way

  const state = (st) => onState && onState(st);

  async function connect() {
    if (stopped || asking || !session()) return;
    state("connecting");
    let ticket;
    asking = true;
    try {
      // api() refreshes an expiring token and names the acting tenant.
      ticket = (await api("POST", "/api/v1/stream/ticket")).ticket;
    } catch {
      asking = false;
      retry();
      return;
    }
    asking = false;
    if (stopped || ws) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/api/v1/stream?ticket=${encodeURIComponent(ticket)}`;
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
