// The input rules of validation.hpp.
#include "actors/common/validation.hpp"

#include <string>

namespace kw::validation {
namespace {

status bad(std::string msg) { return make_error(errc::invalid, std::move(msg)); }

std::string q(std::string_view s) { return std::string(s); }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(0, p.size()) == p;
}

}  // namespace

status name(std::string_view field, std::string_view value, std::size_t max_len) {
  bool any = false;
  for (char c : value) any = any || !is_blank(c);
  if (!any) return bad(q(field) + " must not be empty");
  if (value.size() > max_len)
    return bad(q(field) + " must be at most " + std::to_string(max_len) + " bytes");
  return ok_status();
}

status id(std::string_view field, std::string_view value) {
  if (value.empty()) return bad(q(field) + " must not be empty");
  if (value.size() > max_id_len)
    return bad(q(field) + " must be at most " + std::to_string(max_id_len) + " characters");
  for (char c : value) {
    bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.' || c == ':';
    if (!okc) return bad(q(field) + " may contain only letters, digits and _ - . :");
  }
  return ok_status();
}

status email(std::string_view field, std::string_view value) {
  if (value.empty()) return bad(q(field) + " must not be empty");
  if (value.size() > max_email_len)
    return bad(q(field) + " must be at most " + std::to_string(max_email_len) + " bytes");
  auto at = value.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == value.size() ||
      value.find('@', at + 1) != std::string_view::npos)
    return bad(q(field) + " must be an email address (name@domain)");
  for (char c : value)
    if (is_blank(c)) return bad(q(field) + " must not contain blanks");
  return ok_status();
}

status http_url(std::string_view field, std::string_view value) {
  if (value.size() > max_url_len)
    return bad(q(field) + " must be at most " + std::to_string(max_url_len) + " bytes");
  std::string_view rest;
  if (starts_with(value, "http://")) rest = value.substr(7);
  else if (starts_with(value, "https://")) rest = value.substr(8);
  else return bad(q(field) + " must start with http:// or https://");
  auto host_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, host_end);
  if (authority.empty() || authority[0] == ':')
    return bad(q(field) + " must name a host");
  for (char c : value) {
    if (is_blank(c) || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return bad(q(field) + " must not contain blanks or control characters");
  }
  return ok_status();
}

status slug(std::string_view value) {
  if (value.empty() || value.size() > 63)
    return bad("slug must be 1 to 63 characters of a-z, 0-9 and -");
  for (char c : value)
    if (!is_lower_alnum(c) && c != '-')
      return bad("slug must be 1 to 63 characters of a-z, 0-9 and -");
  return ok_status();
}

status sha256_hex(std::string_view field, std::string_view value) {
  bool okv = value.size() == 64;
  for (char c : value) okv = okv && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!okv) return bad(q(field) + " must be a SHA-256 in 64 lowercase hex digits");
  return ok_status();
}

status monitor_config(const kw::monitor_config& c, int min_interval_s) {
  if (auto s = name("name", c.name); !s) return s;
  if (c.interval_s < 1 || c.interval_s > max_interval_s)
    return bad("interval_s must be between 1 and " + std::to_string(max_interval_s));
  if (c.interval_s < min_interval_s)
    return bad("interval_s is " + std::to_string(c.interval_s) +
               "s but the plan allows checks every " + std::to_string(min_interval_s) +
               "s at most often");
  if (c.timeout_ms < 1 || c.timeout_ms > max_timeout_ms)
    return bad("timeout_ms must be between 1 and " + std::to_string(max_timeout_ms));
  if (static_cast<std::int64_t>(c.timeout_ms) >= static_cast<std::int64_t>(c.interval_s) * 1000)
    return bad("timeout_ms must be shorter than the interval");
  if (c.retries < 0 || c.retries > max_retries)
    return bad("retries must be between 0 and " + std::to_string(max_retries));
  for (const auto& t : c.tags)
    if (auto s = name("tag", t, 64); !s) return s;
  for (const auto& ch : c.channel_ids)
    if (auto s = id("channel_ids", ch); !s) return s;

  // Bounds that hold whatever the kind, so that a field the kind does not
  // use is still never out of range in the log.
  if (c.host.size() > 253) return bad("host must be at most 253 bytes");
  if (c.port < 0 || c.port > 65535) return bad("port must be between 0 (none) and 65535");
  if (c.keyword.size() > 1024) return bad("keyword must be at most 1024 bytes");
  if (c.grace_s < 0 || c.grace_s > max_interval_s)
    return bad("grace_s must be between 0 and " + std::to_string(max_interval_s));

  const bool web = c.kind == monitor_kind::http || c.kind == monitor_kind::keyword;
  if (web) {
    if (auto s = http_url("url", c.url); !s) return s;
    if (c.accepted_status.empty()) return bad("accepted_status must not be empty");
    for (const auto& r : c.accepted_status) {
      if (r.low < 100 || r.high > 599 || r.low > r.high)
        return bad("accepted_status ranges must lie within 100..599 with low <= high");
    }
    if (c.max_redirects < 0 || c.max_redirects > max_redirects)
      return bad("max_redirects must be between 0 and " + std::to_string(max_redirects));
  }
  switch (c.kind) {
    case monitor_kind::http:
      break;
    case monitor_kind::keyword:
      if (c.keyword.empty()) return bad("keyword must not be empty for a keyword monitor");
      if (c.keyword.size() > 1024) return bad("keyword must be at most 1024 bytes");
      break;
    case monitor_kind::tcp:
      if (auto s = name("host", c.host, 253); !s) return s;
      for (char ch : c.host)
        if (is_blank(ch) || ch == '/') return bad("host must be a host name or address");
      if (c.port < 1 || c.port > 65535) return bad("port must be between 1 and 65535");
      break;
    case monitor_kind::push:
      if (auto s = sha256_hex("push_token_hash", c.push_token_hash); !s) return s;
      if (c.push_token_sealed.size() > 256) return bad("push_token_sealed is too long");
      if (c.grace_s < 0 || c.grace_s > max_interval_s)
        return bad("grace_s must be between 0 and " + std::to_string(max_interval_s));
      break;
  }
  return ok_status();
}

}  // namespace kw::validation
