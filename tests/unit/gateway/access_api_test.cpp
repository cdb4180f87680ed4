// Who may do what, through the real server on both logs: the platform admin
// made at first start, X-Tenant-ID, and the role table of the README, every
// cell — each caller kind against every route of API v1.
//
// The sweep changes nothing: a caller the table allows gets past the check
// and is stopped by the request itself (an unknown id: 404; an invalid body:
// 422), a caller it refuses gets 403 "forbidden", and the log is unchanged at
// the end. The one route that cannot be sent harmlessly (deleting one's own
// tenant) is swept with the refused callers, then done by the owner.
#include "api_fixture.hpp"

#include <pqxx/pqxx>

#include "gateway/api_context.hpp"
#include "gateway/tokens.hpp"

using namespace kw;
using namespace kw::test;
using kw::gateway::action;

namespace {

struct route_case {
  std::string method;
  std::string pattern;  // as registered
  std::string target;   // what is sent
  std::string body;     // "" for none
  action act;
};

// Every authenticated route of API v1 with the action it needs. Ids are
// unknown ones, bodies invalid ones, so that an allowed caller changes
// nothing.
std::vector<route_case> route_table() {
  const std::string bad = R"({"unknown_field": 1})";
  return {
      {"GET", "/api/v1/monitors", "/api/v1/monitors", "", action::read},
      {"POST", "/api/v1/monitors", "/api/v1/monitors", bad, action::manage_monitors},
      {"GET", "/api/v1/monitors/{id}", "/api/v1/monitors/m_none", "", action::read},
      {"PATCH", "/api/v1/monitors/{id}", "/api/v1/monitors/m_none", bad, action::manage_monitors},
      {"POST", "/api/v1/monitors/{id}/pause", "/api/v1/monitors/m_none/pause", "", action::manage_monitors},
      {"POST", "/api/v1/monitors/{id}/resume", "/api/v1/monitors/m_none/resume", "", action::manage_monitors},
      {"DELETE", "/api/v1/monitors/{id}", "/api/v1/monitors/m_none", "", action::manage_monitors},
      {"GET", "/api/v1/monitors/{id}/heartbeats", "/api/v1/monitors/m_none/heartbeats", "", action::read},
      {"GET", "/api/v1/monitors/{id}/stats", "/api/v1/monitors/m_none/stats", "", action::read},
      {"GET", "/api/v1/incidents", "/api/v1/incidents", "", action::read},
      {"GET", "/api/v1/incidents/{id}", "/api/v1/incidents/none", "", action::read},
      {"GET", "/api/v1/usage", "/api/v1/usage", "", action::read_billing},
      {"GET", "/api/v1/invoices", "/api/v1/invoices", "", action::read_billing},
      {"GET", "/api/v1/invoices/{id}", "/api/v1/invoices/2001-01", "", action::read_billing},
      {"GET", "/api/v1/audit", "/api/v1/audit", "", action::read_audit},
      {"GET", "/api/v1/audit/events", "/api/v1/audit/events?from=2000-01-01T00:00:00Z", "", action::read_audit},
      {"GET", "/api/v1/audit/heads", "/api/v1/audit/heads", "", action::read_audit},
      {"GET", "/api/v1/audit/proofs/inclusion", "/api/v1/audit/proofs/inclusion?seq=1&tree_size=1", "",
       action::read_audit},
      {"GET", "/api/v1/audit/proofs/consistency", "/api/v1/audit/proofs/consistency?first=1&second=1", "",
       action::read_audit},
      {"GET", "/api/v1/audit/state", "/api/v1/audit/state?at=2100-01-01T00:00:00Z", "", action::read_audit},
      {"GET", "/api/v1/channels", "/api/v1/channels", "", action::read},
      {"POST", "/api/v1/channels", "/api/v1/channels", bad, action::manage_channels},
      {"GET", "/api/v1/channels/{id}", "/api/v1/channels/c_none", "", action::read},
      {"PATCH", "/api/v1/channels/{id}", "/api/v1/channels/c_none", bad, action::manage_channels},
      {"DELETE", "/api/v1/channels/{id}", "/api/v1/channels/c_none", "", action::manage_channels},
      {"GET", "/api/v1/maintenance", "/api/v1/maintenance", "", action::read},
      {"POST", "/api/v1/maintenance", "/api/v1/maintenance", bad, action::manage_maintenance},
      {"GET", "/api/v1/maintenance/{id}", "/api/v1/maintenance/w_none", "", action::read},
      {"DELETE", "/api/v1/maintenance/{id}", "/api/v1/maintenance/w_none", "", action::manage_maintenance},
      {"GET", "/api/v1/status-pages", "/api/v1/status-pages", "", action::read},
      {"POST", "/api/v1/status-pages", "/api/v1/status-pages", bad, action::manage_status_pages},
      {"GET", "/api/v1/status-pages/{id}", "/api/v1/status-pages/p_none", "", action::read},
      {"PATCH", "/api/v1/status-pages/{id}", "/api/v1/status-pages/p_none", bad, action::manage_status_pages},
      {"DELETE", "/api/v1/status-pages/{id}", "/api/v1/status-pages/p_none", "", action::manage_status_pages},
      {"GET", "/api/v1/members", "/api/v1/members", "", action::read},
      {"POST", "/api/v1/stream/ticket", "/api/v1/stream/ticket", "", action::read},
      {"POST", "/api/v1/members", "/api/v1/members", bad, action::manage_members},
      {"PATCH", "/api/v1/members/{user_id}", "/api/v1/members/u_none", bad, action::manage_members},
      {"DELETE", "/api/v1/members/{user_id}", "/api/v1/members/u_none", "", action::manage_members},
      {"GET", "/api/v1/api-keys", "/api/v1/api-keys", "", action::manage_api_keys},
      {"POST", "/api/v1/api-keys", "/api/v1/api-keys", bad, action::manage_api_keys},
      {"DELETE", "/api/v1/api-keys/{id}", "/api/v1/api-keys/k_none", "", action::manage_api_keys},
      {"GET", "/api/v1/tenant", "/api/v1/tenant", "", action::read},
      {"PATCH", "/api/v1/tenant", "/api/v1/tenant", bad, action::manage_tenant},
      {"GET", "/api/v1/tenants", "/api/v1/tenants", "", action::platform},
      {"POST", "/api/v1/tenants", "/api/v1/tenants", bad, action::platform},
      {"GET", "/api/v1/tenants/{id}", "/api/v1/tenants/no-such-tenant", "", action::platform},
      {"POST", "/api/v1/tenants/{id}/suspend", "/api/v1/tenants/no-such-tenant/suspend", bad, action::platform},
      {"POST", "/api/v1/tenants/{id}/activate", "/api/v1/tenants/no-such-tenant/activate", "", action::platform},
      {"DELETE", "/api/v1/tenants/{id}", "/api/v1/tenants/no-such-tenant", "", action::platform},
  };
}

// Routes a signed-in caller reaches without the role table.
const std::set<std::string> open_routes = {
    "GET /healthz",          "GET /readyz",          "GET /api/v1/openapi.json", "POST /api/v1/auth/signup",
    "POST /api/v1/auth/login", "POST /api/v1/auth/refresh", "POST /api/v1/auth/logout", "GET /api/v1/me",
};

}  // namespace

