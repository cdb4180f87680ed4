// Members and API keys through API v1, on both logs, as a client meets them:
// a member added by an owner logs in at once with their role, a role change
// takes effect on the next request, a removed member's token and login are
// refused and the email is free again; only owners make or unmake owners;
// an API key is shown once, works at once with exactly its scope, is never
// listed with its hash, and is refused once revoked. Bad bodies get 4xx and
// append nothing; another tenant's ids are 404s and change nothing.
#include "api_fixture.hpp"

#include <set>

#include "gateway/tokens.hpp"

using namespace kw;
using namespace kw::test;

class TeamApiTest : public api_test {
protected:
  // Adds a member through the API as `who`; the write's answer.
  json add(const json& who, const std::string& email, const std::string& role) {
    auto r = call("POST", "/api/v1/members", who,
                  json{{"email", email}, {"role", role}, {"password", test_password()}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j();
  }

  // Creates an API key as `who`; the answer (key_id, key, offsets).
  json key(const json& who, const std::string& scope) {
    auto r = call("POST", "/api/v1/api-keys", who, json{{"name", "ci " + scope}, {"scope", scope}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j();
  }

  // The tenant's members by user_id, once the read model has `pos`.
  std::map<std::string, json> members(const json& who, const std::string& pos) {
    auto r = call("GET", "/api/v1/members?wait_for=" + pos + "&wait_ms=10000", who);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-keepwatch-stale"), "");
    std::map<std::string, json> out;
    const json page = r.j();
    for (auto& m : page["items"]) out[m["user_id"]] = m;
    return out;
  }

  static json monitor() { return {{"name", "site"}, {"url", "https://a.example/"}, {"interval_s", 60}}; }
};

TEST_P(TeamApiTest, MembersAreAddedListedChangedAndRemoved) {
  auto owner = signup("owner@example.com", "Tenant A");
  auto added = add(owner, "Dev@Example.com", "member");
  const std::string id = added["user_id"];
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(added["event_ids"].size(), 1u);

  // The member logs in at once (the email is kept lowercase) with their role.
  auto dev = login("dev@example.com");
  EXPECT_EQ(dev["role"], "member");
  EXPECT_EQ(dev["tenant_id"], owner["tenant_id"]);
  EXPECT_EQ(call("POST", "/api/v1/monitors", dev, monitor().dump()).status, 201);

  auto listed = members(owner, position(added));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[id]["email"], "dev@example.com");
  EXPECT_EQ(listed[id]["role"], "member");
  EXPECT_EQ(listed[owner["user_id"].get<std::string>()]["role"], "owner");
  // Members may read the list, too.
  EXPECT_EQ(call("GET", "/api/v1/members", dev).status, 200);

  // Made a viewer: the same token now reads but cannot write.
  auto changed = call("PATCH", "/api/v1/members/" + id, owner, R"({"role":"viewer"})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(call("GET", "/api/v1/me", dev).j()["role"], "viewer");
  EXPECT_EQ(call("POST", "/api/v1/monitors", dev, monitor().dump()).status, 403);
  EXPECT_EQ(members(owner, position(changed.j()))[id]["role"], "viewer");
  // The same role again is a conflict.
  EXPECT_EQ(call("PATCH", "/api/v1/members/" + id, owner, R"({"role":"viewer"})").status, 409);

  // Removed: the token is refused, the login is gone, the email is free.
  auto removed = call("DELETE", "/api/v1/members/" + id, owner);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(call("GET", "/api/v1/monitors", dev).status, 401);
  EXPECT_EQ(call("POST", "/api/v1/auth/refresh", std::string(),
                 json{{"refresh_token", dev["refresh_token"]}}.dump())
                .status,
            401);
  EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(),
                 json{{"email", "dev@example.com"}, {"password", test_password()}}.dump())
                .status,
            401);
  auto after = members(owner, position(removed.j()));
  EXPECT_EQ(after.size(), 1u);
  EXPECT_FALSE(after.count(id));
  EXPECT_EQ(call("DELETE", "/api/v1/members/" + id, owner).status, 404);
  auto again = add(owner, "dev@example.com", "admin");
  EXPECT_NE(again["user_id"], id);
  EXPECT_EQ(login("dev@example.com")["role"], "admin");
}

TEST_P(TeamApiTest, OnlyOwnersMakeOrUnmakeOwners) {
  auto owner = signup("owner@example.com", "Tenant A");
  add(owner, "admin@example.com", "admin");
  auto admin = login("admin@example.com");
  const std::string dev_id = add(admin, "dev@example.com", "member")["user_id"];
  const auto before = events_in_log();

  // An admin may not add an owner: 403, no event, and the email is not kept.
  auto r = call("POST", "/api/v1/members", admin,
                json{{"email", "boss@example.com"}, {"role", "owner"}, {"password", test_password()}}.dump());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.j()["error"]["code"], "forbidden");
  EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(),
                 json{{"email", "boss@example.com"}, {"password", test_password()}}.dump())
                .status,
            401);
  // Nor promote a member to owner, nor demote or remove the owner.
  EXPECT_EQ(call("PATCH", "/api/v1/members/" + dev_id, admin, R"({"role":"owner"})").status, 403);
  EXPECT_EQ(call("PATCH", "/api/v1/members/" + owner["user_id"].get<std::string>(), admin, R"({"role":"admin"})")
                .status,
            403);
  EXPECT_EQ(call("DELETE", "/api/v1/members/" + owner["user_id"].get<std::string>(), admin).status, 403);
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(login("owner@example.com")["role"], "owner");
  EXPECT_EQ(login("dev@example.com")["role"], "member");

  // The owner may do all of it; the email refused above is free.
  EXPECT_EQ(add(owner, "boss@example.com", "owner").value("user_id", "").empty(), false);
  EXPECT_EQ(login("boss@example.com")["role"], "owner");
  EXPECT_EQ(call("PATCH", "/api/v1/members/" + dev_id, owner, R"({"role":"owner"})").status, 200);
  EXPECT_EQ(login("dev@example.com")["role"], "owner");
  // Viewers and members may not manage members at all.
  auto viewer_id = add(owner, "viewer@example.com", "viewer")["user_id"].get<std::string>();
  auto viewer = login("viewer@example.com");
  EXPECT_EQ(call("DELETE", "/api/v1/members/" + dev_id, viewer).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/members", viewer,
                 json{{"email", "x@example.com"}, {"role", "viewer"}, {"password", test_password()}}.dump())
                .status,
            403);
  EXPECT_FALSE(viewer_id.empty());
}

