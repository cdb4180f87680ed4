// The pieces both actor shells share: envelopes, records, facts, replies.
#include "actors/host/shell.hpp"

#include <chrono>
#include <random>

#include "events/codec.hpp"

namespace kw {

// ---- push registry -------------------------------------------------------------

bool push_registry::put(const std::string& token_hash, const std::string& tenant,
                        const std::string& monitor) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = map_.emplace(token_hash, std::make_pair(tenant, monitor));
  return fresh || it->second == std::make_pair(tenant, monitor);
}

void push_registry::erase(const std::string& token_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  map_.erase(token_hash);
}

void push_registry::erase_monitor(const std::string& tenant, const std::string& monitor) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = map_.begin(); it != map_.end();)
    it = it->second == std::make_pair(tenant, monitor) ? map_.erase(it) : std::next(it);
}

std::optional<std::pair<std::string, std::string>> push_registry::find(
    const std::string& token_hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(token_hash);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void access_board::put(const std::string& tenant, std::shared_ptr<const tenant::state> st) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  map_[tenant] = std::move(st);
}

std::shared_ptr<const tenant::state> access_board::find(const std::string& tenant) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = map_.find(tenant);
  return it == map_.end() ? nullptr : it->second;
}

// ---- tenant facts ----------------------------------------------------------------

bool tenant_facts::in_maintenance(const std::string& monitor, timestamp at) const {
  for (auto& w : windows) {
    if (at < w.starts_at || at >= w.ends_at) continue;
    if (w.monitor_ids.empty()) return true;
    for (auto& m : w.monitor_ids)
      if (m == monitor) return true;
  }
  return false;
}

facts_ptr make_facts(const tenant::state& st, const plan_catalog& plans) {
  auto f = std::make_shared<tenant_facts>();
  f->suspended = st.status != tenant::tenant_status::active;
  if (auto* p = plans.find(st.plan)) f->min_interval_s = p->min_interval_s;
  for (auto& [id, w] : st.maintenance)
    f->windows.push_back({w.monitor_ids, w.starts_at, w.ends_at});
  for (auto& [id, c] : st.channels) f->channels[id] = {c.url, c.secret_enc};
  // Only what tenant::authorize reads: a copy of the whole state (its
  // monitor set above all) after every command made creates O(monitors).
  f->tenant = std::make_shared<const tenant::state>(access_part(st));
  return f;
}

tenant::state access_part(const tenant::state& st) {
  tenant::state out;
  out.exists = st.exists;
  out.id = st.id;
  out.name = st.name;
  out.plan = st.plan;
  out.status = st.status;
  out.suspend_reason = st.suspend_reason;
  out.members = st.members;
  out.api_keys = st.api_keys;
  out.version = st.version;
  return out;
}

// ---- ids and time ------------------------------------------------------------------

actor_ref system_actor() { return actor_ref{"system", "keepwatch", ""}; }

timestamp now() {
  using namespace std::chrono;
  return timestamp{duration_cast<microseconds>(system_clock::now().time_since_epoch()).count()};
}

std::string new_id() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (std::uint64_t(std::random_device{}()) << 32)};
  return uuid_v7(now(), rng(), rng());
}

// ---- envelopes and records ---------------------------------------------------------

