// prober against real sockets: what a user sees for up, down by status, by
// timeout, by keyword, refused connections, redirects, TLS with a certificate
// generated here at runtime, and TCP checks.
#include "actors/checks/prober.hpp"

#include <chrono>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "tests/unit/actors/checks/test_http_server.hpp"

namespace {

using kw::checks::probe_result;
using kw::checks::prober;
using kw::test::test_http_server;
using kw::test::test_request;
using kw::test::test_response;

kw::monitor_config http_config(std::string url) {
  kw::monitor_config c;
  c.kind = kw::monitor_kind::http;
  c.url = std::move(url);
  c.timeout_ms = 5000;
  return c;
}

// Test servers run on 127.0.0.1: a prober that may reach them.
kw::checks::prober_options local_targets(int threads = 1) {
  kw::checks::prober_options o;
  o.threads = threads;
  kw::checks::target_policy_options tp;
  tp.allow_private = true;
  o.policy = std::make_shared<const kw::checks::target_policy>(tp);
  return o;
}

probe_result probe_sync(prober& p, const kw::monitor_config& cfg) {
  auto promise = std::make_shared<std::promise<probe_result>>();
  auto future = promise->get_future();
  p.probe(cfg, [promise](probe_result r) { promise->set_value(std::move(r)); });
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
    throw std::runtime_error("probe did not complete");
  return future.get();
}

test_response ok(std::string body = "hello") { return test_response{200, std::move(body), {}, false, false}; }

TEST(prober, up_when_status_is_accepted) {
  test_http_server server([](const test_request&) { return ok(); });
  prober p(local_targets());
  auto r = probe_sync(p, http_config(server.url("/health")));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.error, "");
  EXPECT_GT(r.latency_us, 0);
  EXPECT_FALSE(r.cert_expires_at);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/health");
  EXPECT_EQ(reqs[0].header("User-Agent"), "Keepwatch/0.1");
  EXPECT_EQ(reqs[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(prober, down_when_status_is_outside_the_accepted_ranges) {
  test_http_server server([](const test_request&) { return test_response{500, "oops", {}, false, false}; });
  prober p(local_targets());
  auto r = probe_sync(p, http_config(server.url()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(r.error, "status 500 not accepted");
}

TEST(prober, custom_status_range_accepts_its_codes) {
  test_http_server server([](const test_request&) { return test_response{418, "", {}, false, false}; });
  prober p(local_targets());
  auto cfg = http_config(server.url());
  cfg.accepted_status = {{200, 299}, {400, 418}};
  auto r = probe_sync(p, cfg);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 418);
}

TEST(prober, down_by_timeout_when_the_server_never_answers) {
  test_http_server server([](const test_request&) {
    test_response r;
    r.hang = true;
    return r;
  });
  prober p(local_targets());
  auto cfg = http_config(server.url());
  cfg.timeout_ms = 200;
  auto start = std::chrono::steady_clock::now();
  auto r = probe_sync(p, cfg);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "timeout after 200 ms");
  EXPECT_LT(took, std::chrono::seconds(3));  // bounded by the deadline, not the OS
}

TEST(prober, keyword_present_is_up_and_missing_is_down) {
  test_http_server server([](const test_request&) { return ok("<html>all systems operational</html>"); });
  prober p(local_targets());
  auto cfg = http_config(server.url());
  cfg.kind = kw::monitor_kind::keyword;
  cfg.keyword = "operational";
  auto up = probe_sync(p, cfg);
  EXPECT_TRUE(up.ok) << up.error;

  cfg.keyword = "degraded";
  auto down = probe_sync(p, cfg);
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.http_status, 200);
  EXPECT_EQ(down.error, "keyword \"degraded\" not found");
}

TEST(prober, keyword_absent_mode_inverts_the_verdict) {
  test_http_server server([](const test_request&) { return ok("status: maintenance"); });
  prober p(local_targets());
  auto cfg = http_config(server.url());
  cfg.kind = kw::monitor_kind::keyword;
  cfg.keyword_absent = true;
  cfg.keyword = "error";
  EXPECT_TRUE(probe_sync(p, cfg).ok);
  cfg.keyword = "maintenance";
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "keyword \"maintenance\" found but must be absent");
}

TEST(prober, connection_refused_on_a_closed_port) {
  prober p(local_targets());
  auto r = probe_sync(p, http_config("http://127.0.0.1:" + std::to_string(kw::test::closed_port()) + "/"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "connection refused");
  EXPECT_EQ(r.http_status, 0);
}

TEST(prober, follows_a_relative_redirect) {
  test_http_server server([](const test_request& req) {
    if (req.target == "/old")
      return test_response{302, "", {{"Location", "/new"}}, false, false};
    return ok("new home");
  });
  prober p(local_targets());
  auto r = probe_sync(p, http_config(server.url("/old")));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.redirects, 1);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].target, "/new");
}

