// Fuzz target: what a list request carries in its query and headers. The
// input is "<query>\n<If-None-Match>": the query of a list route goes
// through parse_target and the shared query helpers (api_context.hpp):
// unknown_query, page_of (limit and the opaque cursor), time_param (RFC 3339
// or unix seconds) and if_none_match. The raw bytes are also read as a
// cursor directly. Checked: no crash or UB, a cursor decodes to the key it
// was made from, a limit accepted is 1..200, and an accepted time formats.
#include <cstddef>
#include <cstdint>
#include <string>

#include "events/codec.hpp"
#include "gateway/api_context.hpp"
#include "tests/fuzz/route_table.hpp"

namespace gw = kw::gateway;
using gw::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);

  // A cursor as the client sends it back, and one made from any key.
  const std::string key = gw::from_cursor(in);
  if (!key.empty()) kw::fuzz::require(gw::from_cursor(gw::to_cursor(key)) == key, "a cursor does not round-trip");
  if (!in.empty() && kw::valid_utf8(in))
    kw::fuzz::require(gw::from_cursor(gw::to_cursor(in)) == in, "a key does not round-trip through its cursor");

  const auto nl = in.find('\n');
  gw::http_request req;
  req.method = "GET";
  req.request_id = "fuzz-1";
  req.target = "/api/v1/monitors?" + in.substr(0, nl);
  if (nl != std::string::npos) req.headers.emplace_back("if-none-match", in.substr(nl + 1));
  (void)gw::if_none_match(req, "\"3f2a\"");
  if (!gw::parse_target(req.target, req.path, req.query)) return 0;

  json details = json::array();
  gw::unknown_query(req, {"limit", "cursor", "from", "to", "status", "tag", "name"}, details);
  json page_details = json::array();
  const gw::page pg = gw::page_of(req, page_details);
  if (page_details.empty()) kw::fuzz::require(pg.limit >= 1 && pg.limit <= 200, "a limit outside 1..200 accepted");
  for (const char* name : {"from", "to", "since"}) {
    json d = json::array();
    if (auto t = gw::time_param(req, name, d)) (void)gw::rfc3339(*t);
  }
  return 0;
}
