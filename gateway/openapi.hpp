// The OpenAPI 3 document of API v1, served at /api/v1/openapi.json. A test
// checks it against the router: every route is documented and every
// documented operation is routed.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace kw::gateway {

const nlohmann::json& openapi_document();

}  // namespace kw::gateway
