// See tenant_actor.hpp.
#include "actors/tenant/tenant_actor.hpp"

#include "actors/host/shell.hpp"

#include <spdlog/spdlog.h>

namespace kw {
namespace {

// Bounds one batch: its commands, and the events after which no further
// command joins it (deleting a tenant alone yields one event per monitor).
constexpr std::size_t max_batch_commands = 64;
constexpr std::size_t max_batch_events = 1024;

// One command of the batch in flight, and what deciding it gave.
struct batch_entry {
  enum class outcome { appended, retry, refused };
  tenant_request req;
  outcome what = outcome::appended;
  std::size_t first = 0, count = 0;  // appended: its events in `pending`
  error refusal;                     // refused: the decider's answer
};

struct tenant_shell {
  context_ptr ctx;
  caf::actor host;
  std::string id;
  tenant::state st;  // always the durable state: only acknowledged events
  std::int64_t events_next = 0;
  std::int64_t checks_next = 0;
  bool busy = false;  // a batch is in flight
  bool passivating = false;
  std::deque<tenant_request> queue;
  reply_cache replies{tenant::recent_commands};
  // The batch being appended and its stamped events.
  std::vector<batch_entry> batch;
  std::vector<event> pending;
  facts_ptr facts;
};

using tenant_actor_t = caf::stateful_actor<tenant_shell>;

void start_next(tenant_actor_t* self);

void finish_passivation(tenant_actor_t* self) {
  auto& s = self->state;
  auto [ev, ck] = covered_offsets(read_log_ends(*s.ctx), false, s.events_next, s.checks_next);
  auto snap = make_snapshot(s.id, s.st, ev, ck);
  self->send(s.host, tenant_passivated{s.id, std::move(snap)});
  self->quit();
}

// Deciding a batch evolves the state through events that are not durable
// yet; afterwards it is taken back. Everything but the monitor set is small
// and copied; the monitor set (it grows with the tenant) is taken back by
// undoing the batch's own changes to it, which only monitor_created and
// monitor_deleted make.
class draft_state {
public:
  explicit draft_state(tenant::state& st) : st_(st) {}

  void evolve(const event& e) {
    if (!saved_) {
      auto monitors = std::move(st_.monitors);
      st_.monitors.clear();
      saved_ = st_;
      st_.monitors = std::move(monitors);
    }
    if (auto* c = std::get_if<monitor_created>(&e.data)) {
      if (!st_.monitors.count(c->monitor_id)) changes_.push_back({c->monitor_id, true});
    } else if (auto* d = std::get_if<monitor_deleted>(&e.data)) {
      if (st_.monitors.count(d->monitor_id)) changes_.push_back({d->monitor_id, false});
    }
    st_ = tenant::evolve(std::move(st_), e);
  }

