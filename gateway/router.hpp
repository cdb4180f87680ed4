// Routing: a table of (method, path pattern) -> handler, and one function
// from request to response. Patterns are literal segments and `{name}`
// parameters ("/api/v1/monitors/{id}"); a parameter matches one non-empty
// segment. An unknown path is a JSON 404, a known path with another method
// a JSON 405 with Allow. Every response carries X-Request-Id.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gateway/http_message.hpp"

namespace kw::gateway {

using path_params = std::map<std::string, std::string>;
using handler = std::function<http_response(const http_request&, const path_params&)>;

struct route_info {
  std::string method;
  std::string pattern;
};

class router {
public:
  void add(const std::string& method, const std::string& pattern, handler h);

  // Routes `req`; a handler that throws gives a JSON 500 (and is a bug).
  // When `pattern` is given, it receives pattern_of(req), found by the same
  // match.
  http_response route(const http_request& req, std::string* pattern = nullptr) const;

  // The pattern `req` is routed by, for bounded metric labels: the route
  // that answers it, else (a 405) the first pattern its path matches, else
  // "unmatched". Never the raw path.
  std::string pattern_of(const http_request& req) const;

  // Every (method, pattern), in the order added (the OpenAPI test uses it).
  std::vector<route_info> routes() const;

private:
  struct entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    handler h;
  };
  // The entry answering `req`, or null; `allow` collects the methods of the
  // entries its path matches, `first_path` the first of them.
  const entry* find(const http_request& req, const std::vector<std::string>& segments, path_params& params,
                    std::string& allow, const entry*& first_path) const;
  std::vector<entry> entries_;
};

}  // namespace kw::gateway
