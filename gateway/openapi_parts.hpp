// Building blocks of the OpenAPI document, shared by the route groups'
// describe_*_routes functions (api_context.hpp) and openapi.cpp.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace kw::gateway::oa {

using json = nlohmann::json;

inline json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

inline json error_response(const std::string& what) {
  return {{"description", what}, {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
}

inline json json_body(const json& schema) {
  return {{"required", true}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

inline json ok(const std::string& what, const json& schema) {
  return {{"description", what}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

// An operation that needs a bearer token (access token or API key): adds the
// security requirement and the 401 and 429 answers every such route can give.
inline json secured(json op) {
  op["security"] = json::array({{{"bearer", json::array()}}});
  op["responses"]["401"] = error_response("missing, invalid, expired or revoked credentials");
  op["responses"]["429"] = error_response("over the tenant's rate limit (Retry-After)");
  if (!op["responses"].contains("403")) op["responses"]["403"] = error_response("the role may not; tenant suspended");
  return op;
}

inline json path_param(const std::string& name) {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

inline json query_param(const std::string& name, const json& schema, const std::string& description = "") {
  json p = {{"name", name}, {"in", "query"}, {"schema", schema}};
  if (!description.empty()) p["description"] = description;
  return p;
}

// wait_for and wait_ms (read-your-writes), for reads of the read models.
inline json wait_params() {
  return json::array(
      {query_param("wait_for", {{"type", "string"}},
                   "<partition>:<offset> of a write: wait until the read model has applied it"),
       query_param("wait_ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", 10000}})});
}

// limit and cursor, for lists.
inline json page_params() {
  return json::array({query_param("limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 200}}),
                      query_param("cursor", {{"type", "string"}}, "next_cursor of the previous page")});
}

// {"items":[<item>], "next_cursor"}
inline json page_of(const json& item) {
  return {{"type", "object"},
          {"properties",
           {{"items", {{"type", "array"}, {"items", item}}},
            {"next_cursor", {{"type", "string"}, {"nullable", true}}}}}};
}

inline json write_reply() { return ref("WriteReply"); }

}  // namespace kw::gateway::oa
