// The internal keep-alive pool and single exchange: idle connections expire,
// one origin's connections are never handed to another, and a body over the
// limit still yields the status.
#include "actors/checks/http_exchange.hpp"

#include <future>

#include <gtest/gtest.h>

#include "tests/unit/actors/checks/test_http_server.hpp"

namespace {

using namespace kw::checks;
using namespace std::chrono_literals;

detail::pool_limits limits(std::size_t per_origin, detail::clock::duration idle = std::chrono::seconds(20)) {
  detail::pool_limits l;
  l.max_idle_per_origin = per_origin;
  l.idle_timeout = idle;
  return l;
}

TEST(connection_pool, hands_back_connections_per_origin_and_evicts_expired_ones) {
  boost::asio::io_context ioc;
  detail::connection_pool pool(limits(8, 50ms));
  ASSERT_TRUE(pool.reserve());
  pool.release("http://a:80", detail::tcp::socket(ioc, detail::tcp::v4()));
  EXPECT_FALSE(pool.acquire("http://b:80"));
  EXPECT_TRUE(pool.acquire("http://a:80"));
  EXPECT_FALSE(pool.acquire("http://a:80"));

  pool.release("http://a:80", detail::tcp::socket(ioc, detail::tcp::v4()));
  std::this_thread::sleep_for(80ms);
  pool.evict_expired();
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.open_count(), 0u);
}

TEST(connection_pool, keeps_at_most_max_per_origin) {
  boost::asio::io_context ioc;
  detail::connection_pool pool(limits(2));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(pool.reserve());
    pool.release("http://a:80", detail::tcp::socket(ioc, detail::tcp::v4()));
  }
  EXPECT_EQ(pool.idle_count(), 2u);
  EXPECT_EQ(pool.open_count(), 2u);
}

TEST(connection_pool, at_the_cap_closes_the_longest_idle_or_makes_callers_wait) {
  boost::asio::io_context ioc;
  detail::pool_limits l;
  l.max_open = 2;
  detail::connection_pool pool(l);
  ASSERT_TRUE(pool.reserve());
  ASSERT_TRUE(pool.reserve());
  EXPECT_FALSE(pool.reserve());  // both in use
  int woken = 0;
  pool.wait([&] { ++woken; });
  pool.release("http://a:80", detail::tcp::socket(ioc, detail::tcp::v4()));
  EXPECT_EQ(woken, 1);           // a connection came back
  EXPECT_TRUE(pool.reserve());   // by closing the idle one
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.open_count(), 2u);
  auto ticket = pool.wait([&] { ++woken; });
  pool.cancel_wait(ticket);
  pool.closed();
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(pool.open_count(), 1u);
}

TEST(http_exchange, body_over_the_limit_still_reports_the_status) {
  kw::test::test_http_server server(
      [](const kw::test::test_request&) { return kw::test::test_response{200, std::string(4096, 'x'), {}, false, false}; });
  boost::asio::io_context ioc;
  auto tls = detail::make_client_tls_context();
  detail::connection_pool pool;
  detail::exchange_request req;
  req.url = *parse_url(server.url());
  req.body_limit = 1024;
  req.deadline = detail::clock::now() + 5s;
  detail::exchange_result out;
  detail::run_exchange(ioc, &pool, tls, req, [&](detail::exchange_result r) { out = std::move(r); });
  ioc.run();
  EXPECT_FALSE(out.failed) << out.error;
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(out.body_truncated);
  EXPECT_EQ(pool.idle_count(), 0u);  // a half-read connection is not reused
}

}  // namespace
