// See url.hpp.
#include "actors/checks/url.hpp"

#include <algorithm>
#include <cctype>

namespace kw::checks {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5)
    return false;
  if (!std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); }))
    return false;
  auto n = std::stoi(std::string(p));
  return n > 0 && n <= 65535;
}

}  // namespace

std::string parsed_url::host_header() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if ((tls && port == "443") || (!tls && port == "80"))
    return h;
  return h + ":" + port;
}

std::string parsed_url::origin() const {
  bool v6 = host.find(':') != std::string::npos;
  return scheme() + "://" + (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::optional<parsed_url> parse_url(std::string_view url) {
  parsed_url out;
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return std::nullopt;
  auto scheme = lower(url.substr(0, sep));
  if (scheme == "http")
    out.tls = false;
  else if (scheme == "https")
    out.tls = true;
  else
    return std::nullopt;
  auto rest = url.substr(sep + 3);
  auto frag = rest.find('#');
  if (frag != std::string_view::npos)
    rest = rest.substr(0, frag);
  auto path_at = rest.find_first_of("/?");
  auto authority = rest.substr(0, path_at);
  out.target = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (out.target.front() == '?')
    out.target.insert(out.target.begin(), '/');
  auto at = authority.rfind('@');  // userinfo is not supported; drop it
  if (at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return std::nullopt;
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos)
      port = authority.substr(colon + 1);
  }
  if (host.empty())
    return std::nullopt;
  out.host = lower(host);
  if (port.empty())
    out.port = out.tls ? "443" : "80";
  else if (valid_port(port))
    out.port = std::string(port);
  else
    return std::nullopt;
  return out;
}

std::optional<parsed_url> resolve_location(const parsed_url& base, std::string_view location) {
  while (!location.empty() && std::isspace(static_cast<unsigned char>(location.front())))
    location.remove_prefix(1);
  while (!location.empty() && std::isspace(static_cast<unsigned char>(location.back())))
    location.remove_suffix(1);
  if (location.empty())
    return std::nullopt;
  if (location.find("://") != std::string_view::npos)
    return parse_url(location);
  if (location.substr(0, 2) == "//")
    return parse_url(base.scheme() + ":" + std::string(location));
  auto frag = location.find('#');
  if (frag != std::string_view::npos)
    location = location.substr(0, frag);
  parsed_url out = base;
  if (location.empty())
    return out;
  if (location.front() == '/') {
    out.target = std::string(location);
  } else if (location.front() == '?') {
    out.target = base.target.substr(0, base.target.find('?')) + std::string(location);
  } else {
    auto path = base.target.substr(0, base.target.find('?'));
    out.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  }
  return out;
}

}  // namespace kw::checks
