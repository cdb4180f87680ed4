// Where checks and webhook deliveries may connect: the one authority on
// outbound addresses, asked by the prober (every HTTP, keyword and TCP check,
// every redirect hop), by the webhook sender (every attempt) and by the node
// when a monitor's target or a channel's URL is created or changed.
//
// Guarantees:
//  - It judges IP addresses, never names: the prober and the webhook sender
//    ask about each resolved address right before connecting to it, so a
//    name that resolves to a refused address (or is re-pointed to one after
//    the monitor was created: DNS rebinding) is refused where it matters.
//  - Always refused, whatever the settings: link-local (169.254.0.0/16,
//    fe80::/10), cloud metadata endpoints (169.254.169.254, 168.63.129.16,
//    100.100.100.200, fd00:ec2::254), unspecified (0.0.0.0/8, ::), multicast
//    (224.0.0.0/4, ff00::/8), broadcast and reserved (240.0.0.0/4).
//  - Refused unless allow_private is set: loopback (127.0.0.0/8, ::1) and
//    private networks (10/8, 172.16/12, 192.168/16, 100.64/10 CGNAT,
//    fc00::/7, fec0::/10).
//  - Even with allow_private: a port the node itself listens on, at a
//    loopback address or at one of the machine's own addresses.
//  - IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d, compatible
//    ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that
//    address.
//  - Thread-safe: several threads may ask at once; add_local_port may be
//    called while they do.
//
// Refusals are messages meant for users: "target address 10.0.0.5 is not
// allowed: private network". Pure computation (no Boost here: the node's
// CAF code includes this header).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kw::checks {

// An IPv4 or IPv6 address as bytes, in network order.
struct ip_address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // v4: the first 4

  static ip_address v4_of(std::uint32_t host_order);
  // A literal ("10.0.0.5", "::1", "[::1]"), or nullopt for anything else
  // (a host name).
  static std::optional<ip_address> parse(std::string_view literal);
  std::string to_string() const;
  friend bool operator==(const ip_address& a, const ip_address& b) {
    return a.v6 == b.v6 && a.bytes == b.bytes;
  }
};

// What an address is, as far as the policy cares. The order of the checks
// in classify() makes the most specific class win (metadata over link-local,
// loopback over private).
enum class address_class {
  global,       // anything not below: allowed
  loopback,     // 127/8, ::1
  private_net,  // RFC 1918, CGNAT, ULA, site-local
  link_local,   // 169.254/16, fe80::/10
  metadata,     // cloud instance metadata endpoints
  unspecified,  // 0/8, ::
  multicast,    // 224/4, ff00::/8
  reserved,     // 240/4, 255.255.255.255
};

address_class classify(const ip_address& a);
// "private network", "loopback", "cloud metadata endpoint", ...
std::string_view describe(address_class c);

struct target_policy_options {
  bool allow_private = false;              // checks.allow_private_targets
  std::vector<std::uint16_t> local_ports;  // ports this node listens on
  std::vector<ip_address> local_addresses; // the machine's own addresses (see machine_addresses)
};

class target_policy {
public:
  explicit target_policy(target_policy_options o = {});

  // nullopt: the address may be connected to at this port; otherwise why not,
  // as "target address A is not allowed: REASON".
  std::optional<std::string> refusal(const ip_address& a, std::uint16_t port) const;
  // For a host as a user wrote it: a refused IP literal's refusal; nullopt
  // for an allowed literal and for every name (names are judged once
  // resolved, by refusal()).
  std::optional<std::string> literal_refusal(std::string_view host, std::uint16_t port) const;

  // One more port the node listens on (e.g. the gateway's, when the system
  // chose it at start).
  void add_local_port(std::uint16_t port);
  bool allow_private() const { return opts_.allow_private; }

private:
  bool is_local(const ip_address& a) const;

  mutable std::mutex mutex_;  // guards opts_.local_ports
  target_policy_options opts_;
};

// The addresses of this machine's network interfaces (getifaddrs); empty if
// they cannot be read.
std::vector<ip_address> machine_addresses();

}  // namespace kw::checks
