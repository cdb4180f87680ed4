// The partition host: owns every aggregate of one log partition.
//
// It spawns the tenant and monitor actors recovered for its partition, routes
// commands to them (a monitor is only reachable through its own tenant: any
// other tenant gets not_found), spawns a monitor when its tenant reports it
// born and stops it when it is deleted, relays tenant facts to the tenant's
// monitors, passivates idle tenants (snapshot, then stop) and re-activates
// them on demand (snapshot + the log's tail), and snapshots the partition
// periodically and at shutdown.
#include "actors/host/shell.hpp"

#include <spdlog/spdlog.h>

#include "events/codec.hpp"

namespace kw {
namespace {

struct tenant_entry {
  caf::actor a;
  bool passivating = false;
  std::vector<tenant_request> buffered;  // while passivating: handled after it
  std::vector<tenant_query> queries;     // likewise
};

struct monitor_entry {
  std::string tenant;
  caf::actor a;
};

struct host_shell {
  context_ptr ctx;
  bool run_checks = true;
  std::unordered_map<std::string, tenant_entry> tenants;  // live actors
  std::unordered_map<std::string, bool> dormant;          // passivated: snapshot in the store
  std::unordered_map<std::string, cell_ptr> facts;  // by tenant
  std::unordered_map<std::string, monitor_entry> monitors;  // by monitor_slot
  std::unordered_map<std::string, std::vector<std::string>> tenant_monitors;  // slots
};

using host_t = caf::stateful_actor<host_shell>;

void spawn_live_tenant(host_t* self, recovered<tenant::state> rec) {
  auto& s = self->state;
  auto id = rec.tenant;
  auto a = spawn_tenant(self->system(), s.ctx, caf::actor_cast<caf::actor>(self), std::move(rec));
  self->link_to(a);
  s.tenants[id].a = a;
}

void spawn_live_monitor(host_t* self, recovered<monitor::state> rec) {
  auto& s = self->state;
  auto tenant = rec.tenant;
  auto id = rec.st.id;
  auto slot = monitor_slot(tenant, id);
  if (rec.st.config.kind == monitor_kind::push && !rec.st.config.push_token_hash.empty())
    if (!s.ctx->push->put(rec.st.config.push_token_hash, tenant, id))
      spdlog::warn("partition {}: push token of monitor {}/{} already belongs to another monitor",
                   s.ctx->partition.get(), tenant, id);
  auto& f = s.facts[tenant];
  if (!f) f = std::make_shared<facts_cell>(tenant);
  auto a = spawn_monitor(self->system(), s.ctx, caf::actor_cast<caf::actor>(self), std::move(rec),
                         f, s.run_checks);
  self->link_to(a);
  s.monitors[slot] = monitor_entry{tenant, a};
  s.tenant_monitors[tenant].push_back(slot);
}

// Loads a passivated tenant: its snapshot, then its events after it.
result<recovered<tenant::state>> reactivate(host_t* self, const std::string& id) {
  auto& s = self->state;
  auto snap = s.ctx->snaps->load(s.ctx->partition, tenant_key(id));
  if (!snap) return snap.err();
  if (!*snap) return make_error(errc::storage, "tenant " + id + ": passivated but no snapshot");
  auto st = tenant::decode_state((*snap)->state);
  if (!st) return st.err();
  partition_state ps;
  ps.tenants[id] = recovered<tenant::state>{std::move(*st), (*snap)->events_offset.get(),
                                            (*snap)->checks_offset.get(), id};
  std::int64_t at = (*snap)->events_offset.get();
  for (;;) {
    auto recs = s.ctx->log->read(storage::topic::events, s.ctx->partition, log_offset{at}, 4096);
    if (!recs) return recs.err();
    if (recs->empty()) break;
    for (auto& r : *recs) {
      if (r.key != id) continue;
      auto e = decode(r.value);
      if (!e) return make_error(errc::decode, "offset " + std::to_string(r.offset.get()) + ": " +
                                                  e.err().message);
      if (e->meta.aggregate == tenant_key(id)) apply_recovered(ps, *e, storage::topic::events, r.offset.get());
    }
    at = recs->back().offset.get() + 1;
  }
  return std::move(ps.tenants[id]);
}

void forward_tenant(host_t* self, const std::string& tenant, tenant_request req) {
  auto& s = self->state;
  if (auto it = s.tenants.find(tenant); it != s.tenants.end()) {
    if (it->second.passivating)
      it->second.buffered.push_back(std::move(req));
    else
      self->send(it->second.a, std::move(req));
    return;
  }
  if (auto d = s.dormant.find(tenant); d != s.dormant.end()) {
    auto rec = reactivate(self, tenant);
    if (!rec) {
      spdlog::error("partition {}: cannot re-activate tenant {}: {}", s.ctx->partition.get(),
                    tenant, rec.err().message);
      if (req.reply) req.reply(rec.err());
      return;
    }
    s.dormant.erase(d);
    spawn_live_tenant(self, std::move(*rec));
    self->send(s.tenants[tenant].a, std::move(req));
    return;
  }
  if (!std::holds_alternative<tenant::create_tenant>(req.cmd.b)) {
    if (req.reply) req.reply(make_error(errc::not_found, "no tenant " + tenant));
    return;
  }
  recovered<tenant::state> fresh;
  fresh.st = tenant::initial_state();
  fresh.tenant = tenant;
  spawn_live_tenant(self, std::move(fresh));
  self->send(s.tenants[tenant].a, std::move(req));
}

const monitor_entry* find_monitor(host_t* self, const std::string& tenant,
                                  const std::string& monitor) {
  auto& s = self->state;
  auto it = s.monitors.find(monitor_slot(tenant, monitor));
  if (it == s.monitors.end()) return nullptr;
  return &it->second;
}

// Collects every live actor's snapshot and saves them in one batch, with
// the partition's checkpoint (recovery.hpp) when the set is complete: every
// live aggregate answered, no tenant was half-way through passivation (its
// snapshot comes separately), and the log's ends were known. Aggregates born
// after `ends` were read replay from the checkpoint; a monitor born before
// it whose tenant's snapshot already covers its birth has its own first
// snapshot (monitor_born), and a dormant tenant has the one it passivated
// with, moved up to `ends` here (nothing of it can be appended while it is
// dormant), so that old passivations do not hold recovery back.
void snapshot_all(host_t* self, std::function<void(status)> done) {
  auto& s = self->state;
  std::vector<caf::actor> actors;
  bool complete = true;
  for (auto& [id, t] : s.tenants) {
    if (t.passivating)
      complete = false;
    else
      actors.push_back(t.a);
  }
  for (auto& [id, m] : s.monitors) actors.push_back(m.a);
  struct collect {
    std::vector<storage::snapshot> snaps;
    std::size_t left;
    bool complete;
    std::function<void(status)> done;
  };
  auto ctx = s.ctx;
  const auto ends = read_log_ends(*ctx);
  if (ends.events < 0 || ends.checks < 0) complete = false;
  auto c = std::make_shared<collect>(collect{{}, actors.size() + 1, complete, std::move(done)});
  if (complete) {
    for (auto& [id, dormant] : s.dormant) {
      auto snap = ctx->snaps->load(ctx->partition, tenant_key(id));
      if (!snap || !*snap) {
        c->complete = false;
        continue;
      }
      auto moved = std::move(**snap);
      moved.events_offset = log_offset{std::max(moved.events_offset.get(), ends.events)};
      moved.checks_offset = log_offset{std::max(moved.checks_offset.get(), ends.checks)};
      c->snaps.push_back(std::move(moved));
    }
  }
  auto finish = [c, ctx, ends] {
    if (--c->left > 0) return;
    if (c->complete) c->snaps.push_back(make_checkpoint(ends.events, ends.checks));
    auto st = ctx->snaps->save_many(ctx->partition, c->snaps);
    c->done(st);
  };
  for (auto& a : actors) {
    self->request(a, std::chrono::seconds(30), snapshot_atom::value, ends.events, ends.checks)
        .then([c, finish](snapshot_reply& r) {
                c->snaps.push_back(std::move(r.snap));
                finish();
              },
              [c, finish](caf::error&) {
                c->complete = false;  // an aggregate without a snapshot: no checkpoint
                finish();
              });
  }
  finish();  // the host's own share: done when every actor has answered
}

caf::behavior partition_host(host_t* self, context_ptr ctx, partition_state ps, bool run_checks) {
  auto& s = self->state;
  s.ctx = std::move(ctx);
  s.run_checks = run_checks;
  self->set_down_handler([](caf::down_msg&) {});
  // Linked children that quit normally (passivated tenants) are no news; a
  // shutdown from the node stops the host (and, linked, its children); any
  // other reason is a child that failed.
  self->set_exit_handler([=](caf::exit_msg& m) {
    if (m.reason == caf::exit_reason::user_shutdown) return self->quit(m.reason);
    if (m.reason && m.reason != caf::exit_reason::normal)
      spdlog::error("partition {}: an aggregate actor failed: {}",
                    self->state.ctx->partition.get(), to_string(m.reason));
  });
  for (auto& [id, t] : ps.tenants) {
    s.facts[id] = std::make_shared<facts_cell>(id);
    s.facts[id]->store(make_facts(t.st, *s.ctx->plans));
  }
  for (auto& [id, t] : ps.tenants) {
    if (!t.st.exists) continue;
    spawn_live_tenant(self, std::move(t));
  }
  for (auto& [slot, m] : ps.monitors) spawn_live_monitor(self, std::move(m));
  self->delayed_send(self, std::chrono::seconds(s.ctx->snapshot_interval_s), flush_atom::value);
  return {
      [=](const std::string& tenant, tenant_request& req) {
        forward_tenant(self, tenant, std::move(req));
      },
      [=](monitor_request& req) {
        auto* m = find_monitor(self, req.tenant, req.monitor);
        if (!m) {
          if (req.reply) req.reply(make_error(errc::not_found, "no monitor " + req.monitor));
          return;
        }
        self->send(m->a, std::move(req));
      },
      [=](push_request& req) {
        auto* m = find_monitor(self, req.tenant, req.monitor);
        if (!m) {
          if (req.reply) req.reply(make_error(errc::not_found, "no push monitor for this token"));
          return;
        }
        self->send(m->a, std::move(req));
      },
      [=](monitor_born& b) {
        auto& s = self->state;
        recovered<monitor::state> rec;
        rec.st = monitor::evolve(monitor::initial_state(), b.created);
        rec.tenant = b.tenant;
        // Its first snapshot is saved before it runs: the tenant's snapshots
        // already cover monitor_created, so without one a restart would
        // start replaying past the monitor's birth and never see it.
        auto [ev, ck] = covered_offsets(read_log_ends(*s.ctx), false, b.offset + 1, 0);
        rec.events_next = ev;
        rec.checks_next = ck;
        if (auto st = s.ctx->snaps->save(s.ctx->partition,
                                         make_snapshot(b.tenant, b.monitor, rec.st, ev, ck));
            !st)
          spdlog::error("partition {}: first snapshot of monitor {}: {}", s.ctx->partition.get(),
                        b.monitor, st.err().message);
        spawn_live_monitor(self, std::move(rec));
      },
      [=](monitor_gone& g) {
        auto& s = self->state;
        auto slot = monitor_slot(g.tenant, g.monitor);
        auto it = s.monitors.find(slot);
        if (it == s.monitors.end()) return;
        self->unlink_from(it->second.a);
        self->send_exit(it->second.a, caf::exit_reason::user_shutdown);
        s.monitors.erase(it);
        s.ctx->push->erase_monitor(g.tenant, g.monitor);
        auto& list = s.tenant_monitors[g.tenant];
        list.erase(std::remove(list.begin(), list.end(), slot), list.end());
      },
      [=](facts_changed& f) {
        auto& s = self->state;
        auto& cell = s.facts[f.tenant];
        if (!cell) cell = std::make_shared<facts_cell>(f.tenant);
        auto before = cell->load();
        cell->store(f.facts);
        bool resumed = before && before->suspended && !f.facts->suspended;
        if (!resumed) return;
        for (auto& m : s.tenant_monitors[f.tenant]) {
          if (auto it = s.monitors.find(m); it != s.monitors.end())
            self->send(it->second.a, facts_changed{f.tenant, f.facts});
        }
      },
      [=](tenant_idle& i) {
        auto& s = self->state;
        auto it = s.tenants.find(i.tenant);
        if (it == s.tenants.end() || it->second.passivating) return;
        it->second.passivating = true;
        self->send(it->second.a, passivate_atom::value);
      },
      [=](tenant_passivated& p) {
        auto& s = self->state;
        auto it = s.tenants.find(p.tenant);
        if (it == s.tenants.end()) return;
        auto buffered = std::move(it->second.buffered);
        // Queries that waited for the passivation are answered from the very
        // state the tenant handed over.
        if (!it->second.queries.empty()) {
          auto st = tenant::decode_state(p.snap.state);
          for (auto& q : it->second.queries) {
            if (st)
              q.reply(*st);
            else
              q.reply(st.err());
          }
        }
        self->unlink_from(it->second.a);
        s.tenants.erase(it);
        if (auto st = s.ctx->snaps->save(s.ctx->partition, p.snap); !st) {
          // Not passivated after all: the tenant lives on from the state it
          // handed over (never "unknown", which would let it be re-created).
          spdlog::error("partition {}: passivating tenant {}: {}; it stays active",
                        s.ctx->partition.get(), p.tenant, st.err().message);
          auto state = tenant::decode_state(p.snap.state);
          if (!state) {
            for (auto& r : buffered)
              if (r.reply) r.reply(state.err());
            return;
          }
          spawn_live_tenant(self, recovered<tenant::state>{std::move(*state),
                                                           p.snap.events_offset.get(),
                                                           p.snap.checks_offset.get(), p.tenant});
          for (auto& r : buffered) forward_tenant(self, p.tenant, std::move(r));
          return;
        }
        s.dormant[p.tenant] = true;
        spdlog::debug("partition {}: tenant {} passivated", s.ctx->partition.get(), p.tenant);
        for (auto& r : buffered) forward_tenant(self, p.tenant, std::move(r));
      },
      [=](tenant_query& q) {
        auto& s = self->state;
        if (auto it = s.tenants.find(q.tenant); it != s.tenants.end()) {
          if (it->second.passivating)
            it->second.queries.push_back(std::move(q));
          else
            self->send(it->second.a, std::move(q));
          return;
        }
        if (s.dormant.count(q.tenant)) {
          auto rec = reactivate(self, q.tenant);
          if (!rec) return q.reply(rec.err());
          return q.reply(q.project ? q.project(rec->st) : std::move(rec->st));
        }
        q.reply(make_error(errc::not_found, "no tenant " + q.tenant));
      },
      [=](const std::string& tenant, monitor_query& q) {
        auto* m = find_monitor(self, tenant, q.monitor);
        if (!m) return q.reply(make_error(errc::not_found, "no monitor " + q.monitor));
        self->send(m->a, std::move(q));
      },
      [=](stats_query& q) {
        auto& s = self->state;
        q.reply(std::int64_t(s.tenants.size() + s.dormant.size()), std::int64_t(s.monitors.size()));
      },
      [=](flush_atom) {
        auto& s = self->state;
        snapshot_all(self, [p = s.ctx->partition](status st) {
          if (!st) spdlog::error("partition {}: snapshot failed: {}", p.get(), st.err().message);
        });
        self->delayed_send(self, std::chrono::seconds(s.ctx->snapshot_interval_s), flush_atom::value);
      },
      [=](snapshot_atom) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        snapshot_all(self, [rp](status st) mutable {
          if (!st) spdlog::error("snapshot at shutdown failed: {}", st.err().message);
          rp.deliver(bool(st));
        });
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_host(caf::actor_system& sys, context_ptr ctx, partition_state ps,
                      bool run_checks) {
  return sys.spawn(partition_host, std::move(ctx), std::move(ps), run_checks);
}

}  // namespace kw
