// The whole gateway for API tests, as a client meets it: a fresh database on
// the suite's PostgreSQL (ops/pg.sh) with the migrations, a real node on the
// embedded log or on Kafka through the dev broker, the projections, and the
// API behind the real HTTP server on 127.0.0.1, called through a socket.
//
// A test suite derives from api_test and is instantiated over the logs:
//   class TeamApiTest : public kw::test::api_test {};
//   TEST_P(TeamApiTest, ...) { auto a = signup("a@example.com", "A"); ... }
//   KW_API_TEST_SUITE(TeamApiTest);
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <nlohmann/json.hpp>

#include "actors/host/node_fixture.hpp"
#include "gateway/api.hpp"
#include "gateway/live_feed.hpp"
#include "gateway/passwords.hpp"
#include "gateway/server.hpp"
#include "gateway/tokens.hpp"
#include "projections/migrations.hpp"
#include "projections/pg_fixture.hpp"
#include "projections/runner.hpp"
#include "projections/service.hpp"

namespace kw::test {

using json = nlohmann::json;

// One HTTP exchange on a fresh connection to 127.0.0.1:port.
struct http_reply {
  int status = 0;                             // 0: no answer
  std::map<std::string, std::string> headers;  // names lowercase
  std::string body;
  json j() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& lowercase) const {
    auto it = headers.find(lowercase);
    return it == headers.end() ? "" : it->second;
  }
};

inline http_reply http_call(std::uint16_t port, const std::string& method, const std::string& target,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) {
  http_reply r;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return r;
  }
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n" + body;
  for (std::size_t off = 0; off < out.size();) {
    auto n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += std::size_t(n);
  }
  std::string in;
  char buf[8192];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, std::size_t(n));
  }
  ::close(fd);
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos || in.size() < 12) return r;
  const std::string head = in.substr(0, head_end);
  r.status = std::stoi(head.substr(9, 3));
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const auto e = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, e == std::string::npos ? std::string::npos : e - pos - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = e;
  }
  r.body = in.substr(head_end + 4);
  return r;
}

// Plans for API tests: "free" as roomy as test_plans()'s "big" (many
// monitors, a high request rate), so tests are not limited by accident.
inline plan_catalog api_test_plans() {
  auto c = test_plans();
  c.plans["free"] = c.plans["big"];
  c.plans["free"].name = "free";
  return c;
}

inline const char* platform_admin_email() { return "root@keepwatch.test"; }
inline const char* platform_admin_password() { return "platform admin password"; }
inline const char* test_password() { return "correct horse battery"; }
// The bearer token a scraper presents for /metrics in API tests.
inline const char* metrics_token() { return "test-metrics-token-0123456789"; }

class api_test : public ::testing::TestWithParam<backend> {
protected:
  // Options a suite may change before the gateway starts (override).
  virtual void tweak(gateway::api_options&) {}
  virtual void tweak(node_options&) {}