class AccessApiTest : public api_test {
protected:
  // An API key of the owner's tenant with `scope`: the key itself.
  std::string api_key(const json& owner, const std::string& scope) {
    const std::string t = owner["tenant_id"];
    const std::string key = "kw_" + t + "_" + gateway::random_hex(32);
    command_meta m;
    m.command_id = new_id();
    m.actor = actor_ref{"user", owner["user_id"].get<std::string>(), "127.0.0.1"};
    m.time = kw::now();
    auto r = node_->execute(
        tenant::command{m, tenant::create_api_key{"k_" + gateway::random_hex(6), scope, gateway::sha256_of(key), scope}},
        tenant_id{t});
    EXPECT_TRUE(r.ok()) << r.err().message;
    return key;
  }
};

TEST_P(AccessApiTest, PlatformAdminFromTheOptionsActsOnATenantNamedByHeader) {
  auto a = signup("a@example.com", "Tenant A");
  auto admin = platform_admin();
  ASSERT_FALSE(admin.value("access_token", "").empty());
  EXPECT_EQ(admin["role"], "platform_admin");
  auto me = call("GET", "/api/v1/me", admin);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.j()["role"], "platform_admin");
  // A tenant route without X-Tenant-ID is a 400; with it, the tenant's data.
  EXPECT_EQ(call("GET", "/api/v1/monitors", admin).status, 400);
  auto list = call("GET", "/api/v1/monitors", admin, "", {{"X-Tenant-ID", a["tenant_id"].get<std::string>()}});
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(call("GET", "/api/v1/monitors", admin, "", {{"X-Tenant-ID", "no-such-tenant"}}).status, 404);
  // A tenant's own user naming another tenant gets a 404.
  auto b = signup("b@example.com", "Tenant B");
  auto cross = call("GET", "/api/v1/monitors", a, "", {{"X-Tenant-ID", b["tenant_id"].get<std::string>()}});
  EXPECT_EQ(cross.status, 404) << cross.body;
  EXPECT_EQ(call("GET", "/api/v1/monitors", a, "", {{"X-Tenant-ID", a["tenant_id"].get<std::string>()}}).status,
            200);
}

