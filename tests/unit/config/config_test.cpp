// Configuration: the example file loads, environment variables override it,
// and every bad setting is an error that names the key.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config/config.hpp"

namespace kw {
namespace {

std::string write_temp(const std::string& text) {
  static int n = 0;
  auto path = "/tmp/keepwatch-config-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".toml";
  std::ofstream(path) << text;
  return path;
}

TEST(config, the_example_file_loads_with_its_documented_defaults) {
  auto c = load_config(std::string(KW_CONFIG_DIR) + "/keepwatch.example.toml", {});
  ASSERT_TRUE(c.ok()) << c.err().message;
  node_config defaults;
  EXPECT_EQ(c->partitions, defaults.partitions);
  EXPECT_EQ(c->data_dir, defaults.data_dir);
  EXPECT_EQ(c->log_backend, "embedded");
  EXPECT_EQ(c->gateway_port, defaults.gateway_port);
  EXPECT_EQ(c->gateway_access_ttl_s, defaults.gateway_access_ttl_s);
}

// The gateway's limits (issue "Trust first"): documented in the example
// with their defaults, settable from the file and from KEEPWATCH_GATEWAY_*.
TEST(config, gateway_limits_come_from_the_file_and_the_environment) {
  auto ex = load_config(std::string(KW_CONFIG_DIR) + "/keepwatch.example.toml", {});
  ASSERT_TRUE(ex.ok()) << ex.err().message;
  node_config d;
  EXPECT_EQ(ex->gateway_handler_threads, d.gateway_handler_threads);
  EXPECT_EQ(ex->gateway_concurrency_per_tenant, d.gateway_concurrency_per_tenant);
  EXPECT_EQ(ex->gateway_max_connections, d.gateway_max_connections);
  EXPECT_EQ(ex->gateway_max_connections_per_ip, d.gateway_max_connections_per_ip);
  EXPECT_EQ(ex->gateway_streams_per_tenant, d.gateway_streams_per_tenant);
  EXPECT_EQ(ex->gateway_stream_recheck_ms, d.gateway_stream_recheck_ms);
  auto path = write_temp("[gateway]\nmax_connections = 1000\nheader_timeout_s = 5\n");
  auto c = load_config(path, {{"KEEPWATCH_GATEWAY_MAX_CONNECTIONS_PER_IP", "20"},
                              {"KEEPWATCH_GATEWAY_STREAMS_PER_TENANT", "7"}});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(c->gateway_max_connections, 1000);
  EXPECT_EQ(c->gateway_header_timeout_s, 5);
  EXPECT_EQ(c->gateway_max_connections_per_ip, 20);
  EXPECT_EQ(c->gateway_streams_per_tenant, 7);
  std::remove(path.c_str());
  auto bad = load_config("", {{"KEEPWATCH_GATEWAY_MAX_CONNECTIONS", "0"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.err().message.find("KEEPWATCH_GATEWAY_MAX_CONNECTIONS"), std::string::npos) << bad.err().message;
}

TEST(config, environment_overrides_the_file) {
  auto path = write_temp("[node]\ndata_dir = \"/from/file\"\n[log]\npartitions = 4\n");
  auto c = load_config(path, {{"KEEPWATCH_NODE_DATA_DIR", "/from/env"}});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(c->data_dir, "/from/env");
  EXPECT_EQ(c->partitions, 4);
  std::remove(path.c_str());
}

TEST(config, outbound_settings_default_to_refusing_private_targets_and_can_be_set) {
  auto c = load_config(std::string(KW_CONFIG_DIR) + "/keepwatch.example.toml", {});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_FALSE(c->allow_private_targets);
  EXPECT_EQ(c->max_connections, 8000);
  EXPECT_EQ(c->idle_timeout_ms, 20000);
  auto path = write_temp("[checks]\nallow_private_targets = true\nmax_connections = 64\nidle_timeout_ms = 5000\n");
  c = load_config(path, {});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_TRUE(c->allow_private_targets);
  EXPECT_EQ(c->max_connections, 64);
  EXPECT_EQ(c->idle_timeout_ms, 5000);
  c = load_config(path, {{"KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS", "false"}});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_FALSE(c->allow_private_targets);
  c = load_config("", {{"KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS", "true"}});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_TRUE(c->allow_private_targets);
  std::remove(path.c_str());
}

TEST(config, bad_settings_are_errors_that_name_the_key) {
  struct bad {
    std::string toml;
    std::map<std::string, std::string> env;
    std::string mentions;
  };
  std::vector<bad> cases = {
      {"[log]\npartitions = 0\n", {}, "log.partitions"},
      {"[log]\npartitions = \"eight\"\n", {}, "log.partitions"},
      {"[log]\nbackend = \"paper\"\n", {}, "log.backend"},
      {"[gateway]\nport = 70000\n", {}, "gateway.port"},
      {"", {{"KEEPWATCH_GATEWAY_ACCESS_TTL_S", "5"}}, "KEEPWATCH_GATEWAY_ACCESS_TTL_S"},
      {"[node]\nnmae = \"typo\"\n", {}, "node.nmae"},
      {"[node]\nlog_level = \"loud\"\n", {}, "node.log_level"},
      {"this is = not toml [", {}, "config"},
      {"", {{"KEEPWATCH_LOG_PARTITIONS", "many"}}, "KEEPWATCH_LOG_PARTITIONS"},
      {"[checks]\nallow_private_targets = \"yes\"\n", {}, "checks.allow_private_targets"},
      {"", {{"KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS", "yes"}}, "KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS"},
      {"[checks]\nmax_connections = 0\n", {}, "checks.max_connections"},
  };
  for (auto& b : cases) {
    auto path = write_temp(b.toml);
    auto c = load_config(path, b.env);
    ASSERT_FALSE(c.ok()) << b.toml;
    EXPECT_EQ(c.err().code, errc::invalid);
    EXPECT_NE(c.err().message.find(b.mentions), std::string::npos) << c.err().message;
    std::remove(path.c_str());
  }
  auto missing = load_config("/nonexistent/keepwatch.toml", {});
  EXPECT_FALSE(missing.ok());
}

// toml11 recurses on nesting: a file nested some thousands deep used to
// overflow the stack and kill the process (found by tests/fuzz/config).
TEST(config, a_file_nested_thousands_deep_is_an_error_not_a_crash) {
  const int n = 100000;
  std::string dotted;
  for (int i = 0; i < n; ++i) dotted += i ? ".k" : "k";
  std::vector<std::string> deep = {
      "[node]\nname = " + std::string(n, '[') + "\n",
      "[node]\nname = " + std::string(n, '[') + std::string(n, ']') + "\n",
      "x = " + [&] { std::string s; for (int i = 0; i < n; ++i) s += "{a="; return s; }() + "\n",
      dotted + " = 1\n",
      "[" + dotted + "]\n",
  };
  for (auto& text : deep) {
    auto path = write_temp(text);
    auto c = load_config(path, {});
    ASSERT_FALSE(c.ok()) << text.substr(0, 40);
    EXPECT_EQ(c.err().code, errc::invalid);
    EXPECT_NE(c.err().message.find(": nested more than 16 levels deep"), std::string::npos) << c.err().message;
    auto p = load_plans(path);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.err().message.find("nested more than"), std::string::npos) << p.err().message;
    std::remove(path.c_str());
  }
}

// TOML is UTF-8. toml11's own check of it read past the end of its buffer
// (found by tests/fuzz/config; this test fails under ASan without the fix).
TEST(config, a_file_that_is_not_utf8_is_an_error) {
  for (std::string text : {"'\xbd'\xbd\n0&\n0&", "[node]\nname = '\xbd'\n", "[node]\nname = \"\xc3\x28\"\n"}) {
    auto path = write_temp(text);
    auto c = load_config(path, {});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.err().code, errc::invalid);
    EXPECT_NE(c.err().message.find("not valid UTF-8"), std::string::npos) << c.err().message;
    auto p = load_plans(path);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.err().message.find("not valid UTF-8"), std::string::npos) << p.err().message;
    std::remove(path.c_str());
  }
  auto path = write_temp("[node]\nname = 'caf\xc3\xa9 \xe2\x9c\x93'\n");
  auto c = load_config(path, {});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(c->node_name, "caf\xc3\xa9 \xe2\x9c\x93");
  std::remove(path.c_str());
}

// Brackets and dots in strings, comments and quoted keys are not nesting.
TEST(config, brackets_and_dots_in_strings_and_comments_are_not_nesting) {
  const std::string brackets(40, '['), braces(40, '{');
  auto path = write_temp("# " + brackets + " a comment\n[node]\nname = \"" + brackets + "\\\"" + braces +
                         "\"  # " + braces + "\ndata_dir = '" + braces + "'\n[gateway]\nadmin_password = \"\"\"\n" +
                         brackets + "\n" + braces + "\"\"\"\n[log]\nbackend = \"kafka\"\n[kafka]\n"
                         "bootstrap_servers = \"k:9092\"\n[kafka.properties]\n\"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r\" = \"x\"\n");
  auto c = load_config(path, {});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(c->node_name, brackets + "\"" + braces);
  EXPECT_EQ(c->data_dir, braces);
  EXPECT_EQ(c->gateway_admin_password, brackets + "\n" + braces);
  EXPECT_EQ(c->kafka_properties.at("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r"), "x");
  std::remove(path.c_str());
}

TEST(config, kafka_settings_and_properties_pass_through) {
  auto path = write_temp(
      "[log]\nbackend = \"kafka\"\n[kafka]\nbootstrap_servers = \"k1:9092,k2:9092\"\n"
      "topic_prefix = \"prod.\"\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n");
  auto c = load_config(path, {});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(c->log_backend, "kafka");
  EXPECT_EQ(c->kafka_bootstrap_servers, "k1:9092,k2:9092");
  EXPECT_EQ(c->kafka_topic_prefix, "prod.");
  EXPECT_EQ(c->kafka_properties.at("security.protocol"), "SASL_SSL");
  std::remove(path.c_str());
  auto no_bootstrap = load_config("", {{"KEEPWATCH_LOG_BACKEND", "kafka"}});
  ASSERT_FALSE(no_bootstrap.ok());
  EXPECT_NE(no_bootstrap.err().message.find("bootstrap_servers"), std::string::npos);
  auto via_env = load_config("", {{"KEEPWATCH_LOG_BACKEND", "kafka"},
                                  {"KEEPWATCH_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"}});
  ASSERT_TRUE(via_env.ok()) << via_env.err().message;
  EXPECT_EQ(via_env->kafka_bootstrap_servers, "127.0.0.1:9092");
}

TEST(config, unknown_environment_variables_are_reported_not_fatal) {
  auto c = load_config("", {{"KEEPWATCH_LOG_PARTITONS", "8"}, {"KEEPWATCH_GATEWAY_SERVICE_HOST", "10.0.0.1"}});
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(c->partitions, 8);
  EXPECT_EQ(c->unknown_env.size(), 2u);
  // The ops/ scripts' own variables are not the node's, and not unknown.
  auto scripts = load_config("", {{"KEEPWATCH_BUILD_DIR", "/tmp/b"}, {"KEEPWATCH_CONFIG", "x.toml"}});
  ASSERT_TRUE(scripts.ok()) << scripts.err().message;
  EXPECT_TRUE(scripts->unknown_env.empty());
}

TEST(plans, the_shipped_catalogue_has_free_pro_and_enterprise) {
  auto cat = load_plans(default_plans_path());
  ASSERT_TRUE(cat.ok()) << cat.err().message;
  for (auto name : {"free", "pro", "enterprise"}) {
    auto* p = cat->find(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_GT(p->max_monitors, 0);
    EXPECT_GT(p->min_interval_s, 0);
    EXPECT_GT(p->retention_days, 0);
  }
  EXPECT_EQ(cat->find("pro")->monitor_price_cents, 25);
  EXPECT_LT(cat->find("enterprise")->min_interval_s, cat->find("free")->min_interval_s);
}

TEST(plans, a_plan_missing_a_limit_or_with_an_unknown_key_is_rejected) {
  auto path = write_temp("[plans.tiny]\nmax_monitors = 1\n");
  auto c = load_plans(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.err().message.find("plans.tiny"), std::string::npos) << c.err().message;
  std::remove(path.c_str());
  auto path2 = write_temp(
      "[plans.tiny]\nmax_monitors = 1\nmin_interval_s = 60\nretention_days = 1\nmax_users = 1\n"
      "max_status_pages = 1\napi_rate_per_min = 1\nbase_price_cents = 0\nmonitor_price_cents = 0\n"
      "discount = 5\n");
  auto d = load_plans(path2);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.err().message.find("discount"), std::string::npos) << d.err().message;
  std::remove(path2.c_str());
}

}  // namespace
}  // namespace kw
