// What the CAF shells of one node share: the host context, the messages
// between the partition host and its aggregate actors, and the spawn
// functions. Included only by the actor .cpp files — it pulls in CAF.
#pragma once

#include <caf/all.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/host/node.hpp"
#include "actors/host/recovery.hpp"
#include "actors/host/secret_box.hpp"
#include "storage/event_log.hpp"
#include "storage/rocks_snapshot_store.hpp"

namespace kw::checks {
class prober;
class webhook_sender;
}  // namespace kw::checks

namespace kw {

// Push tokens, by their hex SHA-256 (monitor_config::push_token_hash) →
// (tenant, monitor), shared by every host of the node.
class push_registry {
public:
  // False (and nothing changed) when the token already belongs to another
  // monitor: a push URL never silently changes hands.
  bool put(const std::string& token_hash, const std::string& tenant, const std::string& monitor);
  void erase(const std::string& token_hash);
  void erase_monitor(const std::string& tenant, const std::string& monitor);
  std::optional<std::pair<std::string, std::string>> find(const std::string& token_hash) const;

private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::pair<std::string, std::string>> map_;
};

// The access part (access_part below) of each tenant, as its actor last
// published it: when it starts, and after each command it applied, before
// it replies to that command. So once a caller has heard a command's answer
// (a key revoked, a member removed), every later lookup sees its effect,
// exactly as a query to the actor would; the gateway authenticates each
// request from here without a message to the actor. A passivated tenant's
// entry stays: nothing changes a tenant but its actor, and a reactivated
// actor publishes again. A tenant not here is asked of its actor.
class access_board {
public:
  void put(const std::string& tenant, std::shared_ptr<const tenant::state> st);
  std::shared_ptr<const tenant::state> find(const std::string& tenant) const;

private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const tenant::state>> map_;
};

// Facts about a tenant that its monitors need to decide and to notify.
struct tenant_facts {
  bool suspended = false;
  int min_interval_s = 0;
  struct window {
    std::vector<std::string> monitor_ids;  // empty: all
    timestamp starts_at, ends_at;
  };
  std::vector<window> windows;
  struct channel {
    std::string url;
    std::string secret;
  };
  std::unordered_map<std::string, channel> channels;
  // The tenant as of its last change, as far as tenant::authorize reads it
  // (existence, status, members and keys; nothing else is filled in), for
  // authorizing monitor commands sent by users and API keys.
  std::shared_ptr<const tenant::state> tenant;