TEST_P(AccessApiTest, TheRoleTableEveryCell) {
  auto owner = signup("owner@example.com", "Tenant A");
  const std::string t = owner["tenant_id"];
  std::vector<std::pair<std::string, std::string>> callers = {
      {"owner", owner["access_token"]},
      {"admin", add_member(owner, "admin@example.com", "admin")["access_token"]},
      {"member", add_member(owner, "member@example.com", "member")["access_token"]},
      {"viewer", add_member(owner, "viewer@example.com", "viewer")["access_token"]},
      {"auditor", add_member(owner, "auditor@example.com", "auditor")["access_token"]},
      {"key:read", api_key(owner, "read")},
      {"key:read_write", api_key(owner, "read_write")},
      {"platform_admin", platform_admin()["access_token"]},
  };
  // The table names every authenticated route there is.
  std::set<std::string> tabled;
  for (auto& rc : route_table()) tabled.insert(rc.method + " " + rc.pattern);
  tabled.insert("DELETE /api/v1/tenant");  // swept below, last
  for (auto& r : api_->routes().routes()) {
    const std::string k = r.method + " " + r.pattern;
    if (open_routes.count(k) || r.pattern.rfind("/status/", 0) == 0 || r.pattern.rfind("/api/v1/push/", 0) == 0 ||
        r.pattern == "/metrics" || r.pattern == "/api/v1/stream" || r.pattern == "/" || r.pattern.rfind("/app/", 0) == 0 ||
        r.pattern.rfind("/assets/", 0) == 0)
      continue;
    EXPECT_TRUE(tabled.count(k)) << k << " is missing from this test's route table";
  }
  const auto before = events_in_log();
  int cells = 0;
  for (auto& rc : route_table()) {
    for (auto& [who, cred] : callers) {
      std::vector<std::pair<std::string, std::string>> h;
      if (who == "platform_admin" && rc.act != action::platform) h.emplace_back("X-Tenant-ID", t);
      auto r = call(rc.method, rc.target, cred, rc.body, h);
      const bool allowed = gateway::may(who, rc.act);
      if (allowed) {
        EXPECT_NE(r.status, 403) << who << " " << rc.method << " " << rc.target << ": " << r.body;
        EXPECT_NE(r.status, 401) << who << " " << rc.method << " " << rc.target << ": " << r.body;
        EXPECT_LT(r.status, 500) << who << " " << rc.method << " " << rc.target << ": " << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << who << " " << rc.method << " " << rc.target << ": " << r.body;
        EXPECT_EQ(r.j()["error"]["code"], "forbidden") << r.body;
      }
      ++cells;
    }
  }
  EXPECT_EQ(cells, int(route_table().size() * callers.size()));
  EXPECT_EQ(events_in_log(), before) << "the sweep must change nothing";

  // Deleting one's own tenant: every refused caller first, then the owner.
  for (auto& [who, cred] : callers) {
    if (gateway::may(who, action::manage_tenant)) continue;
    auto r = call("DELETE", "/api/v1/tenant", cred);
    EXPECT_EQ(r.status, 403) << who << ": " << r.body;
  }
  EXPECT_EQ(events_in_log(), before);
  EXPECT_TRUE(gateway::may("owner", action::manage_tenant));
  auto gone = call("DELETE", "/api/v1/tenant", owner["access_token"].get<std::string>());
  EXPECT_EQ(gone.status, 200) << gone.body;
  auto t_state = node_->tenant_state(tenant_id{t});
  ASSERT_TRUE(t_state.ok());
  EXPECT_EQ(t_state->status, tenant::tenant_status::deleted);
}

