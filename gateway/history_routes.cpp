// History: what happened to a tenant's monitors and account, read from the
// read models (0002, 0003) under row-level security — a monitor's check
// results and stats buckets, incidents, usage per day with its totals,
// invoices with their lines, and the audit log. Every route only reads;
// every one takes ?wait_for= (read-your-writes, X-Keepwatch-Stale: true when
// the dashboard projection has not caught up in time) and refuses unknown
// or malformed query parameters with a 422 naming them. Lists are bounded
// pages with opaque cursors; another tenant's id reads as unknown (404).
//
// Times in queries are RFC 3339 or unix seconds (time_param); usage days
// are also accepted as YYYY-MM-DD. Times are compared in SQL as exact
// microseconds since the epoch, never through floating point.
#include <pqxx/pqxx>

#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"
#include "gateway/pg_pool.hpp"

namespace kw::gateway {
namespace {

constexpr std::int64_t minute_us = 60'000'000;
constexpr std::int64_t hour_us = 60 * minute_us;
constexpr std::int64_t day_us = 24 * hour_us;
// The most buckets one stats read returns: a range too wide for its
// resolution is refused rather than cut.
constexpr std::int64_t max_buckets = 2000;
// The most days one usage read covers.
constexpr std::int64_t max_usage_days = 366;
// The bounds of an open time range: years 1900 and 2200, within what
// timestamptz holds.
constexpr std::int64_t min_us = -2'208'988'800'000'000;
constexpr std::int64_t max_us = 7'258'118'400'000'000;

// SQL for the timestamptz of bind parameter $n given as microseconds.
std::string at_us(int n) {
  return "(timestamptz 'epoch' + $" + std::to_string(n) + "::bigint * interval '1 microsecond')";
}
// SQL for a timestamptz column as microseconds since the epoch.
std::string us_of(const std::string& column) {
  return "(extract(epoch FROM " + column + ") * 1000000)::bigint";
}

json nullable_i64(const pqxx::field& f) { return f.is_null() ? json() : json(f.as<long long>()); }
json nullable_str(const pqxx::field& f) { return f.is_null() ? json() : json(f.c_str()); }
json nullable_json(const pqxx::field& f) { return f.is_null() ? json() : json::parse(f.c_str()); }

// A time window [from, to) from the query, with defaults when absent; field
// errors (malformed, from not before to) appended to `details`.
struct window {
  std::int64_t from = 0;
  std::int64_t to = 0;
};
window window_of(const http_request& req, std::int64_t default_span_us, json& details) {
  const std::size_t before = details.size();
  auto from = time_param(req, "from", details);
  auto to = time_param(req, "to", details);
  window w;
  w.to = to ? to->get() : now_us().get();
  w.from = from ? from->get() : w.to - default_span_us;
  if (details.size() == before && w.from >= w.to)
    details.push_back({{"field", "from"}, {"message", "must be before to"}});
  return w;
}

// A composite cursor key "<microseconds>:<rest>"; false when it is not one.
bool split_key(const std::string& key, std::int64_t& us, std::string& rest) {
  const auto colon = key.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 19) return false;
  const std::string head = key.substr(0, colon);
  const std::size_t digits_from = head[0] == '-' ? 1 : 0;
  if (digits_from == head.size() || head.find_first_not_of("0123456789", digits_from) != std::string::npos)
    return false;
  const auto v = parse_int(head);  // 19 digits may not fit in 64 bits
  if (!v || *v < min_us || *v > max_us) return false;  // no row has such a time; SQL would refuse it
  us = *v;
  rest = key.substr(colon + 1);
  return !rest.empty();
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Whether the tenant (row-level security) has this live monitor.
bool monitor_exists(pqxx::transaction_base& w, const std::string& id) {
  return !w.exec_params("SELECT 1 FROM monitors WHERE monitor_id = $1", id).empty();
}

// ---------------------------------------------------------------- heartbeats

http_response heartbeats(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    const window win = window_of(req, day_us, details);
    std::int64_t after_us = 0, after_seq = 0;
    if (!pg.after.empty()) {
      std::string rest;
      if (!split_key(pg.after, after_us, rest) || !all_digits(rest))
        details.push_back({{"field", "cursor"}, {"message", "not a cursor of this list"}});
      else
        after_seq = *parse_int(rest);  // all_digits: at most 18
    }
    cx.check_query(req, {"from", "to", "limit", "cursor"}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    bool known = false, more = false;
    json items = json::array();
    std::string last_key;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      known = monitor_exists(w, p.at("id"));
      if (!known) return;
      auto rows = w.exec_params(
          "SELECT " + rfc3339_sql("checked_at") + " AS at, " + us_of("checked_at") +
              " AS at_us, seq, ok, latency_us, http_status, error FROM heartbeats "
              "WHERE monitor_id = $1 AND checked_at >= " + at_us(2) + " AND checked_at < " + at_us(3) +
              " AND ($4 = '' OR (checked_at, seq) < (" + at_us(5) + ", $6::bigint)) "
              "ORDER BY checked_at DESC, seq DESC LIMIT $7",
          p.at("id"), win.from, win.to, pg.after, after_us, after_seq, pg.limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back({{"time", r["at"].c_str()},
                         {"ok", r["ok"].as<bool>()},
                         {"latency_us", r["latency_us"].as<long long>()},
                         {"http_status", r["http_status"].as<int>()},
                         {"error", r["error"].c_str()}});
        last_key = std::string(r["at_us"].c_str()) + ":" + r["seq"].c_str();
      }
    });
    if (!st) return from_error(st.err(), req);
    if (!known) return not_found(req, "monitor " + p.at("id"));
    return fresh_or_stale({{"items", items}, {"next_cursor", more ? json(to_cursor(last_key)) : json()}}, fresh);
  });
}

