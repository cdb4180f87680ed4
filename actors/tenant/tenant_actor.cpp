// See tenant_actor.hpp.
#include "actors/tenant/tenant_actor.hpp"

#include "actors/host/shell.hpp"

#include <spdlog/spdlog.h>

namespace kw {
namespace {

struct tenant_shell {
  context_ptr ctx;
  caf::actor host;
  std::string id;
  tenant::state st;
  std::int64_t events_next = 0;
  std::int64_t checks_next = 0;
  bool busy = false;
  bool passivating = false;
  std::deque<tenant_request> queue;
  reply_cache replies{tenant::recent_commands};
  // The command being appended and its stamped events.
  std::optional<tenant_request> current;
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

void handle(tenant_actor_t* self, tenant_request req) {
  auto& s = self->state;
  auto decided = tenant::decide(s.st, req.cmd, *s.ctx->plans);
  if (!decided) {
    if (req.reply) req.reply(decided.err());
    return start_next(self);
  }
  if (decided->empty()) {
    if (req.reply)
      req.reply(duplicate_reply(*s.ctx, s.st.version, s.replies.find(req.cmd.meta.command_id)));
    return start_next(self);
  }
  s.pending = stamp(*s.ctx, s.id, tenant_key(s.id), s.st.version, 0, req.cmd.meta,
                    std::move(*decided));
  s.busy = true;
  s.current = std::move(req);
  append_for(self, *s.ctx, s.pending);
}

void start_next(tenant_actor_t* self) {
  auto& s = self->state;
  s.busy = false;
  while (!s.busy && !s.queue.empty()) {
    auto req = std::move(s.queue.front());
    s.queue.pop_front();
    handle(self, std::move(req));
  }
  if (!s.busy && s.queue.empty() && s.passivating) finish_passivation(self);
}

void on_appended(tenant_actor_t* self, append_done& d) {
  auto& s = self->state;
  if (defer_unknown_outcome(self, *s.ctx, d, s.current->reply)) return;
  auto req = std::move(*s.current);
  s.current.reset();
  auto events = std::move(s.pending);
  s.pending.clear();
  if (!d.ack) {
    if (req.reply) req.reply(d.ack.err());
    return start_next(self);
  }
  command_reply r;
  r.partition = s.ctx->partition.get();
  for (std::size_t i = 0; i < events.size(); ++i) {
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
  s.replies.put(req.cmd.meta.command_id, r);
  auto f = make_facts(s.st, *s.ctx->plans);
  s.facts = f;
  if (s.ctx->access) s.ctx->access->put(s.id, f->tenant);  // before the reply (access_board)
  self->send(s.host, facts_changed{s.id, f});
  if (req.reply) req.reply(std::move(r));
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
        if (s.busy || !s.queue.empty())
          s.queue.push_back(std::move(req));
        else
          handle(self, std::move(req));
      },
      [=](append_done& d) { on_appended(self, d); },
      [=](resolve_atom) {  // an append of unknown outcome: the log decides
        auto& s = self->state;
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
