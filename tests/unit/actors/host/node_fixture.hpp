// Shared setup for node tests: a temporary data directory, a test plan
// catalogue (short minimum intervals, small quotas) and command builders.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "actors/host/node.hpp"
#include "storage/dev_broker.hpp"

namespace kw::test {

inline plan_catalog test_plans() {
  plan_catalog c;
  plan p;
  p.name = "test";
  p.max_monitors = 3;
  p.min_interval_s = 1;
  p.retention_days = 7;
  p.max_users = 5;
  p.max_status_pages = 2;
  p.api_rate_per_min = 600;
  c.plans["test"] = p;
  p.name = "big";
  p.max_monitors = 1000000;
  c.plans["big"] = p;
  return c;
}

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() /
           ("keepwatch-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

inline command_meta meta(std::string command_id = {}) {
  command_meta m;
  m.command_id = command_id.empty() ? new_id() : std::move(command_id);
  m.actor = actor_ref{"system", "test", "127.0.0.1"};
  m.time = now();
  m.correlation_id = "test";
  return m;
}

inline tenant::command tcmd(tenant::body b, std::string command_id = {}) {
  return tenant::command{meta(std::move(command_id)), std::move(b)};
}

inline monitor::command mcmd(monitor::body b, std::string command_id = {}) {
  monitor::command c;
  c.meta = meta(std::move(command_id));
  c.b = std::move(b);
  return c;
}

inline monitor_config http_config(const std::string& url, int interval_s = 60) {
  monitor_config c;
  c.name = "site";
  c.kind = monitor_kind::http;
  c.url = url;
  c.interval_s = interval_s;
  c.timeout_ms = 500;
  c.retries = 0;
  return c;
}

inline node_options options(const std::string& dir, bool run_checks = false) {
  node_options o;
  o.data_dir = dir;
  o.partitions = 4;
  o.plans = test_plans();
  o.run_checks = run_checks;
  o.scheduler_threads = 2;
  o.jitter_pct = 0;
  o.webhook_initial_backoff_ms = 20;
  // Targets of node tests (test servers, receivers) run on 127.0.0.1.
  o.allow_private_targets = true;
  return o;
}

// The log a node test runs on: "embedded" (RocksLog in the data directory)
// or "kafka" (KafkaLog on an in-process dev broker, started on first use and
// kept for the whole test, so a restarted node finds its log again).
struct backend {
  std::string name;
};
inline void PrintTo(const backend& b, std::ostream* os) { *os << b.name; }
inline std::vector<backend> all_backends() { return {{"embedded"}, {"kafka"}}; }

class log_env {
public:
  explicit log_env(std::string backend) : backend_(std::move(backend)) {}

  bool kafka() const { return backend_ == "kafka"; }

  node_options options(const std::string& dir, bool run_checks = false) {
    auto o = test::options(dir, run_checks);
    if (!kafka()) return o;
    storage::kafka_options k;
    k.bootstrap_servers = broker().bootstrap();
    k.timeout = std::chrono::seconds(10);
    k.append_timeout = std::chrono::seconds(2);
    // librdkafka's debug contexts (e.g. "cgrp") to stderr, when asked.
    if (const char* d = std::getenv("KW_TEST_KAFKA_DEBUG")) k.properties["debug"] = d;
    auto* b = &broker();
    k.create_topic = [b](const storage::kafka_topic_spec& s) {
      return b->create_topic(s.name, s.partitions, s.replication_factor);
    };
    o.kafka = k;
    return o;
  }

  storage::dev_broker& broker() {
    if (!broker_) {
      auto b = storage::dev_broker::start(1);
      if (!b) throw std::runtime_error("dev broker: " + b.err().message);
      broker_ = std::move(*b);
    }
    return *broker_;
  }

private:
  std::string backend_;
  std::unique_ptr<storage::dev_broker> broker_;
};

// Polls `pred` until it holds or `seconds` pass.
template <class Pred>
bool eventually(Pred pred, double seconds = 10) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace kw::test
