// Tenants through API v1, on both logs: the owner's own tenant (read,
// rename, change plan, delete) and the platform admin's tenants (create with
// an owner, list, read, suspend, activate, delete). A suspended tenant is
// refused with 403 "suspended" and appends nothing until it is activated; a
// deleted tenant's owner cannot log in. Tenant callers get 403 on platform
// routes, unknown tenants are 404s, bad bodies 4xx with nothing appended.
#include "api_fixture.hpp"

#include <set>

using namespace kw;
using namespace kw::test;

class TenantsApiTest : public api_test {
protected:
  // Creates a tenant as the platform admin; the write's answer.
  json create(const json& admin, const std::string& name, const std::string& email, const std::string& plan = "free") {
    auto r = call("POST", "/api/v1/tenants", admin,
                  json{{"name", name}, {"plan", plan}, {"owner_email", email}, {"owner_password", test_password()}}
                      .dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j();
  }

  // GET `target` once the read model has `pos`.
  http_reply read_after(const std::string& target, const json& who, const std::string& pos,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    const char* sep = target.find('?') == std::string::npos ? "?" : "&";
    auto r = call("GET", target + sep + "wait_for=" + pos + "&wait_ms=10000", who, "", std::move(headers));
    EXPECT_EQ(r.header("x-keepwatch-stale"), "") << target;
    return r;
  }

  static std::string monitor() {
    return json{{"name", "site"}, {"url", "https://a.example/"}, {"interval_s", 60}}.dump();
  }

  // The tenant ids of every page of GET /api/v1/tenants (limit 1).
  std::vector<std::string> all_tenants(const json& admin, const std::string& query) {
    std::vector<std::string> ids;
    std::string cursor;
    for (int pages = 0; pages < 20; ++pages) {
      auto r = call("GET", "/api/v1/tenants?limit=1" + query + (cursor.empty() ? "" : "&cursor=" + cursor), admin);
      EXPECT_EQ(r.status, 200) << r.body;
      const json page = r.j();
      for (auto& t : page["items"]) ids.push_back(t["tenant_id"]);
      if (page["next_cursor"].is_null()) break;
      cursor = page["next_cursor"];
    }
    return ids;
  }
};

TEST_P(TenantsApiTest, PlatformAdminCreatesListsSuspendsActivatesAndDeletesTenants) {
  auto admin = platform_admin();
  auto other = signup("other@example.com", "Other Co");
  auto made = create(admin, "Acme Corp", "Boss@Acme.example", "test");
  const std::string t = made["tenant_id"];
  EXPECT_EQ(t.rfind("acme-corp-", 0), 0u) << t;
  EXPECT_EQ(made["event_ids"].size(), 1u);

  // The owner logs in at once, as the owner of the new tenant.
  auto owner = login("boss@acme.example");
  EXPECT_EQ(owner["role"], "owner");
  EXPECT_EQ(owner["tenant_id"], t);
  EXPECT_EQ(owner["user_id"], made["owner_user_id"]);

  auto one = read_after("/api/v1/tenants/" + t, admin, position(made));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.j()["name"], "Acme Corp");
  EXPECT_EQ(one.j()["plan"], "test");
  EXPECT_EQ(one.j()["status"], "active");