// ---------------------------------------------------------------- stats

http_response stats(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const std::string resolution = req.query.count("resolution") ? req.query.at("resolution") : "hour";
    std::int64_t unit = 0, default_span = 0;
    if (resolution == "minute") {
      unit = minute_us;
      default_span = hour_us;
    } else if (resolution == "hour") {
      unit = hour_us;
      default_span = day_us;
    } else if (resolution == "day") {
      unit = day_us;
      default_span = 30 * day_us;
    } else {
      details.push_back({{"field", "resolution"}, {"message", "one of minute, hour, day"}});
    }
    const window win = window_of(req, default_span ? default_span : day_us, details);
    cx.check_query(req, {"from", "to", "resolution"}, details);
    // Buckets are UTC-aligned, so the first one starts at `from` rounded down.
    if (details.empty()) {
      const std::int64_t first = win.from - ((win.from % unit) + unit) % unit;
      const std::int64_t buckets = (win.to - first + unit - 1) / unit;
      if (buckets > max_buckets)
        details.push_back({{"field", "from"},
                           {"message", "the range spans " + std::to_string(buckets) + " " + resolution +
                                           " buckets, at most " + std::to_string(max_buckets) +
                                           ": narrow it or use a coarser resolution"}});
    }
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    bool known = false;
    json buckets = json::array();
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      known = monitor_exists(w, p.at("id"));
      if (!known) return;
      auto rows = w.exec_params(
          "SELECT " + rfc3339_sql("bucket") + " AS at, checks, up, latency_sum_us, latency_min_us, latency_max_us "
              "FROM monitor_stats_" + resolution + " WHERE monitor_id = $1 AND bucket >= date_trunc('" +
              resolution + "', " + at_us(2) + ", 'UTC') AND bucket < " + at_us(3) + " ORDER BY bucket",
          p.at("id"), win.from, win.to);
      for (const auto& r : rows) {
        const auto checks = r["checks"].as<long long>();
        const auto up = r["up"].as<long long>();
        buckets.push_back({{"time", r["at"].c_str()},
                           {"checks", checks},
                           {"failures", checks - up},
                           {"uptime", checks > 0 ? json(double(up) / double(checks)) : json()},
                           {"avg_latency_us", up > 0 ? json(r["latency_sum_us"].as<long long>() / up) : json()},
                           {"min_latency_us", nullable_i64(r["latency_min_us"])},
                           {"max_latency_us", nullable_i64(r["latency_max_us"])}});
      }
    });
    if (!st) return from_error(st.err(), req);
    if (!known) return not_found(req, "monitor " + p.at("id"));
    return fresh_or_stale({{"monitor_id", p.at("id")},
                           {"resolution", resolution},
                           {"from", rfc3339(timestamp{win.from})},
                           {"to", rfc3339(timestamp{win.to})},
                           {"buckets", buckets}},
                          fresh);
  });
}

