// Two sweeps over every route of API v1, through the real server on both
// logs, that keep the promises of the README for routes not written yet:
//
// - Bad input on every write route: malformed JSON, bad UTF-8, a body that
//   is not an object, another content type, an oversized body (413), and,
//   from each route's request schema in the OpenAPI document, every field
//   with a wrong type, out of range (enum, length, negative or huge
//   numbers, malformed times), null, or missing when required, and an
//   unknown field. Each is a 4xx in the one error shape (422s name the
//   field) and appends nothing; then the route's valid body is sent and
//   succeeds, so the refusals were for the input and nothing else.
// - Another tenant's ids on every route that takes one: tenant A's owner,
//   and a platform admin acting on A, name tenant B's monitor, incident,
//   channel, window, page, member and key: 404 "not_found", the log does
//   not move, and B reads every object as it was.
//
// Both sweeps list every route of the router and fail on one they do not
// cover (or exempt, with the reason).
#include "api_fixture.hpp"

#include <functional>

#include "events/codec.hpp"
#include "gateway/openapi.hpp"

using namespace kw;
using namespace kw::test;

namespace {

// A call of one route: the pattern as registered, what is sent, and the
// status its valid body gets.
struct route_call {
  std::string method;
  std::string pattern;
  std::string target;
  std::string body;  // the valid body; "" for none
  int ok_status;
};

std::string with_ids(std::string pattern, const std::map<std::string, std::string>& ids) {
  for (auto& [k, v] : ids) {
    const std::string p = "{" + k + "}";
    for (auto at = pattern.find(p); at != std::string::npos; at = pattern.find(p)) pattern.replace(at, p.size(), v);
  }
  return pattern;
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The request-body schema of an operation in the OpenAPI document, with
// $refs resolved; null when it takes none.
json body_schema(const std::string& method, const std::string& pattern) {
  const json& doc = gateway::openapi_document();
  const auto path = doc["paths"].find(pattern);
  if (path == doc["paths"].end() || !path->contains(lower(method))) return nullptr;
  const json& op = (*path)[lower(method)];
  if (!op.contains("requestBody")) return nullptr;
  json s = op["requestBody"]["content"]["application/json"]["schema"];
  if (s.contains("$ref")) {
    const std::string name = s["$ref"].get<std::string>().substr(std::string("#/components/schemas/").size());
    s = doc["components"]["schemas"][name];
  }
  return s;
}

// Values a property's schema refuses, each with what is wrong with it.
std::vector<std::pair<json, std::string>> refused_values(const json& p) {
  std::vector<std::pair<json, std::string>> out;
  const std::string type = p.value("type", "");
  if (!p.value("nullable", false)) out.emplace_back(nullptr, "null");
  if (type == "string") {
    out.emplace_back(7, "a number");
    out.emplace_back(json::array({"x"}), "an array");
    if (p.contains("enum")) out.emplace_back("not-one-of-them", "outside the enum");
    if (p.contains("minLength") && p["minLength"].get<int>() > 0)
      out.emplace_back(std::string(std::size_t(p["minLength"].get<int>() - 1), 'x'), "under minLength");
    // Every string is bounded: the documented bound, else 100,000 is too long for anything.
    const std::size_t too_long = p.contains("maxLength") ? std::size_t(p["maxLength"].get<int>()) + 1 : 100000;
    out.emplace_back(std::string(too_long, 'x'), "too long");
    if (p.value("format", "") == "date-time") out.emplace_back("next tuesday", "not a date-time");
    if (p.contains("pattern")) out.emplace_back("Not A Match!", "not matching the pattern");
  } else if (type == "integer") {
    out.emplace_back("7", "a string");
    out.emplace_back(1.5, "a fraction");
    out.emplace_back(-1, "negative");
    out.emplace_back(1000000000000LL, "huge");
  } else if (type == "boolean") {
    out.emplace_back("true", "a string");
    out.emplace_back(1, "a number");
  } else if (type == "array") {
    out.emplace_back("x", "a string");
    out.emplace_back(json::object(), "an object");
    const std::string item = p.contains("items") ? p["items"].value("type", "") : "";
    if (item == "string") out.emplace_back(json::array({7}), "an item that is a number");
    if (item == "object") out.emplace_back(json::array({"x"}), "an item that is a string");
  }
  return out;
}

// The error object of an answer; an empty object when there is none.
json error_of(const json& reply) {
  return reply.is_object() && reply.contains("error") && reply["error"].is_object() ? reply["error"] : json::object();
}

// A 422 names the field in its details, or (a rejection by the actor's
// decider) in its message.
bool names_field(const json& reply, const std::string& field) {
  if (error_of(reply).value("message", "").find(field) != std::string::npos) return true;
  const json details = error_of(reply).value("details", json::array());
  for (auto& d : details)
    if (d.value("field", "").rfind(field, 0) == 0) return true;
  return false;
}

}  // namespace

class SweepApiTest : public api_test {
protected:
  void SetUp() override {
    api_test::SetUp();
    if (HasFatalFailure()) return;
    a_ = signup("a@example.com", "Tenant A");
    admin_ = platform_admin();
  }