  // Every tenant, page by page (once the other tenant's partition is read).
  auto other_write = call("POST", "/api/v1/monitors", other, monitor());
  ASSERT_EQ(other_write.status, 201) << other_write.body;
  EXPECT_EQ(read_after("/api/v1/tenant", other, position(other_write.j())).status, 200);
  auto ids = all_tenants(admin, "");
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
            (std::set<std::string>{t, other["tenant_id"].get<std::string>()}));
  EXPECT_EQ(ids.size(), 2u);

  auto created = call("POST", "/api/v1/monitors", owner, monitor());
  ASSERT_EQ(created.status, 201) << created.body;

  // Suspended: reads and writes are refused as "suspended", nothing appended.
  auto suspended = call("POST", "/api/v1/tenants/" + t + "/suspend", admin, R"({"reason":"unpaid invoices"})");
  ASSERT_EQ(suspended.status, 200) << suspended.body;
  const auto before = events_in_log();
  auto get = call("GET", "/api/v1/monitors", owner);
  EXPECT_EQ(get.status, 403) << get.body;
  EXPECT_EQ(get.j()["error"]["code"], "suspended");
  auto post = call("POST", "/api/v1/monitors", owner, monitor());
  EXPECT_EQ(post.status, 403) << post.body;
  EXPECT_EQ(post.j()["error"]["code"], "suspended");
  EXPECT_EQ(events_in_log(), before);
  // Suspending again is refused by the tenant as suspended, and appends nothing.
  auto again = call("POST", "/api/v1/tenants/" + t + "/suspend", admin, R"({"reason":"again"})");
  EXPECT_EQ(again.status, 403) << again.body;
  EXPECT_EQ(again.j()["error"]["code"], "suspended");
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(read_after("/api/v1/tenants/" + t, admin, position(suspended.j())).j()["status"], "suspended");
  EXPECT_EQ(all_tenants(admin, "&status=suspended"), std::vector<std::string>{t});
  // The other tenant is untouched.
  EXPECT_EQ(call("GET", "/api/v1/monitors", other).status, 200);

  // Activated: normal service.
  auto activated = call("POST", "/api/v1/tenants/" + t + "/activate", admin);
  ASSERT_EQ(activated.status, 200) << activated.body;
  EXPECT_EQ(call("GET", "/api/v1/monitors", owner).status, 200);
  EXPECT_EQ(call("POST", "/api/v1/monitors", owner, monitor()).status, 201);
  EXPECT_EQ(call("POST", "/api/v1/tenants/" + t + "/activate", admin, "{}").status, 409);
  EXPECT_EQ(read_after("/api/v1/tenants/" + t, admin, position(activated.j())).j()["status"], "active");

  // Deleted: the owner can no longer log in, nor use their token.
  auto deleted = call("DELETE", "/api/v1/tenants/" + t, admin);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(),
                 json{{"email", "boss@acme.example"}, {"password", test_password()}}.dump())
                .status,
            401);
  EXPECT_EQ(call("GET", "/api/v1/monitors", owner).status, 401);
  EXPECT_EQ(read_after("/api/v1/tenants/" + t, admin, position(deleted.j())).j()["status"], "deleted");
  EXPECT_EQ(all_tenants(admin, "&status=deleted"), std::vector<std::string>{t});
  EXPECT_EQ(call("DELETE", "/api/v1/tenants/" + t, admin).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/tenants/" + t + "/suspend", admin, R"({"reason":"x"})").status, 404);
  // The email is free for a new tenant.
  EXPECT_EQ(create(admin, "Acme Again", "boss@acme.example").value("tenant_id", "").empty(), false);
}