// ---------------------------------------------------------------- incidents

const std::string& incident_columns() {
  static const std::string cols = "incident_id, monitor_id, cause, " + rfc3339_sql("opened_at") + " AS opened, " +
                                  us_of("opened_at") + " AS opened_us, " + rfc3339_sql("closed_at") +
                                  " AS closed, duration_ms";
  return cols;
}

json incident_json(const pqxx::row& r) {
  return {{"incident_id", r["incident_id"].c_str()},
          {"monitor_id", r["monitor_id"].c_str()},
          {"cause", r["cause"].c_str()},
          {"state", r["closed"].is_null() ? "open" : "closed"},
          {"opened_at", r["opened"].c_str()},
          {"closed_at", nullable_str(r["closed"])},
          {"duration_ms", nullable_i64(r["duration_ms"])}};
}

// Newest first; the cursor is (opened_at, incident_id) of the last item.
http_response list_incidents(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    const std::string state = req.query.count("state") ? req.query.at("state") : "";
    if (!state.empty() && state != "open" && state != "closed")
      details.push_back({{"field", "state"}, {"message", "one of open, closed"}});
    const std::string monitor = req.query.count("monitor_id") ? req.query.at("monitor_id") : "";
    auto from = time_param(req, "from", details);
    auto to = time_param(req, "to", details);
    if (from && to && from->get() >= to->get())
      details.push_back({{"field", "from"}, {"message", "must be before to"}});
    std::int64_t after_us = 0;
    std::string after_id;
    if (!pg.after.empty() && !split_key(pg.after, after_us, after_id))
      details.push_back({{"field", "cursor"}, {"message", "not a cursor of this list"}});
    cx.check_query(req, {"monitor_id", "state", "from", "to", "limit", "cursor"}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    std::string last_key;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params(
          "SELECT " + incident_columns() +
              " FROM incidents WHERE ($1 = '' OR monitor_id = $1) "
              "AND ($2 = '' OR ($2 = 'open') = (closed_at IS NULL)) "
              "AND opened_at >= " + at_us(3) + " AND opened_at < " + at_us(4) +
              " AND ($5 = '' OR (opened_at, incident_id) < (" + at_us(6) + ", $5)) "
              "ORDER BY opened_at DESC, incident_id DESC LIMIT $7",
          monitor, state, from ? from->get() : min_us, to ? to->get() : max_us, after_id, after_us, pg.limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back(incident_json(r));
        last_key = std::string(r["opened_us"].c_str()) + ":" + r["incident_id"].c_str();
      }
    });
    if (!st) return from_error(st.err(), req);
    return fresh_or_stale({{"items", items}, {"next_cursor", more ? json(to_cursor(last_key)) : json()}}, fresh);
  });
}

http_response get_incident(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    cx.check_query(req, {}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json item;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params("SELECT " + incident_columns() + " FROM incidents WHERE incident_id = $1", p.at("id"));
      if (!rows.empty()) item = incident_json(rows[0]);
    });
    if (!st) return from_error(st.err(), req);
    if (item.is_null()) return not_found(req, "incident " + p.at("id"));
    return fresh_or_stale(item, fresh);
  });
}

// ---------------------------------------------------------------- usage