TEST(prober, follows_an_absolute_redirect_to_another_server) {
  test_http_server target([](const test_request&) { return ok(); });
  test_http_server origin([&](const test_request&) {
    return test_response{301, "", {{"Location", target.url("/landing")}}, false, false};
  });
  prober p(local_targets());
  auto r = probe_sync(p, http_config(origin.url()));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.redirects, 1);
  EXPECT_EQ(target.request_count(), 1u);
}

TEST(prober, too_many_redirects_is_down) {
  test_http_server server([](const test_request& req) {
    // An endless chain: /0 -> 1 -> 2 -> ...
    int n = std::stoi(req.target.substr(1));
    return test_response{307, "", {{"Location", std::to_string(n + 1)}}, false, false};
  });
  prober p(local_targets());
  auto cfg = http_config(server.url("/0"));
  cfg.max_redirects = 3;
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "too many redirects");
  EXPECT_EQ(r.redirects, 3);
  EXPECT_EQ(server.request_count(), 4u);  // the original request and three redirects
}

TEST(prober, reuses_keep_alive_connections) {
  test_http_server server([](const test_request&) { return ok(); });
  prober p(local_targets());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(probe_sync(p, http_config(server.url())).ok);
  EXPECT_EQ(server.request_count(), 20u);
  EXPECT_EQ(server.connection_count(), 1u);
}

TEST(prober, a_reused_connection_closed_by_the_server_is_retried_on_a_new_one) {
  // The first response promises keep-alive and then closes: the second check
  // finds its pooled connection dead and must still succeed, on a new one.
  std::atomic<int> n{0};
  test_http_server server([&](const test_request&) {
    auto r = ok();
    r.drop = n++ == 0;
    return r;
  });
  prober p(local_targets());
  auto cfg = http_config(server.url());
  ASSERT_TRUE(probe_sync(p, cfg).ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the FIN arrive
  auto r = probe_sync(p, cfg);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(server.connection_count(), 2u);
}

class tls_prober : public ::testing::Test {
protected:
  static void SetUpTestSuite() { identity_ = new kw::test::tls_identity(kw::test::make_self_signed(45)); }
  static void TearDownTestSuite() { delete identity_; }
  static kw::test::tls_identity* identity_;
};
kw::test::tls_identity* tls_prober::identity_ = nullptr;

TEST_F(tls_prober, verification_on_rejects_a_self_signed_certificate) {
  test_http_server server([](const test_request&) { return ok(); }, *identity_);
  prober p(local_targets());
  auto cfg = http_config(server.url());
  cfg.verify_tls = true;
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("certificate"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("self-signed"), std::string::npos) << r.error;
  EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(tls_prober, verification_off_succeeds_and_reports_the_expiry) {
  test_http_server server([](const test_request&) { return ok("secure"); }, *identity_);
  prober p(local_targets());
  auto cfg = http_config(server.url("/tls"));
  cfg.verify_tls = false;
  cfg.kind = kw::monitor_kind::keyword;
  cfg.keyword = "secure";
  auto r = probe_sync(p, cfg);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 200);
  ASSERT_TRUE(r.cert_expires_at);
  EXPECT_EQ(r.cert_expires_at->get(), identity_->not_after_s * 1'000'000);
}

TEST_F(tls_prober, timeout_covers_a_server_that_never_answers_over_tls) {
  test_http_server server([](const test_request&) {
    test_response r;
    r.hang = true;
    return r;
  }, *identity_);
  prober p(local_targets());
  auto cfg = http_config(server.url());
  cfg.verify_tls = false;
  cfg.timeout_ms = 200;
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "timeout after 200 ms");
  EXPECT_TRUE(r.cert_expires_at);  // the handshake happened
}

TEST(prober, tcp_open_port_is_up) {
  test_http_server server([](const test_request&) { return ok(); });
  prober p(local_targets());
  kw::monitor_config cfg;
  cfg.kind = kw::monitor_kind::tcp;
  cfg.host = "127.0.0.1";
  cfg.port = server.port();
  cfg.timeout_ms = 2000;
  auto r = probe_sync(p, cfg);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 0);
}

