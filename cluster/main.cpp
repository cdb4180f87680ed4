// `keepwatch`: the one binary. Subcommands:
//   serve            run a node (embedded log or Kafka) until SIGTERM/SIGINT
//   dev-broker       an in-memory Kafka-protocol broker for development and tests
//   migrate          apply the read models' SQL migrations to database.url
//   projections run|rebuild NAME|status
//                    run the read-model projections on their own, replay one
//                    from offset 0, or show how far each has read
//   audit verify|replay|state
//                    compliance tools read straight from the log (cluster/audit.hpp)
//   version          print the version
// Configuration: --config FILE (TOML), then KEEPWATCH_* variables, then flags.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <sys/resource.h>
#include <fstream>
#include <sys/stat.h>
#include <map>
#include <pthread.h>

#include "actors/host/node.hpp"
#include "actors/host/notary.hpp"
#include "actors/host/recovery.hpp"
#include "actors/host/tree_head.hpp"
#include "cluster/audit.hpp"
#include "config/config.hpp"
#include "events/codec.hpp"
#include "events/hash_chain.hpp"
#include "projections/migrations.hpp"
#include "projections/service.hpp"
#include "gateway/api.hpp"
#include "gateway/live_feed.hpp"
#include "gateway/server.hpp"
#include "gateway/tokens.hpp"
#include "storage/dev_broker.hpp"
#include "storage/kafka_log.hpp"
#include "storage/kafka_reader.hpp"
#include "storage/rocks_log.hpp"
#include "storage/rocks_snapshot_store.hpp"