  void SetUp() override {
    ASSERT_FALSE(pg_server::get().url().empty()) << "PostgreSQL did not start (ops/pg.sh)";
    url_ = pg_server::get().fresh_database();
    ASSERT_TRUE(kw::projections::apply_migrations(url_).ok());
    plans_ = api_test_plans();
    ASSERT_TRUE(kw::projections::sync_plans(url_, plans_).ok());
    env_ = std::make_unique<log_env>(GetParam().name);
    auto o = env_->options(dir_.path.string());
    o.plans = plans_;
    tweak(o);
    auto n = node::start(o);
    ASSERT_TRUE(n.ok()) << n.err().message;
    node_ = std::move(*n);
    kw::projections::service_options so;
    so.runner.database_url = url_;
    so.runner.poll_timeout = std::chrono::milliseconds(20);
    if (o.kafka) {
      kafka_ = *o.kafka;
      so.runner.kafka = &kafka_;
    }
    auto svc = kw::projections::service::start(node_->log(), so);
    ASSERT_TRUE(svc.ok()) << svc.err().message;
    views_ = std::move(*svc);
    gateway::api_options ao;
    ao.database_url = url_;
    ao.jwt_key = "test-key-test-key-test-key-test-key-0123";
    ao.cost = gateway::password_cost::fast;
    ao.plans = plans_;
    ao.admin_email = platform_admin_email();
    ao.admin_password = platform_admin_password();
    // API calls are sent to the tenants only at the end (a suite may set a
    // shorter period), so they never land between a test's two counts of
    // the log.
    ao.api_calls_flush_s = 3600;
    ao.metrics_token = metrics_token();
    // Suites sign up and log in far more often than a person would; the
    // suite that tests these limits sets its own.
    ao.auth_rate_per_ip_per_min = 1000000;
    ao.auth_rate_per_account_per_min = 1000000;
    tweak(ao);
    api_ = std::make_unique<gateway::api>(*node_, ao);
    auto f = gateway::live_feed::start(node_->log());
    ASSERT_TRUE(f.ok()) << f.err().message;
    feed_ = std::move(*f);
    gateway::server_options so2;
    so2.threads = 4;
    auto* a = api_.get();
    so2.authorize_stream = [a](const gateway::http_request& q) { return a->stream_tenant(q); };
    so2.stream_feed = feed_.get();
    auto s = gateway::server::start(so2, [a](const gateway::http_request& q) { return a->handle(q); });
    ASSERT_TRUE(s.ok()) << s.err().message;
    server_ = std::move(*s);
  }

  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    if (feed_) feed_->stop();
    api_.reset();
    if (views_) views_->stop();
    if (node_) node_->stop();
  }

  // A request with `credential` as the bearer (an access token or an API
  // key; none when empty), a JSON body when not empty, and extra headers.
  http_reply call(const std::string& method, const std::string& target, const std::string& credential,
                  const std::string& body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (!credential.empty()) headers.emplace_back("Authorization", "Bearer " + credential);
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return http_call(server_->port(), method, target, headers, body);
  }
  http_reply call(const std::string& method, const std::string& target, const json& who,
                  const std::string& body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    return call(method, target, who.value("access_token", ""), body, std::move(headers));
  }

  // Signs up a tenant and its owner: the tokens answer (access_token,
  // refresh_token, tenant_id, user_id, role).
  json signup(const std::string& email, const std::string& tenant_name) {
    auto r = call("POST", "/api/v1/auth/signup", std::string(),
                  json{{"email", email}, {"password", test_password()}, {"tenant_name", tenant_name}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j();
  }

  json login(const std::string& email, const std::string& password = test_password()) {
    auto r = call("POST", "/api/v1/auth/login", std::string(),
                  json{{"email", email}, {"password", password}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.j();
  }

  // A user of `owner`'s tenant with `role`, added as its owner would add
  // them (a login row and the member_added event, not through the members
  // route, so suites need not rely on it): their tokens.
  json add_member(const json& owner, const std::string& email, const std::string& role) {
    const std::string user_id = "u_" + gateway::random_hex(8);
    {
      pqxx::connection c(url_);
      pqxx::work w(c);
      w.exec_params("INSERT INTO users (user_id, email, tenant_id, password_hash) VALUES ($1, $2, $3, $4)", user_id,
                    email, owner["tenant_id"].get<std::string>(),
                    *gateway::hash_password(test_password(), gateway::password_cost::fast));
      w.commit();
    }
    command_meta m;
    m.command_id = new_id();
    m.actor = actor_ref{"user", owner["user_id"].get<std::string>(), "127.0.0.1"};
    m.time = kw::now();
    auto r = node_->execute(tenant::command{m, tenant::add_member{user_id, email, role}},
                            tenant_id{owner["tenant_id"].get<std::string>()});
    EXPECT_TRUE(r.ok()) << r.err().message;
    return login(email);
  }

  // The platform admin made at start from the options.
  json platform_admin() { return login(platform_admin_email(), platform_admin_password()); }

  // "<partition>:<offset>" of a write's answer, for ?wait_for=.
  static std::string position(const json& write) {
    return std::to_string(write["partition"].get<int>()) + ":" + std::to_string(write["offsets"].back().get<long long>());
  }

  // Events in the domain-event topic, all partitions: a bad request must
  // leave it unchanged.
  std::int64_t events_in_log() {
    std::int64_t n = 0;
    for (int p = 0; p < node_->partitions(); ++p)
      n += node_->log().end_offset(storage::topic::events, partition_id{p})->get();
    return n;
  }

  temp_dir dir_;
  std::string url_;
  plan_catalog plans_;
  std::unique_ptr<log_env> env_;
  storage::kafka_options kafka_;
  std::unique_ptr<node> node_;
  std::unique_ptr<kw::projections::service> views_;
  std::unique_ptr<gateway::api> api_;
  std::unique_ptr<gateway::live_feed> feed_;
  std::unique_ptr<gateway::server> server_;
};

}  // namespace kw::test

#define KW_API_TEST_SUITE(suite)                                                           \
  INSTANTIATE_TEST_SUITE_P(Logs, suite, ::testing::ValuesIn(::kw::test::all_backends()), \
                           [](const auto& info) { return info.param.name; })
