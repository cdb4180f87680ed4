// The node's configuration: a TOML file, overridden by KEEPWATCH_* environment
// variables, overridden by command-line flags (applied by the caller).
//
// Every key is documented in config/keepwatch.example.toml. Loading is strict:
// an unknown key, a wrong type or an out-of-range value is an error that names
// the key, never a silently ignored setting.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "events/result.hpp"

namespace kw {

struct node_config {
  // [node]
  std::string node_name = "node-1";
  std::string data_dir = "./data";
  std::string log_level = "info";
  // [log]
  std::string log_backend = "embedded";  // embedded | kafka
  int partitions = 8;
  // [kafka]
  std::string kafka_bootstrap_servers;  // host:port,... (required with kafka)
  std::string kafka_topic_prefix;       // prepended to every topic name
  int kafka_replication_factor = 1;
  int kafka_timeout_ms = 30000;         // bound on startup and on reads
  int kafka_producers = 2;              // transactional producers, each owning a share of partitions
  std::map<std::string, std::string> kafka_properties;  // passed to librdkafka as is
  // [database]
  std::string database_url;  // PostgreSQL for the read models (postgresql://...)
  std::string database_app_url;  // the gateway's, as keepwatch_app; empty: derived
  // [tenants]
  int passivate_after_s = 600;
  // [snapshots]
  int snapshot_interval_s = 300;
  // [audit]: signed tree heads (actors/host/notary.hpp).
  int audit_head_interval_s = 600;     // how often changed tenants get a signed head
  std::string audit_signing_key_file;  // empty: <data_dir>/audit-signing.key, made at first start
  // [checks]
  int prober_threads = 1;
  int jitter_pct = 10;  // each check fires at interval ± jitter
  int webhook_max_attempts = 5;
  int webhook_initial_backoff_ms = 500;
  int max_connections = 8000;        // the prober's open connections, idle included
  int max_idle_connections = 8000;   // of which idle keep-alive ones
  int idle_timeout_ms = 20000;       // an idle keep-alive connection is closed after this
  bool allow_private_targets = false;  // loopback and private networks as targets
  // [gateway]
  std::string gateway_address = "127.0.0.1";
  int gateway_port = 8080;               // 0: the gateway is off
  int gateway_threads = 4;
  std::string gateway_jwt_key_file;      // empty: <data_dir>/jwt.key, made at first start
  int gateway_access_ttl_s = 900;
  int gateway_refresh_ttl_s = 30 * 86400;
  int gateway_body_limit_bytes = 1 << 20;
  int gateway_handler_threads = 16;          // the pool requests run on
  int gateway_concurrency_per_tenant = 4;    // requests of one tenant (or client IP) at once
  int gateway_queue_per_tenant = 64;         // waiting beyond that; more: 503
  int gateway_queue_limit = 4096;            // waiting in all; more: 503
  int gateway_max_connections = 4096;        // the gateway's share of descriptors
  int gateway_max_connections_per_ip = 256;
  int gateway_header_count_limit = 100;      // more header fields: 431
  int gateway_idle_timeout_s = 30;           // between requests
  int gateway_header_timeout_s = 10;         // first byte to end of headers
  int gateway_body_timeout_s = 30;           // end of headers to end of body
  int gateway_streams_per_tenant = 32;       // live streams of one tenant
  int gateway_stream_recheck_ms = 2000;      // how often a stream's credential is checked again
  // The first platform admin, made at start when there is none yet.
  std::string gateway_admin_email;
  std::string gateway_admin_password;
  // Bearer token a Prometheus presents for /metrics; empty: platform admins only.
  std::string gateway_metrics_token;
  // Sign-up, login and refresh attempts a minute, per client address and per
  // account (email).
  int gateway_auth_rate_per_ip_per_min = 60;
  int gateway_auth_rate_per_account_per_min = 10;
  // [plans]
  std::string plans_file;  // empty: the catalogue shipped in config/plans.toml

  // KEEPWATCH_* variables that name no key (e.g. Kubernetes service links):
  // not an error, since the environment is not ours alone; the node warns.
  std::vector<std::string> unknown_env;
};

// Loads `path` (empty: defaults only), then applies KEEPWATCH_* variables from
// `env` (e.g. KEEPWATCH_NODE_DATA_DIR, KEEPWATCH_LOG_PARTITIONS).
result<node_config> load_config(const std::string& path,
                                const std::map<std::string, std::string>& env);

// The process environment's KEEPWATCH_* variables.
std::map<std::string, std::string> keepwatch_env();

// Loads the plan catalogue (free, pro, enterprise, ...) from a plans.toml.
result<plan_catalog> load_plans(const std::string& path);

// The path of the catalogue shipped with the source (config/plans.toml).
std::string default_plans_path();

}  // namespace kw
