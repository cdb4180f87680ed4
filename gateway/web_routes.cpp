// Routes of the "web" group (api_context.hpp): the dashboard app. Not written yet.
#include "gateway/api_context.hpp"

namespace kw::gateway {

void add_web_routes(router&, const api_context&) {}

void describe_web_routes(json&, json&) {}

}  // namespace kw::gateway
