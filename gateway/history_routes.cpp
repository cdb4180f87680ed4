// Routes of the "history" group (api_context.hpp): not written yet.
#include "gateway/api_context.hpp"

namespace kw::gateway {

void add_history_routes(router&, const api_context&) {}

void describe_history_routes(json&, json&) {}

}  // namespace kw::gateway
