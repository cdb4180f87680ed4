// Requests, responses and the one JSON error shape.
#include "gateway/http_message.hpp"

#include <nlohmann/json.hpp>

namespace kw::gateway {

std::optional<std::string> http_request::header(const std::string& lowercase_name) const {
  for (auto& [n, v] : headers)
    if (n == lowercase_name) return v;
  return std::nullopt;
}

void http_response::set_header(const std::string& name, const std::string& value) {
  for (auto& [n, v] : headers)
    if (n == name) {
      v = value;
      return;
    }
  headers.emplace_back(name, value);
}

http_response http_response::json(int status, const nlohmann::json& body) {
  http_response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

http_response http_response::error(int status, const std::string& code, const std::string& message,
                                   const std::string& request_id) {
  return json(status, {{"error", {{"code", code}, {"message", message}, {"request_id", request_id}}}});
}

http_response http_response::error(int status, const std::string& code, const std::string& message,
                                   const std::string& request_id, const nlohmann::json& details) {
  return json(status, {{"error",
                        {{"code", code}, {"message", message}, {"request_id", request_id}, {"details", details}}}});
}

const char* error_code_for(int status) noexcept {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 415: return "unsupported_media_type";
    case 422: return "invalid";
    case 429: return "rate_limited";
    case 431: return "headers_too_large";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "bad_request";
  }
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out += c;
  }
  return true;
}

}  // namespace

bool parse_target(const std::string& target, std::string& path, std::map<std::string, std::string>& query) {
  if (target.empty() || target[0] != '/') return false;
  const auto q = target.find('?');
  if (!decode(std::string_view(target).substr(0, q), path, false)) return false;
  query.clear();
  if (q == std::string::npos) return true;
  std::string_view rest = std::string_view(target).substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string k, v;
    if (!decode(pair.substr(0, eq), k, true)) return false;
    if (eq != std::string_view::npos && !decode(pair.substr(eq + 1), v, true)) return false;
    query[k] = v;
  }
  return true;
}

}  // namespace kw::gateway