TEST_P(TeamApiTest, ATakenEmailIsAConflictAndAppendsNothing) {
  auto a = signup("a@example.com", "Tenant A");
  auto b = signup("b@example.com", "Tenant B");
  const auto before = events_in_log();
  for (const char* email : {"b@example.com", "A@EXAMPLE.COM", "root@keepwatch.test"}) {
    auto r = call("POST", "/api/v1/members", a,
                  json{{"email", email}, {"role", "member"}, {"password", test_password()}}.dump());
    EXPECT_EQ(r.status, 409) << email << ": " << r.body;
  }
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(login("b@example.com")["tenant_id"], b["tenant_id"]);
  EXPECT_EQ(login("a@example.com")["tenant_id"], a["tenant_id"]);
}

TEST_P(TeamApiTest, ApiKeysAreShownOnceAndWorkWithTheirScope) {
  auto owner = signup("owner@example.com", "Tenant A");
  const std::string t = owner["tenant_id"];

  auto read = key(owner, "read");
  const std::string read_key = read["key"];
  EXPECT_EQ(read_key.rfind("kw_" + t + "_", 0), 0u) << read_key;
  EXPECT_EQ(read["scope"], "read");
  // It works at once: reads yes, writes no.
  EXPECT_EQ(call("GET", "/api/v1/monitors", read_key).status, 200);
  auto denied = call("POST", "/api/v1/monitors", read_key, monitor().dump());
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(call("GET", "/api/v1/api-keys", read_key).status, 403);

  auto rw = key(owner, "read_write");
  const std::string rw_key = rw["key"];
  auto created = call("POST", "/api/v1/monitors", rw_key, monitor().dump());
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(call("POST", "/api/v1/api-keys", rw_key, R"({"name":"k","scope":"read"})").status, 403);

  // The list shows both, never a key or its hash.
  auto list = call("GET", "/api/v1/api-keys?wait_for=" + position(rw) + "&wait_ms=10000", owner);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.j()["items"].size(), 2u) << list.body;
  for (const auto& k : {read_key, rw_key}) {
    EXPECT_EQ(list.body.find(k), std::string::npos);
    EXPECT_EQ(list.body.find(gateway::sha256_of(k)), std::string::npos);
  }
  EXPECT_EQ(list.body.find("hash"), std::string::npos);
  const json items = list.j()["items"];
  for (auto& item : items) {
    EXPECT_TRUE(item["revoked_at"].is_null());
    EXPECT_FALSE(item.contains("key"));
  }

  // A retry under the same Idempotency-Key makes no second key and shows none.
  const std::vector<std::pair<std::string, std::string>> idem{{"Idempotency-Key", "make-key-once"}};
  auto first = call("POST", "/api/v1/api-keys", owner, R"({"name":"once","scope":"read"})", idem);
  ASSERT_EQ(first.status, 201) << first.body;
  const auto after_first = events_in_log();
  auto retry = call("POST", "/api/v1/api-keys", owner, R"({"name":"once","scope":"read"})", idem);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_TRUE(retry.j()["duplicate"].get<bool>());
  EXPECT_FALSE(retry.j().contains("key"));
  EXPECT_EQ(events_in_log(), after_first);
  EXPECT_EQ(call("GET", "/api/v1/monitors", first.j()["key"].get<std::string>()).status, 200);

  // Revoked: refused at once, listed as revoked, and not revoked twice.
  auto revoked = call("DELETE", "/api/v1/api-keys/" + rw["key_id"].get<std::string>(), owner);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(call("GET", "/api/v1/monitors", rw_key).status, 401);
  EXPECT_EQ(call("DELETE", "/api/v1/api-keys/" + rw["key_id"].get<std::string>(), owner).status, 409);
  EXPECT_EQ(call("GET", "/api/v1/monitors", read_key).status, 200);
  auto later = call("GET", "/api/v1/api-keys?wait_for=" + position(revoked.j()) + "&wait_ms=10000", owner);
  const json later_items = later.j()["items"];
  for (auto& item : later_items)
    EXPECT_EQ(item["revoked_at"].is_null(), item["key_id"] != rw["key_id"]) << later.body;
}