  std::string at(int seconds_from_now) const {
    return format_time(timestamp{kw::now().get() + std::int64_t(seconds_from_now) * 1'000'000});
  }

  // The bad variants of one route, then its valid call: returns the
  // valid call's answer.
  http_reply sweep(const route_call& rc, const std::string& cred,
                   const std::vector<std::pair<std::string, std::string>>& extra) {
    struct variant {
      std::string what, body, content_type;
      std::string field;  // a 422 must name it
      bool expect_422;
    };
    std::vector<variant> vs = {
        {"malformed JSON", "{\"name\":", "application/json", "", false},
        {"bad UTF-8", "{\"name\":\"h\xc3\x28\"}", "application/json", "", false},
        {"an array", "[1,2]", "application/json", "", false},
        {"a string", "\"body\"", "application/json", "", false},
        {"another content type", rc.body.empty() ? "{}" : rc.body, "text/plain", "", false},
    };
    json valid = rc.body.empty() ? json::object() : json::parse(rc.body);
    {
      json u = valid;
      u["zz_unknown"] = 1;
      vs.push_back({"an unknown field", u.dump(), "application/json", "zz_unknown", true});
    }
    const json schema = body_schema(rc.method, rc.pattern);
    if (!rc.body.empty()) {
      EXPECT_TRUE(schema.is_object()) << rc.method << " " << rc.pattern << " takes a body the document does not describe";
    }
    if (schema.is_object()) {
      EXPECT_FALSE(schema.value("additionalProperties", true))
          << rc.method << " " << rc.pattern << ": the document must say unknown fields are refused";
      const json required = schema.value("required", json::array());
      for (auto& req : required) {
        json m = valid;
        m.erase(req.get<std::string>());
        vs.push_back({"without required " + req.get<std::string>(), m.dump(), "application/json", req, true});
      }
      const json props = schema.value("properties", json::object());
      for (auto& [name, p] : props.items()) {
        for (auto& [value, what] : refused_values(p)) {
          json m = valid;
          m[name] = value;
          vs.push_back({name + " " + what, m.dump(), "application/json", name, true});
        }
      }
    }
    const std::string where = rc.method + " " + rc.target;
    for (auto& v : vs) {
      const auto before = events_in_log();
      auto h = extra;
      if (!cred.empty()) h.emplace_back("Authorization", "Bearer " + cred);
      h.emplace_back("Content-Type", v.content_type);
      auto r = http_call(server_->port(), rc.method, rc.target, h, v.body);
      const std::string seen = where + " with " + v.what + ": " + std::to_string(r.status) + " " + r.body.substr(0, 300);
      EXPECT_GE(r.status, 400) << seen;
      EXPECT_LT(r.status, 500) << seen;
      if (v.expect_422) {
        EXPECT_EQ(r.status, 422) << seen;
        EXPECT_TRUE(names_field(r.j(), v.field)) << seen;
      }
      const json e = error_of(r.j());
      EXPECT_TRUE(e.contains("code") && e["code"].is_string()) << seen;
      EXPECT_TRUE(e.contains("message") && e["message"].is_string()) << seen;
      EXPECT_FALSE(r.header("x-request-id").empty()) << seen;
      EXPECT_EQ(e.value("request_id", ""), r.header("x-request-id")) << seen;
      EXPECT_EQ(events_in_log(), before) << seen << " appended";
    }
    {  // over the server's body limit: refused before the body is read
      const auto before = events_in_log();
      auto h = extra;
      if (!cred.empty()) h.emplace_back("Authorization", "Bearer " + cred);
      h.emplace_back("Content-Type", "application/json");
      auto r = http_call(server_->port(), rc.method, rc.target, h,
                         "{\"name\":\"" + std::string(gateway::server_options{}.body_limit, 'x') + "\"}");
      EXPECT_EQ(r.status, 413) << where << " oversized: " << r.body;
      EXPECT_EQ(events_in_log(), before) << where << " oversized appended";
    }
    auto h = extra;
    if (!cred.empty()) h.emplace_back("Authorization", "Bearer " + cred);
    if (!rc.body.empty()) h.emplace_back("Content-Type", "application/json");
    auto r = http_call(server_->port(), rc.method, rc.target, h, rc.body);
    EXPECT_EQ(r.status, rc.ok_status) << where << " with its valid body " << rc.body << ": " << r.body;
    return r;
  }

