// Fuzz target: the request target and routing. The input is
// "<METHOD> <target>": the target goes through parse_target (percent-
// decoding, query splitting) and the router matches it against the
// gateway's route table (route_table.hpp), as the server does for every
// request. Checked: no crash or UB, and route_check.hpp's guarantees.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/route_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto r = kw::fuzz::make_router();
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto sp = in.find(' ');
  if (sp == std::string::npos) return 0;
  kw::gateway::http_request req;
  req.method = in.substr(0, sp);
  req.target = in.substr(sp + 1);
  kw::fuzz::check_route(r, std::move(req));
  return 0;
}
