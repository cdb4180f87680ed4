// The target policy over every range it names, IPv4 and IPv6, and the IPv6
// forms that carry an IPv4 address: what is always refused, what only the
// setting allows, and the node's own ports on its own addresses.
#include "actors/checks/target_policy.hpp"

#include <gtest/gtest.h>

namespace {

using kw::checks::address_class;
using kw::checks::ip_address;
using kw::checks::target_policy;
using kw::checks::target_policy_options;

target_policy policy(bool allow_private, std::vector<std::uint16_t> ports = {},
                     std::vector<ip_address> local = {}) {
  target_policy_options o;
  o.allow_private = allow_private;
  o.local_ports = std::move(ports);
  o.local_addresses = std::move(local);
  return target_policy(o);
}

std::optional<std::string> refusal(const target_policy& p, const std::string& literal, std::uint16_t port = 80) {
  auto a = ip_address::parse(literal);
  EXPECT_TRUE(a) << literal << " should parse";
  if (!a) return std::string("unparsable");
  return p.refusal(*a, port);
}

struct case_ {
  const char* address;
  address_class cls;
};

// Always refused, with or without allow_private.
const case_ always_refused[] = {
    {"169.254.0.1", address_class::link_local},
    {"169.254.255.254", address_class::link_local},
    {"fe80::1", address_class::link_local},
    {"febf:ffff::1", address_class::link_local},
    {"169.254.169.254", address_class::metadata},
    {"169.254.170.2", address_class::metadata},
    {"168.63.129.16", address_class::metadata},
    {"100.100.100.200", address_class::metadata},
    {"fd00:ec2::254", address_class::metadata},
    {"0.0.0.0", address_class::unspecified},
    {"0.1.2.3", address_class::unspecified},
    {"::", address_class::unspecified},
    {"224.0.0.1", address_class::multicast},
    {"239.255.255.250", address_class::multicast},
    {"ff02::1", address_class::multicast},
    {"ff0e::1", address_class::multicast},
    {"255.255.255.255", address_class::reserved},
    {"240.0.0.1", address_class::reserved},
    // IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of the above.
    {"::ffff:169.254.169.254", address_class::metadata},
    {"::ffff:a9fe:a9fe", address_class::metadata},
    {"::169.254.169.254", address_class::metadata},
    {"64:ff9b::169.254.169.254", address_class::metadata},
    {"2002:a9fe:a9fe::", address_class::metadata},
    {"::ffff:169.254.1.1", address_class::link_local},
    {"::ffff:0.0.0.0", address_class::unspecified},
    {"::ffff:224.0.0.1", address_class::multicast},
    {"::ffff:255.255.255.255", address_class::reserved},
};

// Refused by default, allowed by allow_private.
const case_ private_ones[] = {
    {"127.0.0.1", address_class::loopback},
    {"127.255.255.254", address_class::loopback},
    {"::1", address_class::loopback},
    {"10.0.0.5", address_class::private_net},
    {"10.255.255.255", address_class::private_net},
    {"172.16.0.1", address_class::private_net},
    {"172.31.255.255", address_class::private_net},
    {"192.168.1.1", address_class::private_net},
    {"100.64.0.1", address_class::private_net},
    {"100.127.255.255", address_class::private_net},
    {"fc00::1", address_class::private_net},
    {"fd12:3456::1", address_class::private_net},
    {"fec0::1", address_class::private_net},
    {"::ffff:127.0.0.1", address_class::loopback},
    {"::ffff:10.0.0.5", address_class::private_net},
    {"::127.0.0.1", address_class::loopback},
    {"::ffff:192.168.0.1", address_class::private_net},
    {"64:ff9b::10.1.2.3", address_class::private_net},
    {"2002:c0a8:0101::1", address_class::private_net},
};

// Public: allowed either way.
const char* const public_ones[] = {
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.15.255.255", "172.32.0.1", "100.63.255.255",
    "100.128.0.1", "169.253.255.255", "223.255.255.255", "11.0.0.1", "2606:4700:4700::1111",
    "2001:db8::1", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2a00:1450::1",
};

TEST(target_policy, refuses_link_local_metadata_unspecified_multicast_and_broadcast_always) {
  for (bool allow : {false, true}) {
    auto p = policy(allow);
    for (const auto& c : always_refused) {
      auto a = ip_address::parse(c.address);
      ASSERT_TRUE(a) << c.address;
      EXPECT_EQ(kw::checks::classify(*a), c.cls) << c.address;
      auto why = p.refusal(*a, 80);
      ASSERT_TRUE(why) << c.address << " allowed with allow_private=" << allow;
      EXPECT_NE(why->find("is not allowed: " + std::string(kw::checks::describe(c.cls))), std::string::npos) << *why;
    }
  }
}

TEST(target_policy, refuses_loopback_and_private_networks_unless_allowed) {
  auto strict = policy(false);
  auto open = policy(true);
  for (const auto& c : private_ones) {
    auto a = ip_address::parse(c.address);
    ASSERT_TRUE(a) << c.address;
    EXPECT_EQ(kw::checks::classify(*a), c.cls) << c.address;
    auto why = strict.refusal(*a, 80);
    ASSERT_TRUE(why) << c.address;
    EXPECT_NE(why->find("target address " + a->to_string() + " is not allowed: " +
                        std::string(kw::checks::describe(c.cls))),
              std::string::npos)
        << *why;
    EXPECT_NE(why->find("checks.allow_private_targets"), std::string::npos) << *why;
    EXPECT_FALSE(open.refusal(*a, 80)) << c.address;
  }
  EXPECT_EQ(*strict.refusal(*ip_address::parse("10.0.0.5"), 80),
            "target address 10.0.0.5 is not allowed: private network (checks.allow_private_targets is off)");
}

TEST(target_policy, allows_public_addresses) {
  auto p = policy(false);
  for (const char* s : public_ones) {
    auto a = ip_address::parse(s);
    ASSERT_TRUE(a) << s;
    EXPECT_EQ(kw::checks::classify(*a), address_class::global) << s;
    EXPECT_FALSE(p.refusal(*a, 443)) << s;
  }
}

TEST(target_policy, refuses_the_nodes_own_ports_on_local_addresses_even_when_private_is_allowed) {
  auto own = *ip_address::parse("203.0.113.7");  // an address of the node's own interface
  auto p = policy(true, {8080}, {own});
  EXPECT_TRUE(refusal(p, "127.0.0.1", 8080));
  EXPECT_TRUE(refusal(p, "127.0.0.2", 8080));
  EXPECT_TRUE(refusal(p, "::1", 8080));
  EXPECT_TRUE(refusal(p, "::ffff:127.0.0.1", 8080));
  EXPECT_TRUE(refusal(p, "203.0.113.7", 8080));
  EXPECT_TRUE(refusal(p, "::ffff:203.0.113.7", 8080));
  EXPECT_NE(refusal(p, "127.0.0.1", 8080)->find("a port this Keepwatch node listens on"), std::string::npos);
  // Other ports of the same addresses, and the same port elsewhere, are fine.
  EXPECT_FALSE(refusal(p, "127.0.0.1", 8081));
  EXPECT_FALSE(refusal(p, "203.0.113.7", 443));
  EXPECT_FALSE(refusal(p, "10.0.0.9", 8080));
  EXPECT_FALSE(refusal(p, "8.8.8.8", 8080));
  // Ports learnt after start count too.
  EXPECT_FALSE(refusal(p, "127.0.0.1", 9090));
  p.add_local_port(9090);
  EXPECT_TRUE(refusal(p, "127.0.0.1", 9090));
}

TEST(target_policy, literal_refusal_judges_ip_literals_and_leaves_names_to_resolution) {
  auto p = policy(false);
  EXPECT_TRUE(p.literal_refusal("127.0.0.1", 80));
  EXPECT_TRUE(p.literal_refusal("[::1]", 80));
  EXPECT_TRUE(p.literal_refusal("fe80::1%eth0", 80));
  // Forms the resolver reads as 127.0.0.1 are literals too.
  EXPECT_TRUE(p.literal_refusal("127.1", 80));
  EXPECT_TRUE(p.literal_refusal("2130706433", 80));
  EXPECT_TRUE(p.literal_refusal("0x7f000001", 80));
  EXPECT_FALSE(p.literal_refusal("localhost", 80));
  EXPECT_FALSE(p.literal_refusal("example.com", 80));
  EXPECT_FALSE(p.literal_refusal("93.184.216.34", 80));
}

TEST(target_policy, machine_addresses_include_loopback) {
  auto all = kw::checks::machine_addresses();
  auto lo = *ip_address::parse("127.0.0.1");
  EXPECT_NE(std::find(all.begin(), all.end(), lo), all.end());
}

}  // namespace
