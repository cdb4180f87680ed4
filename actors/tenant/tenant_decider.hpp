// The Tenant aggregate as a pure decider: state, commands, decide, evolve.
//
// The Tenant is the single authority for everything a plan limits (monitors,
// users, status pages, minimum interval), so it also decides monitor_created
// and monitor_deleted — events of the tenant's stream whose subject is the
// monitor — and two
// concurrent creates can never exceed a quota.
//
// Contracts:
//  - decide is pure: no clock, no I/O, no randomness. Time and ids arrive in
//    the command. A rejection is an error value and appends nothing.
//  - A command whose command_id is still in the recent window was already
//    applied: decide returns ok with NO events; the shell replays its cached
//    reply (use `seen()` to tell a replay from a fresh command).
//  - evolve is total and validates nothing. The shell stamps each event's
//    envelope with time = command time and causation_id = command id.
//  - version counts every event of the tenant's stream (aggregate
//    tenant/<id>), monitor_created and monitor_deleted included; the monitor's
//    own stream (aggregate monitor/<id>) starts with its first own event.
//
// Rule summary (the tests are the full specification):
//  - not yet created: only create_tenant, everything else not_found;
//    deleted: everything not_found; suspended: only activate_tenant,
//    delete_tenant and record_api_calls, everything else suspended.
//  - expected_version >= 0 and != version: conflict.
//  - authorization: actor kind "user" must be a member whose role allows the
//    command, kind "api_key" must be a live key of scope read_write (acting
//    as role member); any other kind ("system", "operator") is the platform
//    and may do everything. suspend/activate are platform-only.
//  - record_api_calls is platform-only metering: the gateway's per-tenant,
//    per-UTC-day count of API calls, flushed every minute and at shutdown.
//    It is accepted on a suspended tenant (its reads are still counted),
//    emits api_calls_recorded, and changes nothing but version and the
//    recent-command window.
//  - delete_tenant emits monitor_deleted for every live monitor, then
//    tenant_deleted, so every monitor stream gets its last event.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/common/dedupe_window.hpp"
#include "actors/common/roles.hpp"
#include "config/plan.hpp"
#include "events/event.hpp"
#include "events/ids.hpp"
#include "events/monitor_config.hpp"
#include "events/result.hpp"

namespace kw::tenant {

// ---------------------------------------------------------------- state

enum class tenant_status { active, suspended, deleted };
std::string_view to_string(tenant_status s) noexcept;

struct member {
  std::string email;
  kw::role role = kw::role::member;
  friend bool operator==(const member& a, const member& b) {
    return a.email == b.email && a.role == b.role;
  }
};

struct api_key {
  std::string name;
  std::string hash;   // hex SHA-256 of the key
  std::string scope;  // read | read_write
  bool revoked = false;
  friend bool operator==(const api_key& a, const api_key& b) {
    return a.name == b.name && a.hash == b.hash && a.scope == b.scope &&
           a.revoked == b.revoked;
  }
};

struct channel {
  std::string name;
  std::string url;
  std::string secret_enc;
  friend bool operator==(const channel& a, const channel& b) {
    return a.name == b.name && a.url == b.url && a.secret_enc == b.secret_enc;
  }
};

struct status_page {
  std::string slug;
  std::string title;
  std::vector<std::string> monitor_ids;
  friend bool operator==(const status_page& a, const status_page& b) {
    return a.slug == b.slug && a.title == b.title && a.monitor_ids == b.monitor_ids;
  }
};

struct maintenance_window {
  std::string title;
  std::vector<std::string> monitor_ids;  // empty = every monitor
  timestamp starts_at;
  timestamp ends_at;  // exclusive
  friend bool operator==(const maintenance_window& a, const maintenance_window& b) {
    return a.title == b.title && a.monitor_ids == b.monitor_ids &&
           a.starts_at == b.starts_at && a.ends_at == b.ends_at;
  }
};

inline constexpr std::size_t recent_commands = 256;

struct state {
  bool exists = false;
  std::string id;    // the tenant id (from the envelope of tenant_created)
  std::string name;
  std::string plan;
  tenant_status status = tenant_status::active;
  std::string suspend_reason;
  std::map<std::string, member> members;            // by user_id
  std::map<std::string, api_key> api_keys;          // by key_id (revoked kept)
  std::map<std::string, channel> channels;          // by channel_id
  std::map<std::string, status_page> status_pages;  // by page_id
  // By window_id. Windows that ended before a newer window was scheduled are
  // dropped when it is (by the event's time), so the map stays small.
  std::map<std::string, maintenance_window> maintenance;
  std::set<std::string> monitors;  // live monitor ids
  std::int64_t version = 0;        // tenant-aggregate events applied
  dedupe_window<recent_commands> recent;

