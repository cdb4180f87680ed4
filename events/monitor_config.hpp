// What a monitor checks and how: the configuration carried by
// monitor_created and monitor_updated. Plain data; validation lives in the
// deciders, encoding in the codec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "events/result.hpp"

namespace kw {

enum class monitor_kind { http, keyword, tcp, push };

// An inclusive range of accepted HTTP status codes, e.g. 200-299.
struct status_range {
  int low = 200;
  int high = 299;
  friend bool operator==(const status_range& a, const status_range& b) {
    return a.low == b.low && a.high == b.high;
  }
};

struct monitor_config {
  std::string name;
  monitor_kind kind = monitor_kind::http;
  std::string url;                  // http, keyword: http:// or https://
  std::string host;                 // tcp
  int port = 0;                     // tcp
  int interval_s = 60;              // seconds between checks
  int timeout_ms = 10000;           // per check
  int retries = 0;                  // failed checks tolerated before down
  std::vector<status_range> accepted_status{{200, 299}};
  std::string keyword;              // keyword: text to look for in the body
  bool keyword_absent = false;      // keyword: up when the keyword is absent
  int max_redirects = 5;            // http, keyword
  bool verify_tls = true;           // https
  // push: the secret part of the push URL never enters the log in clear
  // (monitor.created/updated v2). The log keeps its hex SHA-256, which push
  // beats are matched by, and the token sealed with the node's key
  // (secret_box), so the node can show the URL again. Events of v1 carried
  // the token in clear; their upcaster keeps only its hash, and the sealed
  // form of such a monitor is "" until its token is replaced.
  std::string push_token_hash;
  std::string push_token_sealed;
  int grace_s = 0;                  // push: extra time after the interval
  std::vector<std::string> tags;
  std::vector<std::string> channel_ids;  // notification channels to alert

  friend bool operator==(const monitor_config& a, const monitor_config& b);
  friend bool operator!=(const monitor_config& a, const monitor_config& b) {
    return !(a == b);
  }
};

// JSON conversion (monitor_config.cpp). Enums as strings ("http", ...),
// status ranges as {"low":200,"high":299}. from_json is strict: see
// KW_EVENT_JSON in tenant_events.hpp.
void to_json(nlohmann::json& j, const monitor_config& c);
status from_json(const nlohmann::json& j, monitor_config& c,
                 const std::string& path);

const char* to_string(monitor_kind k) noexcept;

}  // namespace kw