TEST_P(TeamApiTest, BadBodiesAreRefusedAndAppendNothing) {
  auto owner = signup("owner@example.com", "Tenant A");
  const std::string dev = add(owner, "dev@example.com", "member")["user_id"];
  const auto before = events_in_log();
  struct bad {
    std::string method, target, body, content_type;
    int status;
    std::string field;  // expected in the details, when 422
  };
  const std::string pw = test_password();
  const std::vector<bad> cases = {
      {"POST", "/api/v1/members", "{", "application/json", 400, ""},
      {"POST", "/api/v1/members", "\"x\"", "application/json", 422, ""},
      {"POST", "/api/v1/members", R"({"email":"x@example.com","role":"member","password":"p"})", "text/plain", 415,
       ""},
      {"POST", "/api/v1/members", "{\"email\":\"\xff@example.com\",\"role\":\"member\",\"password\":\"" + pw + "\"}",
       "application/json", 400, ""},
      {"POST", "/api/v1/members", R"({"role":"member","password":"correct horse battery"})", "application/json", 422,
       "email"},
      {"POST", "/api/v1/members", R"({"email":7,"role":"member","password":"correct horse battery"})",
       "application/json", 422, "email"},
      {"POST", "/api/v1/members", R"({"email":"no-at-sign","role":"member","password":"correct horse battery"})",
       "application/json", 422, "email"},
      {"POST", "/api/v1/members", R"({"email":"x@example.com","role":"king","password":"correct horse battery"})",
       "application/json", 422, "role"},
      {"POST", "/api/v1/members", R"({"email":"x@example.com","role":"member","password":"short"})",
       "application/json", 422, "password"},
      {"POST", "/api/v1/members",
       R"({"email":"x@example.com","role":"member","password":"correct horse battery","admin":true})",
       "application/json", 422, "admin"},
      {"PATCH", "/api/v1/members/" + dev, R"({"role":"king"})", "application/json", 422, "role"},
      {"PATCH", "/api/v1/members/" + dev, R"({"role":["admin"]})", "application/json", 422, "role"},
      {"PATCH", "/api/v1/members/" + dev, R"({})", "application/json", 422, "role"},
      {"PATCH", "/api/v1/members/" + dev, R"({"role":"admin","email":"y@example.com"})", "application/json", 422,
       "email"},
      {"DELETE", "/api/v1/members/" + dev, R"({"now":true})", "application/json", 422, "now"},
      {"POST", "/api/v1/api-keys", R"({"name":"ci"})", "application/json", 422, "scope"},
      {"POST", "/api/v1/api-keys", R"({"name":"ci","scope":"admin"})", "application/json", 422, "scope"},
      {"POST", "/api/v1/api-keys", R"({"name":"  ","scope":"read"})", "application/json", 422, "name"},
      {"POST", "/api/v1/api-keys", R"({"name":"ci","scope":"read","key":"kw_mine"})", "application/json", 422, "key"},
      {"POST", "/api/v1/api-keys", "[1]", "application/json", 422, ""},
      {"POST", "/api/v1/api-keys", R"({"name":"ci","scope":"read"})", "application/x-www-form-urlencoded", 415, ""},
  };
  for (const auto& c : cases) {
    std::vector<std::pair<std::string, std::string>> h{
        {"Content-Type", c.content_type}, {"Authorization", "Bearer " + owner["access_token"].get<std::string>()}};
    auto r = http_call(server_->port(), c.method, c.target, h, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << c.body << ": " << r.body;
    if (c.status == 422 && !c.field.empty()) {
      bool named = false;
      const json details = r.j()["error"]["details"];
      for (auto& d : details) named = named || d["field"] == c.field;
      EXPECT_TRUE(named) << c.body << ": " << r.body;
    }
  }
  // Lists refuse unknown and bad query parameters.
  EXPECT_EQ(call("GET", "/api/v1/members?limit=0", owner).status, 422);
  EXPECT_EQ(call("GET", "/api/v1/api-keys?cursor=%21%21", owner).status, 422);
  EXPECT_EQ(call("GET", "/api/v1/members?role=owner", owner).status, 422);
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(),
                 json{{"email", "x@example.com"}, {"password", test_password()}}.dump())
                .status,
            401);
  EXPECT_EQ(login("dev@example.com")["role"], "member");
}

