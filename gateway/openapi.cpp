// The OpenAPI 3 document (openapi.hpp), written as data.
#include "gateway/openapi.hpp"

#include <nlohmann/json.hpp>

#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"

namespace kw::gateway {
namespace {

using json = nlohmann::json;
using namespace oa;

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
  json paths;
  paths["/healthz"]["get"] = {{"summary", "Liveness"}, {"responses", {{"200", {{"description", "alive"}}}}}};
  paths["/readyz"]["get"] = {{"summary", "Readiness: PostgreSQL reachable and every projection running (503 lists the problems)"},
                             {"responses", {{"200", {{"description", "ready"}}}, {"503", {{"description", "not ready"}}}}}};
  paths["/api/v1/stream"]["get"] = {
      {"summary",
       "The live stream (WebSocket): the tenant's check results and status changes as they happen. Authenticate "
       "with the Authorization header, or (a browser cannot set headers on a WebSocket) with a single-use "
       "?ticket= from POST /api/v1/stream/ticket, or ?access_token= (kept for older clients; it puts the token in "
       "URLs and logs). Each text frame is one JSON message with type (check, status_changed, incident_opened, "
       "incident_closed, monitor_created, monitor_updated, monitor_paused, monitor_resumed, monitor_deleted), "
       "monitor_id and time. The credential is checked again every few seconds: once it is no longer valid (an "
       "API key revoked, a token expired or logged out, the member removed or no longer allowed to read, the "
       "tenant suspended or deleted) the server closes the stream with 1008 (policy violation) and the reason."},
      {"parameters",
       json::array({query_param("ticket", {{"type", "string"}}, "a single-use ticket from POST /api/v1/stream/ticket"),
                    query_param("access_token", {{"type", "string"}}, "instead of the header"),
                    query_param("tenant", {{"type", "string"}}, "platform admins: the tenant to follow")})},
      {"responses",
       {{"101", {{"description", "switching to WebSocket"}}},
        {"401", error_response("missing or invalid credentials, or a used or expired ticket")},
        {"426", error_response("not a WebSocket upgrade")},
        {"429", error_response("the tenant has as many live streams open as the node allows")}}}};
  paths["/api/v1/stream/ticket"]["post"] = secured(
      {{"summary",
        "A ticket that opens the live stream once (GET /api/v1/stream?ticket=), valid 30 s, so the access token "
        "need not be in the URL. The stream it opens is re-checked against the credential that asked for it (and "
        "follows the tenant a platform admin named with X-Tenant-ID)."},
       {"responses",
        {{"201",
          ok("the ticket",
             {{"type", "object"},
              {"properties", {{"ticket", {{"type", "string"}}}, {"expires_in", {{"type", "integer"}}}}}})},
         {"401", error_response("missing or invalid credentials")},
         {"422", error_response("a body with fields")}}}});
  paths["/metrics"]["get"] = {
      {"summary", "Prometheus metrics (text format 0.0.4)"},
      {"description", "For a scraper presenting Authorization: Bearer <gateway.metrics_token> "
                      "(KEEPWATCH_GATEWAY_METRICS_TOKEN; empty: no scraper token) and for platform admins. "
                      "Where the request comes from (loopback included) grants nothing."},
      {"security", json::array({{{"bearer", json::array()}}})},
      {"responses",
       {{"200", {{"description", "the metrics"}}},
        {"401", error_response("no, or a wrong, token")},
        {"403", error_response("not a platform admin")}}}};
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
                                 {"additionalProperties", false},
                                 {"required", {"email", "password"}},
                                 {"properties",
                                  {{"email", {{"type", "string"}, {"maxLength", 254}}},
                                   {"password", {{"type", "string"}, {"maxLength", 256}}}}}})},
      {"responses", {{"200", ok("tokens", tokens)}, {"401", error_response("wrong email or password")}}}};
  paths["/api/v1/auth/refresh"]["post"] = {
      {"summary", "Exchange a refresh token for new tokens (it rotates)"},
      {"requestBody", json_body({{"type", "object"},
                                 {"additionalProperties", false},
                                 {"required", {"refresh_token"}},
                                 {"properties", {{"refresh_token", {{"type", "string"}, {"maxLength", 512}}}}}})},
      {"responses", {{"200", ok("tokens", tokens)}, {"401", error_response("invalid refresh token")}}}};
  paths["/api/v1/auth/logout"]["post"] = secured(
      {{"summary", "Revoke this access token and, if given, the refresh token's family"},
       {"requestBody",
        {{"required", false},
         {"content",
          {{"application/json",
            {{"schema",
              {{"type", "object"},
               {"additionalProperties", false},
               {"properties", {{"refresh_token", {{"type", "string"}, {"maxLength", 512}}}}}}}}}}}}},
       {"responses", {{"204", {{"description", "logged out"}}}, {"422", error_response("invalid fields")}}}});
  paths["/api/v1/me"]["get"] =
      secured({{"summary", "Who the token is for"}, {"responses", {{"200", {{"description", "user, tenant, role"}}}}}});
  json schemas = {{"Error", error}, {"WriteReply", write_reply}};
  describe_monitor_routes(paths, schemas);
  describe_team_routes(paths, schemas);
  describe_tenant_routes(paths, schemas);
  describe_setup_routes(paths, schemas);
  describe_history_routes(paths, schemas);
  describe_audit_routes(paths, schemas);
  describe_public_routes(paths, schemas);
  describe_web_routes(paths, schemas);

  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Keepwatch API"}, {"version", "1"}}},
          {"paths", paths},
          {"components",
           {{"securitySchemes",
             {{"bearer",
               {{"type", "http"},
                {"scheme", "bearer"},
                {"description", "an access token (JWT) or an API key kw_<tenant>_<random>"}}}}},
            {"schemas", schemas}}}};
}

}  // namespace

const nlohmann::json& openapi_document() {
  static const nlohmann::json doc = build();
  return doc;
}

}  // namespace kw::gateway