  json a_, admin_;
};

TEST_P(SweepApiTest, EveryWriteRouteRefusesBadInputAndAppendsNothing) {
  std::map<std::string, std::string> ids;
  const std::string owner = a_["access_token"];
  std::string refresh = a_["refresh_token"];
  std::string leaving;  // a login of A's owner, for logout
  const std::vector<std::pair<std::string, std::string>> none;
  auto pat = [&](const std::string& m, const std::string& p, json body, int ok) {
    return route_call{m, p, with_ids(p, ids), body.is_null() ? "" : body.dump(), ok};
  };
  std::set<std::string> swept;
  auto go = [&](const route_call& rc, const std::string& cred) {
    swept.insert(rc.method + " " + rc.pattern);
    auto j = sweep(rc, cred, none).j();
    return j.is_object() ? j : json::object();
  };

  go(pat("POST", "/api/v1/auth/signup", {{"email", "new@example.com"}, {"password", test_password()}, {"tenant_name", "New"}}, 201), "");
  leaving = go(pat("POST", "/api/v1/auth/login", {{"email", "a@example.com"}, {"password", test_password()}}, 200), "")
                .value("access_token", "");
  refresh = go(pat("POST", "/api/v1/auth/refresh", {{"refresh_token", refresh}}, 200), "").value("refresh_token", "");
  go(pat("POST", "/api/v1/auth/logout", {{"refresh_token", refresh}}, 204), leaving);

  ids["id"] = go(pat("POST", "/api/v1/monitors", {{"name", "web"}, {"url", "https://a.example/"}}, 201), owner)
                  .value("monitor_id", "");
  const std::string monitor = ids["id"];
  go(pat("PATCH", "/api/v1/monitors/{id}", {{"name", "web 2"}}, 200), owner);
  go(pat("POST", "/api/v1/monitors/{id}/pause", nullptr, 200), owner);
  go(pat("POST", "/api/v1/monitors/{id}/resume", nullptr, 200), owner);

  ids["id"] = go(pat("POST", "/api/v1/channels", {{"name", "hook"}, {"url", "https://h.example/"}}, 201), owner)
                  .value("channel_id", "");
  go(pat("PATCH", "/api/v1/channels/{id}", {{"name", "hook 2"}}, 200), owner);
  go(pat("DELETE", "/api/v1/channels/{id}", nullptr, 200), owner);

  ids["id"] = go(pat("POST", "/api/v1/maintenance", {{"title", "t"}, {"starts_at", at(60)}, {"ends_at", at(120)}}, 201),
                 owner)
                  .value("window_id", "");
  go(pat("DELETE", "/api/v1/maintenance/{id}", nullptr, 200), owner);

  ids["id"] = go(pat("POST", "/api/v1/status-pages", {{"slug", "pg"}, {"title", "P"}, {"monitor_ids", {monitor}}}, 201),
                 owner)
                  .value("page_id", "");
  go(pat("PATCH", "/api/v1/status-pages/{id}", {{"title", "P 2"}}, 200), owner);
  go(pat("DELETE", "/api/v1/status-pages/{id}", nullptr, 200), owner);

  ids["user_id"] = go(pat("POST", "/api/v1/members",
                          {{"email", "m@example.com"}, {"role", "member"}, {"password", test_password()}}, 201),
                      owner)
                       .value("user_id", "");
  go(pat("PATCH", "/api/v1/members/{user_id}", {{"role", "viewer"}}, 200), owner);
  go(pat("DELETE", "/api/v1/members/{user_id}", nullptr, 200), owner);

  ids["id"] = go(pat("POST", "/api/v1/api-keys", {{"name", "ci"}, {"scope", "read"}}, 201), owner).value("key_id", "");
  go(pat("DELETE", "/api/v1/api-keys/{id}", nullptr, 200), owner);
  go(pat("POST", "/api/v1/stream/ticket", nullptr, 201), owner);

  ids["id"] = monitor;
  go(pat("DELETE", "/api/v1/monitors/{id}", nullptr, 200), owner);
  go(pat("PATCH", "/api/v1/tenant", {{"name", "Tenant A 2"}}, 200), owner);

  const std::string admin = admin_["access_token"];
  ids["id"] = go(pat("POST", "/api/v1/tenants",
                     {{"name", "T"}, {"owner_email", "t@example.com"}, {"owner_password", test_password()}}, 201),
                 admin)
                  .value("tenant_id", "");
  go(pat("POST", "/api/v1/tenants/{id}/suspend", {{"reason", "unpaid"}}, 200), admin);
  go(pat("POST", "/api/v1/tenants/{id}/activate", nullptr, 200), admin);
  go(pat("DELETE", "/api/v1/tenants/{id}", nullptr, 200), admin);
  go(pat("DELETE", "/api/v1/tenant", nullptr, 200), owner);

  // Every write route of the router was swept, but the push URL, whose
  // body is ignored by design (cron jobs and curl send what they send).
  for (auto& r : api_->routes().routes()) {
    if (r.method == "GET" || r.pattern == "/api/v1/push/{token}") continue;
    EXPECT_TRUE(swept.count(r.method + " " + r.pattern)) << r.method << " " << r.pattern << " is not swept";
  }
}

TEST_P(SweepApiTest, AnotherTenantsIdsAreNotFoundOnEveryRouteAndNothingChanges) {
  auto b = signup("b@example.com", "Tenant B");
  std::map<std::string, std::string> bid;
  auto made = [&](const std::string& path, const json& body) {
    auto r = call("POST", path, b, body.dump());
    EXPECT_EQ(r.status, 201) << path << ": " << r.body;
    return r.j();
  };
  auto mon = made("/api/v1/monitors", {{"name", "b-web"}, {"url", "https://b.example/"}});
  bid["monitor"] = mon.value("monitor_id", "");
  bid["channel"] = made("/api/v1/channels", {{"name", "B hook"}, {"url", "https://b.example/"}}).value("channel_id", "");
  bid["window"] = made("/api/v1/maintenance", {{"title", "B"}, {"starts_at", at(600)}, {"ends_at", at(1200)}})
                      .value("window_id", "");
  bid["page"] = made("/api/v1/status-pages", {{"slug", "bee"}, {"title", "B"}, {"monitor_ids", {bid["monitor"]}}})
                    .value("page_id", "");
  bid["member"] =
      made("/api/v1/members", {{"email", "bm@example.com"}, {"role", "member"}, {"password", test_password()}})
          .value("user_id", "");
  bid["key"] = made("/api/v1/api-keys", {{"name", "b"}, {"scope", "read"}}).value("key_id", "");
  {  // an incident of B's monitor: one failed check, as the scheduler records it
    command_meta m;
    m.command_id = new_id();
    m.actor = kw::system_actor();
    m.time = kw::now();
    auto r = node_->execute(
        monitor::command{m, {}, monitor::record_check{false, 0, 503, "status 503", std::nullopt, new_id()}},
        tenant_id{b["tenant_id"].get<std::string>()}, bid["monitor"]);
    ASSERT_TRUE(r.ok()) << r.err().message;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  http_reply inc;
  do {
    inc = call("GET", "/api/v1/incidents?wait_for=" + position(mon), b);
    if (inc.status == 200 && !inc.j()["items"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_FALSE(inc.j()["items"].empty()) << inc.body;
  bid["incident"] = inc.j()["items"][0]["incident_id"];

  // What B reads of each object, before and after.
  const std::vector<std::string> reads = {
      "/api/v1/monitors/" + bid["monitor"],     "/api/v1/channels/" + bid["channel"],
      "/api/v1/maintenance/" + bid["window"],   "/api/v1/status-pages/" + bid["page"],
      "/api/v1/incidents/" + bid["incident"],   "/api/v1/members",
      "/api/v1/api-keys",                        "/api/v1/monitors/" + bid["monitor"] + "/heartbeats",
  };
  std::map<std::string, std::string> b_saw;
  for (auto& t : reads) {
    auto r = call("GET", t, b);
    ASSERT_EQ(r.status, 200) << t << ": " << r.body;
    b_saw[t] = r.body;
  }

  // Every route that takes an id, with B's, and a body that would be
  // valid on an object of A's own.
  const std::vector<route_call> calls = {
      {"GET", "/api/v1/monitors/{id}", "/api/v1/monitors/" + bid["monitor"], "", 0},
      {"PATCH", "/api/v1/monitors/{id}", "/api/v1/monitors/" + bid["monitor"], R"({"name":"taken"})", 0},
      {"POST", "/api/v1/monitors/{id}/pause", "/api/v1/monitors/" + bid["monitor"] + "/pause", "", 0},
      {"POST", "/api/v1/monitors/{id}/resume", "/api/v1/monitors/" + bid["monitor"] + "/resume", "", 0},
      {"DELETE", "/api/v1/monitors/{id}", "/api/v1/monitors/" + bid["monitor"], "", 0},
      {"GET", "/api/v1/monitors/{id}/heartbeats", "/api/v1/monitors/" + bid["monitor"] + "/heartbeats", "", 0},
      {"GET", "/api/v1/monitors/{id}/stats", "/api/v1/monitors/" + bid["monitor"] + "/stats", "", 0},
      {"GET", "/api/v1/incidents/{id}", "/api/v1/incidents/" + bid["incident"], "", 0},
      {"GET", "/api/v1/channels/{id}", "/api/v1/channels/" + bid["channel"], "", 0},
      {"PATCH", "/api/v1/channels/{id}", "/api/v1/channels/" + bid["channel"], R"({"name":"taken"})", 0},
      {"DELETE", "/api/v1/channels/{id}", "/api/v1/channels/" + bid["channel"], "", 0},
      {"GET", "/api/v1/maintenance/{id}", "/api/v1/maintenance/" + bid["window"], "", 0},
      {"DELETE", "/api/v1/maintenance/{id}", "/api/v1/maintenance/" + bid["window"], "", 0},
      {"GET", "/api/v1/status-pages/{id}", "/api/v1/status-pages/" + bid["page"], "", 0},
      {"PATCH", "/api/v1/status-pages/{id}", "/api/v1/status-pages/" + bid["page"], R"({"title":"taken"})", 0},
      {"DELETE", "/api/v1/status-pages/{id}", "/api/v1/status-pages/" + bid["page"], "", 0},
      {"PATCH", "/api/v1/members/{user_id}", "/api/v1/members/" + bid["member"], R"({"role":"viewer"})", 0},
      {"DELETE", "/api/v1/members/{user_id}", "/api/v1/members/" + bid["member"], "", 0},
      {"DELETE", "/api/v1/api-keys/{id}", "/api/v1/api-keys/" + bid["key"], "", 0},
  };
  // A's owner, and a platform admin acting on A.
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> callers = {
      {a_["access_token"], {}},
      {admin_["access_token"], {{"X-Tenant-ID", a_["tenant_id"].get<std::string>()}}},
  };
  std::set<std::string> swept;
  const auto before = events_in_log();
  for (auto& rc : calls) {
    swept.insert(rc.method + " " + rc.pattern);
    for (auto& [cred, extra] : callers) {
      auto r = call(rc.method, rc.target, cred, rc.body, extra);
      EXPECT_EQ(r.status, 404) << rc.method << " " << rc.target << ": " << r.body;
      EXPECT_EQ(r.j()["error"]["code"], "not_found") << r.body;
      // Nothing in the answer tells that the object exists elsewhere.
      EXPECT_EQ(r.body.find(b["tenant_id"].get<std::string>()), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(events_in_log(), before);
  for (auto& t : reads) {
    auto r = call("GET", t, b);
    EXPECT_EQ(r.status, 200) << t;
    EXPECT_EQ(r.body, b_saw[t]) << t << " changed";
  }

  // Every route with an id in its path is here, but those whose path
  // names no tenant's object: a tenant (platform admins only: the role
  // table), an invoice's month (each tenant has its own), public slugs,
  // push tokens and the app's files.
  const std::set<std::string> exempt = {"/api/v1/tenants/{id}", "/api/v1/tenants/{id}/suspend",
                                        "/api/v1/tenants/{id}/activate", "/api/v1/invoices/{id}",
                                        "/status/{slug}", "/api/v1/push/{token}", "/assets/{file}"};
  for (auto& r : api_->routes().routes()) {
    if (r.pattern.find('{') == std::string::npos || exempt.count(r.pattern)) continue;
    EXPECT_TRUE(swept.count(r.method + " " + r.pattern)) << r.method << " " << r.pattern << " is not swept";
  }
}

KW_API_TEST_SUITE(SweepApiTest);
