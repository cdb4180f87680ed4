// `keepwatch`: the one binary. Subcommands:
//   serve            run a node (embedded log or Kafka) until SIGTERM/SIGINT
//   dev-broker       an in-memory Kafka-protocol broker for development and tests
//   migrate          apply the read models' SQL migrations to database.url
//   audit verify     check every tenant's hash chain in a data directory
//   version          print the version
// Configuration: --config FILE (TOML), then KEEPWATCH_* variables, then flags.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <map>
#include <pthread.h>

#include "actors/host/node.hpp"
#include "config/config.hpp"
#include "events/codec.hpp"
#include "events/hash_chain.hpp"
#include "projections/migrations.hpp"
#include "storage/dev_broker.hpp"
#include "storage/kafka_log.hpp"
#include "storage/rocks_log.hpp"

namespace {

int fail(const std::string& what) {
  spdlog::error("{}", what);
  return 2;
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
               "For development and tests only: the data lives in memory and is gone at exit.",
               brokers, (*broker)->bootstrap(), partitions, prefix);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("dev-broker: signal {}: stopping", sig);
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
  o.jitter_pct = cfg->jitter_pct;
  o.webhook_max_attempts = cfg->webhook_max_attempts;
  o.webhook_initial_backoff_ms = cfg->webhook_initial_backoff_ms;
  if (cfg->log_backend == "kafka") o.kafka = kafka_options_for(*cfg, o.plans);
  auto n = kw::node::start(std::move(o));
  if (!n) return fail("cannot start: " + n.err().message);
  auto& rec = (*n)->recovery();
  spdlog::info("keepwatch node {} serving on the {} log: data {}, {} partitions, {} events replayed from {} "
               "snapshots in {:.3f} s, {} monitors",
               cfg->node_name, cfg->log_backend, cfg->data_dir, (*n)->partitions(), rec.events_replayed,
               rec.snapshots_loaded, rec.seconds, (*n)->monitor_count());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: stopping (snapshotting, closing the log)", sig);
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

int audit_verify(const std::string& data_dir, int partitions) {
  auto log = kw::storage::rocks_log::open(data_dir + "/log", partitions, nullptr);
  if (!log) return fail(log.err().message);
  int bad = 0;
  std::size_t tenants = 0, events = 0;
  for (int p = 0; p < partitions; ++p) {
    std::map<std::string, std::vector<std::string>> chains;
    for (std::int64_t at = 0;;) {
      auto recs = (*log)->read(kw::storage::topic::events, kw::partition_id{p}, kw::log_offset{at}, 4096);
      if (!recs) return fail(recs.err().message);
      if (recs->empty()) break;
      for (auto& r : *recs) chains[r.key].push_back(r.value);
      at = recs->back().offset.get() + 1;
    }
    for (auto& [tenant, values] : chains) {
      ++tenants;
      events += values.size();
      if (auto st = kw::verify_chain(values); !st) {
        ++bad;
        std::printf("tenant %s: BROKEN: %s\n", tenant.c_str(), st.err().message.c_str());
      } else {
        std::printf("tenant %s: %zu events, chain intact\n", tenant.c_str(), values.size());
      }
    }
  }
  std::printf("%zu tenants, %zu events, %d broken chains\n", tenants, events, bad);
  return bad ? 1 : 0;
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

  auto* audit = app.add_subcommand("audit", "Compliance tools over the event log");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand("verify", "Verify every tenant's hash chain");
  std::string verify_dir;
  int verify_partitions = 8;
  verify->add_option("-d,--data-dir", verify_dir, "Data directory")->required();
  verify->add_option("-p,--partitions", verify_partitions, "Partitions of the log")->check(CLI::Range(1, 1024));

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

  app.add_subcommand("version", "Print the version");
  CLI11_PARSE(app, argc, argv);

  if (serve_cmd->parsed()) return serve(config_path, data_dir);
  if (verify->parsed()) return audit_verify(verify_dir, verify_partitions);
  if (migrate_cmd->parsed()) return migrate(migrate_config, migrate_url);
  if (broker_cmd->parsed()) return dev_broker(brokers, broker_partitions, broker_prefix);
  std::printf("keepwatch 0.1.0\n");
  return 0;
}