std::vector<event> stamp(const host_context& ctx, const std::string& tenant,
                         const std::string& aggregate, std::int64_t version,
                         std::int64_t check_seq, const command_meta& meta,
                         std::vector<event_data> data) {
  std::vector<event> out;
  out.reserve(data.size());
  for (auto& d : data) {
    event e;
    e.meta.id = new_id();
    e.meta.source = ctx.source;
    e.meta.time = meta.time;
    e.meta.tenant = tenant_id{tenant};
    e.meta.aggregate = aggregate;
    e.meta.subject = aggregate;
    e.meta.actor = meta.actor;
    e.meta.correlation_id = meta.correlation_id;
    e.meta.causation_id = meta.command_id;
    if (is_check_result(d)) {
      e.meta.seq = seq_no{++check_seq};
    } else {
      e.meta.seq = seq_no{++version};
      if (auto* c = std::get_if<monitor_created>(&d)) e.meta.subject = "monitor/" + c->monitor_id;
      if (auto* c = std::get_if<monitor_deleted>(&d)) e.meta.subject = "monitor/" + c->monitor_id;
    }
    e.data = std::move(d);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<storage::record> to_records(const std::vector<event>& events) {
  std::vector<storage::record> out;
  out.reserve(events.size());
  for (auto& e : events) {
    storage::record r;
    bool check = is_check_result(e.data);
    r.t = check ? storage::topic::checks : storage::topic::events;
    r.key = e.meta.tenant.get();
    r.value = encode(e);
    // Structured mode: the value is the whole CloudEvent; the ce_* headers let
    // a consumer route without parsing it.
    r.headers = {{"content-type", "application/cloudevents+json"},
                 {"ce_type", type_of(e.data)},
                 {"ce_id", e.meta.id},
                 {"ce_specversion", "1.0"}};
    r.chained = !check;
    out.push_back(std::move(r));
  }
  return out;
}

void append_for(caf::local_actor* self, const host_context& ctx, const std::vector<event>& events) {
  auto me = caf::actor_cast<caf::actor>(self);
  ctx.log->append(ctx.partition, to_records(events), [me](result<storage::append_ack> ack) {
    caf::anon_send(me, append_done{std::move(ack)});
  });
}

result<std::optional<std::vector<log_offset>>> find_in_log(const host_context& ctx,
                                                           const std::vector<event>& events,
                                                           std::int64_t events_from,
                                                           std::int64_t checks_from) {
  std::vector<log_offset> found(events.size(), log_offset{-1});
  std::size_t hits = 0;
  for (auto t : {storage::topic::events, storage::topic::checks}) {
    std::vector<std::size_t> wanted;
    for (std::size_t i = 0; i < events.size(); ++i)
      if ((t == storage::topic::checks) == is_check_result(events[i].data)) wanted.push_back(i);
    if (wanted.empty()) continue;
    auto at = t == storage::topic::events ? events_from : checks_from;
    for (;;) {
      auto recs = ctx.log->read(t, ctx.partition, log_offset{at}, 4096);
      if (!recs) return recs.err();
      if (recs->empty()) break;
      for (auto& r : *recs)
        for (auto i : wanted)
          if (found[i].get() < 0 &&
              r.value.find("\"id\":\"" + events[i].meta.id + "\"") != std::string::npos) {
            found[i] = r.offset;
            ++hits;
          }
      at = recs->back().offset.get() + 1;
    }
  }
  if (hits == 0) return std::optional<std::vector<log_offset>>{};
  if (hits != events.size())
    return make_error(errc::internal, "an append group is in the log only in part");
  return std::optional<std::vector<log_offset>>{std::move(found)};
}

bool defer_unknown_outcome(caf::event_based_actor* self, const host_context& ctx,
                           const append_done& d, reply_fn& reply) {
  return defer_unknown_outcome(self, ctx, d, std::vector<reply_fn*>{&reply});
}

bool defer_unknown_outcome(caf::event_based_actor* self, const host_context& ctx,
                           const append_done& d, const std::vector<reply_fn*>& replies) {
  if (d.ack || d.ack.err().code != errc::unavailable) return false;
  auto e = d.ack.err();
  e.message += " (the outcome is unknown; retrying the same command id is safe)";
  for (auto* reply : replies) {
    if (!*reply) continue;
    (*reply)(e);
    *reply = nullptr;
  }
  self->delayed_send(self, std::max<std::chrono::milliseconds>(std::chrono::milliseconds(500),
                                                              ctx.log->settle_time()),
                     resolve_atom::value);
  return true;
}

std::optional<append_done> resolve_pending(caf::event_based_actor* self, const host_context& ctx,
                                           const std::vector<event>& pending,
                                           std::int64_t events_from, std::int64_t checks_from) {
  auto found = find_in_log(ctx, pending, events_from, checks_from);
  if (!found) {
    self->delayed_send(self, std::chrono::seconds(1), resolve_atom::value);
    return std::nullopt;
  }
  if (!*found) return append_done{make_error(errc::storage, "not appended")};
  return append_done{storage::append_ack{std::move(**found), {}}};
}

command_reply duplicate_reply(const host_context& ctx, std::int64_t version,
                              const command_reply* cached) {
  command_reply r;
  if (cached) r = *cached;
  r.duplicate = true;
  r.version = version;
  r.partition = ctx.partition.get();
  return r;
}

log_ends read_log_ends(const host_context& ctx) {
  log_ends ends;
  if (auto e = ctx.log->end_offset(storage::topic::events, ctx.partition)) ends.events = e->get();
  if (auto e = ctx.log->end_offset(storage::topic::checks, ctx.partition)) ends.checks = e->get();
  return ends;
}

std::pair<std::int64_t, std::int64_t> covered_offsets(const log_ends& ends, bool busy,
                                                      std::int64_t events_next,
                                                      std::int64_t checks_next) {
  if (busy) return {events_next, checks_next};
  return {std::max(events_next, ends.events), std::max(checks_next, ends.checks)};
}

// ---- reply cache ---------------------------------------------------------------------

void reply_cache::put(const std::string& command_id, const command_reply& r) {
  if (command_id.empty() || cap_ == 0) return;
  if (map_.emplace(command_id, r).second) {
    order_.push_back(command_id);
    if (order_.size() > cap_) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }
}

const command_reply* reply_cache::find(const std::string& command_id) const {
  auto it = map_.find(command_id);
  return it == map_.end() ? nullptr : &it->second;
}

}  // namespace kw
