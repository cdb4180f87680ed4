// What the route and http_request targets check of one request once it has
// a method and a target: parse_target (gateway/http_message.hpp) and the
// router (gateway/router.hpp) keep their documented promises.
#pragma once

#include <string>

#include "gateway/http_message.hpp"
#include "tests/fuzz/route_table.hpp"

namespace kw::fuzz {

// Routes `req` (its method, target and headers set) as the server does.
inline void check_route(const gateway::router& r, gateway::http_request req) {
  if (req.request_id.empty()) req.request_id = "fuzz-1";
  if (!gateway::parse_target(req.target, req.path, req.query)) return;  // the server answers 400
  require(!req.path.empty() && req.path[0] == '/', "a parsed path does not start with /");
  require(req.path.find('\0') == std::string::npos, "a parsed path holds NUL");
  for (auto& [k, v] : req.query)
    require(k.find('\0') == std::string::npos && v.find('\0') == std::string::npos, "a query holds NUL");

  std::string pattern;
  const auto res = r.route(req, &pattern);
  require(res.status == 200 || res.status == 400 || res.status == 404 || res.status == 405,
          "a status the router never gives");
  bool has_rid = false;
  for (auto& [n, v] : res.headers)
    if (n == "X-Request-Id") has_rid = v == req.request_id;
  require(has_rid, "a response without the request's X-Request-Id");
  require(pattern == r.pattern_of(req), "route() and pattern_of() disagree");
  if (res.status == 200) require(res.body == pattern, "answered by another route than the one reported");
  if (res.status == 404) require(pattern == "unmatched", "a 404 with a pattern");
  // A matched route whose path parameter is not UTF-8 (the router refuses it).
  if (res.status == 400) require(pattern != "unmatched", "a 400 for a path no route matches");
  if (res.status == 405) {
    bool allow = false;
    for (auto& [n, v] : res.headers) allow = allow || (n == "Allow" && !v.empty());
    require(allow && pattern != "unmatched", "a 405 without Allow or pattern");
  }
}

}  // namespace kw::fuzz
