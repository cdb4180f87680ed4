// History through API v1, on both logs: monitors are made through the API,
// check results are fed to the monitors' actors with times the test
// chooses, and what a client then reads must be exactly those checks — the
// heartbeats newest first in cursor pages, the stats buckets per minute,
// hour and day, the incident the failures opened and the ok closed, the
// day's usage counters, an invoice closed for the month with its lines, and
// the audit rows of the API's own writes (the user, from 127.0.0.1).
// Another tenant's monitor, incident or invoice is a 404; the billing and
// audit reads are refused to roles without them; bad query parameters are
// 422s naming the parameter and append nothing.
#include "api_fixture.hpp"

#include <chrono>
#include <functional>
#include <thread>

#include <pqxx/pqxx>

#include "events/codec.hpp"
#include "gateway/api_context.hpp"
#include "gateway/tokens.hpp"

using namespace kw;
using namespace kw::test;

namespace {

constexpr std::int64_t minute_us = 60'000'000;
constexpr std::int64_t hour_us = 60 * minute_us;
constexpr std::int64_t day_us = 24 * hour_us;

std::string iso(std::int64_t us) { return format_time(timestamp{us}); }
std::string day_of(std::int64_t us) { return iso(us).substr(0, 10); }

}  // namespace

class HistoryApiTest : public api_test {
protected:
  // A monitor made through the API: its id and the write's position.
  std::pair<std::string, std::string> create_monitor(const json& who, const std::string& name) {
    auto r = call("POST", "/api/v1/monitors", who,
                  json{{"name", name}, {"url", "https://" + name + ".example/"}, {"interval_s", 60}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return {r.j().value("monitor_id", ""), position(r.j())};
  }

  // A check result of `monitor` at time `at_us`, as the scheduler would
  // record it (a system actor).
  void check(const json& who, const std::string& monitor, std::int64_t at_us, bool ok, std::int64_t latency_us) {
    command_meta m;
    m.command_id = new_id();
    m.actor = kw::system_actor();
    m.time = timestamp{at_us};
    auto r = node_->execute(
        monitor::command{m, {}, monitor::record_check{ok, latency_us, ok ? 200 : 503, ok ? "" : "status 503",
                                                      std::nullopt, new_id()}},
        tenant_id{who["tenant_id"].get<std::string>()}, monitor);
    ASSERT_TRUE(r.ok()) << r.err().message;
  }

  // GETs `target` until `done` holds of the answer (the projections read
  // the log on their own time), at most 30 s; the last answer.
  http_reply get_until(const std::string& target, const json& who, const std::function<bool(const json&)>& done) {
    http_reply r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
      r = call("GET", target, who);
      if (r.status == 200 && done(r.j())) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    return r;
  }

  // Runs SQL as the database's owner (the projections' role), for what the
  // API cannot do: closing a month's invoice, setting prices.
  std::string sql(const std::string& q) {
    pqxx::connection c(url_);
    pqxx::work w(c);
    auto rows = w.exec(q);
    w.commit();
    return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].c_str();
  }

  void wait_sql(const std::string& q) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (sql(q) != "t" && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(sql(q), "t") << q;
  }
};

TEST_P(HistoryApiTest, HeartbeatsStatsAndIncidentsAreTheChecksRecorded) {
  auto a = signup("a@example.com", "Tenant A");
  auto [site, pos] = create_monitor(a, "site");
  auto [api, pos2] = create_monitor(a, "api");
  ASSERT_EQ(get_until("/api/v1/monitors/" + api + "?wait_for=" + pos2, a, [](const json&) { return true; }).status,
            200);
  // Two hours before the current hour, on the hour: five checks a minute
  // apart, all in one minute bucket each, one hour and one day.
  const std::int64_t now = kw::now().get();
  const std::int64_t b0 = now - now % hour_us - 2 * hour_us;
  check(a, site, b0, true, 100000);
  check(a, site, b0 + minute_us, false, 0);  // down: an incident opens
  check(a, site, b0 + 2 * minute_us, false, 0);
  check(a, site, b0 + 3 * minute_us, true, 300000);  // up: it closes, 2 minutes long
  check(a, site, b0 + 4 * minute_us, true, 200000);
  check(a, api, b0 + 10 * minute_us, false, 0);  // an incident left open

  // Heartbeats: newest first, every field as recorded.
  auto hb = get_until("/api/v1/monitors/" + site + "/heartbeats?limit=200", a,
                      [](const json& j) { return j["items"].size() == 5; });
  ASSERT_EQ(hb.status, 200) << hb.body;
  auto items = hb.j()["items"];
  ASSERT_EQ(items.size(), 5u) << hb.body;
  EXPECT_TRUE(hb.j()["next_cursor"].is_null());
  const bool oks[] = {true, true, false, false, true};
  const std::int64_t lat[] = {200000, 300000, 0, 0, 100000};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(items[i]["time"], iso(b0 + (4 - i) * minute_us)) << i;
    EXPECT_EQ(items[i]["ok"], oks[i]) << i;
    EXPECT_EQ(items[i]["latency_us"], lat[i]) << i;
    EXPECT_EQ(items[i]["http_status"], oks[i] ? 200 : 503) << i;
    EXPECT_EQ(items[i]["error"], oks[i] ? "" : "status 503") << i;
  }
  // Pages of two follow the cursor to the same five, then stop.
  json paged = json::array();
  std::string target = "/api/v1/monitors/" + site + "/heartbeats?limit=2";
  for (int pages = 0; pages < 5; ++pages) {
    auto r = call("GET", target, a);
    ASSERT_EQ(r.status, 200) << r.body;
    const json page = r.j();
    for (auto& it : page["items"]) paged.push_back(it);
    if (r.j()["next_cursor"].is_null()) break;
    target = "/api/v1/monitors/" + site + "/heartbeats?limit=2&cursor=" + r.j()["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(paged, items);
  // A window [from, to): the two failures.
  auto win = call("GET",
                  "/api/v1/monitors/" + site + "/heartbeats?from=" + iso(b0 + minute_us) +
                      "&to=" + std::to_string((b0 + 3 * minute_us) / 1000000),
                  a);
  ASSERT_EQ(win.status, 200) << win.body;
  ASSERT_EQ(win.j()["items"].size(), 2u) << win.body;
  EXPECT_EQ(win.j()["items"][0]["time"], iso(b0 + 2 * minute_us));
  EXPECT_FALSE(win.j()["items"][1]["ok"].get<bool>());

  // Stats per minute: one bucket a check.
  auto st = get_until("/api/v1/monitors/" + site + "/stats?resolution=minute&from=" + iso(b0) +
                          "&to=" + iso(b0 + 5 * minute_us),
                      a, [](const json& j) { return j["buckets"].size() == 5; });
  ASSERT_EQ(st.status, 200) << st.body;
  auto mb = st.j()["buckets"];
  ASSERT_EQ(mb.size(), 5u) << st.body;
  EXPECT_EQ(mb[0]["time"], iso(b0));
  EXPECT_EQ(mb[0]["checks"], 1);
  EXPECT_EQ(mb[0]["failures"], 0);
  EXPECT_EQ(mb[0]["uptime"], 1.0);
  EXPECT_EQ(mb[0]["avg_latency_us"], 100000);
  EXPECT_EQ(mb[1]["failures"], 1);
  EXPECT_EQ(mb[1]["uptime"], 0.0);
  EXPECT_TRUE(mb[1]["avg_latency_us"].is_null());
  EXPECT_TRUE(mb[1]["min_latency_us"].is_null());
  // Per hour and per day: one bucket with all five.
  for (std::string res : {"hour", "day"}) {
    auto r = call("GET", "/api/v1/monitors/" + site + "/stats?resolution=" + res + "&from=" + iso(b0) +
                             "&to=" + iso(b0 + hour_us),
                  a);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.j()["resolution"], res);
    ASSERT_EQ(r.j()["buckets"].size(), 1u) << r.body;
    auto b = r.j()["buckets"][0];
    EXPECT_EQ(b["time"], res == "hour" ? iso(b0) : day_of(b0) + "T00:00:00.000000Z");
    EXPECT_EQ(b["checks"], 5);
    EXPECT_EQ(b["failures"], 2);
    EXPECT_DOUBLE_EQ(b["uptime"].get<double>(), 0.6);
    EXPECT_EQ(b["avg_latency_us"], 200000);
    EXPECT_EQ(b["min_latency_us"], 100000);
    EXPECT_EQ(b["max_latency_us"], 300000);
  }
  // The default: hours of the last 24 hours.
  auto def = call("GET", "/api/v1/monitors/" + site + "/stats", a);
  ASSERT_EQ(def.status, 200) << def.body;
  EXPECT_EQ(def.j()["resolution"], "hour");
  ASSERT_EQ(def.j()["buckets"].size(), 1u) << def.body;
  // Too wide a range for minutes: refused, saying so.
  auto wide = call("GET", "/api/v1/monitors/" + site + "/stats?resolution=minute&from=" + iso(b0 - 3 * day_us), a);
  EXPECT_EQ(wide.status, 422) << wide.body;
  EXPECT_EQ(wide.j()["error"]["details"][0]["field"], "from") << wide.body;
  EXPECT_NE(wide.body.find("2000"), std::string::npos) << wide.body;

  // Incidents: site's closed one (2 minutes), api's open one, newest first.
  auto inc = get_until("/api/v1/incidents", a, [](const json& j) {
    return j["items"].size() == 2 && j["items"][1]["state"] == "closed";
  });
  ASSERT_EQ(inc.status, 200) << inc.body;
  auto is = inc.j()["items"];
  ASSERT_EQ(is.size(), 2u) << inc.body;
  EXPECT_EQ(is[0]["monitor_id"], api);
  EXPECT_EQ(is[0]["state"], "open");
  EXPECT_TRUE(is[0]["closed_at"].is_null());
  EXPECT_EQ(is[1]["monitor_id"], site);
  EXPECT_EQ(is[1]["opened_at"], iso(b0 + minute_us));
  EXPECT_EQ(is[1]["closed_at"], iso(b0 + 3 * minute_us));
  EXPECT_EQ(is[1]["duration_ms"], 120000);
  const std::string site_incident = is[1]["incident_id"];
  auto open = call("GET", "/api/v1/incidents?state=open", a);
  ASSERT_EQ(open.j()["items"].size(), 1u) << open.body;
  EXPECT_EQ(open.j()["items"][0]["monitor_id"], api);
  auto by_monitor = call("GET", "/api/v1/incidents?monitor_id=" + site + "&state=closed", a);
  ASSERT_EQ(by_monitor.j()["items"].size(), 1u) << by_monitor.body;
  EXPECT_EQ(by_monitor.j()["items"][0]["incident_id"], site_incident);
  EXPECT_EQ(call("GET", "/api/v1/incidents?from=" + iso(b0 + 5 * minute_us) + "&to=" + iso(b0 + hour_us), a)
                .j()["items"]
                .size(),
            1u);
  auto first = call("GET", "/api/v1/incidents?limit=1", a);
  ASSERT_EQ(first.j()["items"].size(), 1u);
  auto second = call("GET", "/api/v1/incidents?limit=1&cursor=" + first.j()["next_cursor"].get<std::string>(), a);
  ASSERT_EQ(second.status, 200) << second.body;
  ASSERT_EQ(second.j()["items"].size(), 1u);
  EXPECT_EQ(second.j()["items"][0]["incident_id"], site_incident);
  EXPECT_TRUE(second.j()["next_cursor"].is_null());
  auto one = call("GET", "/api/v1/incidents/" + site_incident, a);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.j(), is[1]);

