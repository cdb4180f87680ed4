// webhook_sender against a real receiver: retries with backoff until a 2xx,
// gives up after max_attempts, and signs the body so a receiver can verify it.
#include "actors/checks/webhook_sender.hpp"

#include <chrono>
#include <future>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tests/unit/actors/checks/test_http_server.hpp"

namespace {

using kw::checks::delivery_outcome;
using kw::checks::webhook_request;
using kw::checks::webhook_sender;
using kw::test::test_http_server;
using kw::test::test_request;
using kw::test::test_response;

delivery_outcome deliver_sync(webhook_sender& s, webhook_request req) {
  auto promise = std::make_shared<std::promise<delivery_outcome>>();
  auto future = promise->get_future();
  s.deliver(std::move(req), [promise](delivery_outcome o) { promise->set_value(std::move(o)); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
    throw std::runtime_error("delivery did not complete");
  return future.get();
}

// Computed here, independently of the sender, as a receiver would.
std::string expected_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex = "sha256=";
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

// Receivers run on 127.0.0.1: a policy that lets the sender reach them.
std::shared_ptr<const kw::checks::target_policy> local_targets() {
  kw::checks::target_policy_options tp;
  tp.allow_private = true;
  return std::make_shared<const kw::checks::target_policy>(tp);
}

TEST(webhook_sender, retries_until_the_receiver_accepts) {
  std::atomic<int> calls{0};
  test_http_server receiver([&](const test_request&) {
    return test_response{++calls <= 2 ? 500 : 204, "", {}, false, false};
  });
  webhook_sender sender(local_targets());
  webhook_request req;
  req.url = receiver.url("/hooks/kw");
  req.body = R"({"type":"monitor.down","monitor":"m-1"})";
  req.secret = "s3cret";
  req.initial_backoff_ms = 20;
  auto start = std::chrono::steady_clock::now();
  auto out = deliver_sync(sender, req);
  auto took = std::chrono::steady_clock::now() - start;

  EXPECT_TRUE(out.delivered) << out.error;
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(out.http_status, 204);
  EXPECT_EQ(out.error, "");
  EXPECT_GE(took, std::chrono::milliseconds(20 + 40));  // backed off between attempts

  auto reqs = receiver.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (auto& r : reqs) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hooks/kw");
    EXPECT_EQ(r.body, req.body);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.header("User-Agent"), "Keepwatch/0.1");
    EXPECT_EQ(r.header("X-Keepwatch-Signature"), expected_signature("s3cret", req.body));
  }
}

TEST(webhook_sender, gives_up_after_max_attempts) {
  test_http_server receiver([](const test_request&) { return test_response{503, "busy", {}, false, false}; });
  webhook_sender sender(local_targets());
  webhook_request req;
  req.url = receiver.url();
  req.body = "{}";
  req.max_attempts = 4;
  req.initial_backoff_ms = 5;
  auto out = deliver_sync(sender, req);
  EXPECT_FALSE(out.delivered);
  EXPECT_EQ(out.attempts, 4);
  EXPECT_EQ(out.http_status, 503);
  EXPECT_EQ(out.error, "status 503");
  EXPECT_EQ(receiver.request_count(), 4u);
}

TEST(webhook_sender, unreachable_receiver_is_retried_then_reported) {
  webhook_sender sender(local_targets());
  webhook_request req;
  req.url = "http://127.0.0.1:" + std::to_string(kw::test::closed_port()) + "/";
  req.body = "{}";
  req.max_attempts = 3;
  req.initial_backoff_ms = 5;
  auto out = deliver_sync(sender, req);
  EXPECT_FALSE(out.delivered);
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(out.http_status, 0);
  EXPECT_EQ(out.error, "connection refused");
}

TEST(webhook_sender, a_slow_receiver_times_out_and_is_retried) {
  std::atomic<int> calls{0};
  test_http_server receiver([&](const test_request&) {
    test_response r;
    r.hang = ++calls == 1;
    return r;
  });
  webhook_sender sender(local_targets());
  webhook_request req;
  req.url = receiver.url();
  req.body = "{}";
  req.timeout_ms = 150;
  req.initial_backoff_ms = 5;
  auto out = deliver_sync(sender, req);
  EXPECT_TRUE(out.delivered) << out.error;
  EXPECT_EQ(out.attempts, 2);
}

TEST(webhook_sender, no_signature_header_without_a_secret) {
  test_http_server receiver([](const test_request&) { return test_response{}; });
  webhook_sender sender(local_targets());
  webhook_request req;
  req.url = receiver.url();
  req.body = "{}";
  auto out = deliver_sync(sender, req);
  EXPECT_TRUE(out.delivered);
  EXPECT_EQ(out.attempts, 1);
  ASSERT_EQ(receiver.request_count(), 1u);
  EXPECT_EQ(receiver.requests()[0].header("X-Keepwatch-Signature"), "");
}

TEST(webhook_sender, delivers_over_tls_when_verification_is_off) {
  test_http_server receiver([](const test_request&) { return test_response{}; }, kw::test::make_self_signed());
  webhook_sender sender(local_targets());
  webhook_request req;
  req.url = receiver.url();
  req.body = "{}";
  req.verify_tls = false;
  auto out = deliver_sync(sender, req);
  EXPECT_TRUE(out.delivered) << out.error;
}

TEST(webhook_sender, signature_matches_hmac_sha256) {
  EXPECT_EQ(kw::checks::webhook_signature("key", "The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(webhook_sender, a_receiver_at_a_refused_address_is_never_posted_to) {
  test_http_server receiver([](const test_request&) { return test_response{204, "", {}, false, false}; });
  webhook_sender sender;  // the default policy: no loopback, no private networks
  webhook_request req;
  req.body = "{}";
  req.max_attempts = 3;
  req.initial_backoff_ms = 5;
  for (std::string url : {receiver.url("/healthz"), "http://localhost:" + std::to_string(receiver.port()) + "/hook"}) {
    req.url = url;
    auto out = deliver_sync(sender, req);
    EXPECT_FALSE(out.delivered) << url;
    EXPECT_EQ(out.attempts, 1) << url;  // the platform's rule: not retried
    EXPECT_NE(out.error.find("is not allowed: loopback"), std::string::npos) << out.error;
  }
  req.url = "http://169.254.169.254/latest/meta-data/";
  auto out = deliver_sync(sender, req);
  EXPECT_EQ(out.error, "target address 169.254.169.254 is not allowed: cloud metadata endpoint");
  EXPECT_EQ(receiver.connection_count(), 0u);
}

}  // namespace
