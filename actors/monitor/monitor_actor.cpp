// See monitor_actor.hpp.
#include "actors/monitor/monitor_actor.hpp"

#include <nlohmann/json.hpp>
#include <algorithm>
#include <random>
#include <set>

#include "actors/checks/prober.hpp"
#include "actors/checks/webhook_sender.hpp"
#include "actors/host/shell.hpp"

#include <spdlog/spdlog.h>
#include "events/codec.hpp"

namespace kw {

struct probe_done {
  std::uint32_t generation;
  checks::probe_result r;
};
struct delivery_done {
  std::string channel_id;
  std::string incident_id;
  std::string transition;
  checks::delivery_outcome outcome;
};

}  // namespace kw

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::probe_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(kw::delivery_done)

namespace kw {
namespace {

// Kept small on purpose: there is one per monitor (target ≤ 4 KiB per idle
// monitor actor, CAF's own footprint included).
struct monitor_shell {
  context_ptr ctx;
  cell_ptr facts;  // the tenant's facts (and id), shared with the host
  monitor::state st;
  std::int64_t events_next = 0;
  std::int64_t checks_next = 0;
  timestamp last_beat{0};
  std::uint32_t generation = 0;
  bool busy = false;
  bool probing = false;
  bool run_checks = true;
  std::unique_ptr<std::deque<monitor_request>> queue;  // only while busy
  std::unique_ptr<monitor_request> current;  // the command being appended
  std::vector<event> pending;
  // Delivery ids handed to the webhook sender and not back yet (only while
  // there are some): what is owed is never sent twice at once.
  std::unique_ptr<std::set<std::string>> sending;
};

using monitor_actor_t = caf::stateful_actor<monitor_shell>;

void start_next(monitor_actor_t* self);

bool should_check(const monitor_shell& s) {
  if (!s.run_checks || !s.st.exists || s.st.deleted || !s.st.active) return false;
  auto f = s.facts ? s.facts->load() : nullptr;
  return !(f && f->suspended);
}

std::chrono::milliseconds jittered(const monitor_shell& s, bool first) {
  thread_local std::mt19937 rng{std::random_device{}()};
  // A plan downgrade does not rewrite configurations: the plan's minimum
  // interval still holds for scheduling.
  int interval_s = s.st.config.interval_s;
  if (auto f = s.facts ? s.facts->load() : nullptr) interval_s = std::max(interval_s, f->min_interval_s);
  auto interval_ms = std::int64_t(interval_s) * 1000;
  if (first) {  // spread the first checks of many monitors over one interval
    std::uniform_int_distribution<std::int64_t> d(0, std::max<std::int64_t>(interval_ms / 10, 1));
    return std::chrono::milliseconds(d(rng));
  }
  auto spread = interval_ms * s.ctx->jitter_pct / 100;
  std::uniform_int_distribution<std::int64_t> d(-spread, spread);
  return std::chrono::milliseconds(std::max<std::int64_t>(interval_ms + d(rng), 100));
}

void schedule(monitor_actor_t* self, bool first) {
  auto& s = self->state;
  if (!should_check(s)) return;
  self->delayed_send(self, jittered(s, first), tick_atom::value, s.generation);
}

monitor::context context_for(const monitor_shell& s, timestamp at) {
  monitor::context c;
  if (auto f = s.facts ? s.facts->load() : nullptr) {
    c.tenant_suspended = f->suspended;
    c.min_interval_s = f->min_interval_s;
    c.in_maintenance = f->in_maintenance(s.st.id, at);
    c.has_channel = [f](const std::string& id) { return f->channels.count(id) > 0; };
  }
  return c;
}

void enqueue(monitor_actor_t* self, monitor_request req) {
  auto& s = self->state;
  if (s.busy) {
    if (!s.queue) s.queue = std::make_unique<std::deque<monitor_request>>();
    s.queue->push_back(std::move(req));
    return;
  }
  auto& cmd = req.cmd;
  // Users and API keys act within their role; the system and the platform
  // (any other actor kind) may do everything, as in the tenant decider.
  const auto& kind = cmd.meta.actor.kind;
  if (kind == "user" || kind == "api_key") {
    auto f = s.facts ? s.facts->load() : nullptr;
    auto allowed = f && f->tenant ? tenant::authorize(*f->tenant, cmd.meta.actor,
                                                      permission::manage_monitors)
                                  : status(make_error(errc::forbidden, "no tenant facts yet"));
    if (!allowed) {
      if (req.reply) req.reply(allowed.err());
      return start_next(self);
    }
  }
  cmd.ctx = context_for(s, cmd.meta.time);
  auto decided = monitor::decide(s.st, cmd);
  if (!decided) {
    if (req.reply) req.reply(decided.err());
    return start_next(self);
  }
  if (decided->empty()) {
    if (req.reply) req.reply(duplicate_reply(*s.ctx, s.st.version));
    return start_next(self);
  }
  s.pending = stamp(*s.ctx, s.facts->tenant(), monitor_key(s.st.id), s.st.version, s.st.check_seq,
                    cmd.meta, std::move(*decided));
  s.busy = true;
  s.current = std::make_unique<monitor_request>(std::move(req));
  append_for(self, *s.ctx, s.pending);
}

void start_next(monitor_actor_t* self) {
  auto& s = self->state;
  s.busy = false;
  while (!s.busy && s.queue && !s.queue->empty()) {
    auto req = std::move(s.queue->front());
    s.queue->pop_front();
    enqueue(self, std::move(req));
  }
  if (!s.busy && s.queue && s.queue->empty()) s.queue.reset();
}

// A notification not delivered within this long after its transition is
// given up (recorded as failed) instead of re-sent after a restart.
constexpr std::int64_t max_notification_age_us = std::int64_t(24) * 3600 * 1'000'000;

// The stable id of one notification to one channel (X-Keepwatch-Delivery):
// the same on every attempt and after a restart, so a receiver can dedupe.
std::string delivery_id(const std::string& incident, const std::string& transition,
                        const std::string& channel) {
  return incident + ":" + transition + ":" + channel;
}

void give_up(monitor_actor_t* self, const std::string& ch, const std::string& incident,
             const std::string& transition, std::string why) {
  checks::delivery_outcome o;
  o.error = std::move(why);
  caf::anon_send(caf::actor_cast<caf::actor>(self), delivery_done{ch, incident, transition, o});
}

// Sends `o` to each of its channels that has no delivery under way. After a
// restart (`resumed`), what is too old, or meant for a channel that is gone
// or no longer on the monitor, is recorded as failed, not sent.
void send_owed(monitor_actor_t* self, const monitor::owed_notification& o, bool resumed) {
  auto& s = self->state;
  auto f = s.facts ? s.facts->load() : nullptr;
  if (!s.ctx->webhooks || !f || f->suspended) return;  // stays owed
  for (auto& ch : o.channel_ids) {
    auto id = delivery_id(o.incident_id, o.transition, ch);
    if (s.sending && s.sending->count(id)) continue;
    if (!s.sending) s.sending = std::make_unique<std::set<std::string>>();
    s.sending->insert(id);
    auto it = f->channels.find(ch);
    if (it == f->channels.end()) {
      give_up(self, ch, o.incident_id, o.transition, "channel " + ch + " no longer exists");
      continue;
    }
    if (resumed) {
      if (now().get() - o.at.get() > max_notification_age_us) {
        give_up(self, ch, o.incident_id, o.transition,
                "not delivered within 24 h of the transition; given up");
        continue;
      }
      const auto& now_on = s.st.config.channel_ids;
      if (std::find(now_on.begin(), now_on.end(), ch) == now_on.end()) {
        give_up(self, ch, o.incident_id, o.transition, "channel " + ch + " no longer notified by this monitor");
        continue;
      }
    }
    nlohmann::json body = {{"tenant", s.facts->tenant()},   {"monitor_id", s.st.id},
                           {"monitor_name", o.monitor_name}, {"transition", o.transition},
                           {"incident_id", o.incident_id},   {"reason", o.reason},
                           {"time", format_time(o.at)}};
    checks::webhook_request req;
    req.url = it->second.url;
    req.body = body.dump();
    req.delivery_id = id;
    if (!it->second.secret.empty()) {
      auto secret = s.ctx->secrets ? s.ctx->secrets->open(it->second.secret)
                                   : result<std::string>(make_error(errc::internal, "no secret key"));
      if (!secret) {
        // Never send an unsigned (or wrongly signed) notification: record why.
        give_up(self, ch, o.incident_id, o.transition,
                "webhook secret cannot be opened: " + secret.err().message);
        continue;
      }
      req.secret = std::move(*secret);
    }
    req.max_attempts = s.ctx->webhook_max_attempts;
    req.initial_backoff_ms = s.ctx->webhook_initial_backoff_ms;
    auto me = caf::actor_cast<caf::actor>(self);
    s.ctx->webhooks->deliver(std::move(req), [me, ch, incident = o.incident_id, transition = o.transition](
                                                 checks::delivery_outcome out) {
      caf::anon_send(me, delivery_done{ch, incident, transition, std::move(out)});
    });
  }
}

// Sends what the state owes: on a start (a restart, a re-activation) and
// when a suspension is lifted.
void resume_owed(monitor_actor_t* self) {
  for (const auto& o : self->state.st.owed) send_owed(self, o, true);
}

// Sends the notification that the transition of (incident, transition) owes.
void notify(monitor_actor_t* self, const std::string& incident, const char* transition) {
  for (const auto& o : self->state.st.owed)
    if (o.incident_id == incident && o.transition == transition) return send_owed(self, o, false);
}

void on_appended(monitor_actor_t* self, append_done& d) {
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
  bool was_checking = should_check(s);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto& e = events[i];
    auto off = d.ack->offsets[i].get();
    s.st = monitor::evolve(std::move(s.st), e);
    if (is_check_result(e.data))
      s.checks_next = std::max(s.checks_next, off + 1);
    else
      s.events_next = std::max(s.events_next, off + 1);
    r.event_ids.push_back(e.meta.id);
    r.offsets.push_back(off);
    if (std::holds_alternative<monitor_updated>(e.data)) {
      s.ctx->push->erase_monitor(s.facts->tenant(), s.st.id);
      if (s.st.config.kind == monitor_kind::push && !s.st.config.push_token_hash.empty())
        if (!s.ctx->push->put(s.st.config.push_token_hash, s.facts->tenant(), s.st.id))
          spdlog::warn("push token of monitor {}/{} already belongs to another monitor", s.facts->tenant(),
                       s.st.id);
    }
    if (auto* o = std::get_if<incident_opened>(&e.data))
      notify(self, o->incident_id, "down");
    else if (auto* c = std::get_if<incident_closed>(&e.data))
      notify(self, c->incident_id, "up");
  }
  r.version = s.st.version;
  bool is_config = std::holds_alternative<monitor::update_monitor>(req.cmd.b) ||
                   std::holds_alternative<monitor::pause_monitor>(req.cmd.b) ||
                   std::holds_alternative<monitor::resume_monitor>(req.cmd.b);
  if (is_config) {
    // A new configuration or a pause cancels the scheduled ticks; a resume or
    // an update starts a new series.
    ++s.generation;
    if (s.st.active && !was_checking) s.last_beat = now();
    schedule(self, true);
  }
  if (req.reply) req.reply(std::move(r));
  start_next(self);
}

// A command the monitor sends itself (a check result, a delivery outcome).
monitor_request system_request(const monitor_shell& s, monitor::body b) {
  monitor_request req;
  req.tenant = s.facts->tenant();
  req.monitor = s.st.id;
  req.cmd.meta.command_id = new_id();
  req.cmd.meta.actor = system_actor();
  req.cmd.meta.time = now();
  req.cmd.b = std::move(b);
  return req;
}

monitor_request system_check(monitor_shell& s, const checks::probe_result& p) {
  monitor::record_check rc;
  rc.ok = p.ok;
  rc.latency_us = p.latency_us;
  rc.http_status = p.http_status;
  rc.error = p.error;
  rc.cert_expires_at = p.cert_expires_at;
  rc.incident_id = new_id();
  return system_request(s, std::move(rc));
}

caf::behavior monitor_actor(monitor_actor_t* self, context_ptr ctx, caf::actor host,
                            recovered<monitor::state> rec, cell_ptr facts, bool run_checks) {
  auto& s = self->state;
  s.ctx = std::move(ctx);
  (void)host;
  s.facts = std::move(facts);
  s.st = std::move(rec.st);
  s.events_next = rec.events_next;
  s.checks_next = rec.checks_next;
  s.run_checks = run_checks && s.ctx->probes != nullptr;
  s.last_beat = now();
  schedule(self, true);
  resume_owed(self);  // what a stop or a crash left owed (at-least-once)
  return {
      [=](monitor_request& req) { enqueue(self, std::move(req)); },
      [=](append_done& d) { on_appended(self, d); },
      [=](resolve_atom) {  // an append of unknown outcome: the log decides
        auto& s = self->state;
        if (auto d = resolve_pending(self, *s.ctx, s.pending, s.events_next, s.checks_next))
          on_appended(self, *d);
      },
      [=](tick_atom, std::uint32_t gen) {
        auto& s = self->state;
        if (gen != s.generation || !should_check(s)) return;
        schedule(self, false);
        if (s.st.config.kind == monitor_kind::push) {
          auto deadline = std::int64_t(s.st.config.interval_s + s.st.config.grace_s) * 1'000'000;
          if (now().get() - s.last_beat.get() > deadline) {
            checks::probe_result p;
            p.ok = false;
            p.error = "no beat within " +
                      std::to_string(s.st.config.interval_s + s.st.config.grace_s) + " s";
            s.last_beat = now();  // one failed check per missed interval
            enqueue(self, system_check(s, p));
          }
          return;
        }
        if (s.probing) return;  // the previous check is still running
        s.probing = true;
        auto me = caf::actor_cast<caf::actor>(self);
        s.ctx->probes->probe(s.st.config, [me, gen](checks::probe_result r) {
          caf::anon_send(me, probe_done{gen, std::move(r)});
        });
      },
      [=](probe_done& d) {
        auto& s = self->state;
        s.probing = false;
        if (d.generation != s.generation || !should_check(s)) return;
        enqueue(self, system_check(s, d.r));
      },
      [=](push_request& p) {
        auto& s = self->state;
        if (s.st.config.kind != monitor_kind::push || !s.st.exists || s.st.deleted) {
          if (p.reply) p.reply(make_error(errc::not_found, "no push monitor for this token"));
          return;
        }
        s.last_beat = now();
        checks::probe_result ok;
        ok.ok = true;
        auto req = system_check(s, ok);
        req.reply = std::move(p.reply);
        enqueue(self, std::move(req));
      },
      [=](delivery_done& d) {
        auto& s = self->state;
        if (s.sending) {
          s.sending->erase(delivery_id(d.incident_id, d.transition, d.channel_id));
          if (s.sending->empty()) s.sending.reset();
        }
        monitor::record_delivery rd;
        rd.channel_id = d.channel_id;
        rd.incident_id = d.incident_id;
        rd.transition = d.transition;
        rd.attempts = d.outcome.attempts;
        rd.http_status = d.outcome.http_status;
        rd.delivered = d.outcome.delivered;
        rd.error = d.outcome.error;
        if (!rd.delivered)
          spdlog::warn("webhook to channel {} of monitor {}/{} not delivered after {} attempt(s): {}", rd.channel_id,
                       s.facts->tenant(), s.st.id, rd.attempts, rd.error);
        enqueue(self, system_request(s, std::move(rd)));
      },
      [=](facts_changed&) {  // a suspension was lifted: checks start again
        auto& s = self->state;
        ++s.generation;
        schedule(self, true);
        resume_owed(self);
      },
      [=](monitor_query& q) { q.reply(self->state.st); },
      [=](snapshot_atom, std::int64_t events_end, std::int64_t checks_end) -> snapshot_reply {
        auto& s = self->state;
        auto [ev, ck] = covered_offsets(log_ends{events_end, checks_end}, s.busy, s.events_next,
                                        s.checks_next);
        return snapshot_reply{make_snapshot(s.facts->tenant(), s.st.id, s.st, ev, ck)};
      },
  };
}

}  // namespace

caf::actor spawn_monitor(caf::actor_system& sys, context_ptr ctx, caf::actor host,
                         recovered<monitor::state> st, cell_ptr facts, bool run_checks) {
  return sys.spawn(monitor_actor, std::move(ctx), std::move(host), std::move(st),
                   std::move(facts), run_checks);
}

}  // namespace kw
