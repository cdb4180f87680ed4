// See node.hpp. The node opens the log and the snapshot store, recovers every
// partition (in parallel), spawns one partition host per partition and routes
// each command to the host of its tenant's partition.
#include "actors/host/node.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <atomic>
#include <future>
#include <thread>

#include "actors/checks/prober.hpp"
#include "actors/checks/target_policy.hpp"
#include "actors/checks/url.hpp"
#include "actors/checks/webhook_sender.hpp"
#include "actors/host/shell.hpp"
#include "events/hash_chain.hpp"
#include "storage/partitioner.hpp"
#include "storage/rocks_log.hpp"

namespace kw {

namespace {

// Seals domain events into their tenant's hash chain on the log's writer.
class event_sealer final : public storage::chain_sealer {
public:
  result<std::string> seal(const std::string& prev_hash, std::string& value) override {
    return kw::seal(prev_hash, value);
  }
};

template <class T>
result<T> wait_for(std::future<result<T>>& f, std::chrono::milliseconds timeout,
                   const char* what) {
  if (f.wait_for(timeout) != std::future_status::ready)
    return make_error(errc::timeout, std::string(what) + ": no answer within " +
                                         std::to_string(timeout.count()) + " ms");
  return f.get();
}

}  // namespace

struct node::impl {
  node_options opts;
  std::shared_ptr<checks::target_policy> targets;
  std::shared_ptr<storage::event_log> log;
  std::shared_ptr<storage::rocks_snapshot_store> snaps;
  std::shared_ptr<checks::prober> probes;
  std::shared_ptr<checks::webhook_sender> webhooks;
  std::shared_ptr<push_registry> push = std::make_shared<push_registry>();
  std::shared_ptr<access_board> access = std::make_shared<access_board>();
  std::shared_ptr<const secret_box> secrets;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> hosts;
  recovery_stats stats;
  int partitions = 0;
  std::atomic<bool> stopped{false};
  std::shared_ptr<std::atomic<std::int64_t>> in_flight =
      std::make_shared<std::atomic<std::int64_t>>(0);

  // Every request's reply goes through this: it is answered exactly once,
  // and if the request is dropped unanswered (the actor holding it stopped or
  // failed) the caller still hears so, when the last copy of it goes away.
  reply_fn reply_once(reply_fn f) {
    struct guard {
      reply_fn f;
      std::shared_ptr<std::atomic<std::int64_t>> in_flight;
      std::atomic<bool> done{false};
      ~guard() {
        if (!done.exchange(true))
          f(make_error(errc::unavailable,
                       "the command was dropped before an answer (node stopping or actor "
                       "failed); its outcome is unknown, retrying the same command id is safe"));
        --*in_flight;
      }
    };
    ++*in_flight;
    auto g = std::make_shared<guard>();
    g->f = std::move(f);
    g->in_flight = in_flight;
    return [g](result<command_reply> r) {
      if (!g->done.exchange(true)) g->f(std::move(r));
    };
  }