namespace {

int fail(const std::string& what) {
  spdlog::error("{}", what);
  return 2;
}

std::string audit_key_file(const kw::node_config& c) {
  return c.audit_signing_key_file.empty() ? c.data_dir + "/audit-signing.key" : c.audit_signing_key_file;
}

sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

kw::storage::kafka_options kafka_options_for(const kw::node_config& c, const kw::plan_catalog& plans) {
  kw::storage::kafka_options k;
  k.bootstrap_servers = c.kafka_bootstrap_servers;
  k.topic_prefix = c.kafka_topic_prefix;
  k.partitions = c.partitions;
  k.replication_factor = c.kafka_replication_factor;
  k.properties = c.kafka_properties;
  k.node_name = c.node_name;
  k.timeout = std::chrono::milliseconds(c.kafka_timeout_ms);
  k.producers = c.kafka_producers;
  // Check results are kept as long as the longest plan keeps them.
  int days = 0;
  for (auto& [name, p] : plans.plans) days = std::max(days, p.retention_days);
  k.checks_retention_ms = std::int64_t(days) * 86'400'000;
  return k;
}

// `dev-broker status`: every partition of Keepwatch's topics on a running
// broker, its earliest and end offsets, and whether records were dropped
// (an earliest offset above 0 on the events topic, which is kept forever).
// Exits 1 when the events topic has lost records.
int dev_broker_status(const std::string& bootstrap, const std::string& prefix) {
  kw::storage::kafka_reader_options k;
  k.bootstrap_servers = bootstrap;
  k.topic_prefix = prefix;
  k.timeout = std::chrono::seconds(10);
  auto reader = kw::storage::kafka_reader::open(k);
  if (!reader) return fail("dev-broker status: " + reader.err().message);
  int lost = 0;
  for (auto t : {kw::storage::topic::events, kw::storage::topic::checks, kw::storage::topic::deadletter}) {
    auto parts = (*reader)->partitions(t);
    if (!parts) return fail("dev-broker status: " + parts.err().message);
    for (int p = 0; p < *parts; ++p) {
      auto marks = (*reader)->watermarks(t, kw::partition_id{p});
      if (!marks) return fail("dev-broker status: " + marks.err().message);
      const bool dropped = marks->first > 0;
      if (dropped && t == kw::storage::topic::events) ++lost;
      std::printf("%s partition %d: offsets %lld to %lld%s\n", kw::storage::kafka_topic_name(prefix, t).c_str(), p,
                  static_cast<long long>(marks->first), static_cast<long long>(marks->second),
                  !dropped ? ""
                  : t == kw::storage::topic::events
                      ? ": RECORDS LOST (every record below the first offset was dropped)"
                      : ": older records dropped");
    }
  }
  if (lost) std::printf("%d partition(s) of the events topic lost records: the log is not whole\n", lost);
  return lost ? 1 : 0;
}

int dev_broker(int brokers, int partitions, const std::string& prefix) {
  auto stop_signals = block_stop_signals();
  auto broker = kw::storage::dev_broker::start(brokers);
  if (!broker) return fail("dev-broker: " + broker.err().message);
  // The mock cluster has no CreateTopics: Keepwatch's topics are made here.
  kw::storage::kafka_options k;
  k.topic_prefix = prefix;
  k.partitions = partitions;
  auto plans = kw::load_plans(kw::default_plans_path());
  if (plans) {
    kw::node_config c;
    c.partitions = partitions;
    c.kafka_topic_prefix = prefix;
    k = kafka_options_for(c, *plans);
  }
  for (auto& t : kw::storage::kafka_topic_specs(k))
    if (auto st = (*broker)->create_topic(t.name, t.partitions, t.replication_factor); !st)
      return fail("dev-broker: topic " + t.name + ": " + st.err().message);
  std::printf("%s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  spdlog::info("dev-broker: {} broker(s) at {}, topics with {} partitions (prefix \"{}\"). "
               "For development and tests only: the data lives in memory and is gone at exit, and each partition "
               "keeps at most 5 MiB or 100,000 message sets (older records are dropped).",
               brokers, (*broker)->bootstrap(), partitions, prefix);
  // librdkafka 2.0.2's mock cluster cannot keep more per partition (see
  // dev_broker.hpp): watch every partition, and say it loudly the moment
  // one has dropped records. The node refuses the partial log by itself.
  std::map<std::pair<std::string, int>, std::int64_t> reported;
  for (;;) {
    timespec every{1, 0};
    const int sig = sigtimedwait(&stop_signals, nullptr, &every);
    if (sig > 0) {
      spdlog::info("dev-broker: signal {}: stopping", sig);
      return 0;
    }
    auto dropped = (*broker)->dropped();
    if (!dropped) {
      spdlog::warn("dev-broker: {}", dropped.err().message);
      continue;
    }
    for (const auto& d : *dropped) {
      auto& seen = reported[{d.topic, d.partition}];
      if (d.earliest <= seen) continue;
      seen = d.earliest;
      spdlog::error("dev-broker: RECORDS LOST: {} partition {} dropped every record below offset {} "
                    "(the mock cluster keeps at most 5 MiB or 100,000 message sets per partition). "
                    "A Keepwatch node will refuse this log; start over with a fresh dev broker and "
                    "empty data, or use a real Kafka for long histories.",
                    d.topic, d.partition, d.earliest);
    }
  }
}

// The key that signs access tokens: read from `path`, or made there (32
// random bytes, hex, mode 0600) at first start.
kw::result<std::string> jwt_key(const std::string& path) {
  std::ifstream in(path);
  if (in) {
    std::string key;
    std::getline(in, key);
    if (key.size() < 32) return kw::error{kw::errc::invalid, path + ": the key must be at least 32 characters"};
    return key;
  }
  const std::string key = kw::gateway::random_hex(32);
  {
    std::ofstream out(path, std::ios::trunc);
    out << key << "\n";
    if (!out) return kw::error{kw::errc::storage, "cannot write " + path};
  }
  ::chmod(path.c_str(), 0600);
  return key;
}

// A database URL without its password, for logs.
std::string redact(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

// The log as a process other than the node opens it: the embedded log of
// the data directory (only while no node holds it), or the Kafka cluster with
// a producer identity of its own ("<node>-projections"), so that it never
// fences the node's producers.
struct opened_log {
  std::unique_ptr<kw::storage::event_log> log;
  std::optional<kw::storage::kafka_options> kafka;
};

kw::result<opened_log> open_log_for_tools(const kw::node_config& cfg, const kw::plan_catalog& plans,
                                          bool read_only = false) {
  opened_log out;
  if (cfg.log_backend == "kafka") {
    out.kafka = kafka_options_for(cfg, plans);
    out.kafka->node_name = cfg.node_name + "-projections";
    auto k = kw::storage::kafka_log::open(*out.kafka, nullptr);
    if (!k) return k.err();
    out.log = std::move(*k);
  } else {
    auto r = read_only ? kw::storage::rocks_log::open_read_only(cfg.data_dir + "/log", cfg.partitions)
                       : kw::storage::rocks_log::open(cfg.data_dir + "/log", cfg.partitions, nullptr);
    if (!r && read_only) return r.err();
    if (!r)
      return kw::error{r.err().code, r.err().message +
                                         " (a running node holds the embedded log: its projections run inside it)"};
    out.log = std::move(*r);
  }
  return out;
}

struct tool_setup {
  kw::node_config cfg;
  kw::plan_catalog plans;
};

kw::result<tool_setup> load_for_tools(const std::string& config_path, const std::string& data_dir) {
  auto cfg = kw::load_config(config_path, kw::keepwatch_env());
  if (!cfg) return cfg.err();
  if (!data_dir.empty()) cfg->data_dir = data_dir;
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));
  auto plans = kw::load_plans(cfg->plans_file.empty() ? kw::default_plans_path() : cfg->plans_file);
  if (!plans) return plans.err();
  if (cfg->database_url.empty())
    return kw::error{kw::errc::invalid, "no database: set database.url (or KEEPWATCH_DATABASE_URL)"};
  auto applied = kw::projections::apply_migrations(cfg->database_url);
  if (!applied) return kw::error{applied.err().code, "migrations: " + applied.err().message};
  if (auto st = kw::projections::sync_plans(cfg->database_url, *plans); !st) return st.err();
  return tool_setup{std::move(*cfg), std::move(*plans)};
}

// `projections run`: the projections on their own, until SIGTERM/SIGINT.
int projections_run(const std::string& config_path, const std::string& data_dir,
                    const std::vector<std::string>& names) {
  auto setup = load_for_tools(config_path, data_dir);
  if (!setup) return fail("projections: " + setup.err().message);
  auto stop_signals = block_stop_signals();
  auto log = open_log_for_tools(setup->cfg, setup->plans);
  if (!log) return fail("projections: " + log.err().message);
  kw::projections::service_options so;
  so.runner.database_url = setup->cfg.database_url;
  so.runner.kafka = log->kafka ? &*log->kafka : nullptr;
  so.projections = names;
  auto svc = kw::projections::service::start(*log->log, so);
  if (!svc) return fail("projections: " + svc.err().message);
  spdlog::info("projections running on the {} log into {}", setup->cfg.log_backend,
               redact(setup->cfg.database_url));
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*svc)->stop();
  spdlog::info("projections stopped after {} records", (*svc)->records());
  return 0;
}