// A UTC day from the query: YYYY-MM-DD, or a time (its UTC day); as days
// since the epoch.
std::optional<std::int64_t> day_param(const http_request& req, const std::string& name, json& details) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return std::nullopt;
  const std::string& v = it->second;
  std::optional<timestamp> t;
  json ignored = json::array();
  if (v.size() == 10 && v[4] == '-') {
    http_request as_time;
    as_time.query[name] = v + "T00:00:00Z";
    t = time_param(as_time, name, ignored);
  } else {
    t = time_param(req, name, ignored);
  }
  if (!t || !ignored.empty()) {
    details.push_back({{"field", name}, {"message", "expected a day (YYYY-MM-DD), an RFC 3339 time or unix seconds"}});
    return std::nullopt;
  }
  const std::int64_t us = t->get();
  return (us - (((us % day_us) + day_us) % day_us)) / day_us;
}

std::string day_string(std::int64_t days) { return rfc3339(timestamp{days * day_us}).substr(0, 10); }

// Per UTC day of [from, to] (both inclusive; default: this month so far):
// the check and notification counters and API calls (usage_daily), and the
// monitor-hours and peak of active monitors (usage_report); the totals sum
// the days, the peak is the highest day's.
http_response usage(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read_billing), [&](const caller& c) {
    json details = json::array();
    auto from = day_param(req, "from", details);
    auto to = day_param(req, "to", details);
    cx.check_query(req, {"from", "to"}, details);
    const std::int64_t today = now_us().get() / day_us;
    const std::int64_t to_day = to ? *to : today;
    std::int64_t from_day = 0;
    if (from) {
      from_day = *from;
    } else {
      // The first of to_day's month.
      const std::string month_start = day_string(to_day).substr(0, 8) + "01T00:00:00Z";
      http_request as_time;
      as_time.query["from"] = month_start;
      json ignored = json::array();
      from_day = time_param(as_time, "from", ignored)->get() / day_us;
    }
    if (details.empty() && from_day > to_day)
      details.push_back({{"field", "from"}, {"message", "must not be after to"}});
    if (details.empty() && to_day - from_day + 1 > max_usage_days)
      details.push_back({{"field", "from"},
                         {"message", "the range spans more than " + std::to_string(max_usage_days) + " days"}});
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json days = json::array();
    json totals = {{"checks", 0}, {"notifications", 0}, {"api_calls", 0}, {"monitor_hours", 0.0},
                   {"peak_active_monitors", 0}};
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params(
          "SELECT to_char(d, 'YYYY-MM-DD') AS day, coalesce(r.checks, 0) AS checks, "
          "coalesce(r.notifications, 0) AS notifications, coalesce(r.api_calls, 0) AS api_calls, "
          "coalesce(r.monitor_hours, 0)::float8 AS monitor_hours, coalesce(r.peak_active_monitors, 0) AS peak "
          "FROM generate_series($1::date, $2::date, interval '1 day') AS d "
          "LEFT JOIN usage_report($1::date, $2::date) AS r ON r.day = d::date ORDER BY d",
          day_string(from_day), day_string(to_day));
      std::int64_t checks = 0, notifications = 0, api_calls = 0, peak = 0;
      double hours = 0;
      for (const auto& r : rows) {
        const auto ch = r["checks"].as<long long>(), no = r["notifications"].as<long long>(),
                   ap = r["api_calls"].as<long long>(), pk = r["peak"].as<long long>();
        const double mh = r["monitor_hours"].as<double>();
        checks += ch;
        notifications += no;
        api_calls += ap;
        hours += mh;
        peak = std::max<std::int64_t>(peak, pk);
        days.push_back({{"day", r["day"].c_str()},
                        {"checks", ch},
                        {"notifications", no},
                        {"api_calls", ap},
                        {"monitor_hours", mh},
                        {"peak_active_monitors", pk}});
      }
      totals = {{"checks", checks}, {"notifications", notifications}, {"api_calls", api_calls},
                {"monitor_hours", hours}, {"peak_active_monitors", peak}};
    });
    if (!st) return from_error(st.err(), req);
    return fresh_or_stale(
        {{"from", day_string(from_day)}, {"to", day_string(to_day)}, {"days", days}, {"totals", totals}}, fresh);
  });
}

// ---------------------------------------------------------------- invoices

