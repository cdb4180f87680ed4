// Routes of the "team" group (api_context.hpp): not written yet.
#include "gateway/api_context.hpp"

namespace kw::gateway {

void add_team_routes(router&, const api_context&) {}

void describe_team_routes(json&, json&) {}

}  // namespace kw::gateway