// `projections rebuild NAME`: empties the projection's tables and offsets,
// then replays the log into them from offset 0 (here, when the log can be
// opened; otherwise the running node's projection does it).
int projections_rebuild(const std::string& config_path, const std::string& data_dir, const std::string& name) {
  std::vector<std::string> names;
  if (name == "all") {
    names = kw::projections::projection_names();
  } else if (kw::projections::make_projection(name)) {
    names.push_back(name);
  } else {
    std::string known;
    for (auto& n : kw::projections::projection_names()) known += (known.empty() ? "" : ", ") + n;
    return fail("projections rebuild: no projection named '" + name + "' (known: " + known + ", all)");
  }
  auto setup = load_for_tools(config_path, data_dir);
  if (!setup) return fail("projections rebuild: " + setup.err().message);
  auto log = open_log_for_tools(setup->cfg, setup->plans);
  for (auto& n : names) {
    auto view = kw::projections::make_projection(n);
    if (auto st = kw::projections::reset_projection(setup->cfg.database_url, *view); !st)
      return fail("projections rebuild: " + st.err().message);
    if (!log) {
      std::printf("%s: tables emptied; the running node replays it from offset 0\n", n.c_str());
      continue;
    }
    kw::projections::runner_options ro;
    ro.database_url = setup->cfg.database_url;
    ro.kafka = log->kafka ? &*log->kafka : nullptr;
    auto r = kw::projections::runner::open(std::move(view), *log->log, ro);
    if (!r) return fail("projections rebuild: " + r.err().message);
    const auto t0 = std::chrono::steady_clock::now();
    auto done = (*r)->catch_up(std::chrono::hours(24));
    if (!done) return fail("projections rebuild: " + done.err().message);
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    if (auto st = (*r)->tick(kw::timestamp{now_us.count()}); !st)
      spdlog::warn("projections rebuild: {}", st.err().message);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: rebuilt from %lld records in %.2f s (%lld dead letters)\n", n.c_str(),
                static_cast<long long>(*done), s, static_cast<long long>((*r)->stats().dead_letters));
    (*r)->close();
  }
  return 0;
}

// `projections status`: per projection, topic and partition, where it is and
// how far behind the log's end.
int projections_status(const std::string& config_path, const std::string& data_dir) {
  auto setup = load_for_tools(config_path, data_dir);
  if (!setup) return fail("projections status: " + setup.err().message);
  auto log = open_log_for_tools(setup->cfg, setup->plans, /*read_only=*/true);
  if (!log) return fail("projections status: " + log.err().message);
  auto rows = kw::projections::projection_status(setup->cfg.database_url, *log->log);
  if (!rows) return fail("projections status: " + rows.err().message);
  std::printf("%-10s %-22s %9s %12s %12s %10s\n", "PROJECTION", "TOPIC", "PARTITION", "NEXT", "END", "LAG");
  for (auto& l : *rows)
    std::printf("%-10s %-22s %9d %12s %12lld %10lld\n", l.projection.c_str(), kw::storage::topic_name(l.t),
                l.partition.get(), l.next ? std::to_string(l.next->get()).c_str() : "-",
                static_cast<long long>(l.end.get()), static_cast<long long>(l.lag));
  return 0;
}

