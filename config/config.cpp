// Strict TOML loading for the node configuration and the plan catalogue.
// toml11 does the parsing; this file maps keys to fields, checks ranges and
// names the offending key in every error.
#include "config/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "events/codec.hpp"

extern char** environ;

namespace kw {
namespace {

// One settable key: how to read it from TOML and from a string (env).
struct key_spec {
  std::string section;
  std::string key;
  std::function<status(const toml::value&)> from_toml;
  std::function<status(const std::string&)> from_string;
};


key_spec str_key(std::string section, std::string key, std::string* out,
                 std::set<std::string> allowed = {}) {
  auto name = section + "." + key;
  auto check = [name, allowed, out](const std::string& v) -> status {
    if (!allowed.empty() && allowed.count(v) == 0) {
      std::string list;
      for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return make_error(errc::invalid, name + ": \"" + v + "\" is not one of " + list);
    }
    *out = v;
    return ok_status();
  };
  return {std::move(section), std::move(key),
          [name, check](const toml::value& v) -> status {
            if (!v.is_string()) return make_error(errc::invalid, name + ": expected a string");
            return check(v.as_string().str);
          },
          check};
}

key_spec int_key(std::string section, std::string key, int* out, int lo, int hi) {
  auto name = section + "." + key;
  auto check = [name, out, lo, hi](long long v) -> status {
    if (v < lo || v > hi)
      return make_error(errc::invalid, name + ": " + std::to_string(v) + " is outside " +
                                           std::to_string(lo) + ".." + std::to_string(hi));
    *out = static_cast<int>(v);
    return ok_status();
  };
  return {std::move(section), std::move(key),
          [name, check](const toml::value& v) -> status {
            if (!v.is_integer()) return make_error(errc::invalid, name + ": expected an integer");
            return check(v.as_integer());
          },
          [name, check](const std::string& s) -> status {
            char* end = nullptr;
            errno = 0;
            long long v = std::strtoll(s.c_str(), &end, 10);
            if (s.empty() || *end != '\0' || errno != 0)
              return make_error(errc::invalid, name + ": \"" + s + "\" is not an integer");
            return check(v);
          }};
}

key_spec bool_key(std::string section, std::string key, bool* out) {
  auto name = section + "." + key;
  return {std::move(section), std::move(key),
          [name, out](const toml::value& v) -> status {
            if (!v.is_boolean()) return make_error(errc::invalid, name + ": expected true or false");
            *out = v.as_boolean();
            return ok_status();
          },
          [name, out](const std::string& s) -> status {
            if (s == "true" || s == "1") *out = true;
            else if (s == "false" || s == "0") *out = false;
            else return make_error(errc::invalid, name + ": \"" + s + "\" is not true or false");
            return ok_status();
          }};
}

std::vector<key_spec> specs(node_config& c) {
  return {
      str_key("node", "name", &c.node_name),
      str_key("node", "data_dir", &c.data_dir),
      str_key("node", "log_level", &c.log_level,
              {"trace", "debug", "info", "warn", "error", "critical", "off"}),
      str_key("log", "backend", &c.log_backend, {"embedded", "kafka"}),
      int_key("log", "partitions", &c.partitions, 1, 1024),
      str_key("kafka", "bootstrap_servers", &c.kafka_bootstrap_servers),
      str_key("kafka", "topic_prefix", &c.kafka_topic_prefix),
      int_key("kafka", "replication_factor", &c.kafka_replication_factor, 1, 16),
      int_key("kafka", "timeout_ms", &c.kafka_timeout_ms, 100, 600000),
      int_key("kafka", "producers", &c.kafka_producers, 1, 1024),
      str_key("database", "url", &c.database_url),
      str_key("database", "app_url", &c.database_app_url),
      int_key("tenants", "passivate_after_s", &c.passivate_after_s, 1, 86400 * 7),
      int_key("snapshots", "interval_s", &c.snapshot_interval_s, 1, 86400),
      int_key("audit", "head_interval_s", &c.audit_head_interval_s, 1, 86400),
      str_key("audit", "signing_key_file", &c.audit_signing_key_file),
      int_key("checks", "prober_threads", &c.prober_threads, 1, 64),
      int_key("checks", "jitter_pct", &c.jitter_pct, 0, 50),
      int_key("checks", "webhook_max_attempts", &c.webhook_max_attempts, 1, 20),
      int_key("checks", "webhook_initial_backoff_ms", &c.webhook_initial_backoff_ms, 1, 600000),
      int_key("checks", "max_connections", &c.max_connections, 1, 1000000),
      int_key("checks", "max_idle_connections", &c.max_idle_connections, 0, 1000000),
      int_key("checks", "idle_timeout_ms", &c.idle_timeout_ms, 100, 3600000),
      bool_key("checks", "allow_private_targets", &c.allow_private_targets),
      str_key("gateway", "address", &c.gateway_address),
      int_key("gateway", "port", &c.gateway_port, 0, 65535),
      int_key("gateway", "threads", &c.gateway_threads, 1, 256),
      str_key("gateway", "jwt_key_file", &c.gateway_jwt_key_file),
      int_key("gateway", "access_ttl_s", &c.gateway_access_ttl_s, 60, 86400),
      int_key("gateway", "refresh_ttl_s", &c.gateway_refresh_ttl_s, 3600, 365 * 86400),
      int_key("gateway", "body_limit_bytes", &c.gateway_body_limit_bytes, 1024, 64 << 20),
      int_key("gateway", "handler_threads", &c.gateway_handler_threads, 1, 1024),
      int_key("gateway", "concurrency_per_tenant", &c.gateway_concurrency_per_tenant, 1, 1024),
      int_key("gateway", "queue_per_tenant", &c.gateway_queue_per_tenant, 1, 100000),
      int_key("gateway", "queue_limit", &c.gateway_queue_limit, 1, 1000000),
      int_key("gateway", "max_connections", &c.gateway_max_connections, 16, 1000000),
      int_key("gateway", "max_connections_per_ip", &c.gateway_max_connections_per_ip, 1, 1000000),
      int_key("gateway", "header_count_limit", &c.gateway_header_count_limit, 8, 10000),
      int_key("gateway", "idle_timeout_s", &c.gateway_idle_timeout_s, 1, 3600),
      int_key("gateway", "header_timeout_s", &c.gateway_header_timeout_s, 1, 600),
      int_key("gateway", "body_timeout_s", &c.gateway_body_timeout_s, 1, 3600),
      int_key("gateway", "streams_per_tenant", &c.gateway_streams_per_tenant, 1, 100000),
      int_key("gateway", "stream_recheck_ms", &c.gateway_stream_recheck_ms, 100, 60000),
      str_key("gateway", "admin_email", &c.gateway_admin_email),
      str_key("gateway", "admin_password", &c.gateway_admin_password),
      str_key("gateway", "metrics_token", &c.gateway_metrics_token),
      int_key("gateway", "auth_rate_per_ip_per_min", &c.gateway_auth_rate_per_ip_per_min, 1, 1000000),
      int_key("gateway", "auth_rate_per_account_per_min", &c.gateway_auth_rate_per_account_per_min, 1, 1000000),
      str_key("plans", "file", &c.plans_file),
  };
}

// toml11 parses nested arrays, inline tables and dotted keys recursively,
// and frees what it built the same way: a file nesting them some thousands
// deep overflows the stack (the config fuzz target found it). No Keepwatch
// key nests beyond three levels, so a file nesting deeper than this is
// refused, naming the line, before toml11 sees it.
constexpr int max_nesting = 16;

// The first line of TOML text where arrays and inline tables nest deeper
// than max_nesting, or one key has more than max_nesting dotted parts
// (table headers included); 0 if none. Strings and comments are skipped as
// TOML reads them; what this scan gets wrong on text that is not TOML only
// moves the point where toml11 reports the error.
int too_deep_at(const std::string& text) {
  std::vector<char> open;  // the arrays and inline tables open at this point
  bool in_key = true;      // reading a key (or a table header): dots nest
  int parts = 1, line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '#') {
      i = text.find('\n', i);
      if (i == std::string::npos) break;
      --i;  // the newline is read next
    } else if (c == '"' || c == '\'') {
      const bool multi = text.compare(i, 3, std::string(3, c)) == 0;
      const std::size_t close = multi ? 3 : 1;
      std::size_t j = i + close;
      while (j < text.size() && text.compare(j, close, std::string(close, c)) != 0) {
        if (!multi && text[j] == '\n') break;  // unterminated: toml11 says so
        if (text[j] == '\n') ++line;
        j += (c == '"' && text[j] == '\\') ? 2 : 1;
      }
      i = std::min(j + close, text.size()) - 1;
    } else if (c == '\n') {
      ++line;
      if (open.empty()) in_key = true, parts = 1;
    } else if (c == '.' && in_key) {
      if (++parts > max_nesting) return line;
    } else if (c == '=') {
      in_key = false;
    } else if (c == '[' || c == '{') {
      open.push_back(c);
      if (static_cast<int>(open.size()) > max_nesting) return line;
      if (c == '{') in_key = true, parts = 1;
    } else if (c == ']' || c == '}') {
      if (!open.empty()) open.pop_back();
      if (open.empty() && c == ']' && in_key) in_key = false;  // the end of a table header
    } else if (c == ',' && !open.empty() && open.back() == '{') {
      in_key = true, parts = 1;
    }
  }
  return 0;
}