TEST_P(AccessApiTest, MetricsCountRequestsCommandsAndTheNodesFigures) {
  auto a = signup("a@example.com", "Tenant A");
  auto made = call("POST", "/api/v1/monitors", a, R"({"name":"m","url":"https://a.example/"})");
  ASSERT_EQ(made.status, 201) << made.body;
  ASSERT_EQ(call("GET", "/api/v1/monitors?wait_for=" + position(made.j()), a).status, 200);
  ASSERT_EQ(call("POST", "/api/v1/monitors", a, R"({"name":5})").status, 422);
  // The projection's first batch (on Kafka, after its group has formed).
  http_reply m;
  EXPECT_TRUE(eventually(
      [&] {
        m = call("GET", "/metrics", std::string(metrics_token()));
        return m.body.find(R"(keepwatch_projection_lag{projection="dashboard"})") != std::string::npos;
      },
      30));
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos);
  const std::string& t = m.body;
  EXPECT_NE(t.find(R"(keepwatch_http_requests_total{method="GET",route="/api/v1/monitors",status="200"} 1)"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("keepwatch_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(t.find(R"(keepwatch_commands_total{kind="POST /api/v1/monitors",outcome="ok"} 1)"), std::string::npos)
      << t;
  EXPECT_NE(t.find(R"(keepwatch_commands_total{kind="POST /api/v1/monitors",outcome="invalid"} 1)"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("keepwatch_active_monitors 1"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(keepwatch_log_appended_total{topic="events"})"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(keepwatch_projection_lag{projection="dashboard"})"), std::string::npos) << t;
}

KW_API_TEST_SUITE(AccessApiTest);

// API calls are counted per tenant and reach the usage read model.
class ApiCallsApiTest : public api_test {
protected:
  using api_test::tweak;
  void tweak(gateway::api_options& o) override { o.api_calls_flush_s = 1; }
};

TEST_P(ApiCallsApiTest, CallsAreCountedPerTenantIntoUsage) {
  auto a = signup("a@example.com", "Tenant A");
  auto b = signup("b@example.com", "Tenant B");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(call("GET", "/api/v1/monitors", a).status, 200);
  ASSERT_EQ(call("GET", "/api/v1/monitors", b).status, 200);
  // A's 5 lists, then the usage reads themselves, as they are counted too.
  auto calls_of = [&](const json& who) -> long long {
    auto r = call("GET", "/api/v1/usage", who);
    if (r.status != 200) return -1;
    return r.j()["totals"].value("api_calls", 0LL);
  };
  // Polled slowly: each poll is an API call too, within the plan's rate.
  auto poll = [&](const json& who, long long at_least) {
    long long n = -1;
    for (int i = 0; i < 60 && (n = calls_of(who)) < at_least; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return n;
  };
  const long long seen_a = poll(a, 5);
  EXPECT_GE(seen_a, 5) << call("GET", "/api/v1/usage", a).body;
  const long long seen_b = poll(b, 1);
  EXPECT_GE(seen_b, 1);
  EXPECT_EQ(scalar(url_, "SELECT count(DISTINCT tenant_id) FROM usage_daily WHERE api_calls > 0"), "2");
  // The events are in the log, sent by the system.
  auto st = node_->tenant_state(tenant_id{a["tenant_id"].get<std::string>()});
  ASSERT_TRUE(st.ok());
  EXPECT_GT(st->version, 1);
}

KW_API_TEST_SUITE(ApiCallsApiTest);