  bool in_maintenance(const std::string& monitor, timestamp at) const;
};
using facts_ptr = std::shared_ptr<const tenant_facts>;

// The part of a tenant's state that access checks read (tenant::authorize,
// the gateway's tenant_access): identity, plan, status, members and keys,
// nothing else filled in. Cheap where the whole state is not (its monitor
// set grows with the tenant).
tenant::state access_part(const tenant::state& st);

// One per tenant, shared by the host and the tenant's monitors: a fact change
// is one atomic store, not a message to every monitor. (Monitors are woken
// by a message only when a suspension is lifted, to reschedule their checks.)
class facts_cell {
public:
  explicit facts_cell(std::string tenant) : tenant_(std::move(tenant)) {}
  const std::string& tenant() const noexcept { return tenant_; }
  facts_ptr load() const { return std::atomic_load(&p_); }
  void store(facts_ptr f) { std::atomic_store(&p_, std::move(f)); }

private:
  const std::string tenant_;  // kept here, once, for all the tenant's monitors
  facts_ptr p_;
};
using cell_ptr = std::shared_ptr<facts_cell>;

facts_ptr make_facts(const tenant::state& st, const plan_catalog& plans);

// Everything one partition's actors share. Immutable after start, except the
// objects that are themselves thread-safe (log, stores, prober, registry).
struct host_context {
  partition_id partition{0};
  std::string source;  // keepwatch/<node>
  std::shared_ptr<storage::event_log> log;
  std::shared_ptr<storage::rocks_snapshot_store> snaps;
  std::shared_ptr<const plan_catalog> plans;
  std::shared_ptr<checks::prober> probes;        // null: no checks
  std::shared_ptr<checks::webhook_sender> webhooks;
  std::shared_ptr<push_registry> push;
  std::shared_ptr<access_board> access;  // published by the tenant actors
  std::shared_ptr<const secret_box> secrets;  // opens webhook secrets
  int passivate_after_s = 600;
  int snapshot_interval_s = 300;
  int jitter_pct = 10;
  int webhook_max_attempts = 5;
  int webhook_initial_backoff_ms = 500;
};
using context_ptr = std::shared_ptr<const host_context>;

// ---- messages --------------------------------------------------------------

struct tenant_request {
  tenant::command cmd;
  reply_fn reply;
};
struct monitor_request {
  std::string tenant;
  std::string monitor;
  monitor::command cmd;
  reply_fn reply;
};
struct push_request {
  std::string token_hash;
  std::string tenant;
  std::string monitor;
  reply_fn reply;
};
struct append_done {
  result<storage::append_ack> ack;
};
struct tenant_query {
  std::string tenant;
  std::function<void(result<tenant::state>)> reply;
  // When set, the reply carries project(state) instead of a copy of the
  // whole state (the gateway asks for the little it needs on every request).
  std::function<tenant::state(const tenant::state&)> project;
};
struct monitor_query {
  std::string monitor;
  std::function<void(result<monitor::state>)> reply;
};
struct facts_changed {
  std::string tenant;
  facts_ptr facts;
};
struct monitor_born {
  std::string tenant;
  std::string monitor;
  event created;
  std::int64_t offset = 0;
};
struct monitor_gone {
  std::string tenant;
  std::string monitor;
};
struct tenant_idle {
  std::string tenant;
};
struct tenant_passivated {
  std::string tenant;
  storage::snapshot snap;
};
struct snapshot_reply {
  storage::snapshot snap;
};
struct stats_query {
  std::function<void(std::int64_t tenants, std::int64_t monitors)> reply;
};

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;  // + log_ends for actors
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using resolve_atom = caf::atom_constant<caf::atom("resolve")>;

// ---- spawning ----------------------------------------------------------------

caf::actor spawn_tenant(caf::actor_system& sys, context_ptr ctx, caf::actor host,
                        recovered<tenant::state> st);
caf::actor spawn_monitor(caf::actor_system& sys, context_ptr ctx, caf::actor host,
                         recovered<monitor::state> st, cell_ptr facts, bool run_checks);
caf::actor spawn_host(caf::actor_system& sys, context_ptr ctx, partition_state ps,
                      bool run_checks);

// ---- the decide / append / evolve cycle shared by both shells ---------------

// Stamps envelopes around decided payloads: ids, seq, time, actor, causation.
std::vector<event> stamp(const host_context& ctx, const std::string& tenant,
                         const std::string& aggregate, std::int64_t version,
                         std::int64_t check_seq, const command_meta& meta,
                         std::vector<event_data> data);

// The log records for stamped events (check results to the checks topic).
std::vector<storage::record> to_records(const std::vector<event>& events);

// Appends stamped events for `self`, which gets an append_done back.
void append_for(caf::local_actor* self, const host_context& ctx, const std::vector<event>& events);

// After an append whose outcome is unknown (errc::unavailable: the log may
// or may not have committed it), looks for `events` in the log from the
// aggregate's next offsets on. A value: the offsets of all of them (the group
// is atomic), or nullopt when none is there. An error: the log cannot be read
// yet (try again later).
result<std::optional<std::vector<log_offset>>> find_in_log(const host_context& ctx,
                                                           const std::vector<event>& events,
                                                           std::int64_t events_from,
                                                           std::int64_t checks_from);

// An append that failed with errc::unavailable may have been committed or
// not. The caller hears so now (a retry with the same command id is safe;
// `reply` is used up); the actor keeps the command pending and takes no other
// until the log, once settled, tells which (resolve_atom → find_in_log), so
// its state never diverges from the log. False for any other outcome.
bool defer_unknown_outcome(caf::event_based_actor* self, const host_context& ctx,
                           const append_done& d, reply_fn& reply);
// The same for an append that carried several commands: each hears so.
bool defer_unknown_outcome(caf::event_based_actor* self, const host_context& ctx,
                           const append_done& d, const std::vector<reply_fn*>& replies);

// On resolve_atom: what became of `pending` according to the log — the
// append_done to apply (found: its offsets; not found: a failure) — or
// nullopt when the log cannot tell yet (another resolve_atom is scheduled).
std::optional<append_done> resolve_pending(caf::event_based_actor* self, const host_context& ctx,
                                           const std::vector<event>& pending,
                                           std::int64_t events_from, std::int64_t checks_from);

// The answer to a retried command (decide gave no events): the first
// outcome when it is still cached, marked as a duplicate.
command_reply duplicate_reply(const host_context& ctx, std::int64_t version,
                              const command_reply* cached = nullptr);

// The partition's end offsets (-1 where the log cannot tell). Read once per
// partition snapshot and handed to every actor: on Kafka each read is a
// round trip to the cluster.
struct log_ends {
  std::int64_t events = -1;
  std::int64_t checks = -1;
};
log_ends read_log_ends(const host_context& ctx);

// The offsets an aggregate's snapshot covers: when it has no append in
// flight, everything in the log up to `ends` (none of it is its own and
// unapplied); otherwise, or where an end is unknown, only what it applied.
std::pair<std::int64_t, std::int64_t> covered_offsets(const log_ends& ends, bool busy,
                                                      std::int64_t events_next,
                                                      std::int64_t checks_next);

// A bounded memory of replies to recent command ids (idempotent retries).
class reply_cache {
public:
  explicit reply_cache(std::size_t cap) : cap_(cap) {}
  void put(const std::string& command_id, const command_reply& r);
  const command_reply* find(const std::string& command_id) const;

private:
  std::size_t cap_;
  std::deque<std::string> order_;
  std::unordered_map<std::string, command_reply> map_;
};

}  // namespace kw

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::tenant_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::monitor_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::push_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::append_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::tenant_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::monitor_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::facts_changed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::monitor_born)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::monitor_gone)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::tenant_idle)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::tenant_passivated)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::snapshot_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::stats_query)
