// Routes of the "tenant" group (api_context.hpp): not written yet.
#include "gateway/api_context.hpp"

namespace kw::gateway {

void add_tenant_routes(router&, const api_context&) {}

void describe_tenant_routes(json&, json&) {}

}  // namespace kw::gateway