TEST_P(TenantsApiTest, TheOwnerReadsRenamesRePlansAndDeletesTheirTenant) {
  auto owner = signup("owner@example.com", "Tenant A");
  const std::string t = owner["tenant_id"];
  auto admin_reply =
      call("POST", "/api/v1/members", owner,
           json{{"email", "admin@example.com"}, {"role", "admin"}, {"password", test_password()}}.dump());
  ASSERT_EQ(admin_reply.status, 201) << admin_reply.body;
  auto admin = login("admin@example.com");

  auto mine = read_after("/api/v1/tenant", owner, position(admin_reply.j()));
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(mine.j()["tenant_id"], t);
  EXPECT_EQ(mine.j()["name"], "Tenant A");
  EXPECT_EQ(mine.j()["plan"], "free");
  EXPECT_EQ(mine.j()["status"], "active");
  EXPECT_EQ(call("GET", "/api/v1/tenant", admin).status, 200);

  // Only the owner manages the tenant.
  const auto before = events_in_log();
  EXPECT_EQ(call("PATCH", "/api/v1/tenant", admin, R"({"name":"Mine now"})").status, 403);
  EXPECT_EQ(call("DELETE", "/api/v1/tenant", admin).status, 403);
  EXPECT_EQ(events_in_log(), before);

  auto both = call("PATCH", "/api/v1/tenant", owner, R"({"name":"Tenant Alpha","plan":"test"})");
  ASSERT_EQ(both.status, 200) << both.body;
  EXPECT_EQ(both.j()["event_ids"].size(), 2u);
  auto now = read_after("/api/v1/tenant", owner, position(both.j()));
  EXPECT_EQ(now.j()["name"], "Tenant Alpha");
  EXPECT_EQ(now.j()["plan"], "test");
  // Nothing to change is a conflict; one field alone is fine.
  EXPECT_EQ(call("PATCH", "/api/v1/tenant", owner, R"({"name":"Tenant Alpha","plan":"test"})").status, 409);
  auto plan = call("PATCH", "/api/v1/tenant", owner, R"({"name":"Tenant Alpha","plan":"free"})");
  ASSERT_EQ(plan.status, 200) << plan.body;
  EXPECT_EQ(plan.j()["event_ids"].size(), 1u);
  // The "test" plan allows 3 monitors: with 4, the owner cannot move to it.
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(call("POST", "/api/v1/monitors", owner,
                   json{{"name", "m" + std::to_string(i)}, {"url", "https://a.example/"}}.dump())
                  .status,
              201);
  EXPECT_EQ(call("PATCH", "/api/v1/tenant", owner, R"({"plan":"test"})").status, 409);
  // A rename with a plan the tenant outgrew: neither happens.
  const auto before_both = events_in_log();
  auto outgrown = call("PATCH", "/api/v1/tenant", owner, R"({"name":"Renamed","plan":"test"})");
  EXPECT_EQ(outgrown.status, 409) << outgrown.body;
  EXPECT_EQ(outgrown.j()["error"]["code"], "quota_exceeded") << outgrown.body;
  EXPECT_EQ(events_in_log(), before_both);
  EXPECT_EQ(call("GET", "/api/v1/tenant", owner).j()["name"], "Tenant Alpha");

  auto deleted = call("DELETE", "/api/v1/tenant", owner);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(call("GET", "/api/v1/tenant", owner).status, 401);
  for (const char* email : {"owner@example.com", "admin@example.com"})
    EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(),
                   json{{"email", email}, {"password", test_password()}}.dump())
                  .status,
              401)
        << email;
  // Its emails are free again.
  auto again = signup("owner@example.com", "Tenant A");
  EXPECT_NE(again["tenant_id"], t);
}

TEST_P(TenantsApiTest, TenantCallersAreRefusedOnPlatformRoutes) {
  auto owner = signup("owner@example.com", "Tenant A");
  auto other = signup("other@example.com", "Tenant B");
  const std::string t = owner["tenant_id"], b = other["tenant_id"];
  auto key = call("POST", "/api/v1/api-keys", owner, R"({"name":"ci","scope":"read_write"})");
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string k = key.j()["key"];
  const auto before = events_in_log();
  const std::string new_tenant = json{{"name", "Mine"},
                                      {"owner_email", "x@example.com"},
                                      {"owner_password", test_password()}}
                                     .dump();
  struct route {
    std::string method, target, body;
  };
  const std::vector<route> routes = {
      {"GET", "/api/v1/tenants", ""},
      {"POST", "/api/v1/tenants", new_tenant},
      {"GET", "/api/v1/tenants/" + b, ""},
      {"GET", "/api/v1/tenants/" + t, ""},
      {"POST", "/api/v1/tenants/" + b + "/suspend", R"({"reason":"x"})"},
      {"POST", "/api/v1/tenants/" + t + "/activate", ""},
      {"DELETE", "/api/v1/tenants/" + b, ""},
      {"DELETE", "/api/v1/tenants/" + t, ""},
  };
  for (const auto& r : routes) {
    for (const std::string& cred : {owner["access_token"].get<std::string>(), k}) {
      auto res = call(r.method, r.target, cred, r.body);
      EXPECT_EQ(res.status, 403) << r.method << " " << r.target << ": " << res.body;
      EXPECT_EQ(res.j()["error"]["code"], "forbidden");
    }
  }
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(call("GET", "/api/v1/monitors", other).status, 200);
  EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(),
                 json{{"email", "x@example.com"}, {"password", test_password()}}.dump())
                .status,
            401);
}