// An invoice's id is its month, "YYYY-MM"; the first of that month, or ""
// when `id` names no month.
std::string month_of_id(const std::string& id) {
  if (id.size() != 7 || id[4] != '-' || !all_digits(id.substr(0, 4)) || !all_digits(id.substr(5, 2))) return "";
  const auto m = *parse_int(id.substr(5, 2));
  return m >= 1 && m <= 12 ? id + "-01" : "";
}

const std::string& invoice_columns() {
  static const std::string cols =
      "to_char(month, 'YYYY-MM') AS id, to_char(month, 'YYYY-MM-DD') AS month_s, currency, total_cents, status";
  return cols;
}

json invoice_json(const pqxx::row& r) {
  return {{"invoice_id", r["id"].c_str()},
          {"month", r["month_s"].c_str()},
          {"currency", r["currency"].c_str()},
          {"total_cents", r["total_cents"].as<long long>()},
          {"status", r["status"].c_str()}};
}

// Newest month first; the cursor is the last item's month.
http_response list_invoices(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read_billing), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    std::string after_month;
    if (!pg.after.empty()) {
      after_month = month_of_id(pg.after);
      if (after_month.empty()) details.push_back({{"field", "cursor"}, {"message", "not a cursor of this list"}});
    }
    cx.check_query(req, {"limit", "cursor"}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params("SELECT " + invoice_columns() +
                                    " FROM invoices WHERE ($1 = '' OR month < $1::date) ORDER BY month DESC LIMIT $2",
                                after_month, pg.limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back(invoice_json(r));
      }
    });
    if (!st) return from_error(st.err(), req);
    return fresh_or_stale(
        {{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["invoice_id"])) : json()}}, fresh);
  });
}

http_response get_invoice(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read_billing), [&](const caller& c) {
    json details = json::array();
    cx.check_query(req, {}, details);
    if (!details.empty()) return bad_query(req, details);
    const std::string month = month_of_id(p.at("id"));
    if (month.empty()) return not_found(req, "invoice " + p.at("id"));
    const bool fresh = cx.wait_for(req);
    json item;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params("SELECT " + invoice_columns() + " FROM invoices WHERE month = $1::date", month);
      if (rows.empty()) return;
      item = invoice_json(rows[0]);
      json lines = json::array();
      for (const auto& r : w.exec_params("SELECT line_no, kind, plan, description, quantity::float8 AS quantity, "
                                         "unit_price_cents, amount_cents FROM invoice_lines WHERE month = $1::date "
                                         "ORDER BY line_no",
                                         month))
        lines.push_back({{"line_no", r["line_no"].as<int>()},
                         {"kind", r["kind"].c_str()},
                         {"plan", r["plan"].c_str()},
                         {"description", r["description"].c_str()},
                         {"quantity", r["quantity"].as<double>()},
                         {"unit_price_cents", r["unit_price_cents"].as<long long>()},
                         {"amount_cents", r["amount_cents"].as<long long>()}});
      item["lines"] = lines;
    });
    if (!st) return from_error(st.err(), req);
    if (item.is_null()) return not_found(req, "invoice " + p.at("id"));
    return fresh_or_stale(item, fresh);
  });
}

// ---------------------------------------------------------------- audit