int serve(const std::string& config_path, const std::string& data_dir_flag) {
  auto cfg = kw::load_config(config_path, kw::keepwatch_env());
  if (!cfg) return fail(cfg.err().message);
  if (!data_dir_flag.empty()) cfg->data_dir = data_dir_flag;
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));
  for (auto& name : cfg->unknown_env)
    spdlog::warn("{} names no configuration key; ignored (see config/keepwatch.example.toml)", name);
  auto plans_path = cfg->plans_file.empty() ? kw::default_plans_path() : cfg->plans_file;
  auto plans = kw::load_plans(plans_path);
  if (!plans) return fail(plans.err().message);
  if (!cfg->database_url.empty()) {
    auto applied = kw::projections::apply_migrations(cfg->database_url);
    if (!applied) return fail("migrations: " + applied.err().message);
    spdlog::info("database: {} migration(s) applied", *applied);
  }

  // Block the stop signals before any thread starts, then wait for them here.
  auto stop_signals = block_stop_signals();

  kw::node_options o;
  o.node_name = cfg->node_name;
  o.data_dir = cfg->data_dir;
  o.partitions = cfg->partitions;
  o.plans = std::move(*plans);
  o.passivate_after_s = cfg->passivate_after_s;
  o.snapshot_interval_s = cfg->snapshot_interval_s;
  o.prober_threads = cfg->prober_threads;
  o.max_connections = cfg->max_connections;
  o.max_idle_connections = cfg->max_idle_connections;
  o.idle_timeout_ms = cfg->idle_timeout_ms;
  o.allow_private_targets = cfg->allow_private_targets;
  // The gateway's port is never a check's target (the node's own API and
  // /metrics), even where private targets are allowed.
  if (cfg->gateway_port > 0) o.listen_ports.push_back(static_cast<std::uint16_t>(cfg->gateway_port));
  o.jitter_pct = cfg->jitter_pct;
  o.webhook_max_attempts = cfg->webhook_max_attempts;
  o.webhook_initial_backoff_ms = cfg->webhook_initial_backoff_ms;
  if (cfg->log_backend == "kafka") o.kafka = kafka_options_for(*cfg, o.plans);
  const kw::plan_catalog plans_copy = o.plans;
  const std::optional<kw::storage::kafka_options> o_kafka = o.kafka;
  auto n = kw::node::start(std::move(o));
  if (!n) return fail("cannot start: " + n.err().message);
  // The read models: one projection actor each, on the node's own log.
  std::unique_ptr<kw::projections::service> views;
  if (!cfg->database_url.empty()) {
    if (auto st = kw::projections::sync_plans(cfg->database_url, plans_copy); !st)
      return fail("plans: " + st.err().message);
    kw::projections::service_options so;
    so.runner.database_url = cfg->database_url;
    so.runner.kafka = o_kafka ? &*o_kafka : nullptr;
    auto started = kw::projections::service::start((*n)->log(), so);
    if (!started) return fail("projections: " + started.err().message);
    views = std::move(*started);
    spdlog::info("projections running into {}", redact(cfg->database_url));
  }
  // The notary's key (the notary starts below); the audit API serves it.
  auto signer = kw::tree_head_signer::open_or_create(audit_key_file(*cfg));
  if (!signer) return fail("audit: " + signer.err().message);
  // The gateway: the HTTP API, over the node and the read models.
  std::unique_ptr<kw::gateway::api> api;
  std::unique_ptr<kw::gateway::server> http;
  std::unique_ptr<kw::gateway::live_feed> feed;
  if (!cfg->database_url.empty() && cfg->gateway_port > 0) {
    auto key = jwt_key(cfg->gateway_jwt_key_file.empty() ? cfg->data_dir + "/jwt.key" : cfg->gateway_jwt_key_file);
    if (!key) return fail("gateway: " + key.err().message);
    kw::gateway::api_options ao;
    ao.database_url = cfg->database_url;
    ao.app_database_url = cfg->database_app_url;
    ao.jwt_key = *key;
    ao.access_ttl_s = cfg->gateway_access_ttl_s;
    ao.refresh_ttl_s = cfg->gateway_refresh_ttl_s;
    ao.pool_size = cfg->gateway_handler_threads + 2;
    ao.node_name = cfg->node_name;
    ao.plans = plans_copy;
    ao.admin_email = cfg->gateway_admin_email;
    ao.admin_password = cfg->gateway_admin_password;
    ao.metrics_token = cfg->gateway_metrics_token;
    ao.auth_rate_per_ip_per_min = cfg->gateway_auth_rate_per_ip_per_min;
    ao.problems = [v = views.get()] { return v ? v->problems() : std::vector<std::string>{}; };
    ao.auth_rate_per_account_per_min = cfg->gateway_auth_rate_per_account_per_min;
    ao.audit_public_key = (*signer)->public_key_hex();
    if (cfg->log_backend == "kafka") {
      // The audit API reads Kafka through readers of its own (one per
      // request: no group, no writes), never through the node's consumer.
      ao.audit_log = [bootstrap = cfg->kafka_bootstrap_servers, prefix = cfg->kafka_topic_prefix,
                      props = cfg->kafka_properties, timeout = std::chrono::milliseconds(cfg->kafka_timeout_ms),
                      parts = (*n)->partitions()] {
        return kw::audit::open_kafka(bootstrap, prefix, props, timeout, parts);
      };
    }
    try {
      api = std::make_unique<kw::gateway::api>(**n, ao);
    } catch (const std::exception& e) {
      return fail(std::string("gateway: ") + e.what());
    }
    kw::gateway::server_options so;
    so.address = cfg->gateway_address;
    so.port = static_cast<std::uint16_t>(cfg->gateway_port);
    so.threads = cfg->gateway_threads;
    so.body_limit = static_cast<std::size_t>(cfg->gateway_body_limit_bytes);
    so.handler_threads = cfg->gateway_handler_threads;
    so.per_key_concurrency = cfg->gateway_concurrency_per_tenant;
    so.per_key_queue = static_cast<std::size_t>(cfg->gateway_queue_per_tenant);
    so.queue_limit = static_cast<std::size_t>(cfg->gateway_queue_limit);
    so.max_connections = static_cast<std::size_t>(cfg->gateway_max_connections);
    so.max_connections_per_ip = static_cast<std::size_t>(cfg->gateway_max_connections_per_ip);
    so.header_count_limit = static_cast<std::size_t>(cfg->gateway_header_count_limit);
    so.read_timeout = std::chrono::seconds(cfg->gateway_idle_timeout_s);
    so.header_timeout = std::chrono::seconds(cfg->gateway_header_timeout_s);
    so.body_timeout = std::chrono::seconds(cfg->gateway_body_timeout_s);
    so.streams_per_tenant = static_cast<std::size_t>(cfg->gateway_streams_per_tenant);
    so.stream_recheck_interval = std::chrono::milliseconds(cfg->gateway_stream_recheck_ms);
    // The gateway's share of the process's descriptors (shared with RocksDB
    // and the prober's connections).
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
      const auto limit = static_cast<unsigned long long>(nofile.rlim_cur);
      spdlog::info("gateway: at most {} connections ({} per client IP) of the process's {} file descriptors",
                   so.max_connections, so.max_connections_per_ip, limit);
      if (nofile.rlim_cur != RLIM_INFINITY && so.max_connections + 1024 > limit)
        spdlog::warn("gateway: max_connections {} leaves fewer than 1024 of the {} file descriptors to RocksDB and "
                     "the prober; lower [gateway] max_connections or raise the limit (ulimit -n)",
                     so.max_connections, limit);
    }
    // The live stream (WebSocket /api/v1/stream) follows the log.
    auto f = kw::gateway::live_feed::start((*n)->log());
    if (!f) return fail("live feed: " + f.err().message);
    feed = std::move(*f);
    auto* sa = api.get();
    so.authorize_stream = [sa](const kw::gateway::http_request& q) { return sa->stream_tenant(q); };
    so.stream_feed = feed.get();
    auto* a = api.get();
    auto started = kw::gateway::server::start(so, [a](const kw::gateway::http_request& q) { return a->handle(q); });
    if (!started) return fail(started.err().message);
    http = std::move(*started);
    (*n)->listening_on(http->port());
    spdlog::info("gateway listening on http://{}:{} (sign up: POST /api/v1/auth/signup)", cfg->gateway_address,
                 http->port());
  }
  // The notary: each tenant's Merkle tree beside the log, and signed heads.
  kw::notary_options no;
  no.dir = cfg->data_dir + "/merkle";
  no.signer = *signer;
  no.head_interval = std::chrono::seconds(cfg->audit_head_interval_s);
  auto notary = kw::notary::start(**n, no);
  if (!notary) return fail(notary.err().message);
  spdlog::info("notary: signed tree heads every {} s with key {}", cfg->audit_head_interval_s, (*signer)->key_id());
  auto& rec = (*n)->recovery();
  spdlog::info("keepwatch node {} serving on the {} log: data {}, {} partitions, {} events replayed from {} "
               "snapshots in {:.3f} s, {} monitors",
               cfg->node_name, cfg->log_backend, cfg->data_dir, (*n)->partitions(), rec.events_replayed,
               rec.snapshots_loaded, rec.seconds, (*n)->monitor_count());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: stopping (snapshotting, closing the log)", sig);
  if (http) http->stop();
  // A clean stop vouches for everything appended: a last head per tenant.
  if (auto st = (*notary)->catch_up_and_sign(); !st) spdlog::warn("notary: {}", st.err().message);
  (*notary)->stop();
  if (feed) feed->stop();
  if (views) views->stop();
  (*n)->stop();
  spdlog::info("stopped cleanly");
  return 0;
}