// The TOML file at `path`, parsed; `what` names it in errors ("config",
// "plans").
result<toml::value> parse_toml(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::invalid, what + " " + path + ": cannot be opened");
  std::stringstream text;
  if (in.peek() != std::ifstream::traits_type::eof()) text << in.rdbuf();
  if (in.bad()) return make_error(errc::invalid, what + " " + path + ": cannot be read");
  // TOML is UTF-8; toml11 3.7's own reports of bad UTF-8 read past the end
  // of its buffer (the config fuzz target found it under ASan), so bad UTF-8
  // is refused here, before toml11 sees it.
  if (!valid_utf8(text.str())) return make_error(errc::invalid, what + " " + path + ": not valid UTF-8");
  if (const int line = too_deep_at(text.str()))
    return make_error(errc::invalid, what + " " + path + ": line " + std::to_string(line) +
                                         ": nested more than " + std::to_string(max_nesting) + " levels deep");
  try {
    return toml::parse(text, path);
  } catch (const std::exception& e) {
    return make_error(errc::invalid, what + " " + path + ": " + e.what());
  }
}

std::string env_name(const key_spec& k) {
  std::string n = "KEEPWATCH_" + k.section + "_" + k.key;
  for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return n;
}

}  // namespace

result<node_config> load_config(const std::string& path,
                                const std::map<std::string, std::string>& env) {
  node_config c;
  auto keys = specs(c);
  if (!path.empty()) {
    auto parsed = parse_toml("config", path);
    if (!parsed) return parsed.err();
    const toml::value& root = *parsed;
    if (!root.is_table()) return make_error(errc::invalid, "config " + path + ": not a table");
    // Named variables, not structured bindings: C++17 lets no lambda capture
    // those (clang refuses), and the key lookup below is a lambda.
    for (const auto& section_body : root.as_table()) {
      const std::string& section = section_body.first;
      const toml::value& body = section_body.second;
      if (!body.is_table())
        return make_error(errc::invalid, "config " + path + ": [" + section + "] must be a table");
      for (const auto& key_value : body.as_table()) {
        const std::string& key = key_value.first;
        const toml::value& value = key_value.second;
        if (section == "kafka" && key == "properties") {
          // librdkafka properties (SASL, TLS, ...): strings, passed through.
          if (!value.is_table())
            return make_error(errc::invalid, "config " + path + ": kafka.properties must be a table");
          for (const auto& [name, v] : value.as_table()) {
            if (!v.is_string())
              return make_error(errc::invalid, "config " + path + ": kafka.properties." + name +
                                                   ": expected a string");
            c.kafka_properties[name] = v.as_string().str;
          }
          continue;
        }
        auto it = std::find_if(keys.begin(), keys.end(), [&](const key_spec& k) {
          return k.section == section && k.key == key;
        });
        if (it == keys.end())
          return make_error(errc::invalid,
                            "config " + path + ": unknown key " + section + "." + key);
        if (auto st = it->from_toml(value); !st) return st.err();
      }
    }
  }
  std::set<std::string> known;
  for (auto& k : keys) {
    known.insert(env_name(k));
    if (auto it = env.find(env_name(k)); it != env.end()) {
      if (auto st = k.from_string(it->second); !st)
        return make_error(errc::invalid, env_name(k) + ": " + st.err().message);
    }
  }
  // Variables of the ops/ scripts, not of the node.
  static const std::set<std::string> scripts = {"KEEPWATCH_CONFIG", "KEEPWATCH_BUILD_DIR",
                                                "KEEPWATCH_TEST_JOBS", "KEEPWATCH_JOBS"};
  for (auto& [name, value] : env)
    if (name.rfind("KEEPWATCH_", 0) == 0 && known.count(name) == 0 && scripts.count(name) == 0)
      c.unknown_env.push_back(name);
  if (c.log_backend == "kafka" && c.kafka_bootstrap_servers.empty())
    return make_error(errc::invalid,
                      "kafka.bootstrap_servers: required when log.backend = \"kafka\"");
  return c;
}

