// Routes of the "setup" group (api_context.hpp): not written yet.
#include "gateway/api_context.hpp"

namespace kw::gateway {

void add_setup_routes(router&, const api_context&) {}

void describe_setup_routes(json&, json&) {}

}  // namespace kw::gateway
