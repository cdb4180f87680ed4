// The Monitor aggregate as a pure decider: configuration, active/paused, the
// status machine, the open incident.
//
// Status machine (one record_check at a time; F = consecutive failures
// including this check, R = config.retries):
//
//            ok                    fail, F > R             ok
//   pending ─────▶ up ──────────────────────────▶ down ─────────▶ up
//      │            ▲  fail, F <= R: stays up       │  fail: stays down
//      │            │                               │
//      └── fail, F > R ─────────────────────────────┘
//
//   In a maintenance window (ctx.in_maintenance) a failure moves to
//   maintenance instead (no incident, failures not accumulated: F is 1 at
//   most there); an ok moves to up as usual. Leaving the window, the next
//   check re-evaluates: ok → up, failure → down if F > R, else pending.
//
//   Every move emits monitor_status_changed. A move to down opens an incident
//   (incident_opened, id from the command) unless one is open; a move to up
//   closes the open incident (incident_closed, duration from its opened_at to
//   the command's time).
//
// Contracts:
//  - decide is pure; facts about the tenant arrive in `context`.
//  - update_monitor links only channels the tenant has (context.has_channel),
//    as create_monitor does in the Tenant: never another tenant's.
//  - record_check always emits check_completed first (for keepwatch.checks.v1,
//    see kw::is_check_result); the shell must give it seq = state.check_seq
//    + 1, which monitor_status_changed.check_seq already refers to.
//  - monitor_created and monitor_deleted are decided by the Tenant and live
//    in the tenant's stream; evolve applies them here too (created
//    initializes, deleted ends the monitor) without counting them in version.
//  - The shell stamps each event's envelope with time = command time and
//    causation_id = command id; incident durations rely on it.
//  - A command id in the recent window: ok with NO events (a replay).
//  - version counts monitor-aggregate domain events (not check_completed).
//  - Owed notifications: incident_opened (transition down) and
//    incident_closed (up) make the transition owed to every channel in the
//    configuration at that moment; notification_delivered or
//    notification_failed for (incident, transition, channel) settles it, and
//    monitor_deleted voids what is still owed. The set is part of the state
//    (and its snapshots), so recovery from snapshots and a full replay owe
//    the same; the shell sends what is owed and re-sends it after a restart.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/common/dedupe_window.hpp"
#include "events/event.hpp"
#include "events/ids.hpp"
#include "events/monitor_config.hpp"
#include "events/result.hpp"

namespace kw::monitor {

// ---------------------------------------------------------------- state

struct open_incident {
  std::string id;
  timestamp opened_at;
  friend bool operator==(const open_incident& a, const open_incident& b) {
    return a.id == b.id && a.opened_at == b.opened_at;
  }
};

// A transition whose notification some channels have not had an outcome
// for yet. Holds what the notification's body is made of, so a re-send after
// a restart sends the very same body.
struct owed_notification {
  std::string incident_id;
  std::string transition;  // down | up
  std::string reason;      // the incident's cause (down), empty (up)
  std::string monitor_name;  // the monitor's name at the transition
  timestamp at;            // the transition's time
  std::vector<std::string> channel_ids;  // not yet delivered or failed
  friend bool operator==(const owed_notification& a, const owed_notification& b) {
    return a.incident_id == b.incident_id && a.transition == b.transition && a.reason == b.reason &&
           a.monitor_name == b.monitor_name && a.at == b.at && a.channel_ids == b.channel_ids;
  }
};

inline constexpr std::size_t recent_commands = 16;

struct state {
  bool exists = false;
  bool deleted = false;
  bool active = true;  // false = paused
  kw::monitor_status status = kw::monitor_status::pending;
  int consecutive_failures = 0;
  std::int64_t version = 0;    // monitor-aggregate domain events applied
  std::int64_t check_seq = 0;  // seq of the last check_completed
  std::optional<timestamp> last_check_at;
  std::string id;
  monitor_config config;
  std::optional<open_incident> incident;
  dedupe_window<recent_commands> recent;
  std::vector<owed_notification> owed;  // oldest first

  friend bool operator==(const state& a, const state& b);
  friend bool operator!=(const state& a, const state& b) { return !(a == b); }
};

// ---------------------------------------------------------------- commands

struct update_monitor { monitor_config config; };
struct pause_monitor {};
struct resume_monitor {};
struct record_check {
  bool ok = false;
  std::int64_t latency_us = 0;
  int http_status = 0;
  std::string error;  // longer than max_error_len is cut (at a UTF-8 boundary)
  std::optional<timestamp> cert_expires_at;
  std::string incident_id;  // fresh id, used only if an incident opens
};
struct record_delivery {
  std::string channel_id;
  std::string incident_id;
  std::string transition;  // down | up
  int attempts = 0;  // >= 1 when delivered; 0: given up without sending
  int http_status = 0;
  bool delivered = false;
  std::string error;
};

inline constexpr std::size_t max_error_len = 512;

using body = std::variant<update_monitor, pause_monitor, resume_monitor,
                          record_check, record_delivery>;

// Facts the shell looks up from the Tenant before deciding.
struct context {
  bool tenant_suspended = false;
  int min_interval_s = 0;       // the tenant plan's minimum interval
  bool in_maintenance = false;  // tenant::is_in_maintenance(id, command time)
  // Whether the tenant has this notification channel. An update may link a
  // monitor only to its own tenant's channels (links it already has stay,
  // even to a channel deleted since). Empty: not known, not checked.
  std::function<bool(const std::string&)> has_channel;
};

struct command {
  kw::command_meta meta;
  context ctx;
  body b;
};

// ---------------------------------------------------------------- decider

kw::result<std::vector<kw::event_data>> decide(const state& s, const command& c);

// Monitor events and check_completed (check_seq = the event's meta.seq).
// Tenant events are ignored. Pass the state by move.
state evolve(state s, const kw::event& e);

state initial_state();

bool seen(const state& s, std::string_view command_id) noexcept;

std::string encode_state(const state& s);
kw::result<state> decode_state(std::string_view json);
// The snapshot's document without what only the write side needs (its format
// version "v" and dedupe window "recent"): the state as an auditor reads it.
// encode_state is this document plus those two members, so they cannot differ.
nlohmann::json readable_state(const state& s);

}  // namespace kw::monitor
