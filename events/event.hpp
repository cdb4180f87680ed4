// The Keepwatch event: a CloudEvents 1.0 envelope around one typed payload.
//
// `event_data` is the closed set of every event type; visiting it with an
// `overloaded{}` set that misses a case fails to compile. Envelope fields that
// the log stamps (hash, prevhash, offset) are empty until the append.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "events/ids.hpp"
#include "events/monitor_events.hpp"
#include "events/tenant_events.hpp"

namespace kw {

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

using event_data = std::variant<
    // tenant aggregate
    tenant_created, tenant_renamed, tenant_plan_changed, tenant_suspended,
    tenant_activated, tenant_deleted, member_added, member_role_changed,
    member_removed, api_key_created, api_key_revoked, channel_created,
    channel_updated, channel_deleted, status_page_created, status_page_updated,
    status_page_deleted, maintenance_scheduled, maintenance_cancelled,
    // monitor lifecycle (tenant stream), then the monitor aggregate
    monitor_created, monitor_updated, monitor_paused, monitor_resumed,
    monitor_deleted, monitor_status_changed, incident_opened, incident_closed,
    notification_delivered, notification_failed,
    // checks topic
    check_completed,
    // tenant aggregate, added after the first release: appended so the
    // alternatives above keep their indices
    api_calls_recorded, tree_head_signed>;

// Who caused a command: a user, an API key, or the system itself.
struct actor_ref {
  std::string kind = "system";  // user | api_key | system
  std::string id;
  std::string ip;
  friend bool operator==(const actor_ref& a, const actor_ref& b) {
    return a.kind == b.kind && a.id == b.id && a.ip == b.ip;
  }
};

// The envelope fields of DESIGN.md, minus `type` (derived from the payload)
// and `data` (the payload itself).
struct envelope {
  std::string id;             // UUID v7
  std::string source;         // keepwatch/<node>
  std::string subject;        // e.g. monitor/<id>
  timestamp time;
  tenant_id tenant;
  std::string aggregate;      // tenant/<id> or monitor/<id>
  seq_no seq{0};
  actor_ref actor;
  std::string correlation_id; // request id
  std::string causation_id;   // command id
  std::string prevhash;       // hex; empty for check results
  std::string hash;           // hex; empty for check results
};

struct event {
  envelope meta;
  event_data data;
};

// The CloudEvents `type` of a payload, e.g. "keepwatch.monitor.created.v2".
const char* type_of(const event_data& d) noexcept;

// True for the payloads that go to keepwatch.checks.v1 (no hash chain).
bool is_check_result(const event_data& d) noexcept;

// Command metadata shared by every command of every aggregate.
struct command_meta {
  std::string command_id;       // idempotency key
  std::int64_t expected_version = -1;  // -1: any version
  actor_ref actor;
  timestamp time;
  std::string correlation_id;
};

}  // namespace kw
