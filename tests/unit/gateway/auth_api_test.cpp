// Sign-up, login, refresh, logout and who-am-I, against a real node on the
// embedded log and a real PostgreSQL, through the API's routes as a client
// sees them (status, body); one test goes through the HTTP server itself.
#include "gateway/api.hpp"
#include "gateway/server.hpp"
#include "gateway/tokens.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include "actors/host/node_fixture.hpp"
#include "projections/migrations.hpp"
#include "projections/pg_fixture.hpp"

using namespace kw;
using namespace kw::gateway;
using namespace kw::test;
using json = nlohmann::json;

namespace {

http_request post(const std::string& path, const std::string& body, const std::string& token = "",
                  const std::string& content_type = "application/json") {
  http_request r;
  r.method = "POST";
  r.target = r.path = path;
  r.body = body;
  r.remote_ip = "198.51.100.7";
  r.request_id = "req-1";
  if (!content_type.empty()) r.headers.emplace_back("content-type", content_type);
  if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
  return r;
}

http_request get(const std::string& path, const std::string& token = "") {
  auto r = post(path, "", token, "");
  r.method = "GET";
  return r;
}

json body(const http_response& r) { return json::parse(r.body, nullptr, false); }

plan_catalog plans() {
  auto c = test_plans();
  c.plans["free"] = c.plans["test"];
  c.plans["free"].name = "free";
  return c;
}

}  // namespace

class AuthApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(pg_server::get().url().empty());
    url_ = pg_server::get().fresh_database();
    ASSERT_TRUE(kw::projections::apply_migrations(url_).ok());
    auto o = options(dir_.path.string());
    o.plans = plans();
    auto n = node::start(o);
    ASSERT_TRUE(n.ok()) << n.err().message;
    node_ = std::move(*n);
    api_options ao;
    ao.database_url = url_;
    ao.jwt_key = "test-key-test-key-test-key-test-key-0123";
    ao.cost = password_cost::fast;
    ao.access_ttl_s = 600;
    api_ = std::make_unique<api>(*node_, ao);
  }
  void TearDown() override {
    api_.reset();
    if (node_) node_->stop();
  }

  json signup(const std::string& email, const std::string& name = "Acme Inc") {
    auto r = api_->handle(post("/api/v1/auth/signup",
                               json{{"email", email}, {"password", "correct horse battery"}, {"tenant_name", name}}
                                   .dump()));
    EXPECT_EQ(r.status, 201) << r.body;
    return body(r);
  }

  std::int64_t events_in_log() {
    std::int64_t n = 0;
    for (int p = 0; p < node_->partitions(); ++p) n += node_->log().end_offset(storage::topic::events, partition_id{p})->get();
    return n;
  }

  temp_dir dir_;
  std::string url_;
  std::unique_ptr<node> node_;
  std::unique_ptr<api> api_;
};

TEST_F(AuthApiTest, SignUpCreatesATenantAndItsOwnerOnTheFreePlan) {
  auto s = signup("Ada@Example.com");
  ASSERT_TRUE(s.contains("access_token")) << s.dump();
  EXPECT_EQ(s["role"], "owner");
  EXPECT_EQ(s["token_type"], "Bearer");
  const std::string tenant = s["tenant_id"];
  EXPECT_EQ(tenant.rfind("acme-inc-", 0), 0u) << tenant;
  auto t = node_->tenant_state(tenant_id{tenant});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->plan, "free");
  EXPECT_EQ(t->members.at(s["user_id"].get<std::string>()).email, "ada@example.com");
  auto me = api_->handle(get("/api/v1/me", s["access_token"]));
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(body(me)["tenant_id"], tenant);
  EXPECT_EQ(body(me)["role"], "owner");
  // The password hash is in the credentials table, not in the log.
  EXPECT_EQ(scalar(url_, "SELECT left(password_hash, 10) FROM users"), "$argon2id$");
}

TEST_F(AuthApiTest, SignUpWithATakenEmailIs409AndAppendsNothing) {
  signup("ada@example.com");
  const auto before = events_in_log();
  auto r = api_->handle(post("/api/v1/auth/signup",
                             R"({"email":"ADA@example.com","password":"another long one","tenant_name":"X"})"));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(body(r)["error"]["code"], "conflict");
  EXPECT_EQ(events_in_log(), before);
}