  const caf::actor& host_for(const tenant_id& t) const {
    return hosts[static_cast<std::size_t>(storage::partition_for(t, int(hosts.size())).get())];
  }
};

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

node::~node() { stop(); }

result<std::unique_ptr<node>> node::start(node_options opts) {
  auto im = std::make_unique<impl>();
  im->opts = std::move(opts);
  auto& o = im->opts;
  if (o.plans.plans.empty()) return make_error(errc::invalid, "node: the plan catalogue is empty");
  if (o.data_dir.empty()) return make_error(errc::invalid, "node: no data directory");
  std::error_code ec;
  if (!o.data_dir.empty()) std::filesystem::create_directories(o.data_dir, ec);
  if (ec) return make_error(errc::storage, "data dir " + o.data_dir + ": " + ec.message());
  if (o.log) {
    im->log = o.log;
  } else if (o.kafka) {
    auto ko = *o.kafka;
    ko.partitions = o.partitions;
    if (ko.node_name.empty()) ko.node_name = o.node_name;
    auto log = storage::kafka_log::open(std::move(ko), std::make_shared<event_sealer>());
    if (!log) return log.err();
    im->log = std::shared_ptr<storage::event_log>(std::move(*log));
  } else {
    auto log = storage::rocks_log::open(o.data_dir + "/log", o.partitions,
                                        std::make_shared<event_sealer>());
    if (!log) return log.err();
    im->log = std::shared_ptr<storage::event_log>(std::move(*log));
  }
  auto secrets = secret_box::open_or_create(
      o.secret_key_file.empty() ? o.data_dir + "/secret.key" : o.secret_key_file);
  if (!secrets) return secrets.err();
  im->secrets = std::move(*secrets);
  auto snaps = storage::rocks_snapshot_store::open(o.data_dir + "/snapshots");
  if (!snaps) return snaps.err();
  im->snaps = std::shared_ptr<storage::rocks_snapshot_store>(std::move(*snaps));
  const int parts = im->log->partitions();
  im->partitions = parts;

  // Recover every partition, two at a time per core.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<partition_state> states(static_cast<std::size_t>(parts));
  std::vector<error> errors;
  {
    std::mutex mu;
    std::atomic<int> next{0};
    auto worker = [&] {
      for (int p; (p = next++) < parts;) {
        auto ps = recover_partition(*im->log, im->snaps.get(), partition_id{p});
        std::lock_guard<std::mutex> lock(mu);
        if (!ps)
          errors.push_back(ps.err());
        else
          states[std::size_t(p)] = std::move(*ps);
      }
    };
    unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), unsigned(parts)));
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
  }
  if (!errors.empty()) return make_error(errors.front().code, "recovery: " + errors.front().message);
  for (auto& ps : states) {
    im->stats.events_replayed += ps.replayed;
    im->stats.snapshots_loaded += ps.snapshots;
  }
  im->stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  {
    checks::target_policy_options tp;
    tp.allow_private = o.allow_private_targets;
    tp.local_ports = o.listen_ports;
    tp.local_addresses = checks::machine_addresses();
    im->targets = std::make_shared<checks::target_policy>(std::move(tp));
  }
  if (o.run_checks) {
    checks::prober_options po;
    po.threads = o.prober_threads;
    po.max_connections = o.max_connections;
    po.max_idle_connections = o.max_idle_connections;
    po.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
    po.policy = im->targets;
    im->probes = std::make_shared<checks::prober>(po);
    im->webhooks = std::make_shared<checks::webhook_sender>(im->targets);
  }
  im->cfg = std::make_unique<caf::actor_system_config>();
  if (o.scheduler_threads > 0) im->cfg->set("scheduler.max-threads", o.scheduler_threads);
  im->cfg->set("logger.verbosity", caf::atom("quiet"));
  // An idle worker soon waits on its condition variable (a message sent to
  // it wakes it at once) instead of polling its queue every 50 us for 25 ms
  // after each job (CAF's defaults): under the gateway's load, with messages
  // arriving every few hundred microseconds, those polls never stopped and
  // took half of the node's CPU in the profile. Idle workers still look for
  // work to steal every relaxed-sleep-duration.
  im->cfg->set("work-stealing.aggressive-poll-attempts", 32);
  im->cfg->set("work-stealing.moderate-poll-attempts", 8);
  im->cfg->set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::milliseconds(1)});
  im->sys = std::make_unique<caf::actor_system>(*im->cfg);
  auto plans = std::make_shared<const plan_catalog>(o.plans);
  for (int p = 0; p < parts; ++p) {
    auto ctx = std::make_shared<host_context>();
    ctx->partition = partition_id{p};
    ctx->source = "keepwatch/" + o.node_name;
    ctx->log = im->log;
    ctx->snaps = im->snaps;
    ctx->plans = plans;
    ctx->probes = im->probes;
    ctx->webhooks = im->webhooks;
    ctx->push = im->push;
    ctx->access = im->access;
    ctx->secrets = im->secrets;
    ctx->passivate_after_s = o.passivate_after_s;
    ctx->snapshot_interval_s = o.snapshot_interval_s;
    ctx->jitter_pct = o.jitter_pct;
    ctx->webhook_max_attempts = o.webhook_max_attempts;
    ctx->webhook_initial_backoff_ms = o.webhook_initial_backoff_ms;
    im->hosts.push_back(spawn_host(*im->sys, ctx, std::move(states[std::size_t(p)]), o.run_checks));
  }
  return std::unique_ptr<node>(new node(std::move(im)));
}

