// Routes of the "public" group (api_context.hpp): not written yet.
#include "gateway/api_context.hpp"

namespace kw::gateway {

void add_public_routes(router&, const api_context&) {}

void describe_public_routes(json&, json&) {}

}  // namespace kw::gateway