// Oldest first; the cursor is (at, partition, offset) of the last row, which
// orders the rows as the log does within one instant.
http_response audit(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read_audit), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    auto from = time_param(req, "from", details);
    auto to = time_param(req, "to", details);
    if (from && to && from->get() >= to->get())
      details.push_back({{"field", "from"}, {"message", "must be before to"}});
    const std::string act = req.query.count("action") ? req.query.at("action") : "";
    const std::string entity = req.query.count("entity") ? req.query.at("entity") : "";
    std::int64_t after_us = 0, after_partition = 0, after_offset = 0;
    if (!pg.after.empty()) {
      std::string rest;
      bool good = split_key(pg.after, after_us, rest);
      const auto sep = good ? rest.find(':') : std::string::npos;
      good = good && sep != std::string::npos && all_digits(rest.substr(0, sep)) && all_digits(rest.substr(sep + 1));
      if (good) {
        after_partition = *parse_int(rest.substr(0, sep));  // all_digits: at most 18
        after_offset = *parse_int(rest.substr(sep + 1));
      } else {
        details.push_back({{"field", "cursor"}, {"message", "not a cursor of this list"}});
      }
    }
    cx.check_query(req, {"from", "to", "action", "entity", "limit", "cursor"}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    std::string last_key;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params(
          "SELECT " + rfc3339_sql("at") + " AS at_s, " + us_of("at") +
              " AS at_us, event_id, log_partition, log_offset, aggregate, seq, actor_kind, actor_id, actor_ip, "
              "action, entity, before::text AS before_j, after::text AS after_j, prevhash, hash FROM audit_log "
              "WHERE ($1 = '' OR action = $1) AND ($2 = '' OR entity = $2) "
              "AND at >= " + at_us(3) + " AND at < " + at_us(4) +
              " AND (NOT $5::boolean OR (at, log_partition, log_offset) > (" + at_us(6) +
              ", $7::int, $8::bigint)) ORDER BY at, log_partition, log_offset LIMIT $9",
          act, entity, from ? from->get() : min_us, to ? to->get() : max_us, !pg.after.empty(), after_us,
          int(after_partition), after_offset, pg.limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back({{"time", r["at_s"].c_str()},
                         {"event_id", r["event_id"].c_str()},
                         {"actor",
                          {{"kind", r["actor_kind"].c_str()}, {"id", r["actor_id"].c_str()}, {"ip", r["actor_ip"].c_str()}}},
                         {"action", r["action"].c_str()},
                         {"entity", r["entity"].c_str()},
                         {"aggregate", r["aggregate"].c_str()},
                         {"seq", r["seq"].as<long long>()},
                         {"before", nullable_json(r["before_j"])},
                         {"after", nullable_json(r["after_j"])},
                         {"partition", r["log_partition"].as<int>()},
                         {"offset", r["log_offset"].as<long long>()},
                         {"hash", r["hash"].c_str()},
                         {"prevhash", r["prevhash"].c_str()}});
        last_key = std::string(r["at_us"].c_str()) + ":" + r["log_partition"].c_str() + ":" + r["log_offset"].c_str();
      }
    });
    if (!st) return from_error(st.err(), req);
    return fresh_or_stale({{"items", items}, {"next_cursor", more ? json(to_cursor(last_key)) : json()}}, fresh);
  });
}

}  // namespace

void add_history_routes(router& r, const api_context& cx) {
  const auto* c = &cx;
  r.add("GET", "/api/v1/monitors/{id}/heartbeats",
        [c](const http_request& q, const path_params& p) { return heartbeats(*c, q, p); });
  r.add("GET", "/api/v1/monitors/{id}/stats",
        [c](const http_request& q, const path_params& p) { return stats(*c, q, p); });
  r.add("GET", "/api/v1/incidents", [c](const http_request& q, const path_params&) { return list_incidents(*c, q); });
  r.add("GET", "/api/v1/incidents/{id}",
        [c](const http_request& q, const path_params& p) { return get_incident(*c, q, p); });
  r.add("GET", "/api/v1/usage", [c](const http_request& q, const path_params&) { return usage(*c, q); });
  r.add("GET", "/api/v1/invoices", [c](const http_request& q, const path_params&) { return list_invoices(*c, q); });
  r.add("GET", "/api/v1/invoices/{id}",
        [c](const http_request& q, const path_params& p) { return get_invoice(*c, q, p); });
  r.add("GET", "/api/v1/audit", [c](const http_request& q, const path_params&) { return audit(*c, q); });
}