TEST_P(TenantsApiTest, UnknownTenantsAreNotFound) {
  auto admin = platform_admin();
  signup("owner@example.com", "Tenant A");
  const auto before = events_in_log();
  for (const std::string id : {"no-such-tenant-123456", "has%20space", "x%2Fy"}) {
    EXPECT_EQ(call("GET", "/api/v1/tenants/" + id, admin).status, 404) << id;
    EXPECT_EQ(call("POST", "/api/v1/tenants/" + id + "/suspend", admin, R"({"reason":"x"})").status, 404) << id;
    EXPECT_EQ(call("POST", "/api/v1/tenants/" + id + "/activate", admin).status, 404) << id;
    EXPECT_EQ(call("DELETE", "/api/v1/tenants/" + id, admin).status, 404) << id;
  }
  EXPECT_EQ(events_in_log(), before);
}

TEST_P(TenantsApiTest, BadBodiesAreRefusedAndAppendNothing) {
  auto admin = platform_admin();
  auto owner = signup("owner@example.com", "Tenant A");
  const std::string t = owner["tenant_id"];
  const auto before = events_in_log();
  struct bad {
    std::string method, target, body;
    const json* who;
    int status;
    std::string field;
  };
  const std::string tenants = "/api/v1/tenants";
  const std::vector<bad> cases = {
      {"POST", tenants, "{", &admin, 400, ""},
      {"POST", tenants, "[]", &admin, 422, ""},
      {"POST", tenants, R"({"owner_email":"x@example.com","owner_password":"correct horse battery"})", &admin, 422,
       "name"},
      {"POST", tenants, R"({"name":"X","owner_password":"correct horse battery"})", &admin, 422, "owner_email"},
      {"POST", tenants, R"({"name":"X","owner_email":"x@example.com"})", &admin, 422, "owner_password"},
      {"POST", tenants, R"({"name":" ","owner_email":"x@example.com","owner_password":"correct horse battery"})",
       &admin, 422, "name"},
      {"POST", tenants, R"({"name":42,"owner_email":"x@example.com","owner_password":"correct horse battery"})",
       &admin, 422, "name"},
      {"POST", tenants,
       R"({"name":"X","plan":"gold","owner_email":"x@example.com","owner_password":"correct horse battery"})", &admin,
       422, "plan"},
      {"POST", tenants, R"({"name":"X","owner_email":"nope","owner_password":"correct horse battery"})", &admin, 422,
       "owner_email"},
      {"POST", tenants, R"({"name":"X","owner_email":"x@example.com","owner_password":"short"})", &admin, 422,
       "owner_password"},
      {"POST", tenants,
       R"({"name":"X","owner_email":"x@example.com","owner_password":"correct horse battery","tenant_id":"mine"})",
       &admin, 422, "tenant_id"},
      {"POST", tenants, "{\"name\":\"\xc3\x28\",\"owner_email\":\"x@example.com\",\"owner_password\":\"long enough!\"}",
       &admin, 400, ""},
      {"POST", tenants + "/" + t + "/suspend", "", &admin, 415, ""},
      {"POST", tenants + "/" + t + "/suspend", "{}", &admin, 422, "reason"},
      {"POST", tenants + "/" + t + "/suspend", R"({"reason":5})", &admin, 422, "reason"},
      {"POST", tenants + "/" + t + "/suspend", json{{"reason", std::string(501, 'x')}}.dump(), &admin, 422, "reason"},
      {"POST", tenants + "/" + t + "/suspend", R"({"reason":"x","until":"never"})", &admin, 422, "until"},
      {"POST", tenants + "/" + t + "/activate", R"({"now":true})", &admin, 422, "now"},
      {"DELETE", tenants + "/" + t, R"({"hard":true})", &admin, 422, "hard"},
      {"PATCH", "/api/v1/tenant", "{}", &owner, 422, ""},
      {"PATCH", "/api/v1/tenant", R"({"name":""})", &owner, 422, "name"},
      {"PATCH", "/api/v1/tenant", R"({"plan":"gold"})", &owner, 422, "plan"},
      {"PATCH", "/api/v1/tenant", R"({"plan":null})", &owner, 422, "plan"},
      {"PATCH", "/api/v1/tenant", R"({"status":"active"})", &owner, 422, "status"},
      {"PATCH", "/api/v1/tenant", "nope", &owner, 400, ""},
      {"DELETE", "/api/v1/tenant", R"({"really":true})", &owner, 422, "really"},
  };
  for (const auto& c : cases) {
    std::vector<std::pair<std::string, std::string>> h{
        {"Authorization", "Bearer " + (*c.who)["access_token"].get<std::string>()}};
    if (!c.body.empty()) h.emplace_back("Content-Type", "application/json");
    auto r = http_call(server_->port(), c.method, c.target, h, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << c.body << ": " << r.body;
    if (c.status == 422 && !c.field.empty()) {
      const json details = r.j()["error"]["details"];
      bool named = false;
      for (auto& d : details) named = named || d["field"] == c.field;
      EXPECT_TRUE(named) << c.body << ": " << r.body;
    }
  }
  // A taken owner email is a conflict; bad list queries are refused.
  auto taken = call("POST", tenants, admin,
                    json{{"name", "X"}, {"owner_email", "OWNER@example.com"}, {"owner_password", test_password()}}
                        .dump());
  EXPECT_EQ(taken.status, 409) << taken.body;
  EXPECT_EQ(call("GET", "/api/v1/tenants?status=gone", admin).status, 422);
  EXPECT_EQ(call("GET", "/api/v1/tenants?limit=500", admin).status, 422);
  EXPECT_EQ(call("GET", "/api/v1/tenants?plan=free", admin).status, 422);
  EXPECT_EQ(events_in_log(), before);
  // The tenant is as it was.
  EXPECT_EQ(call("GET", "/api/v1/monitors", owner).status, 200);
  EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(),
                 json{{"email", "x@example.com"}, {"password", test_password()}}.dump())
                .status,
            401);
}

