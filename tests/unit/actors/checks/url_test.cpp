// parse_url and resolve_location: the redirects a prober follows land where a
// browser would.
#include "actors/checks/url.hpp"

#include <gtest/gtest.h>

namespace {

using kw::checks::parse_url;
using kw::checks::resolve_location;

TEST(url, parses_scheme_host_port_and_target) {
  auto u = parse_url("HTTPS://Example.com:8443/a/b?x=1#frag");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->target, "/a/b?x=1");
  EXPECT_EQ(u->host_header(), "example.com:8443");
}

TEST(url, default_ports_and_paths) {
  auto u = parse_url("http://example.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->host_header(), "example.com");
  EXPECT_EQ(parse_url("https://example.com?q")->target, "/?q");
  EXPECT_EQ(parse_url("http://[::1]:81/")->host, "::1");
}

TEST(url, rejects_what_cannot_be_checked) {
  EXPECT_FALSE(parse_url("ftp://example.com/"));
  EXPECT_FALSE(parse_url("example.com"));
  EXPECT_FALSE(parse_url("http:///path"));
  EXPECT_FALSE(parse_url("http://example.com:99999/"));
  EXPECT_FALSE(parse_url("http://example.com:abc/"));
}

TEST(url, resolves_locations_like_a_browser) {
  auto base = *parse_url("http://a.test/x/y?z=1");
  EXPECT_EQ(resolve_location(base, "/new")->to_string(), "http://a.test:80/new");
  EXPECT_EQ(resolve_location(base, "other")->to_string(), "http://a.test:80/x/other");
  EXPECT_EQ(resolve_location(base, "?q=2")->to_string(), "http://a.test:80/x/y?q=2");
  EXPECT_EQ(resolve_location(base, "//b.test/p")->to_string(), "http://b.test:80/p");
  EXPECT_EQ(resolve_location(base, "https://c.test/")->to_string(), "https://c.test:443/");
  EXPECT_FALSE(resolve_location(base, "  "));
}

}  // namespace