TEST_F(AuthApiTest, BadSignUpsGetClearErrorsAndChangeNothing) {
  const auto before = events_in_log();
  struct bad {
    std::string body, content_type;
    int status;
    std::string field;
  };
  for (auto& b : std::vector<bad>{
           {"{not json", "application/json", 400, ""},
           {R"({"email":"a@b.c","password":"long enough pw","tenant_name":"x"})", "text/plain", 415, ""},
           {"[1,2]", "application/json", 422, ""},
           {R"({"email":"a@b.c","password":"long enough pw"})", "application/json", 422, "tenant_name"},
           {R"({"email":"a@b.c","password":12345678901,"tenant_name":"x"})", "application/json", 422, "password"},
           {R"({"email":"a@b.c","password":"long enough pw","tenant_name":"x","plan":"enterprise"})",
            "application/json", 422, "plan"},
           {R"({"email":"not-an-email","password":"long enough pw","tenant_name":"x"})", "application/json", 422,
            "email"},
           {R"({"email":"a@b.c","password":"short","tenant_name":"x"})", "application/json", 422, "password"},
           {"{\"email\":\"a@b.c\",\"password\":\"long enough pw\",\"tenant_name\":\"\xff\xfe\"}", "application/json",
            400, ""},
       }) {
    auto r = api_->handle(post("/api/v1/auth/signup", b.body, "", b.content_type));
    EXPECT_EQ(r.status, b.status) << b.body << " -> " << r.body;
    auto j = body(r);
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["request_id"], "req-1");
    if (!b.field.empty()) {
      bool named = false;
      for (auto& d : j["error"]["details"]) named = named || d["field"] == b.field;
      EXPECT_TRUE(named) << b.body << " -> " << r.body;
    }
  }
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(scalar(url_, "SELECT count(*) FROM users"), "0");
}

