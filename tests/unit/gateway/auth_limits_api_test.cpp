// Sign-up, login and refresh against someone guessing, through the real
// HTTP API: an unknown email costs what a known one does (the answer's time
// does not say which emails exist), and a script hits the per-address and
// per-account limits (429 with Retry-After) where a person never would.
#include <algorithm>
#include <chrono>
#include <vector>

#include "gateway/api_fixture.hpp"

namespace kw::test {
namespace {

// Production's password cost, so that the time of a hash is what it would
// be for real.
class LoginTimingApiTest : public api_test {
protected:
  void tweak(gateway::api_options& o) override { o.cost = gateway::password_cost::interactive; }
};

double median(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

TEST_P(LoginTimingApiTest, AnUnknownEmailTakesAboutAsLongAsAKnownOne) {
  signup("known@example.com", "Known");
  auto timed = [&](const std::string& email) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = call("POST", "/api/v1/auth/login", std::string(),
                  json{{"email", email}, {"password", "a wrong password"}}.dump());
    EXPECT_EQ(r.status, 401) << r.body;
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  // Interleaved, so that the machine's load falls on both alike.
  std::vector<double> known, unknown;
  for (int i = 0; i < 11; ++i) {
    known.push_back(timed("known@example.com"));
    unknown.push_back(timed("nobody" + std::to_string(i) + "@example.com"));
  }
  const double k = median(known), u = median(unknown);
  // Generous: the same work either way, so the same order of time.
  EXPECT_GE(u, 0.5 * k) << "known " << k << " ms, unknown " << u << " ms";
  EXPECT_GE(k, 0.5 * u) << "known " << k << " ms, unknown " << u << " ms";
}

KW_API_TEST_SUITE(LoginTimingApiTest);

// Low limits, so a test reaches them quickly: 8 attempts a minute per
// address, 3 per account.
class AuthLimitsApiTest : public api_test {
protected:
  void tweak(gateway::api_options& o) override {
    o.auth_rate_per_ip_per_min = 8;
    o.auth_rate_per_account_per_min = 3;
  }
  http_reply try_login(const std::string& email) {
    return call("POST", "/api/v1/auth/login", std::string(),
                json{{"email", email}, {"password", "a wrong password"}}.dump());
  }
  static void expect_limited(const http_reply& r) {
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_GE(std::atoi(r.header("retry-after").c_str()), 1) << r.body;
    EXPECT_EQ(r.j()["error"].value("code", ""), "rate_limited") << r.body;
  }
};

TEST_P(AuthLimitsApiTest, GuessingOneAccountsPasswordIsLimited) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(try_login("victim@example.com").status, 401) << i;
  expect_limited(try_login("victim@example.com"));
  expect_limited(try_login("VICTIM@example.com"));  // the same account
  // Another account from the same address still has its own attempts.
  EXPECT_EQ(try_login("other@example.com").status, 401);
}

TEST_P(AuthLimitsApiTest, OneAddressTryingManyAccountsIsLimited) {
  for (int i = 0; i < 8; ++i) EXPECT_EQ(try_login("user" + std::to_string(i) + "@example.com").status, 401) << i;
  expect_limited(try_login("user99@example.com"));
  // Sign-up and refresh count against the same address.
  expect_limited(call("POST", "/api/v1/auth/signup", std::string(),
                      json{{"email", "new@example.com"}, {"password", test_password()}, {"tenant_name", "N"}}.dump()));
  expect_limited(call("POST", "/api/v1/auth/refresh", std::string(),
                      json{{"refresh_token", "kwr_" + std::string(64, '0')}}.dump()));
}

TEST_P(AuthLimitsApiTest, SignUpsOfOneEmailAreLimited) {
  const std::string body =
      json{{"email", "dup@example.com"}, {"password", test_password()}, {"tenant_name", "Dup"}}.dump();
  EXPECT_EQ(call("POST", "/api/v1/auth/signup", std::string(), body).status, 201);
  EXPECT_EQ(call("POST", "/api/v1/auth/signup", std::string(), body).status, 409);
  EXPECT_EQ(call("POST", "/api/v1/auth/signup", std::string(), body).status, 409);
  expect_limited(call("POST", "/api/v1/auth/signup", std::string(), body));
}

KW_API_TEST_SUITE(AuthLimitsApiTest);

}  // namespace
}  // namespace kw::test