TEST_P(TeamApiTest, AnotherTenantsIdsAreNotFoundAndNothingChanges) {
  auto a = signup("a@example.com", "Tenant A");
  auto b = signup("b@example.com", "Tenant B");
  auto b_dev = add(b, "bdev@example.com", "member");
  const std::string b_dev_id = b_dev["user_id"];
  auto b_key = key(b, "read");
  const std::string b_owner_id = b["user_id"];
  const auto before = events_in_log();

  for (const auto& target : {"/api/v1/members/" + b_dev_id, "/api/v1/members/" + b_owner_id}) {
    auto p = call("PATCH", target, a, R"({"role":"viewer"})");
    EXPECT_EQ(p.status, 404) << target << ": " << p.body;
    auto d = call("DELETE", target, a);
    EXPECT_EQ(d.status, 404) << target << ": " << d.body;
  }
  EXPECT_EQ(call("DELETE", "/api/v1/api-keys/" + b_key["key_id"].get<std::string>(), a).status, 404);
  // Naming B in the header does not help.
  EXPECT_EQ(call("GET", "/api/v1/members", a, "", {{"X-Tenant-ID", b["tenant_id"].get<std::string>()}}).status, 404);
  EXPECT_EQ(events_in_log(), before);

  // B is as it was: its member logs in with their role, its key works, and
  // A's list shows only A.
  EXPECT_EQ(login("bdev@example.com")["role"], "member");
  EXPECT_EQ(call("GET", "/api/v1/monitors", b_key["key"].get<std::string>()).status, 200);
  auto a_write = call("POST", "/api/v1/monitors", a, monitor().dump());
  ASSERT_EQ(a_write.status, 201) << a_write.body;
  auto listed = members(a, position(a_write.j()));
  EXPECT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed.count(a["user_id"]));
  auto keys = call("GET", "/api/v1/api-keys?wait_for=" + position(a_write.j()) + "&wait_ms=10000", a);
  EXPECT_EQ(keys.j()["items"].size(), 0u) << keys.body;
  EXPECT_EQ(members(b, position(b_key)).size(), 2u);
}

TEST_P(TeamApiTest, ListsPageWithCursors) {
  auto owner = signup("owner@example.com", "Tenant A");
  json last;
  for (int i = 0; i < 4; ++i) last = add(owner, "m" + std::to_string(i) + "@example.com", "viewer");
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = call("GET",
                  "/api/v1/members?limit=2&wait_for=" + position(last) + "&wait_ms=10000" +
                      (cursor.empty() ? "" : "&cursor=" + cursor),
                  owner);
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.j();
    EXPECT_LE(j["items"].size(), 2u);
    for (auto& m : j["items"]) EXPECT_TRUE(seen.insert(m["user_id"]).second);
    cursor = j["next_cursor"].is_null() ? "" : j["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);
}

KW_API_TEST_SUITE(TeamApiTest);