void describe_history_routes(json& paths, json& schemas) {
  using namespace oa;
  const json time_s = {{"type", "string"}, {"format", "date-time"}};
  const json nullable_int = {{"type", "integer"}, {"nullable", true}};
  const json time_q = {{"type", "string"}, {"description", "RFC 3339 or unix seconds"}};
  schemas["Heartbeat"] = {{"type", "object"},
                          {"properties",
                           {{"time", time_s},
                            {"ok", {{"type", "boolean"}}},
                            {"latency_us", {{"type", "integer"}}},
                            {"http_status", {{"type", "integer"}}},
                            {"error", {{"type", "string"}}}}}};
  schemas["StatsBucket"] = {{"type", "object"},
                            {"properties",
                             {{"time", time_s},
                              {"checks", {{"type", "integer"}}},
                              {"failures", {{"type", "integer"}}},
                              {"uptime", {{"type", "number"}, {"nullable", true}}},
                              {"avg_latency_us", nullable_int},
                              {"min_latency_us", nullable_int},
                              {"max_latency_us", nullable_int}}}};
  schemas["Stats"] = {{"type", "object"},
                      {"properties",
                       {{"monitor_id", {{"type", "string"}}},
                        {"resolution", {{"type", "string"}, {"enum", {"minute", "hour", "day"}}}},
                        {"from", time_s},
                        {"to", time_s},
                        {"buckets", {{"type", "array"}, {"items", ref("StatsBucket")}}}}}};
  schemas["Incident"] = {{"type", "object"},
                         {"properties",
                          {{"incident_id", {{"type", "string"}}},
                           {"monitor_id", {{"type", "string"}}},
                           {"cause", {{"type", "string"}}},
                           {"state", {{"type", "string"}, {"enum", {"open", "closed"}}}},
                           {"opened_at", time_s},
                           {"closed_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}},
                           {"duration_ms", nullable_int}}}};
  const json usage_figures = {{"checks", {{"type", "integer"}}},
                              {"notifications", {{"type", "integer"}}},
                              {"api_calls", {{"type", "integer"}}},
                              {"monitor_hours", {{"type", "number"}}},
                              {"peak_active_monitors", {{"type", "integer"}}}};
  json usage_day = usage_figures;
  usage_day["day"] = {{"type", "string"}, {"format", "date"}};
  schemas["UsageDay"] = {{"type", "object"}, {"properties", usage_day}};
  schemas["Usage"] = {{"type", "object"},
                      {"properties",
                       {{"from", {{"type", "string"}, {"format", "date"}}},
                        {"to", {{"type", "string"}, {"format", "date"}}},
                        {"days", {{"type", "array"}, {"items", ref("UsageDay")}}},
                        {"totals", {{"type", "object"}, {"properties", usage_figures}}}}}};
  const json invoice_props = {{"invoice_id", {{"type", "string"}, {"description", "the month, YYYY-MM"}}},
                              {"month", {{"type", "string"}, {"format", "date"}}},
                              {"currency", {{"type", "string"}}},
                              {"total_cents", {{"type", "integer"}}},
                              {"status", {{"type", "string"}}}};
  schemas["Invoice"] = {{"type", "object"}, {"properties", invoice_props}};
  json with_lines = invoice_props;
  with_lines["lines"] = {{"type", "array"},
                         {"items",
                          {{"type", "object"},
                           {"properties",
                            {{"line_no", {{"type", "integer"}}},
                             {"kind", {{"type", "string"}, {"enum", {"base", "monitors"}}}},
                             {"plan", {{"type", "string"}}},
                             {"description", {{"type", "string"}}},
                             {"quantity", {{"type", "number"}}},
                             {"unit_price_cents", {{"type", "integer"}}},
                             {"amount_cents", {{"type", "integer"}}}}}}}};
  schemas["InvoiceWithLines"] = {{"type", "object"}, {"properties", with_lines}};
  schemas["AuditEntry"] = {
      {"type", "object"},
      {"properties",
       {{"time", time_s},
        {"event_id", {{"type", "string"}}},
        {"actor",
         {{"type", "object"},
          {"properties",
           {{"kind", {{"type", "string"}}}, {"id", {{"type", "string"}}}, {"ip", {{"type", "string"}}}}}}},
        {"action", {{"type", "string"}}},
        {"entity", {{"type", "string"}}},
        {"aggregate", {{"type", "string"}}},
        {"seq", {{"type", "integer"}}},
        {"before", {{"type", "object"}, {"nullable", true}}},
        {"after", {{"type", "object"}, {"nullable", true}}},
        {"partition", {{"type", "integer"}}},
        {"offset", {{"type", "integer"}}},
        {"hash", {{"type", "string"}}},
        {"prevhash", {{"type", "string"}}}}}};

  auto with = [](json params, std::initializer_list<json> more) {
    for (auto& p : more) params.push_back(p);
    return params;
  };
  const json paged = with(wait_params(), {page_params()[0], page_params()[1]});
  const json range = json::array({query_param("from", time_q), query_param("to", time_q)});
  const json bad = error_response("bad query parameters");

  paths["/api/v1/monitors/{id}/heartbeats"]["get"] = secured(
      {{"summary", "A monitor's check results, newest first (default: the last 24 hours)"},
       {"parameters", with(paged, {path_param("id"), range[0], range[1]})},
       {"responses",
        {{"200", ok("a page", oa::page_of(ref("Heartbeat")))}, {"404", error_response("no such monitor")}, {"422", bad}}}});
  paths["/api/v1/monitors/{id}/stats"]["get"] = secured(
      {{"summary", "A monitor's checks, failures, uptime and latency per UTC minute, hour or day (at most 2000 buckets)"},
       {"parameters",
        with(wait_params(), {path_param("id"), range[0], range[1],
                             query_param("resolution", {{"type", "string"}, {"enum", {"minute", "hour", "day"}}},
                                         "default hour")})},
       {"responses",
        {{"200", ok("the buckets that have checks", ref("Stats"))},
         {"404", error_response("no such monitor")},
         {"422", error_response("bad query parameters; a range too wide for the resolution")}}}});
  paths["/api/v1/incidents"]["get"] = secured(
      {{"summary", "Incidents, newest first"},
       {"parameters",
        with(paged, {query_param("monitor_id", {{"type", "string"}}),
                     query_param("state", {{"type", "string"}, {"enum", {"open", "closed"}}}),
                     query_param("from", time_q, "opened at or after"), query_param("to", time_q, "opened before")})},
       {"responses", {{"200", ok("a page", oa::page_of(ref("Incident")))}, {"422", bad}}}});
  paths["/api/v1/incidents/{id}"]["get"] =
      secured({{"summary", "One incident"},
               {"parameters", with(wait_params(), {path_param("id")})},
               {"responses", {{"200", ok("the incident", ref("Incident"))}, {"404", error_response("no such incident")}}}});
  const json day_q = {{"type", "string"}, {"description", "YYYY-MM-DD, RFC 3339 or unix seconds (its UTC day)"}};
  paths["/api/v1/usage"]["get"] = secured(
      {{"summary", "Usage per UTC day and in total (default: the current month)"},
       {"parameters", with(wait_params(), {query_param("from", day_q, "first day, inclusive"),
                                           query_param("to", day_q, "last day, inclusive")})},
       {"responses", {{"200", ok("the days and totals", ref("Usage"))}, {"422", bad}}}});
  paths["/api/v1/invoices"]["get"] =
      secured({{"summary", "Closed invoices, newest month first"},
               {"parameters", paged},
               {"responses", {{"200", ok("a page", oa::page_of(ref("Invoice")))}, {"422", bad}}}});
  paths["/api/v1/invoices/{id}"]["get"] =
      secured({{"summary", "One invoice (id: its month, YYYY-MM) with its lines"},
               {"parameters", with(wait_params(), {path_param("id")})},
               {"responses",
                {{"200", ok("the invoice", ref("InvoiceWithLines"))}, {"404", error_response("no such invoice")}}}});
  paths["/api/v1/audit"]["get"] = secured(
      {{"summary", "The audit log, oldest first"},
       {"parameters",
        with(paged, {range[0], range[1], query_param("action", {{"type", "string"}}, "an event type"),
                     query_param("entity", {{"type", "string"}}, "e.g. monitor/<id>")})},
       {"responses", {{"200", ok("a page", oa::page_of(ref("AuditEntry")))}, {"422", bad}}}});
}

}  // namespace kw::gateway