int migrate(const std::string& config_path, std::string url) {
  if (url.empty()) {
    auto cfg = kw::load_config(config_path, kw::keepwatch_env());
    if (!cfg) return fail(cfg.err().message);
    url = cfg->database_url;
  }
  if (url.empty()) return fail("migrate: no database: give --database-url or set database.url");
  auto applied = kw::projections::apply_migrations(url);
  if (!applied) return fail("migrate: " + applied.err().message);
  std::printf("%d migration(s) applied\n", *applied);
  return 0;
}

// Where `keepwatch audit …` reads the log: the data directory's embedded log
// (read-only) or Kafka's topics (through a reader that never writes).
struct audit_log_options {
  std::string config_path, data_dir, kafka_bootstrap, topic_prefix;
  int partitions = 0;  // 0: the configuration's
};

struct audit_log {
  std::shared_ptr<kw::storage::rocks_log> embedded;  // null on Kafka
  std::unique_ptr<kw::audit::log_source> source;
};

// The configuration the audit commands read with: the file and KEEPWATCH_*
// variables, then their own flags.
kw::result<kw::node_config> audit_config(const audit_log_options& o) {
  auto cfg = kw::load_config(o.config_path, kw::keepwatch_env());
  if (!cfg) return cfg.err();
  if (!o.data_dir.empty()) cfg->data_dir = o.data_dir;
  if (o.partitions > 0) cfg->partitions = o.partitions;
  if (!o.kafka_bootstrap.empty()) {
    cfg->log_backend = "kafka";
    cfg->kafka_bootstrap_servers = o.kafka_bootstrap;
  }
  if (!o.topic_prefix.empty()) cfg->kafka_topic_prefix = o.topic_prefix;
  return cfg;
}