  friend bool operator==(const state& a, const state& b);
  friend bool operator!=(const state& a, const state& b) { return !(a == b); }
};

// ---------------------------------------------------------------- commands

struct create_tenant { std::string name, plan, owner_user_id, owner_email; };
struct rename_tenant { std::string name; };
struct change_plan { std::string plan; };
// Rename and change plan at once: what is given and differs changes, in one
// decision (both events or neither); nothing that differs is a conflict.
struct update_tenant {
  std::optional<std::string> name, plan;
};
struct suspend_tenant { std::string reason; };
struct activate_tenant {};
struct delete_tenant {};
struct add_member { std::string user_id, email, role; };
struct change_role { std::string user_id, role; };
struct remove_member { std::string user_id; };
struct create_api_key { std::string key_id, name, key_hash, scope; };
struct revoke_api_key { std::string key_id; };
struct create_channel { std::string channel_id, name, url, secret_enc; };
struct update_channel { std::string channel_id, name, url, secret_enc; };
struct delete_channel { std::string channel_id; };
struct create_status_page {
  std::string page_id, slug, title;
  std::vector<std::string> monitor_ids;
};
struct update_status_page {
  std::string page_id, slug, title;
  std::vector<std::string> monitor_ids;
};
struct delete_status_page { std::string page_id; };
struct schedule_maintenance {
  std::string window_id, title;
  std::vector<std::string> monitor_ids;  // empty = every monitor
  timestamp starts_at;
  timestamp ends_at;
};
struct cancel_maintenance { std::string window_id; };
struct create_monitor { std::string monitor_id; monitor_config config; };
struct delete_monitor { std::string monitor_id; };
// API calls served for the tenant on `day` ("YYYY-MM-DD", UTC) since the
// previous flush: a delta, 1..max_api_calls_per_record.
struct record_api_calls {
  std::string day;
  std::int64_t calls = 0;
};
inline constexpr std::int64_t max_api_calls_per_record = 1'000'000'000;
// Platform-only: the notary records a signed head of the tenant's history
// (tree_head_signed). Accepted while suspended and after deletion, so the
// last events of a tenant are vouched for too.
struct record_tree_head {
  std::int64_t tree_size = 0;
  std::string root, key_id, signature;
  timestamp signed_at;
};

using body = std::variant<
    create_tenant, rename_tenant, change_plan, suspend_tenant, activate_tenant,
    delete_tenant, add_member, change_role, remove_member, create_api_key,
    revoke_api_key, create_channel, update_channel, delete_channel,
    create_status_page, update_status_page, delete_status_page,
    schedule_maintenance, cancel_maintenance, create_monitor, delete_monitor,
    record_api_calls, update_tenant, record_tree_head>;

struct command {
  kw::command_meta meta;
  body b;
};

// ---------------------------------------------------------------- decider

// The events the command produces (in order), or why it is rejected.
// Ok with no events: a replay of a command already applied.
kw::result<std::vector<kw::event_data>> decide(const state& s, const command& c,
                                               const kw::plan_catalog& plans);

// Applies one event. Tenant-aggregate events, plus monitor_created and
// monitor_deleted (the monitor set); every other event only feeds the
// recent-command window. Pass the state by move: `s = evolve(std::move(s), e)`.
state evolve(state s, const kw::event& e);

state initial_state();

// True for events of the tenant's own stream (aggregate "tenant/<id>"), whose
// seq is version + 1, + 2, ...: tenant events and monitor_created /
// monitor_deleted (subject "monitor/<id>"); false for the monitor's own events.
bool in_tenant_stream(const kw::event_data& d) noexcept;

// True when this command id was applied recently (decide answers it with no
// events).
bool seen(const state& s, std::string_view command_id) noexcept;

// Whether `actor` may act with `p` on this tenant (see the header comment).
kw::status authorize(const state& s, const kw::actor_ref& actor, kw::permission p);

// Whether `monitor_id` is inside a maintenance window at `now`
// (starts_at <= now < ends_at).
bool is_in_maintenance(const state& s, const std::string& monitor_id, kw::timestamp now);

// Snapshots: a versioned JSON document. decode_state is strict (errc::decode).
std::string encode_state(const state& s);
// The snapshot's document without what only the write side needs (its format
// version "v" and dedupe window "recent"): the state as an auditor reads it.
// encode_state is this document plus those two members, so they cannot differ.
nlohmann::json readable_state(const state& s);
kw::result<state> decode_state(std::string_view json);

}  // namespace kw::tenant