std::map<std::string, std::string> keepwatch_env() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    auto name = kv.substr(0, eq);
    if (name.rfind("KEEPWATCH_", 0) == 0) out[name] = kv.substr(eq + 1);
  }
  return out;
}

std::string default_plans_path() { return std::string(KW_CONFIG_DIR) + "/plans.toml"; }

result<plan_catalog> load_plans(const std::string& path) {
  auto parsed = parse_toml("plans", path);
  if (!parsed) return parsed.err();
  const toml::value& root = *parsed;
  if (!root.is_table() || !root.contains("plans") || !root.at("plans").is_table())
    return make_error(errc::invalid, "plans " + path + ": expected a [plans.<name>] table");
  plan_catalog cat;
  for (const auto& [name, body] : root.at("plans").as_table()) {
    if (!body.is_table())
      return make_error(errc::invalid, "plans " + path + ": plans." + name + " must be a table");
    plan p;
    p.name = name;
    struct field {
      const char* key;
      std::function<void(long long)> set;
    };
    std::vector<field> fields = {
        {"max_monitors", [&](long long v) { p.max_monitors = int(v); }},
        {"min_interval_s", [&](long long v) { p.min_interval_s = int(v); }},
        {"retention_days", [&](long long v) { p.retention_days = int(v); }},
        {"max_users", [&](long long v) { p.max_users = int(v); }},
        {"max_status_pages", [&](long long v) { p.max_status_pages = int(v); }},
        {"api_rate_per_min", [&](long long v) { p.api_rate_per_min = int(v); }},
        {"base_price_cents", [&](long long v) { p.base_price_cents = v; }},
        {"monitor_price_cents", [&](long long v) { p.monitor_price_cents = v; }},
    };
    const auto& t = body.as_table();
    for (const auto& key_value : t) {
      const std::string& key = key_value.first;
      bool known = std::any_of(fields.begin(), fields.end(),
                               [&](const field& f) { return key == f.key; });
      if (!known)
        return make_error(errc::invalid,
                          "plans " + path + ": unknown key plans." + name + "." + key);
    }
    for (const auto& f : fields) {
      auto it = t.find(f.key);
      if (it == t.end())
        return make_error(errc::invalid,
                          "plans " + path + ": plans." + name + "." + f.key + " is missing");
      if (!it->second.is_integer() || it->second.as_integer() < 0)
        return make_error(errc::invalid, "plans " + path + ": plans." + name + "." + f.key +
                                             " must be a non-negative integer");
      f.set(it->second.as_integer());
    }
    cat.plans.emplace(name, std::move(p));
  }
  if (cat.plans.empty()) return make_error(errc::invalid, "plans " + path + ": no plans");
  return cat;
}

}  // namespace kw