  // Another tenant's monitor and incident, and unknown ones: 404.
  auto b = signup("b@example.com", "Tenant B");
  auto [bm, bpos] = create_monitor(b, "b-site");
  check(b, bm, b0, false, 0);
  auto binc = get_until("/api/v1/incidents", b, [](const json& j) { return j["items"].size() == 1; });
  ASSERT_EQ(binc.j()["items"].size(), 1u) << binc.body;
  const std::string b_incident = binc.j()["items"][0]["incident_id"];
  ASSERT_EQ(call("GET", "/api/v1/monitors/" + bm + "/heartbeats", b).j()["items"].size(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/monitors/" + bm + "/heartbeats", a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/monitors/" + bm + "/stats", a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/incidents/" + b_incident, a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/incidents?monitor_id=" + bm, a).j()["items"].size(), 0u);
  EXPECT_EQ(call("GET", "/api/v1/incidents", a).j()["items"].size(), 2u);
  EXPECT_EQ(call("GET", "/api/v1/monitors/m_none/heartbeats", a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/monitors/m_none/stats", a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/incidents/none", a).status, 404);
}

TEST_P(HistoryApiTest, UsageAndInvoices) {
  auto a = signup("a@example.com", "Tenant A");
  auto [site, pos] = create_monitor(a, "site");
  const std::int64_t now = kw::now().get();
  // Three checks in the last hour (today's, or yesterday's just after
  // midnight: the range below covers both).
  for (int i = 0; i < 3; ++i) check(a, site, now - hour_us + i * minute_us, i != 1, 1000);
  const std::string from = day_of(now - hour_us), to = day_of(now);
  auto u = get_until("/api/v1/usage?from=" + from + "&to=" + to, a, [](const json& j) {
    return j["totals"]["checks"] == 3 && j["totals"]["peak_active_monitors"] == 1;
  });
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(u.j()["from"], from);
  EXPECT_EQ(u.j()["to"], to);
  EXPECT_EQ(u.j()["days"].size(), from == to ? 1u : 2u);
  EXPECT_EQ(u.j()["days"].back()["day"], to);
  EXPECT_EQ(u.j()["totals"]["checks"], 3);
  EXPECT_EQ(u.j()["totals"]["notifications"], 0);
  EXPECT_EQ(u.j()["totals"]["api_calls"], 0);
  EXPECT_EQ(u.j()["totals"]["peak_active_monitors"], 1);
  EXPECT_GE(u.j()["totals"]["monitor_hours"].get<double>(), 0.0);
  EXPECT_LT(u.j()["totals"]["monitor_hours"].get<double>(), 1.0);
  // The same days named by times (unix seconds, RFC 3339).
  auto by_time = call("GET", "/api/v1/usage?from=" + std::to_string((now - hour_us) / 1000000) + "&to=" + iso(now), a);
  ASSERT_EQ(by_time.status, 200) << by_time.body;
  EXPECT_EQ(by_time.j()["from"], from);
  EXPECT_EQ(by_time.j()["to"], to);
  EXPECT_EQ(by_time.j()["totals"]["checks"], 3);  // monitor-hours grow with the clock
  // The default: the current month, day by day.
  auto month = call("GET", "/api/v1/usage", a);
  ASSERT_EQ(month.status, 200) << month.body;
  EXPECT_EQ(month.j()["from"], to.substr(0, 8) + "01");
  EXPECT_EQ(month.j()["to"], to);
  EXPECT_EQ(month.j()["days"].size(), std::size_t(std::stoi(to.substr(8, 2))));

  // Invoices: B's month is closed first, and A sees none of it.
  sql("UPDATE plans SET base_price_cents = 900, monitor_price_cents = 25 WHERE name = 'free'");
  const std::string first_of_month = to.substr(0, 8) + "01", invoice_id = to.substr(0, 7);
  auto b = signup("b@example.com", "Tenant B");
  const std::string ta = a["tenant_id"], tb = b["tenant_id"];
  ASSERT_NO_FATAL_FAILURE(wait_sql("SELECT count(*) > 0 FROM billing_plan_periods WHERE tenant_id = '" + tb + "'"));
  ASSERT_EQ(sql("SELECT billing_close_month('" + tb + "', '" + first_of_month + "')"), "t");
  EXPECT_EQ(call("GET", "/api/v1/invoices", a).j()["items"].size(), 0u);
  EXPECT_EQ(call("GET", "/api/v1/invoices/" + invoice_id, a).status, 404);
  ASSERT_EQ(call("GET", "/api/v1/invoices/" + invoice_id, b).status, 200);
  // A's month, with its monitor.
  ASSERT_NO_FATAL_FAILURE(wait_sql("SELECT count(*) > 0 FROM billing_plan_periods WHERE tenant_id = '" + ta + "'"));
  ASSERT_NO_FATAL_FAILURE(
      wait_sql("SELECT count(*) > 0 FROM billing_monitor_periods WHERE tenant_id = '" + ta + "'"));
  ASSERT_EQ(sql("SELECT billing_close_month('" + ta + "', '" + first_of_month + "')"), "t");
  auto list = call("GET", "/api/v1/invoices", a);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.j()["items"].size(), 1u) << list.body;
  EXPECT_EQ(list.j()["items"][0]["invoice_id"], invoice_id);
  EXPECT_EQ(list.j()["items"][0]["month"], first_of_month);
  EXPECT_EQ(list.j()["items"][0]["currency"], "USD");
  auto inv = call("GET", "/api/v1/invoices/" + invoice_id, a);
  ASSERT_EQ(inv.status, 200) << inv.body;
  auto lines = inv.j()["lines"];
  ASSERT_EQ(lines.size(), 2u) << inv.body;
  EXPECT_EQ(lines[0]["line_no"], 1);
  EXPECT_EQ(lines[0]["kind"], "base");
  EXPECT_EQ(lines[0]["plan"], "free");
  EXPECT_EQ(lines[0]["unit_price_cents"], 900);
  EXPECT_EQ(lines[1]["kind"], "monitors");
  EXPECT_EQ(lines[1]["unit_price_cents"], 25);
  EXPECT_GT(lines[1]["quantity"].get<double>(), 0.0);
  EXPECT_EQ(inv.j()["total_cents"],
            lines[0]["amount_cents"].get<long long>() + lines[1]["amount_cents"].get<long long>());
  EXPECT_EQ(inv.j()["total_cents"].get<long long>(),
            std::stoll(sql("SELECT total_cents FROM invoices WHERE tenant_id = '" + ta + "'")));
  EXPECT_EQ(call("GET", "/api/v1/invoices/2026-13", a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/invoices/nonsense", a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/invoices/2001-01", a).status, 404);

  // Billing is for owners, admins and auditors.
  auto viewer = add_member(a, "viewer@example.com", "viewer");
  auto member = add_member(a, "member@example.com", "member");
  auto auditor = add_member(a, "auditor@example.com", "auditor");
  for (const auto* who : {&viewer, &member})
    for (const std::string& t : std::vector<std::string>{"/api/v1/usage", "/api/v1/invoices", "/api/v1/invoices/" + invoice_id}) {
      auto r = call("GET", t, *who);
      EXPECT_EQ(r.status, 403) << t << " " << r.body;
    }
  EXPECT_EQ(call("GET", "/api/v1/usage", auditor).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/invoices/" + invoice_id, auditor).status, 200);
}

