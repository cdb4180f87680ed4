// Fuzz target: request bodies. The input is the body of a JSON request; it
// goes through the gateway's body parse (api_context.hpp body_object: UTF-8,
// JSON, an object) and then through each way the routes decode a body with
// the shared helpers: string_fields then the fields read as strings (sign-up,
// login, members, API keys, tenants), unknown_fields and no_fields, the
// validation rules (actors/common/validation.hpp) on every string value, and
// the monitor configuration as a create or update reads it: the body laid
// over a base configuration, decoded strictly (events/monitor_config.hpp)
// and validated. The routes' private decoders (monitor_routes.cpp,
// setup_routes.cpp) need a node to reach, so the overlay is mirrored here.
// Checked: no crash, no UB, no exception escapes (a route would answer 500),
// and a configuration that decodes encodes back to itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/common/validation.hpp"
#include "events/monitor_config.hpp"
#include "gateway/api_context.hpp"
#include "tests/fuzz/route_table.hpp"

namespace gw = kw::gateway;
namespace v = kw::validation;
using gw::json;

namespace {

// A route's string_fields check, then its reads of the fields, as the
// routes do them (only when no detail was reported).
void string_route(json& b, const std::vector<std::string>& required, const std::vector<std::string>& optional) {
  json details = json::array();
  gw::string_fields(b, required, optional, details);
  if (!details.empty()) return;
  for (auto& f : required) (void)b[f].get<std::string>();
  for (auto& f : optional)
    if (b.contains(f)) (void)b[f].get<std::string>();
  if (b.contains("email") && b.contains("password"))
    gw::login_rules(gw::lower(b["email"].get<std::string>()), "email", b["password"].get<std::string>(),
                    "password", details);
}

void monitor_overlay(const json& b, const kw::monitor_config& base) {
  json j;
  to_json(j, base);
  for (auto& [k, val] : b.items()) {
    if (!j.contains(k) || k == "push_token_hash" || k == "push_token_sealed") return;  // refused as an unknown field
    j[k] = val;
  }
  kw::monitor_config cfg;
  if (!from_json(j, cfg, "monitor")) return;
  (void)v::monitor_config(cfg, 30);
  json again;
  to_json(again, cfg);
  kw::monitor_config back;
  kw::fuzz::require(static_cast<bool>(from_json(again, back, "monitor")), "an accepted configuration re-encodes to a refused one");
  kw::fuzz::require(back == cfg, "an accepted configuration does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gw::http_request req;
  req.request_id = "fuzz-1";
  req.headers.emplace_back("content-type", "application/json");
  req.body.assign(reinterpret_cast<const char*>(data), size);
  (void)gw::no_fields(req);
  json b;
  if (gw::body_object(req, b)) return 0;  // a 400, 415 or 422

  string_route(b, {"email", "password", "tenant_name"}, {});  // sign-up
  string_route(b, {"email", "password"}, {});                 // login
  string_route(b, {"email", "role", "password"}, {});         // add member
  string_route(b, {"name", "scope"}, {});                     // create API key
  string_route(b, {}, {"name", "plan"});                      // patch tenant
  string_route(b, {"reason"}, {});                            // suspend tenant
  json details = json::array();
  gw::unknown_fields(b, {"name", "url", "secret"}, details);
  gw::unknown_fields(b, {"slug", "title", "monitor_ids"}, details);

  for (auto& [k, val] : b.items()) {
    if (!val.is_string()) continue;
    const std::string s = val.get<std::string>();
    (void)v::name(k, s);
    (void)v::id(k, s);
    (void)v::email(k, s);
    (void)v::http_url(k, s);
    (void)v::slug(s);
    (void)v::sha256_hex(k, s);
  }

  kw::monitor_config http_base;  // a create: the defaults
  monitor_overlay(b, http_base);
  kw::monitor_config tcp_base;   // an update of a TCP monitor
  tcp_base.name = "db";
  tcp_base.kind = kw::monitor_kind::tcp;
  tcp_base.host = "db.example";
  tcp_base.port = 5432;
  monitor_overlay(b, tcp_base);
  return 0;
}