  // The state as it was before the first evolve.
  void take_back() {
    if (!saved_) return;
    auto monitors = std::move(st_.monitors);
    for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
      if (it->added)
        monitors.erase(it->id);
      else
        monitors.insert(it->id);
    }
    st_ = std::move(*saved_);
    st_.monitors = std::move(monitors);
    saved_.reset();
    changes_.clear();
  }

private:
  struct change {
    std::string id;
    bool added;
  };
  tenant::state& st_;
  std::optional<tenant::state> saved_;
  std::vector<change> changes_;
};

// Decides the queued commands (up to the bounds) into one batch and
// appends it; commands answered without an append (refused, or retries,
// against the durable state) are answered at once.
void start_next(tenant_actor_t* self) {
  auto& s = self->state;
  s.busy = false;
  std::vector<batch_entry> batch;
  std::vector<event> events;
  {
    draft_state draft(s.st);
    std::size_t evolved = 0;  // events of `events` the draft carries
    while (!s.queue.empty() && batch.size() < max_batch_commands &&
           events.size() < max_batch_events) {
      auto req = std::move(s.queue.front());
      s.queue.pop_front();
      for (; evolved < events.size(); ++evolved) draft.evolve(events[evolved]);
      const bool speculative = !events.empty();  // the state carries events not yet durable
      auto decided = tenant::decide(s.st, req.cmd, *s.ctx->plans);
      if (!decided || decided->empty()) {
        if (speculative) {
          batch_entry b{std::move(req), decided ? batch_entry::outcome::retry
                                                : batch_entry::outcome::refused, 0, 0, {}};
          if (!decided) b.refusal = decided.err();
          batch.push_back(std::move(b));
        } else if (req.reply) {
          if (!decided)
            req.reply(decided.err());
          else
            req.reply(duplicate_reply(*s.ctx, s.st.version, s.replies.find(req.cmd.meta.command_id)));
        }
        continue;
      }
      auto stamped = stamp(*s.ctx, s.id, tenant_key(s.id), s.st.version, 0, req.cmd.meta,
                           std::move(*decided));
      batch_entry b{std::move(req), batch_entry::outcome::appended, events.size(), stamped.size(), {}};
      for (auto& e : stamped) events.push_back(std::move(e));
      batch.push_back(std::move(b));
    }
    draft.take_back();
  }
  if (events.empty()) {  // everything was answered (nothing was speculative)
    if (s.queue.empty() && s.passivating) finish_passivation(self);
    return;
  }
  s.busy = true;
  s.batch = std::move(batch);
  s.pending = std::move(events);
  append_for(self, *s.ctx, s.pending);
}

void on_appended(tenant_actor_t* self, append_done& d) {
  auto& s = self->state;
  {
    std::vector<reply_fn*> waiting;
    for (auto& b : s.batch)
      if (b.what == batch_entry::outcome::appended) waiting.push_back(&b.req.reply);
    if (defer_unknown_outcome(self, *s.ctx, d, waiting)) return;
  }
  auto batch = std::move(s.batch);
  s.batch.clear();
  auto events = std::move(s.pending);
  s.pending.clear();
  if (!d.ack) {
    // Nothing of the batch happened: the appended commands hear why; the
    // others were decided against a state that never became durable, so
    // they are decided again, first in line and in their order.
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
      if (it->what == batch_entry::outcome::appended) continue;
      s.queue.push_front(std::move(it->req));
    }
    for (auto& b : batch)
      if (b.what == batch_entry::outcome::appended && b.req.reply) b.req.reply(d.ack.err());
    return start_next(self);
  }
  std::vector<command_reply> out(batch.size());
  for (std::size_t k = 0; k < batch.size(); ++k) {
    auto& b = batch[k];
    if (b.what != batch_entry::outcome::appended) continue;
    command_reply& r = out[k];
    r.partition = s.ctx->partition.get();
    for (std::size_t i = b.first; i < b.first + b.count; ++i) {
      auto& e = events[i];
      auto off = d.ack->offsets[i].get();
      s.st = tenant::evolve(std::move(s.st), e);
      s.events_next = std::max(s.events_next, off + 1);
      r.event_ids.push_back(e.meta.id);
      r.offsets.push_back(off);
      if (auto* mc = std::get_if<monitor_created>(&e.data)) {
        // Registered before the reply, so a beat right after it finds the monitor.
        if (mc->config.kind == monitor_kind::push && !mc->config.push_token_hash.empty())
          if (!s.ctx->push->put(mc->config.push_token_hash, s.id, mc->monitor_id))
            spdlog::warn("push token of monitor {}/{} already belongs to another monitor", s.id,
                         mc->monitor_id);
        self->send(s.host, monitor_born{s.id, mc->monitor_id, e, off});
      } else if (auto* del = std::get_if<monitor_deleted>(&e.data)) {
        self->send(s.host, monitor_gone{s.id, del->monitor_id});
      }
    }
    r.version = s.st.version;
    s.replies.put(b.req.cmd.meta.command_id, r);
  }
  auto f = make_facts(s.st, *s.ctx->plans);
  s.facts = f;
  if (s.ctx->access) s.ctx->access->put(s.id, f->tenant);  // before the replies (access_board)
  self->send(s.host, facts_changed{s.id, f});
  for (std::size_t k = 0; k < batch.size(); ++k) {
    auto& b = batch[k];
    if (!b.req.reply) continue;
    switch (b.what) {
      case batch_entry::outcome::appended:
        b.req.reply(std::move(out[k]));
        break;
      case batch_entry::outcome::retry:
        b.req.reply(duplicate_reply(*s.ctx, s.st.version, s.replies.find(b.req.cmd.meta.command_id)));
        break;
      case batch_entry::outcome::refused:
        b.req.reply(b.refusal);
        break;
    }
  }
  start_next(self);
}

caf::behavior tenant_actor(tenant_actor_t* self, context_ptr ctx, caf::actor host,
                           recovered<tenant::state> rec) {
  auto& s = self->state;
  s.ctx = std::move(ctx);
  s.host = std::move(host);
  s.id = rec.tenant;
  s.st = std::move(rec.st);
  s.events_next = rec.events_next;
  s.checks_next = rec.checks_next;
  if (s.ctx->access) s.ctx->access->put(s.id, std::make_shared<const tenant::state>(access_part(s.st)));
  return {
      [=](tenant_request& req) {
        auto& s = self->state;
        s.queue.push_back(std::move(req));
        if (!s.busy) start_next(self);
      },
      [=](append_done& d) { on_appended(self, d); },
      [=](resolve_atom) {  // an append of unknown outcome: the log decides
        auto& s = self->state;
        if (!s.busy) return;
        if (auto d = resolve_pending(self, *s.ctx, s.pending, s.events_next, s.checks_next))
          on_appended(self, *d);
      },
      [=](tenant_query& q) { q.reply(q.project ? q.project(self->state.st) : self->state.st); },
      [=](snapshot_atom, std::int64_t events_end, std::int64_t checks_end) -> snapshot_reply {
        auto& s = self->state;
        auto [ev, ck] = covered_offsets(log_ends{events_end, checks_end}, s.busy, s.events_next,
                                        s.checks_next);
        return snapshot_reply{make_snapshot(s.id, s.st, ev, ck)};
      },
      [=](passivate_atom) {
        auto& s = self->state;
        s.passivating = true;
        if (!s.busy && s.queue.empty()) finish_passivation(self);
      },
      caf::after(std::chrono::seconds(self->state.ctx->passivate_after_s)) >>
          [=] {
            auto& s = self->state;
            if (!s.busy && s.queue.empty() && !s.passivating)
              self->send(s.host, tenant_idle{s.id});
          },
  };
}

}  // namespace

caf::actor spawn_tenant(caf::actor_system& sys, context_ptr ctx, caf::actor host,
                        recovered<tenant::state> st) {
  return sys.spawn(tenant_actor, std::move(ctx), std::move(host), std::move(st));
}

}  // namespace kw
