// See target_policy.hpp.
#include "actors/checks/target_policy.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace kw::checks {

namespace {

ip_address v4_bytes(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  ip_address out;
  out.bytes[0] = a, out.bytes[1] = b, out.bytes[2] = c, out.bytes[3] = d;
  return out;
}

bool zero(const std::array<std::uint8_t, 16>& b, std::size_t from, std::size_t to) {
  return std::all_of(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(to),
                     [](std::uint8_t x) { return x == 0; });
}

// The IPv4 address an IPv6 address stands for, when it is one of the forms
// that carry one; the address itself otherwise. :: and ::1 are IPv6's own.
ip_address effective(const ip_address& a) {
  if (!a.v6) return a;
  const auto& b = a.bytes;
  auto tail = [&](std::size_t at) { return v4_bytes(b[at], b[at + 1], b[at + 2], b[at + 3]); };
  if (zero(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return tail(12);  // ::ffff:a.b.c.d
  if (zero(b, 0, 12) && !zero(b, 12, 15)) return tail(12);                // ::a.b.c.d (not ::, ::1)
  if (zero(b, 0, 12) && b[15] > 1) return tail(12);                       // ::0.0.0.2 ... ::0.0.0.255
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(b, 4, 12))
    return tail(12);                                                      // 64:ff9b::a.b.c.d
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);                       // 2002:AABB:CCDD::
  return a;
}

address_class classify_v4(const std::array<std::uint8_t, 16>& b) {
  const unsigned a0 = b[0], a1 = b[1], a2 = b[2], a3 = b[3];
  auto is = [&](unsigned w, unsigned x, unsigned y, unsigned z) { return a0 == w && a1 == x && a2 == y && a3 == z; };
  if (is(169, 254, 169, 254) || is(169, 254, 170, 2) || is(168, 63, 129, 16) || is(100, 100, 100, 200))
    return address_class::metadata;
  if (a0 == 0) return address_class::unspecified;
  if (a0 == 127) return address_class::loopback;
  if (a0 == 169 && a1 == 254) return address_class::link_local;
  if (a0 == 10 || (a0 == 172 && (a1 & 0xf0) == 16) || (a0 == 192 && a1 == 168) || (a0 == 100 && (a1 & 0xc0) == 64))
    return address_class::private_net;
  if (a0 >= 224 && a0 < 240) return address_class::multicast;
  if (a0 >= 240) return address_class::reserved;
  return address_class::global;
}

address_class classify_v6(const std::array<std::uint8_t, 16>& b) {
  if (zero(b, 0, 16)) return address_class::unspecified;
  if (zero(b, 0, 15) && b[15] == 1) return address_class::loopback;
  static constexpr std::array<std::uint8_t, 16> aws_metadata = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                                                0,    0,    0,    0,    0, 0, 0x02, 0x54};
  if (b == aws_metadata) return address_class::metadata;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return address_class::link_local;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return address_class::private_net;  // site-local
  if ((b[0] & 0xfe) == 0xfc) return address_class::private_net;
  if (b[0] == 0xff) return address_class::multicast;
  return address_class::global;
}

}  // namespace

ip_address ip_address::v4_of(std::uint32_t h) {
  return v4_bytes(std::uint8_t(h >> 24), std::uint8_t(h >> 16), std::uint8_t(h >> 8), std::uint8_t(h));
}

std::optional<ip_address> ip_address::parse(std::string_view literal) {
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']')
    literal = literal.substr(1, literal.size() - 2);
  if (auto pct = literal.find('%'); pct != std::string_view::npos)  // fe80::1%eth0: the zone does not matter
    literal = literal.substr(0, pct);
  if (literal.empty() || literal.size() > 64) return std::nullopt;
  const std::string s(literal);
  ip_address out;
  if (s.find(':') != std::string::npos) {
    in6_addr a6{};
    if (::inet_pton(AF_INET6, s.c_str(), &a6) != 1) return std::nullopt;
    out.v6 = true;
    std::memcpy(out.bytes.data(), &a6, 16);
    return out;
  }
  // inet_aton, as the resolver does: "127.1", "0x7f000001" and "2130706433"
  // are loopback too, and must be judged as such.
  in_addr a4{};
  if (::inet_aton(s.c_str(), &a4) == 0) return std::nullopt;
  return v4_of(ntohl(a4.s_addr));
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (v6)
    ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  else
    ::inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

address_class classify(const ip_address& a) {
  const ip_address e = effective(a);
  return e.v6 ? classify_v6(e.bytes) : classify_v4(e.bytes);
}

std::string_view describe(address_class c) {
  switch (c) {
    case address_class::global: return "public address";
    case address_class::loopback: return "loopback";
    case address_class::private_net: return "private network";
    case address_class::link_local: return "link-local";
    case address_class::metadata: return "cloud metadata endpoint";
    case address_class::unspecified: return "unspecified address";
    case address_class::multicast: return "multicast";
    case address_class::reserved: return "broadcast or reserved address";
  }
  return "unknown";
}

target_policy::target_policy(target_policy_options o) : opts_(std::move(o)) {
  for (auto& a : opts_.local_addresses) a = effective(a);
}

bool target_policy::is_local(const ip_address& a) const {
  const ip_address e = effective(a);
  return std::find(opts_.local_addresses.begin(), opts_.local_addresses.end(), e) != opts_.local_addresses.end();
}

std::optional<std::string> target_policy::refusal(const ip_address& a, std::uint16_t port) const {
  const address_class c = classify(a);
  auto refuse = [&](std::string_view why) {
    return "target address " + a.to_string() + " is not allowed: " + std::string(why);
  };
  switch (c) {
    case address_class::link_local:
    case address_class::metadata:
    case address_class::unspecified:
    case address_class::multicast:
    case address_class::reserved:
      return refuse(describe(c));
    case address_class::loopback:
    case address_class::private_net:
      if (!opts_.allow_private)
        return refuse(std::string(describe(c)) + " (checks.allow_private_targets is off)");
      break;
    case address_class::global:
      break;
  }
  if (c == address_class::loopback || is_local(a)) {
    std::lock_guard lock(mutex_);
    if (std::find(opts_.local_ports.begin(), opts_.local_ports.end(), port) != opts_.local_ports.end())
      return "target address " + a.to_string() + " port " + std::to_string(port) +
             " is not allowed: a port this Keepwatch node listens on";
  }
  return std::nullopt;
}

std::optional<std::string> target_policy::literal_refusal(std::string_view host, std::uint16_t port) const {
  auto a = ip_address::parse(host);
  if (!a) return std::nullopt;
  return refusal(*a, port);
}

void target_policy::add_local_port(std::uint16_t port) {
  std::lock_guard lock(mutex_);
  if (std::find(opts_.local_ports.begin(), opts_.local_ports.end(), port) == opts_.local_ports.end())
    opts_.local_ports.push_back(port);
}

std::vector<ip_address> machine_addresses() {
  std::vector<ip_address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    ip_address a;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* s = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      a = ip_address::v4_of(ntohl(s->sin_addr.s_addr));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* s = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      a.v6 = true;
      std::memcpy(a.bytes.data(), &s->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(a);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace kw::checks