TEST_P(HistoryApiTest, AuditShowsTheApiWritesByTheUserFromTheirAddress) {
  auto a = signup("a@example.com", "Tenant A");
  const std::string user = a["user_id"];
  auto [m1, p1] = create_monitor(a, "one");
  auto [m2, p2] = create_monitor(a, "two");
  auto renamed = call("PATCH", "/api/v1/monitors/" + m1, a, json{{"name", "uno"}}.dump());
  ASSERT_EQ(renamed.status, 200) << renamed.body;

  auto log = get_until("/api/v1/audit?entity=monitor/" + m1, a, [](const json& j) { return j["items"].size() == 2; });
  ASSERT_EQ(log.status, 200) << log.body;
  auto rows = log.j()["items"];
  ASSERT_EQ(rows.size(), 2u) << log.body;
  // Oldest first: created (nothing before), then renamed.
  for (auto& r : rows) {
    EXPECT_EQ(r["actor"]["kind"], "user") << r;
    EXPECT_EQ(r["actor"]["id"], user) << r;
    EXPECT_EQ(r["actor"]["ip"], "127.0.0.1") << r;
    EXPECT_EQ(r["entity"], "monitor/" + m1);
    EXPECT_FALSE(r["hash"].get<std::string>().empty());
    EXPECT_TRUE(r["prevhash"].is_string());
    EXPECT_GE(r["offset"].get<long long>(), 0);
  }
  EXPECT_EQ(rows[0]["action"], "keepwatch.monitor.created.v2");
  EXPECT_TRUE(rows[0]["before"].is_null());
  EXPECT_EQ(rows[0]["after"]["config"]["name"], "one");
  EXPECT_EQ(rows[1]["action"], "keepwatch.monitor.updated.v2");
  EXPECT_EQ(rows[1]["before"]["config"]["name"], "one");
  EXPECT_EQ(rows[1]["after"]["config"]["name"], "uno");
  EXPECT_LE(rows[0]["time"].get<std::string>(), rows[1]["time"].get<std::string>());

  // Filtered by action: both creations; all rows paged one at a time come
  // back in order and whole.
  auto created = call("GET", "/api/v1/audit?action=keepwatch.monitor.created.v2", a);
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_EQ(created.j()["items"].size(), 2u) << created.body;
  EXPECT_EQ(created.j()["items"][1]["entity"], "monitor/" + m2);
  auto all = call("GET", "/api/v1/audit?limit=200", a);
  ASSERT_EQ(all.status, 200);
  json paged = json::array();
  std::string target = "/api/v1/audit?limit=1";
  for (int pages = 0; pages < 50; ++pages) {
    auto r = call("GET", target, a);
    ASSERT_EQ(r.status, 200) << r.body;
    const json page = r.j();
    for (auto& it : page["items"]) paged.push_back(it);
    if (r.j()["next_cursor"].is_null()) break;
    target = "/api/v1/audit?limit=1&cursor=" + r.j()["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(paged, all.j()["items"]);
  EXPECT_GE(paged.size(), 4u);  // the tenant, the owner, two monitors, a rename
  // A time window past everything: empty.
  EXPECT_EQ(call("GET", "/api/v1/audit?from=" + std::to_string(kw::now().get() / 1000000 + 3600), a)
                .j()["items"]
                .size(),
            0u);

  // The audit log is for owners and auditors; another tenant sees only its own.
  auto viewer = add_member(a, "viewer@example.com", "viewer");
  auto member = add_member(a, "member@example.com", "member");
  auto auditor = add_member(a, "auditor@example.com", "auditor");
  EXPECT_EQ(call("GET", "/api/v1/audit", viewer).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/audit", member).status, 403);
  auto seen = call("GET", "/api/v1/audit?entity=monitor/" + m1, auditor);
  ASSERT_EQ(seen.status, 200) << seen.body;
  EXPECT_EQ(seen.j()["items"].size(), 2u);
  auto b = signup("b@example.com", "Tenant B");
  EXPECT_EQ(call("GET", "/api/v1/audit?entity=monitor/" + m1, b).j()["items"].size(), 0u);
}

TEST_P(HistoryApiTest, BadQueryParametersAre422sNamingThemAndChangeNothing) {
  auto a = signup("a@example.com", "Tenant A");
  auto [m, pos] = create_monitor(a, "site");
  ASSERT_EQ(get_until("/api/v1/monitors/" + m + "?wait_for=" + pos, a, [](const json&) { return true; }).status, 200);
  const std::string hb = "/api/v1/monitors/" + m + "/heartbeats";
  const std::string st = "/api/v1/monitors/" + m + "/stats";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {hb + "?bogus=1", "bogus"},
      {hb + "?from=yesterday", "from"},
      {hb + "?to=2026-11-24T25:00:00Z", "to"},
      {hb + "?from=2026-11-24T10:00:00Z&to=2026-11-24T09:00:00Z", "from"},
      {hb + "?limit=0", "limit"},
      {hb + "?limit=many", "limit"},
      {hb + "?cursor=%21%21%21", "cursor"},
      {hb + "?cursor=" + gateway::to_cursor("not-a-key"), "cursor"},
      {st + "?resolution=week", "resolution"},
      {st + "?resolution=hour&from=0", "from"},  // 1970 to now in hours
      {st + "?window=1", "window"},
      {"/api/v1/incidents?state=resolved", "state"},
      {"/api/v1/incidents?from=soon", "from"},
      {"/api/v1/incidents?sort=asc", "sort"},
      {"/api/v1/incidents/x?verbose=1", "verbose"},
      {"/api/v1/usage?from=2026-13-01", "from"},
      {"/api/v1/usage?from=2026-11-20&to=2026-11-10", "from"},
      {"/api/v1/usage?from=2020-01-01&to=2026-01-01", "from"},
      {"/api/v1/usage?month=2026-11", "month"},
      {"/api/v1/invoices?limit=201", "limit"},
      {"/api/v1/invoices?cursor=" + gateway::to_cursor("last"), "cursor"},
      {"/api/v1/invoices?year=2026", "year"},
      {"/api/v1/audit?actor=me", "actor"},
      {"/api/v1/audit?to=tomorrow", "to"},
      {"/api/v1/audit?cursor=" + gateway::to_cursor("1:x:y"), "cursor"},
  };
  const auto before = events_in_log();
  for (auto& [target, field] : cases) {
    auto r = call("GET", target, a);
    EXPECT_EQ(r.status, 422) << target << " " << r.body;
    bool named = false;
    const json answer = r.j();
    for (auto& d : answer["error"]["details"]) named = named || d["field"] == field;
    EXPECT_TRUE(named) << target << " should name " << field << ": " << r.body;
  }
  EXPECT_EQ(events_in_log(), before);
  // Well-formed reads answer, stale-flagged only when asked to wait for an
  // offset the projection has not reached.
  auto fresh = call("GET", hb + "?wait_for=" + pos, a);
  EXPECT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(fresh.header("x-keepwatch-stale"), "");
  auto stale = call("GET", "/api/v1/incidents?wait_for=0:999999999&wait_ms=0", a);
  EXPECT_EQ(stale.status, 200) << stale.body;
  EXPECT_EQ(stale.header("x-keepwatch-stale"), "true");
}

KW_API_TEST_SUITE(HistoryApiTest);
