// The gateway's route table as the fuzz targets see it: every (method,
// pattern) that gateway/*_routes.cpp, api.cpp and web_routes.cpp register
// (a snapshot; the real table needs a node to build). Each handler answers
// 200 with its own pattern and checks what the router promises a handler:
// every {parameter} is one non-empty path segment. The router's logic is the
// same for any table; the snapshot only makes the matches realistic.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gateway/router.hpp"

namespace kw::fuzz {

inline const char* const route_table[][2] = {
    {"GET", "/"}, {"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"},
    {"GET", "/assets/{file}"}, {"GET", "/status/{slug}"},
    {"GET", "/api/v1/openapi.json"}, {"GET", "/api/v1/stream"},
    {"POST", "/api/v1/auth/signup"}, {"POST", "/api/v1/auth/login"},
    {"POST", "/api/v1/auth/refresh"}, {"POST", "/api/v1/auth/logout"}, {"GET", "/api/v1/me"},
    {"GET", "/api/v1/push/{token}"}, {"POST", "/api/v1/push/{token}"},
    {"GET", "/api/v1/monitors"}, {"POST", "/api/v1/monitors"}, {"GET", "/api/v1/monitors/{id}"},
    {"PATCH", "/api/v1/monitors/{id}"}, {"DELETE", "/api/v1/monitors/{id}"},
    {"POST", "/api/v1/monitors/{id}/pause"}, {"POST", "/api/v1/monitors/{id}/resume"},
    {"GET", "/api/v1/monitors/{id}/heartbeats"}, {"GET", "/api/v1/monitors/{id}/stats"},
    {"GET", "/api/v1/incidents"}, {"GET", "/api/v1/incidents/{id}"},
    {"GET", "/api/v1/usage"}, {"GET", "/api/v1/invoices"}, {"GET", "/api/v1/invoices/{id}"},
    {"GET", "/api/v1/audit"},
    {"GET", "/api/v1/members"}, {"POST", "/api/v1/members"}, {"PATCH", "/api/v1/members/{user_id}"},
    {"DELETE", "/api/v1/members/{user_id}"},
    {"GET", "/api/v1/api-keys"}, {"POST", "/api/v1/api-keys"}, {"DELETE", "/api/v1/api-keys/{id}"},
    {"GET", "/api/v1/tenant"}, {"PATCH", "/api/v1/tenant"}, {"DELETE", "/api/v1/tenant"},
    {"GET", "/api/v1/tenants"}, {"POST", "/api/v1/tenants"}, {"GET", "/api/v1/tenants/{id}"},
    {"DELETE", "/api/v1/tenants/{id}"}, {"POST", "/api/v1/tenants/{id}/suspend"},
    {"POST", "/api/v1/tenants/{id}/activate"},
    {"GET", "/api/v1/channels"}, {"POST", "/api/v1/channels"}, {"GET", "/api/v1/channels/{id}"},
    {"PATCH", "/api/v1/channels/{id}"}, {"DELETE", "/api/v1/channels/{id}"},
    {"GET", "/api/v1/maintenance"}, {"POST", "/api/v1/maintenance"}, {"GET", "/api/v1/maintenance/{id}"},
    {"DELETE", "/api/v1/maintenance/{id}"},
    {"GET", "/api/v1/status-pages"}, {"POST", "/api/v1/status-pages"}, {"GET", "/api/v1/status-pages/{id}"},
    {"PATCH", "/api/v1/status-pages/{id}"}, {"DELETE", "/api/v1/status-pages/{id}"},
};

// A broken promise of the code under test: abort, so libFuzzer reports the
// input (assert() would vanish under NDEBUG).
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz: broken guarantee: %s\n", what);
    std::abort();
  }
}

inline gateway::router make_router() {
  gateway::router r;
  for (auto& [method, pattern] : route_table) {
    const std::string p = pattern;
    r.add(method, p, [p](const gateway::http_request& req, const gateway::path_params& params) {
      for (auto& [name, value] : params) {
        require(!value.empty(), "a path parameter is empty");
        require(value.find('/') == std::string::npos, "a path parameter spans segments");
        require(p.find("{" + name + "}") != std::string::npos, "a parameter the pattern does not name");
      }
      gateway::http_response res;
      res.body = p;
      return res;
    });
  }
  return r;
}

}  // namespace kw::fuzz