namespace {
error stopping() { return make_error(errc::unavailable, "the node is stopping"); }

// The policy's refusal of a URL whose host is an IP literal, as a rejection
// naming `field`; names and unparsable URLs pass (the deciders judge the
// URL's form, the prober what a name resolves to).
std::optional<error> refused_url(const checks::target_policy& p, const char* field, const std::string& url) {
  auto u = checks::parse_url(url);
  if (!u) return std::nullopt;
  if (auto why = p.literal_refusal(u->host, static_cast<std::uint16_t>(std::stoi(u->port))))
    return make_error(errc::invalid, std::string(field) + ": " + *why);
  return std::nullopt;
}

std::optional<error> refused_target(const checks::target_policy& p, const monitor_config& c) {
  switch (c.kind) {
    case monitor_kind::http:
    case monitor_kind::keyword:
      return refused_url(p, "url", c.url);
    case monitor_kind::tcp:
      if (c.port < 1 || c.port > 65535) return std::nullopt;
      if (auto why = p.literal_refusal(c.host, static_cast<std::uint16_t>(c.port)))
        return make_error(errc::invalid, "host: " + *why);
      return std::nullopt;
    case monitor_kind::push:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<error> refused_target(const checks::target_policy& p, const tenant::body& b) {
  if (auto* c = std::get_if<tenant::create_monitor>(&b)) return refused_target(p, c->config);
  if (auto* c = std::get_if<tenant::create_channel>(&b)) return refused_url(p, "url", c->url);
  if (auto* c = std::get_if<tenant::update_channel>(&b)) return refused_url(p, "url", c->url);
  return std::nullopt;
}
}  // namespace

void node::listening_on(std::uint16_t port) { impl_->targets->add_local_port(port); }

void node::submit(tenant::command cmd, const tenant_id& t, reply_fn done) {
  if (impl_->stopped) return done(stopping());
  if (auto refused = refused_target(*impl_->targets, cmd.b)) return done(std::move(*refused));
  caf::anon_send(impl_->host_for(t), t.get(),
                 tenant_request{std::move(cmd), impl_->reply_once(std::move(done))});
}

void node::submit(monitor::command cmd, const tenant_id& t, const std::string& monitor_id,
                  reply_fn done) {
  if (impl_->stopped) return done(stopping());
  if (auto* u = std::get_if<monitor::update_monitor>(&cmd.b))
    if (auto refused = refused_target(*impl_->targets, u->config)) return done(std::move(*refused));
  caf::anon_send(impl_->host_for(t), monitor_request{t.get(), monitor_id, std::move(cmd),
                                                     impl_->reply_once(std::move(done))});
}

namespace {
template <class Submit>
result<command_reply> run_sync(Submit&& submit, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<result<command_reply>>>();
  auto f = p->get_future();
  submit([p](result<command_reply> r) { p->set_value(std::move(r)); });
  return wait_for(f, timeout, "command");
}
}  // namespace

result<command_reply> node::execute(tenant::command cmd, const tenant_id& t,
                                    std::chrono::milliseconds timeout) {
  return run_sync([&](reply_fn f) { submit(std::move(cmd), t, std::move(f)); }, timeout);
}

result<command_reply> node::execute(monitor::command cmd, const tenant_id& t,
                                    const std::string& monitor_id,
                                    std::chrono::milliseconds timeout) {
  return run_sync([&](reply_fn f) { submit(std::move(cmd), t, monitor_id, std::move(f)); },
                  timeout);
}

result<command_reply> node::push_beat(const std::string& token, std::chrono::milliseconds timeout) {
  if (impl_->stopped) return stopping();
  const std::string token_hash = sha256_hex("", token);
  auto found = impl_->push->find(token_hash);
  if (!found) return make_error(errc::not_found, "no push monitor for this token");
  auto [tenant, monitor] = *found;
  return run_sync(
      [&](reply_fn f) {
        caf::anon_send(impl_->host_for(tenant_id{tenant}),
                       push_request{token_hash, tenant, monitor, impl_->reply_once(std::move(f))});
      },
      timeout);
}

result<tenant::state> node::tenant_state(const tenant_id& t) {
  if (impl_->stopped) return stopping();
  auto p = std::make_shared<std::promise<result<tenant::state>>>();
  auto f = p->get_future();
  caf::anon_send(impl_->host_for(t),
                 tenant_query{t.get(), [p](result<tenant::state> s) { p->set_value(std::move(s)); }});
  return wait_for(f, std::chrono::seconds(30), "tenant query");
}

result<tenant::state> node::tenant_access(const tenant_id& t) {
  if (impl_->stopped) return stopping();
  if (auto published = impl_->access->find(t.get())) return tenant::state(*published);
  auto p = std::make_shared<std::promise<result<tenant::state>>>();
  auto f = p->get_future();
  tenant_query q{t.get(), [p](result<tenant::state> s) { p->set_value(std::move(s)); }, {}};
  q.project = access_part;
  caf::anon_send(impl_->host_for(t), std::move(q));
  return wait_for(f, std::chrono::seconds(30), "tenant query");
}

result<monitor::state> node::monitor_state(const tenant_id& t, const std::string& monitor_id) {
  if (impl_->stopped) return stopping();
  auto p = std::make_shared<std::promise<result<monitor::state>>>();
  auto f = p->get_future();
  caf::anon_send(impl_->host_for(t), t.get(),
                 monitor_query{monitor_id,
                               [p](result<monitor::state> s) { p->set_value(std::move(s)); }});
  return wait_for(f, std::chrono::seconds(30), "monitor query");
}

namespace {
std::pair<std::int64_t, std::int64_t> count(node::impl& im) {
  std::int64_t tenants = 0, monitors = 0;
  if (im.stopped) return {0, 0};
  for (auto& h : im.hosts) {
    auto p = std::make_shared<std::promise<std::pair<std::int64_t, std::int64_t>>>();
    auto f = p->get_future();
    caf::anon_send(h, stats_query{[p](std::int64_t t, std::int64_t m) { p->set_value({t, m}); }});
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) continue;
    auto [t, m] = f.get();
    tenants += t;
    monitors += m;
  }
  return {tenants, monitors};
}
}  // namespace

std::string node::seal_secret(const std::string& plain) const { return impl_->secrets->seal(plain); }

result<std::string> node::open_secret(const std::string& sealed) const { return impl_->secrets->open(sealed); }

std::int64_t node::monitor_count() { return count(*impl_).second; }

const recovery_stats& node::recovery() const { return impl_->stats; }
storage::event_log& node::log() { return *impl_->log; }
int node::partitions() const { return impl_->partitions; }

void node::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  if (impl_->probes) impl_->probes->stop();
  if (impl_->webhooks) impl_->webhooks->stop();
  // New requests are refused from here on; those accepted get a while to be
  // answered. Whatever is still unanswered after it is answered "unavailable"
  // when its actor stops (see reply_once).
  for (int i = 0; i < 1000 && *impl_->in_flight > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    caf::scoped_actor self{*impl_->sys};
    for (auto& h : impl_->hosts) {
      self->request(h, std::chrono::seconds(60), snapshot_atom::value)
          .receive([](bool) {},
                   [](caf::error& e) {
                     spdlog::error("snapshot at shutdown: {}", caf::to_string(e));
                   });
    }
    for (auto& h : impl_->hosts) self->send_exit(h, caf::exit_reason::user_shutdown);
  }
  impl_->hosts.clear();
  impl_->sys->await_all_actors_done();
  // The log is closed while the actor system still exists: callbacks of
  // appends it drains still send (to stopped actors, harmlessly).
  if (auto* rl = dynamic_cast<storage::rocks_log*>(impl_->log.get())) rl->close();
  if (auto* kl = dynamic_cast<storage::kafka_log*>(impl_->log.get())) kl->close();
  impl_->sys.reset();
  impl_->log.reset();
  impl_->snaps.reset();
}

}  // namespace kw