TEST(prober, tcp_closed_port_is_down) {
  prober p(local_targets());
  kw::monitor_config cfg;
  cfg.kind = kw::monitor_kind::tcp;
  cfg.host = "127.0.0.1";
  cfg.port = kw::test::closed_port();
  cfg.timeout_ms = 2000;
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "connection refused");
}

TEST(prober, push_monitors_are_not_probed) {
  prober p(local_targets());
  kw::monitor_config cfg;
  cfg.kind = kw::monitor_kind::push;
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "push monitors are not probed");
}

TEST(prober, many_concurrent_checks_on_several_threads_all_complete) {
  test_http_server server([](const test_request&) { return ok(); }, std::nullopt, false);
  prober p(local_targets(2));
  constexpr int n = 500;
  std::atomic<int> ok_count{0}, done_count{0};
  std::promise<void> all;
  for (int i = 0; i < n; ++i)
    p.probe(http_config(server.url()), [&](probe_result r) {
      if (r.ok)
        ++ok_count;
      if (++done_count == n)
        all.set_value();
    });
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(ok_count.load(), n);
}

TEST(prober, stop_is_idempotent_and_probe_after_stop_is_ignored) {
  prober p(local_targets());
  p.stop();
  p.stop();
  bool called = false;
  p.probe(http_config("http://127.0.0.1:1/"), [&](probe_result) { called = true; });
  EXPECT_FALSE(called);
}

// --- where checks may go (target_policy) -----------------------------------

kw::checks::prober_options targets(bool allow_private, std::vector<std::uint16_t> node_ports = {}) {
  kw::checks::prober_options o;
  kw::checks::target_policy_options tp;
  tp.allow_private = allow_private;
  tp.local_ports = std::move(node_ports);
  o.policy = std::make_shared<const kw::checks::target_policy>(tp);
  return o;
}

TEST(prober_targets, by_default_a_name_resolving_to_loopback_is_refused_and_never_connected_to) {
  test_http_server server([](const test_request&) { return ok("keepwatch_up 1"); });
  prober p;  // the default policy
  auto cfg = http_config("http://localhost:" + std::to_string(server.port()) + "/metrics");
  cfg.kind = kw::monitor_kind::keyword;
  cfg.keyword = "keepwatch_";
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("is not allowed: loopback"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.rfind("target address ", 0), 0u) << r.error;
  EXPECT_EQ(server.connection_count(), 0u);

  auto literal = probe_sync(p, http_config(server.url("/metrics")));
  EXPECT_EQ(literal.error, "target address 127.0.0.1 is not allowed: loopback (checks.allow_private_targets is off)");
  EXPECT_EQ(server.connection_count(), 0u);
}

TEST(prober_targets, with_allow_private_a_loopback_target_is_checked) {
  test_http_server server([](const test_request&) { return ok(); });
  prober p(targets(true));
  auto r = probe_sync(p, http_config("http://localhost:" + std::to_string(server.port()) + "/"));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(prober_targets, the_nodes_own_port_is_refused_even_with_allow_private) {
  test_http_server node_api([](const test_request&) { return ok(); });
  prober p(targets(true, {node_api.port()}));
  auto r = probe_sync(p, http_config(node_api.url("/metrics")));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("a port this Keepwatch node listens on"), std::string::npos) << r.error;
  r = probe_sync(p, http_config("http://localhost:" + std::to_string(node_api.port()) + "/metrics"));
  EXPECT_NE(r.error.find("a port this Keepwatch node listens on"), std::string::npos) << r.error;
  EXPECT_EQ(node_api.connection_count(), 0u);
}

TEST(prober_targets, a_redirect_to_a_refused_address_fails_the_check) {
  test_http_server node_api([](const test_request&) { return ok(); });
  const auto inside = node_api.url("/internal");
  test_http_server allowed([&](const test_request& q) {
    test_response r{302, "", {{"Location", q.target == "/meta" ? "http://169.254.169.254/latest/meta-data/" : inside}},
                    false, false};
    return r;
  });
  prober p(targets(true, {node_api.port()}));
  auto r = probe_sync(p, http_config(allowed.url("/")));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("a port this Keepwatch node listens on"), std::string::npos) << r.error;
  EXPECT_EQ(allowed.request_count(), 1u);
  EXPECT_EQ(node_api.connection_count(), 0u);

  r = probe_sync(p, http_config(allowed.url("/meta")));
  EXPECT_EQ(r.error, "target address 169.254.169.254 is not allowed: cloud metadata endpoint");
}