kw::result<audit_log> open_audit_log(const audit_log_options& o) {
  auto cfg = audit_config(o);
  if (!cfg) return cfg.err();
  audit_log out;
  if (cfg->log_backend == "kafka") {
    auto src = kw::audit::open_kafka(cfg->kafka_bootstrap_servers, cfg->kafka_topic_prefix, cfg->kafka_properties,
                                     std::chrono::milliseconds(cfg->kafka_timeout_ms));
    if (!src) return src.err();
    out.source = std::move(*src);
    return out;
  }
  auto log = kw::storage::rocks_log::open_read_only(cfg->data_dir + "/log", cfg->partitions);
  if (!log) return log.err();
  out.embedded = std::move(*log);
  out.source = kw::audit::from_event_log(out.embedded);
  return out;
}

// `audit verify`: every tenant's hash chain (or one tenant's) and Merkle
// root; on the embedded log, for every tenant, also the write side's
// recovery from snapshots against a replay of the whole log. Read-only: it
// may run beside a node.
// The notary's public key for checking heads: given in hex, or derived from
// a key file (the data directory's by default, when it exists).
kw::result<std::string> audit_public_key(const audit_log_options& o, const std::string& given,
                                         const std::string& key_file) {
  if (!given.empty()) {
    if (auto id = kw::key_id_of(given); !id) return id.err();
    return given;
  }
  auto cfg = audit_config(o);
  if (!cfg) return cfg.err();
  std::string file = !key_file.empty() ? key_file : audit_key_file(*cfg);
  if (struct stat st{}; ::stat(file.c_str(), &st) != 0) {
    if (!key_file.empty()) return kw::make_error(kw::errc::not_found, "no key file " + key_file);
    return std::string();
  }
  auto signer = kw::tree_head_signer::open_or_create(file);
  if (!signer) return signer.err();
  return (*signer)->public_key_hex();
}

int audit_verify(const audit_log_options& o, kw::audit::verify_options v, const std::string& heads_file) {
  const std::string& tenant = v.tenant;
  if (!heads_file.empty()) {
    std::ifstream in(heads_file);
    if (!in) return fail("audit verify: cannot read " + heads_file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto h = kw::audit::parse_head(line);
      if (!h) return fail("audit verify: " + heads_file + " line " + std::to_string(n) + ": " + h.err().message);
      v.held.push_back(std::move(*h));
    }
  }
  // The snapshots before the log: the log read afterwards holds at least
  // everything they cover.
  std::unique_ptr<kw::storage::rocks_snapshot_store> snaps;
  auto cfg = audit_config(o);
  if (!cfg) return fail("audit verify: " + cfg.err().message);
  const std::string snapshots = cfg->data_dir + "/snapshots";
  if (struct stat st{}; tenant.empty() && cfg->log_backend == "embedded" && ::stat(snapshots.c_str(), &st) == 0) {
    auto opened = kw::storage::rocks_snapshot_store::open_read_only(snapshots);
    if (!opened) return fail(opened.err().message);
    snaps = std::move(*opened);
  }
  auto log = open_audit_log(o);
  if (!log) return fail("audit verify: " + log.err().message);
  int bad = kw::audit::verify_chains(*log->source, v);
  if (bad < 0) return 2;
  if (!tenant.empty() || !log->embedded) return bad ? 1 : 0;

  // Recovery from the snapshots (what a restart would give) must equal a
  // replay of the whole log, aggregate by aggregate.
  int diverged = 0;
  auto& rocks = *log->embedded;
  for (int p = 0; p < rocks.partitions(); ++p) {
    auto from_zero = kw::recover_partition(rocks, nullptr, kw::partition_id{p});
    if (!from_zero) return fail("partition " + std::to_string(p) + ": " + from_zero.err().message);
    auto from_snaps = snaps ? kw::recover_partition(rocks, snaps.get(), kw::partition_id{p}) : from_zero;
    if (!from_snaps) return fail("partition " + std::to_string(p) + ": " + from_snaps.err().message);
    auto diffs = kw::recovery_differences(*from_snaps, *from_zero);
    for (auto& d : diffs) std::printf("partition %d: RECOVERY DIFFERS: %s\n", p, d.c_str());
    diverged += int(diffs.size());
    std::printf("partition %d: %zu tenants, %zu monitors, %lld snapshots: recovery %s a full replay\n", p,
                from_zero->tenants.size(), from_zero->monitors.size(),
                static_cast<long long>(from_snaps->snapshots), diffs.empty() ? "equals" : "DIFFERS FROM");
  }
  std::printf("%d aggregates whose recovery differs from a full replay\n", diverged);
  return bad || diverged ? 1 : 0;
}

