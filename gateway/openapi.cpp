// The OpenAPI 3 document (openapi.hpp), written as data.
#include "gateway/openapi.hpp"

#include <nlohmann/json.hpp>

namespace kw::gateway {
namespace {

using json = nlohmann::json;

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json error_response(const std::string& what) {
  return {{"description", what}, {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
}

json json_body(const json& schema) {
  return {{"required", true}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

json ok(const std::string& what, const json& schema) {
  return {{"description", what}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

json secured(json op) {
  op["security"] = json::array({{{"bearer", json::array()}}});
  op["responses"]["401"] = error_response("missing, invalid, expired or revoked token");
  return op;
}

json build() {
  json tokens = {{"type", "object"},
                 {"properties",
                  {{"access_token", {{"type", "string"}}},
                   {"token_type", {{"type", "string"}, {"enum", {"Bearer"}}}},
                   {"expires_in", {{"type", "integer"}}},
                   {"refresh_token", {{"type", "string"}}},
                   {"tenant_id", {{"type", "string"}}},
                   {"user_id", {{"type", "string"}}},
                   {"role", {{"type", "string"}}}}}};
  json write_reply = {{"type", "object"},
                      {"properties",
                       {{"event_ids", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                        {"offsets", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
                        {"partition", {{"type", "integer"}}},
                        {"duplicate", {{"type", "boolean"}}}}}};
  json monitor_input = {
      {"type", "object"},
      {"additionalProperties", false},
      {"properties",
       {{"name", {{"type", "string"}}},
        {"kind", {{"type", "string"}, {"enum", {"http", "keyword", "tcp", "push"}}}},
        {"url", {{"type", "string"}}},
        {"host", {{"type", "string"}}},
        {"port", {{"type", "integer"}}},
        {"interval_s", {{"type", "integer"}}},
        {"timeout_ms", {{"type", "integer"}}},
        {"retries", {{"type", "integer"}}},
        {"accepted_status",
         {{"type", "array"},
          {"items", {{"type", "object"}, {"properties", {{"low", {{"type", "integer"}}}, {"high", {{"type", "integer"}}}}}}}}},
        {"keyword", {{"type", "string"}}},
        {"keyword_absent", {{"type", "boolean"}}},
        {"max_redirects", {{"type", "integer"}}},
        {"verify_tls", {{"type", "boolean"}}},
        {"grace_s", {{"type", "integer"}}},
        {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"channel_ids", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  json monitor = {{"type", "object"},
                  {"properties",
                   {{"monitor_id", {{"type", "string"}}},
                    {"name", {{"type", "string"}}},
                    {"kind", {{"type", "string"}}},
                    {"target", {{"type", "string"}}},
                    {"interval_s", {{"type", "integer"}}},
                    {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                    {"active", {{"type", "boolean"}}},
                    {"status", {{"type", "string"}, {"enum", {"pending", "up", "down", "maintenance"}}}},
                    {"status_since", {{"type", "string"}, {"format", "date-time"}}},
                    {"last_check_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}},
                    {"last_check_ok", {{"type", "boolean"}, {"nullable", true}}},
                    {"last_latency_us", {{"type", "integer"}, {"nullable", true}}},
                    {"uptime_24h", {{"type", "number"}, {"nullable", true}}},
                    {"uptime_7d", {{"type", "number"}, {"nullable", true}}},
                    {"uptime_30d", {{"type", "number"}, {"nullable", true}}},
                    {"avg_latency_us_24h", {{"type", "integer"}, {"nullable", true}}}}}};
  json error = {{"type", "object"},
                {"properties",
                 {{"error",
                   {{"type", "object"},
                    {"required", {"code", "message", "request_id"}},
                    {"properties",
                     {{"code", {{"type", "string"}}},
                      {"message", {{"type", "string"}}},
                      {"request_id", {{"type", "string"}}},
                      {"details",
                       {{"type", "array"},
                        {"items",
                         {{"type", "object"},
                          {"properties", {{"field", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}}}}}}}};
  json id_param = {{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  json wait_params = json::array(
      {{{"name", "wait_for"},
        {"in", "query"},
        {"description", "<partition>:<offset> of a write: wait until the read model has applied it"},
        {"schema", {{"type", "string"}}}},
       {{"name", "wait_ms"}, {"in", "query"}, {"schema", {{"type", "integer"}, {"maximum", 10000}}}}});
  json list_params = wait_params;
  for (auto& p : json::array({{{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}, {"minimum", 1}, {"maximum", 200}}}},
                              {{"name", "cursor"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                              {{"name", "status"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                              {{"name", "tag"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                              {{"name", "name"}, {"in", "query"}, {"schema", {{"type", "string"}}}}}))
    list_params.push_back(p);
  json get_params = wait_params;
  get_params.push_back(id_param);

  json paths;
  paths["/healthz"]["get"] = {{"summary", "Liveness"}, {"responses", {{"200", {{"description", "alive"}}}}}};
  paths["/readyz"]["get"] = {{"summary", "Readiness: PostgreSQL reachable"},
                             {"responses", {{"200", {{"description", "ready"}}}, {"503", {{"description", "not ready"}}}}}};
  paths["/api/v1/openapi.json"]["get"] = {{"summary", "This document"},
                                          {"responses", {{"200", {{"description", "OpenAPI 3 document"}}}}}};
  paths["/api/v1/auth/signup"]["post"] = {
      {"summary", "Create a tenant on the free plan and its owner"},
      {"requestBody", json_body({{"type", "object"},
                                 {"additionalProperties", false},
                                 {"required", {"email", "password", "tenant_name"}},
                                 {"properties",
                                  {{"email", {{"type", "string"}}},
                                   {"password", {{"type", "string"}, {"minLength", 10}}},
                                   {"tenant_name", {{"type", "string"}}}}}})},
      {"responses",
       {{"201", ok("the tenant, its owner and their tokens", tokens)},
        {"409", error_response("email already registered")},
        {"422", error_response("invalid fields")}}}};
  paths["/api/v1/auth/login"]["post"] = {
      {"summary", "Log in with email and password"},
      {"requestBody", json_body({{"type", "object"},
                                 {"required", {"email", "password"}},
                                 {"properties", {{"email", {{"type", "string"}}}, {"password", {{"type", "string"}}}}}})},
      {"responses", {{"200", ok("tokens", tokens)}, {"401", error_response("wrong email or password")}}}};
  paths["/api/v1/auth/refresh"]["post"] = {
      {"summary", "Exchange a refresh token for new tokens (it rotates)"},
      {"requestBody", json_body({{"type", "object"},
                                 {"required", {"refresh_token"}},
                                 {"properties", {{"refresh_token", {{"type", "string"}}}}}})},
      {"responses", {{"200", ok("tokens", tokens)}, {"401", error_response("invalid refresh token")}}}};
  paths["/api/v1/auth/logout"]["post"] = secured(
      {{"summary", "Revoke this access token and, if given, the refresh token's family"},
       {"responses", {{"204", {{"description", "logged out"}}}}}});
  paths["/api/v1/me"]["get"] =
      secured({{"summary", "Who the token is for"}, {"responses", {{"200", {{"description", "user, tenant, role"}}}}}});
  paths["/api/v1/monitors"]["post"] = secured({{"summary", "Create a monitor"},
                                               {"requestBody", json_body(monitor_input)},
                                               {"responses",
                                                {{"201", ok("the monitor's id and the events' offsets", write_reply)},
                                                 {"403", error_response("role may not create monitors")},
                                                 {"409", error_response("plan quota exceeded")},
                                                 {"422", error_response("invalid fields")}}}});
  paths["/api/v1/monitors"]["get"] = secured(
      {{"summary", "List monitors with uptime and latency"},
       {"parameters", list_params},
       {"responses",
        {{"200", ok("a page", {{"type", "object"},
                               {"properties",
                                {{"items", {{"type", "array"}, {"items", ref("Monitor")}}},
                                 {"next_cursor", {{"type", "string"}, {"nullable", true}}}}}})},
         {"422", error_response("bad query parameters")}}}});
  paths["/api/v1/monitors/{id}"]["get"] =
      secured({{"summary", "One monitor"},
               {"parameters", get_params},
               {"responses", {{"200", ok("the monitor", ref("Monitor"))}, {"404", error_response("no such monitor")}}}});
  paths["/api/v1/monitors/{id}"]["delete"] =
      secured({{"summary", "Delete a monitor"},
               {"parameters", json::array({id_param})},
               {"responses", {{"200", ok("the events' offsets", write_reply)}, {"404", error_response("no such monitor")}}}});

  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Keepwatch API"}, {"version", "1"}}},
          {"paths", paths},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}}}},
            {"schemas", {{"Error", error}, {"Monitor", monitor}}}}}};
}

}  // namespace

const nlohmann::json& openapi_document() {
  static const nlohmann::json doc = build();
  return doc;
}

}  // namespace kw::gateway
