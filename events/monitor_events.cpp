// JSON conversion of the Monitor aggregate's events and of check_completed
// (see monitor_events.hpp). The wire fields are listed once, in
// event_fields.hpp.
#include "events/monitor_events.hpp"

#include "events/json_io.hpp"

namespace kw {

KW_DEFINE_EVENT_JSON(monitor_created)
KW_DEFINE_EVENT_JSON(monitor_updated)
KW_DEFINE_EVENT_JSON(monitor_paused)
KW_DEFINE_EVENT_JSON(monitor_resumed)
KW_DEFINE_EVENT_JSON(monitor_deleted)
KW_DEFINE_EVENT_JSON(monitor_status_changed)
KW_DEFINE_EVENT_JSON(incident_opened)
KW_DEFINE_EVENT_JSON(incident_closed)
KW_DEFINE_EVENT_JSON(notification_delivered)
KW_DEFINE_EVENT_JSON(notification_failed)
KW_DEFINE_EVENT_JSON(check_completed)

}  // namespace kw
