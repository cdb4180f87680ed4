// The gateway's view of an HTTP exchange: plain structs, free of Beast, so
// that routing and every handler are functions from request to response that
// tests call without a socket (STYLE.md item 6). The server (server.hpp)
// converts Beast messages to and from these.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kw::gateway {

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoded path, without the query
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps its last value
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
  std::string body;
  std::string remote_ip;
  std::string request_id;  // X-Request-Id as received (if sane) or generated

  // The first header of that (lowercase) name, if any.
  std::optional<std::string> header(const std::string& lowercase_name) const;
};

struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A body made while it is sent, instead of `body` (HTTP/1.1: Transfer-
  // Encoding: chunked; HTTP/1.0: until the connection closes). The server
  // calls it on the handler pool once the headers are written; each call of
  // the writer sends one piece and blocks until it is written, so at most
  // one piece is held at a time, and returns false once the client is gone,
  // too slow, or the server is stopping (then return soon: the rest is
  // dropped). Not called for HEAD.
  using piece_writer = std::function<bool(const std::string&)>;
  std::function<void(const piece_writer&)> stream;

  void set_header(const std::string& name, const std::string& value);

  static http_response json(int status, const nlohmann::json& body);
  // The one error shape: {"error":{"code","message","request_id"[,"details"]}}.
  static http_response error(int status, const std::string& code, const std::string& message,
                             const std::string& request_id);
  static http_response error(int status, const std::string& code, const std::string& message,
                             const std::string& request_id, const nlohmann::json& details);
};

// The error code of each status the gateway answers with.
const char* error_code_for(int status) noexcept;

// Splits a target into its decoded path and query; false if it is not a
// valid origin-form target (no leading '/', bad percent-encoding, NUL).
bool parse_target(const std::string& target, std::string& path, std::map<std::string, std::string>& query);

}  // namespace kw::gateway