int audit_replay(const audit_log_options& o, kw::audit::replay_options r, const std::string& from,
                 const std::string& to) {
  if (!from.empty()) {
    auto t = kw::audit::parse_instant(from);
    if (!t) return fail("audit replay: --from: " + t.err().message);
    r.from = *t;
  }
  if (!to.empty()) {
    auto t = kw::audit::parse_instant(to);
    if (!t) return fail("audit replay: --to: " + t.err().message);
    r.to = *t;
  }
  auto log = open_audit_log(o);
  if (!log) return fail("audit replay: " + log.err().message);
  return kw::audit::replay(*log->source, r);
}

int audit_state(const audit_log_options& o, const std::string& tenant, const std::string& at) {
  auto t = kw::audit::parse_instant(at);
  if (!t) return fail("audit state: --at: " + t.err().message);
  auto log = open_audit_log(o);
  if (!log) return fail("audit state: " + log.err().message);
  return kw::audit::state_at(*log->source, tenant, *t);
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries only what a command answers (e.g. the
  // dev broker's bootstrap address).
  spdlog::set_default_logger(spdlog::stderr_color_mt("keepwatch"));
  CLI::App app{"Keepwatch: multi-tenant uptime monitoring"};
  app.require_subcommand(1);
  std::string config_path, data_dir;
  auto* serve_cmd = app.add_subcommand("serve", "Run a node on the embedded log");
  serve_cmd->add_option("-c,--config", config_path, "TOML configuration file")->check(CLI::ExistingFile);
  serve_cmd->add_option("-d,--data-dir", data_dir, "Data directory (overrides the config)");

  auto* migrate_cmd = app.add_subcommand("migrate", "Apply the read models' SQL migrations");
  std::string migrate_config, migrate_url;
  migrate_cmd->add_option("-c,--config", migrate_config, "TOML configuration file")
      ->check(CLI::ExistingFile);
  migrate_cmd->add_option("--database-url", migrate_url, "PostgreSQL URL (overrides database.url)");

  auto* views = app.add_subcommand("projections", "The PostgreSQL read models");
  views->require_subcommand(1);
  std::string views_config, views_dir, rebuild_name;
  std::vector<std::string> run_names;
  auto* views_run = views->add_subcommand("run", "Run the projections (all, or those named) until stopped");
  views_run->add_option("names", run_names, "Projections to run (default: all)");
  auto* views_rebuild = views->add_subcommand("rebuild", "Empty a projection's tables and replay it from offset 0");
  views_rebuild->add_option("name", rebuild_name, "dashboard, usage, billing, audit, or all")->required();
  auto* views_status = views->add_subcommand("status", "Show how far each projection has read each partition");
  for (auto* c : {views_run, views_rebuild, views_status}) {
    c->add_option("-c,--config", views_config, "TOML configuration file")->check(CLI::ExistingFile);
    c->add_option("-d,--data-dir", views_dir, "Data directory (overrides the config)");
  }

  auto* audit = app.add_subcommand("audit", "Compliance tools over the event log");
  audit->require_subcommand(1);
  audit_log_options audit_src;
  auto source_options = [&](CLI::App* c) {
    c->add_option("-c,--config", audit_src.config_path, "TOML configuration file")->check(CLI::ExistingFile);
    c->add_option("-d,--data-dir", audit_src.data_dir, "Data directory of an embedded-log node (overrides the config)");
    c->add_option("-p,--partitions", audit_src.partitions, "Partitions of the embedded log (default: the config's)")
        ->check(CLI::Range(1, 1024));
    c->add_option("--kafka", audit_src.kafka_bootstrap, "Read Kafka at these bootstrap servers instead");
    c->add_option("--topic-prefix", audit_src.topic_prefix, "Prefix of Keepwatch's Kafka topic names");
  };
  auto* verify = audit->add_subcommand(
      "verify", "Verify every tenant's (or one tenant's) hash chain and Merkle root; with every tenant on the "
                "embedded log, also that recovery from snapshots equals a full replay (read-only: may run "
                "beside a node)");
  source_options(verify);
  kw::audit::verify_options verify_opts;
  std::string verify_heads, verify_key_file;
  auto* verify_one = verify->add_option("--tenant", verify_opts.tenant, "Only this tenant");
  verify->add_option("--heads", verify_heads,
                     "Signed heads kept outside the log (JSON lines from `audit heads`): the log must extend each");
  verify->add_option("--public-key", verify_opts.public_key,
                     "The notary's Ed25519 public key (hex) to check heads' signatures with");
  verify->add_option("--key-file", verify_key_file,
                     "Derive the public key from this signing key file (default: the data directory's, if any)");
  verify->add_flag("--all", "Every tenant (the default)")->excludes(verify_one);

  auto* replay_cmd = audit->add_subcommand(
      "replay", "Write a tenant's events between two instants, read from the log and chain-verified as it "
                "goes: who did what, when, from where, with before and after");
  source_options(replay_cmd);
  kw::audit::replay_options replay_opts;
  std::string replay_from, replay_to;
  replay_cmd->add_option("--tenant", replay_opts.tenant, "The tenant")->required();
  replay_cmd->add_option("--from", replay_from, "From this instant (UTC, e.g. 2026-12-07T10:00:00Z)");
  replay_cmd->add_option("--to", replay_to, "Up to this instant, inclusive");
  replay_cmd->add_option("--format", replay_opts.format, "jsonl (default) or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  replay_cmd->add_option("--out", replay_opts.out, "Write to this file instead of stdout");

  auto* heads_cmd = audit->add_subcommand(
      "heads", "Print the signed tree heads recorded in a tenant's chain, as JSON lines an auditor keeps");
  source_options(heads_cmd);
  std::string heads_tenant;
  heads_cmd->add_option("--tenant", heads_tenant, "The tenant")->required();

  auto* pubkey_cmd = audit->add_subcommand("public-key", "Print the notary's Ed25519 public key and key id");
  std::string pubkey_file;
  pubkey_cmd->add_option("-c,--config", audit_src.config_path, "TOML configuration file")->check(CLI::ExistingFile);
  pubkey_cmd->add_option("-d,--data-dir", audit_src.data_dir, "Data directory (overrides the config)");
  pubkey_cmd->add_option("--key-file", pubkey_file, "The signing key file (default: the configured one)");

  auto* state_cmd = audit->add_subcommand(
      "state", "Print a tenant's and its monitors' state as of an instant, rebuilt from the log");
  source_options(state_cmd);
  std::string state_tenant, state_at;
  state_cmd->add_option("--tenant", state_tenant, "The tenant")->required();
  state_cmd->add_option("--at", state_at, "The instant (UTC, e.g. 2026-12-07T10:00:00Z)")->required();

  auto* broker_cmd = app.add_subcommand(
      "dev-broker",
      "Run an in-memory Kafka-protocol broker (librdkafka's mock cluster) on 127.0.0.1 and print "
      "its bootstrap address. For development and tests only.");
  int brokers = 1, broker_partitions = 8;
  std::string broker_prefix;
  broker_cmd->add_option("-b,--brokers", brokers, "Number of brokers")->check(CLI::Range(1, 9));
  broker_cmd->add_option("-p,--partitions", broker_partitions, "Partitions of Keepwatch's topics")
      ->check(CLI::Range(1, 1024));
  broker_cmd->add_option("--topic-prefix", broker_prefix, "Prefix of Keepwatch's topic names");
  auto* broker_status = broker_cmd->add_subcommand(
      "status", "Show a running dev broker's partitions and whether any dropped records (exit 1 if the events "
                "topic did)");
  std::string status_bootstrap;
  broker_status->add_option("bootstrap", status_bootstrap, "The broker's bootstrap address (host:port)")->required();
  broker_status->add_option("--topic-prefix", broker_prefix, "Prefix of Keepwatch's topic names");

  app.add_subcommand("version", "Print the version");
  CLI11_PARSE(app, argc, argv);

  if (serve_cmd->parsed()) return serve(config_path, data_dir);
  if (verify->parsed()) {
    auto pk = audit_public_key(audit_src, verify_opts.public_key, verify_key_file);
    if (!pk) return fail("audit verify: " + pk.err().message);
    verify_opts.public_key = *pk;
    return audit_verify(audit_src, verify_opts, verify_heads);
  }
  if (heads_cmd->parsed()) {
    auto log = open_audit_log(audit_src);
    if (!log) return fail("audit heads: " + log.err().message);
    return kw::audit::heads(*log->source, heads_tenant);
  }
  if (pubkey_cmd->parsed()) {
    auto pk = audit_public_key(audit_src, "", pubkey_file);
    if (!pk) return fail("audit public-key: " + pk.err().message);
    if (pk->empty()) return fail("audit public-key: no signing key yet (a node makes it at first start)");
    std::printf("%s\nkey id %s\n", pk->c_str(), kw::key_id_of(*pk)->c_str());
    return 0;
  }
  if (replay_cmd->parsed()) return audit_replay(audit_src, replay_opts, replay_from, replay_to);
  if (state_cmd->parsed()) return audit_state(audit_src, state_tenant, state_at);
  if (views_run->parsed()) return projections_run(views_config, views_dir, run_names);
  if (views_rebuild->parsed()) return projections_rebuild(views_config, views_dir, rebuild_name);
  if (views_status->parsed()) return projections_status(views_config, views_dir);
  if (migrate_cmd->parsed()) return migrate(migrate_config, migrate_url);
  if (broker_status->parsed()) return dev_broker_status(status_bootstrap, broker_prefix);
  if (broker_cmd->parsed()) return dev_broker(brokers, broker_partitions, broker_prefix);
  std::printf("keepwatch 0.1.0\n");
  return 0;
}
