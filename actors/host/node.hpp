// A Keepwatch node: the actor system, one partition host per log partition,
// the prober and the webhook sender, over one event log.
//
// This header is the node's whole public face and includes no CAF or Boost:
// the CLI, the tests and (later) the gateway talk to the node through it.
// Guarantees:
//  - a command's reply carries a value only once its events are durable in
//    the log; on any error nothing was appended and no state changed;
//  - commands to one aggregate are decided one at a time, in arrival order;
//  - every request is answered exactly once, even when the actor holding it
//    stops or fails ("unavailable": the outcome is unknown, a retry with the
//    same command id is safe);
//  - a command that would point a check or a webhook at an address the
//    target policy refuses (a monitor's url or host, a channel's url, given
//    as an IP literal) is rejected `invalid`, naming the field, before it
//    reaches an actor: nothing is appended. Names are judged when checked.
//  - `stop()` refuses new requests, gives accepted ones up to 10 s to be
//    answered, snapshots every aggregate and closes the log; a node started
//    again on the same data directory has the same tenants, monitors and
//    statuses.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/monitor/monitor_decider.hpp"
#include "actors/tenant/tenant_decider.hpp"
#include "config/plan.hpp"
#include "events/result.hpp"
#include "storage/event_log.hpp"
#include "storage/kafka_log.hpp"

namespace kw {

// What a command's sender gets back.
struct command_reply {
  std::vector<std::string> event_ids;
  std::vector<std::int64_t> offsets;  // per event, in its topic's partition
  std::int32_t partition = 0;
  std::int64_t version = 0;           // the aggregate's version after the command
  bool duplicate = false;             // a retried command id: nothing appended
};

using reply_fn = std::function<void(result<command_reply>)>;

struct node_options {
  std::string node_name = "node-1";
  std::string data_dir;              // log in <data_dir>/log, snapshots in <data_dir>/snapshots
  int partitions = 8;
  plan_catalog plans;
  int passivate_after_s = 600;
  int snapshot_interval_s = 300;
  int scheduler_threads = 0;         // 0: one per core
  bool run_checks = true;            // false: monitors schedule no probes
  // [checks]: the prober's threads and connection budget (see prober.hpp).
  int prober_threads = 1;
  int max_connections = 8000;
  int max_idle_connections = 8000;
  int idle_timeout_ms = 20000;
  // The target policy (actors/checks/target_policy.hpp): loopback and
  // private networks refused unless this is set. Tests whose targets run on
  // 127.0.0.1 set it.
  bool allow_private_targets = false;
  // Ports this node listens on (the gateway's): never a target on a local
  // address, whatever allow_private_targets says. See also listening_on().
  std::vector<std::uint16_t> listen_ports;
  int jitter_pct = 10;
  int webhook_max_attempts = 5;
  int webhook_initial_backoff_ms = 500;
  // The key that seals webhook secrets; empty: <data_dir>/secret.key.
  std::string secret_key_file;
  // The log: injected (tests), else Kafka when `kafka` is set, else a RocksLog
  // in <data_dir>/log. Snapshots are in <data_dir>/snapshots either way.
  std::shared_ptr<storage::event_log> log;
  std::optional<storage::kafka_options> kafka;
};

// Figures from recovery, for the log and the benchmarks.
struct recovery_stats {
  std::int64_t events_replayed = 0;
  std::int64_t snapshots_loaded = 0;
  double seconds = 0;
};

class node {
public:
  static result<std::unique_ptr<node>> start(node_options opts);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Asynchronous: `done` runs on an actor thread and must not block.
  void submit(tenant::command cmd, const tenant_id& t, reply_fn done);
  void submit(monitor::command cmd, const tenant_id& t, const std::string& monitor_id,
              reply_fn done);

  // Blocking conveniences over `submit`.
  result<command_reply> execute(tenant::command cmd, const tenant_id& t,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));
  result<command_reply> execute(monitor::command cmd, const tenant_id& t,
                                const std::string& monitor_id,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // A push monitor's beat, by its token.
  result<command_reply> push_beat(const std::string& token,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // One more port this node listens on, known only once it is listening
  // (a port the system chose): refused as a target from now on.
  void listening_on(std::uint16_t port);

  // Seals a webhook signing secret for create_channel / update_channel
  // (`secret_enc`): secrets enter the log only sealed with the node's key.
  std::string seal_secret(const std::string& plain) const;
  // A secret sealed by seal_secret (by this node or one sharing its key).
  result<std::string> open_secret(const std::string& sealed) const;

  // Current state, as the actors hold it (tests, CLI).
  result<tenant::state> tenant_state(const tenant_id& t);
  // The tenant's identity and access only: exists, id, name, plan, status,
  // members and API keys (no monitors, channels, pages, windows or recent
  // commands) — cheap enough for every API request: read from what the
  // tenant's actor published after its last command (no message to it),
  // else asked of the actor.
  result<tenant::state> tenant_access(const tenant_id& t);
  result<monitor::state> monitor_state(const tenant_id& t, const std::string& monitor_id);
  std::int64_t monitor_count();

  const recovery_stats& recovery() const;
  storage::event_log& log();
  int partitions() const;

  // Drains, snapshots and stops. Idempotent; the destructor calls it.
  void stop();

  struct impl;

private:
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// A system actor, for commands the node issues itself.
actor_ref system_actor();
// Wall-clock now, in Keepwatch's timestamp unit. Only shells call it.
timestamp now();
// A fresh UUID v7 string for ids (commands, events, incidents).
std::string new_id();

}  // namespace kw