TEST_P(TenantsApiTest, XTenantIdLetsThePlatformAdminReadAnotherTenant) {
  auto admin = platform_admin();
  auto a = signup("a@example.com", "Tenant A");
  auto b = signup("b@example.com", "Tenant B");
  auto made = call("POST", "/api/v1/monitors", a, monitor());
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string id = made.j()["monitor_id"];

  auto as_a =
      read_after("/api/v1/monitors", admin, position(made.j()), {{"X-Tenant-ID", a["tenant_id"].get<std::string>()}});
  ASSERT_EQ(as_a.status, 200) << as_a.body;
  ASSERT_EQ(as_a.j()["items"].size(), 1u);
  EXPECT_EQ(as_a.j()["items"][0]["monitor_id"], id);
  auto as_b = call("GET", "/api/v1/monitors", admin, "", {{"X-Tenant-ID", b["tenant_id"].get<std::string>()}});
  ASSERT_EQ(as_b.status, 200) << as_b.body;
  EXPECT_EQ(as_b.j()["items"].size(), 0u);
  // The caller's-own-tenant routes work the same way for the admin.
  auto own = call("GET", "/api/v1/tenant", admin, "", {{"X-Tenant-ID", a["tenant_id"].get<std::string>()}});
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(own.j()["tenant_id"], a["tenant_id"]);
  EXPECT_EQ(call("GET", "/api/v1/tenant", admin).status, 400);
}

KW_API_TEST_SUITE(TenantsApiTest);
