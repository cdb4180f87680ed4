// The small part of URL handling the prober and the webhook sender need:
// split an http(s) URL into scheme, host, port and request target, and resolve
// a redirect's Location against the URL that answered it (RFC 3986 §5.2,
// without the dot-segment cleanup, which servers do themselves).
//
// Pure functions, no I/O. A URL that cannot be used is std::nullopt, never an
// exception.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kw::checks {

struct parsed_url {
  bool tls = false;        // https
  std::string host;        // without brackets for IPv6 literals
  std::string port;        // always set: explicit, or 80 / 443
  std::string target;      // path and query, at least "/"; no fragment

  std::string scheme() const { return tls ? "https" : "http"; }
  // The Host header value: the host, with the port when it is not the default.
  std::string host_header() const;
  // scheme://host:port — the key of the keep-alive pool.
  std::string origin() const;
  std::string to_string() const { return origin() + target; }
};

std::optional<parsed_url> parse_url(std::string_view url);

// The absolute URL a Location header points to, seen from `base`.
std::optional<parsed_url> resolve_location(const parsed_url& base, std::string_view location);

}  // namespace kw::checks