TEST(prober_targets, a_tcp_check_on_a_refused_address_fails_without_connecting) {
  test_http_server db([](const test_request&) { return ok(); });  // stands for PostgreSQL on the node's machine
  prober p;
  kw::monitor_config cfg;
  cfg.kind = kw::monitor_kind::tcp;
  cfg.host = "127.0.0.1";
  cfg.port = db.port();
  cfg.timeout_ms = 2000;
  auto r = probe_sync(p, cfg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "target address 127.0.0.1 is not allowed: loopback (checks.allow_private_targets is off)");
  cfg.host = "localhost";
  r = probe_sync(p, cfg);
  EXPECT_NE(r.error.find("is not allowed: loopback"), std::string::npos) << r.error;
  cfg.host = "169.254.169.254";
  r = probe_sync(p, cfg);
  EXPECT_EQ(r.error, "target address 169.254.169.254 is not allowed: cloud metadata endpoint");
  EXPECT_EQ(db.connection_count(), 0u);
}

// --- descriptors: the connection budget -------------------------------------

TEST(prober_connections, never_more_open_than_max_connections_and_idle_ones_are_closed) {
  // A slow keep-alive server and 40 checks at once: the prober may hold only
  // 4 connections; the other checks wait for one and still pass.
  test_http_server slow([](const test_request&) {
    auto r = ok();
    r.delay_ms = 100;
    return r;
  }, std::nullopt, false);
  auto o = local_targets();
  o.max_connections = 4;
  o.idle_timeout = std::chrono::milliseconds(300);
  prober p(o);
  constexpr int n = 40;
  std::atomic<int> ok_count{0}, done_count{0};
  std::promise<void> all;
  for (int i = 0; i < n; ++i)
    p.probe(http_config(slow.url("/" + std::to_string(i))), [&](probe_result r) {
      if (r.ok)
        ++ok_count;
      if (++done_count == n)
        all.set_value();
    });
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(ok_count.load(), n);
  EXPECT_LE(slow.max_open_connections(), 4u);
  EXPECT_GE(slow.max_open_connections(), 1u);
  EXPECT_EQ(slow.request_count(), std::size_t(n));
  // Idle past the timeout: the prober closes them (it is still running).
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (slow.open_connections() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(slow.open_connections(), 0u);
}

TEST(prober_connections, a_check_that_gets_no_connection_before_its_timeout_says_so) {
  test_http_server stuck([](const test_request&) {
    test_response r;
    r.hang = true;
    return r;
  });
  auto o = local_targets();
  o.max_connections = 1;
  prober p(o);
  auto first = http_config(stuck.url("/a"));
  first.timeout_ms = 3000;
  std::promise<probe_result> first_done;
  p.probe(first, [&](probe_result r) { first_done.set_value(std::move(r)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the first holds the only connection
  auto second = http_config(stuck.url("/b"));
  second.timeout_ms = 300;
  auto r = probe_sync(p, second);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.rfind("too many connections in flight", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("checks.max_connections"), std::string::npos) << r.error;
  EXPECT_EQ(stuck.connection_count(), 1u);
  auto f = first_done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get().error, "timeout after 3000 ms");
}

TEST(prober_connections, out_of_descriptors_is_a_clear_check_error) {
  // In a child process whose descriptor table is full: the check fails
  // saying why, and the prober carries on once descriptors are free again.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const unsigned short port = kw::test::closed_port();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_cur, 256);
    ::setrlimit(RLIMIT_NOFILE, &lim);
    std::string out;
    {
      prober p(local_targets());
      std::vector<int> hog;
      for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;)
        hog.push_back(fd);
      auto r = probe_sync(p, http_config("http://127.0.0.1:" + std::to_string(port) + "/"));
      out = r.error + "\n";
      for (int fd : hog)
        ::close(fd);
      r = probe_sync(p, http_config("http://127.0.0.1:" + std::to_string(port) + "/"));
      out += r.error;
    }
    (void)!::write(pipe_fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  auto nl = got.find('\n');
  ASSERT_NE(nl, std::string::npos) << got;
  EXPECT_EQ(got.substr(0, nl),
            "too many open files in the Keepwatch process (EMFILE): the connection was not attempted");
  EXPECT_EQ(got.substr(nl + 1), "connection refused");
}

}  // namespace
