// JSON conversion of the Tenant aggregate's events (see tenant_events.hpp).
// The wire fields are listed once, in event_fields.hpp.
#include "events/tenant_events.hpp"

#include "events/json_io.hpp"

namespace kw {

KW_DEFINE_EVENT_JSON(tenant_created)
KW_DEFINE_EVENT_JSON(tenant_renamed)
KW_DEFINE_EVENT_JSON(tenant_plan_changed)
KW_DEFINE_EVENT_JSON(tenant_suspended)
KW_DEFINE_EVENT_JSON(tenant_activated)
KW_DEFINE_EVENT_JSON(tenant_deleted)
KW_DEFINE_EVENT_JSON(member_added)
KW_DEFINE_EVENT_JSON(member_role_changed)
KW_DEFINE_EVENT_JSON(member_removed)
KW_DEFINE_EVENT_JSON(api_key_created)
KW_DEFINE_EVENT_JSON(api_key_revoked)
KW_DEFINE_EVENT_JSON(channel_created)
KW_DEFINE_EVENT_JSON(channel_updated)
KW_DEFINE_EVENT_JSON(channel_deleted)
KW_DEFINE_EVENT_JSON(status_page_created)
KW_DEFINE_EVENT_JSON(status_page_updated)
KW_DEFINE_EVENT_JSON(status_page_deleted)
KW_DEFINE_EVENT_JSON(maintenance_scheduled)
KW_DEFINE_EVENT_JSON(maintenance_cancelled)
KW_DEFINE_EVENT_JSON(api_calls_recorded)
KW_DEFINE_EVENT_JSON(tree_head_signed)

}  // namespace kw
