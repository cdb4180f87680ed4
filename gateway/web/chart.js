// A small inline SVG chart of a monitor's stats buckets
// (GET /api/v1/monitors/{id}/stats): a strip of uptime per bucket (green all
// up, amber some failures, red all down, grey no checks) under a line of the
// average latency, with the range and the highest latency as labels.
import { s, latency, pct, when } from "./dom.js";

const W = 640;
const H = 180;
const PAD = { l: 56, r: 8, t: 10, b: 36 };

export function statsChart(stats) {
  const buckets = (stats && stats.buckets) || [];
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Latency and uptime" });
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  svg.append(s("rect", { x: PAD.l, y: PAD.t, width: iw, height: ih, class: "chart-bg" }));
  if (!buckets.length) {
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" }, "No checks in this range yet"));
    return svg;
  }
  const from = new Date(stats.from).getTime();
  const to = new Date(stats.to).getTime();
  const span = Math.max(1, to - from);
  const x = (t) => PAD.l + ((new Date(t).getTime() - from) / span) * iw;
  const unit = { minute: 60e3, hour: 3600e3, day: 86400e3 }[stats.resolution] || 3600e3;
  const bw = Math.max(1, (unit / span) * iw - 1);
  const lat = buckets.map((b) => b.avg_latency_us).filter((v) => typeof v === "number");
  const max = Math.max(1, ...lat);
  const y = (v) => PAD.t + ih - (v / max) * (ih - 8);

  // Uptime strip along the bottom.
  for (const b of buckets) {
    const up = b.uptime;
    const cls = typeof up !== "number" ? "none" : up >= 1 ? "ok" : up <= 0 ? "bad" : "warn";
    const x0 = Math.max(PAD.l, x(b.time));
    const w = Math.min(bw, PAD.l + iw - x0);  // the newest bucket stops at the plot's edge
    if (w <= 0) continue;
    const r = s("rect", { x: x0, y: PAD.t + ih + 4, width: w, height: 8, class: "strip " + cls });
    r.append(s("title", {}, `${when(b.time)} · uptime ${pct(up)} · ${b.checks} checks, ${b.failures} failed`));
    svg.append(r);
  }
  // Latency line (a gap where a bucket had no successful check).
  let d = "";
  let pen = false;
  for (const b of buckets) {
    if (typeof b.avg_latency_us !== "number") {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${(x(b.time) + bw / 2).toFixed(1)},${y(b.avg_latency_us).toFixed(1)} `;
    pen = true;
  }
  if (d) svg.append(s("path", { d, class: "line" }));
  for (const b of buckets) {
    if (typeof b.avg_latency_us !== "number") continue;
    const c = s("circle", { cx: (x(b.time) + bw / 2).toFixed(1), cy: y(b.avg_latency_us).toFixed(1), r: 2.5, class: "dot" });
    c.append(s("title", {}, `${when(b.time)} · avg ${latency(b.avg_latency_us)} (min ${latency(b.min_latency_us)}, max ${latency(b.max_latency_us)})`));
    svg.append(c);
  }
  // Labels.
  // No successful check in the range: no latency scale to show.
  svg.append(s("text", { x: PAD.l - 6, y: PAD.t + 10, "text-anchor": "end", class: "axis" }, lat.length ? latency(max) : "—"));
  svg.append(s("text", { x: PAD.l - 6, y: PAD.t + ih, "text-anchor": "end", class: "axis" }, "0"));
  svg.append(s("text", { x: PAD.l, y: H - 6, class: "axis" }, when(stats.from)));
  svg.append(s("text", { x: W - PAD.r, y: H - 6, "text-anchor": "end", class: "axis" }, when(stats.to)));
  return svg;
}