TEST_F(AuthApiTest, LoginWithTheRightPasswordOnly) {
  auto s = signup("ada@example.com");
  auto ok = api_->handle(post("/api/v1/auth/login", R"({"email":"ada@example.com","password":"correct horse battery"})"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(body(ok)["tenant_id"], s["tenant_id"]);
  auto wrong = api_->handle(post("/api/v1/auth/login", R"({"email":"ada@example.com","password":"wrong horse battery"})"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(body(wrong)["error"]["code"], "unauthenticated");
  auto nobody = api_->handle(post("/api/v1/auth/login", R"({"email":"bob@example.com","password":"correct horse battery"})"));
  EXPECT_EQ(nobody.status, 401);
  EXPECT_EQ(body(nobody)["error"]["message"], body(wrong)["error"]["message"]);  // no hint which exists
}

TEST_F(AuthApiTest, RefreshRotatesAndAReplayedTokenEndsTheFamily) {
  auto s = signup("ada@example.com");
  const std::string first = s["refresh_token"];
  auto r1 = api_->handle(post("/api/v1/auth/refresh", json{{"refresh_token", first}}.dump()));
  ASSERT_EQ(r1.status, 200) << r1.body;
  const std::string second = body(r1)["refresh_token"];
  EXPECT_NE(second, first);
  EXPECT_EQ(api_->handle(get("/api/v1/me", body(r1)["access_token"])).status, 200);
  // The first one again: refused, and the second one dies with it.
  EXPECT_EQ(api_->handle(post("/api/v1/auth/refresh", json{{"refresh_token", first}}.dump())).status, 401);
  EXPECT_EQ(api_->handle(post("/api/v1/auth/refresh", json{{"refresh_token", second}}.dump())).status, 401);
  EXPECT_EQ(api_->handle(post("/api/v1/auth/refresh", R"({"refresh_token":"kwr_made_up"})")).status, 401);
}

TEST_F(AuthApiTest, LogoutRevokesTheAccessAndRefreshTokens) {
  auto s = signup("ada@example.com");
  const std::string access = s["access_token"];
  auto out = api_->handle(post("/api/v1/auth/logout", json{{"refresh_token", s["refresh_token"]}}.dump(), access));
  EXPECT_EQ(out.status, 204) << out.body;
  EXPECT_EQ(api_->handle(get("/api/v1/me", access)).status, 401);
  EXPECT_EQ(api_->handle(post("/api/v1/auth/refresh", json{{"refresh_token", s["refresh_token"]}}.dump())).status,
            401);
  // A new API instance (a restarted gateway) still refuses it.
  api_options ao;
  ao.database_url = url_;
  ao.jwt_key = "test-key-test-key-test-key-test-key-0123";
  ao.cost = password_cost::fast;
  api again(*node_, ao);
  EXPECT_EQ(again.handle(get("/api/v1/me", access)).status, 401);
}

TEST_F(AuthApiTest, ForgedExpiredAndForeignTokensAreRefused) {
  auto s = signup("ada@example.com");
  const std::string access = s["access_token"];
  EXPECT_EQ(api_->handle(get("/api/v1/me")).status, 401);
  EXPECT_EQ(api_->handle(get("/api/v1/me", "garbage")).status, 401);
  auto tampered = access;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'a' ? 'b' : 'a';
  EXPECT_EQ(api_->handle(get("/api/v1/me", tampered)).status, 401);
  // alg none with the same claims.
  const auto dot = access.find('.');
  const auto payload = access.substr(dot + 1, access.rfind('.') - dot - 1);
  EXPECT_EQ(api_->handle(get("/api/v1/me", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".")).status, 401);
  // Another key's token, and an expired one.
  token_signer other("another-key-another-key-another-key-99");
  access_claims c{s["user_id"], s["tenant_id"], "owner", 0, 4000000000, "j"};
  EXPECT_EQ(api_->handle(get("/api/v1/me", other.issue(c))).status, 401);
  token_signer same("test-key-test-key-test-key-test-key-0123");
  EXPECT_EQ(api_->handle(get("/api/v1/me", same.issue(c))).status, 200);  // the control
  c.expires_at = 1000;
  EXPECT_EQ(api_->handle(get("/api/v1/me", same.issue(c))).status, 401);
}

TEST_F(AuthApiTest, ADeletedTenantCannotLogIn) {
  auto s = signup("ada@example.com");
  tenant::command del{meta(), tenant::delete_tenant{}};
  del.meta.actor = actor_ref{"user", s["user_id"], "127.0.0.1"};
  ASSERT_TRUE(node_->execute(std::move(del), tenant_id{s["tenant_id"].get<std::string>()}).ok());
  EXPECT_EQ(api_->handle(post("/api/v1/auth/login", R"({"email":"ada@example.com","password":"correct horse battery"})"))
                .status,
            401);
  EXPECT_EQ(api_->handle(get("/api/v1/me", s["access_token"])).status, 401);
}

TEST_F(AuthApiTest, ThroughTheHttpServer) {
  server_options so;
  auto srv = server::start(so, [this](const http_request& q) { return api_->handle(q); });
  ASSERT_TRUE(srv.ok());
  // healthz and readyz answer on the socket; the rest is the same router.
  auto port = (*srv)->port();
  auto fetch = [&](const std::string& path) {
    std::string out = run_capture("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(port) + path);
    return out;
  };
  EXPECT_EQ(fetch("/healthz"), "200");
  EXPECT_EQ(fetch("/readyz"), "200");
  EXPECT_EQ(fetch("/api/v1/me"), "401");
}

TEST_F(AuthApiTest, TheGatewayLogsInAsTheApplicationRole) {
  signup("ada@example.com");
  EXPECT_EQ(scalar(url_, "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()"),
            "keepwatch_app");
}

TEST(AppUrl, ReplacesTheUserOfAnyUrl) {
  EXPECT_EQ(app_url_from("postgresql://postgres@127.0.0.1:5432/keepwatch"),
            "postgresql://keepwatch_app@127.0.0.1:5432/keepwatch");
  EXPECT_EQ(app_url_from("postgresql://owner:s3cret@db.example:5432/kw?sslmode=require"),
            "postgresql://keepwatch_app@db.example:5432/kw?sslmode=require");
  EXPECT_EQ(app_url_from("postgres://db/kw"), "postgres://keepwatch_app@db/kw");
  EXPECT_EQ(app_url_from("host=db dbname=kw user=owner"), "host=db dbname=kw user=owner user=keepwatch_app password=''");
}

TEST_F(AuthApiTest, TheOpenApiDocumentMatchesTheRoutes) {
  auto r = api_->handle(get("/api/v1/openapi.json"));
  ASSERT_EQ(r.status, 200);
  auto doc = body(r);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::string> routed, documented;
  for (auto& route : api_->routes().routes()) {
    std::string m = route.method;
    for (auto& c : m) c = char(std::tolower(c));
    routed.insert(m + " " + route.pattern);
  }
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      documented.insert(method + " " + path);
      EXPECT_TRUE(op.contains("responses")) << method << " " << path;
    }
  EXPECT_EQ(routed, documented);
}
