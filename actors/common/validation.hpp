// Input rules shared by the deciders: names, ids, URLs, slugs, monitor
// configurations.
//
// Each check returns ok or an `errc::invalid` error whose message names the
// field and the rule, so a user can fix the request without reading code.
// Pure functions of their arguments.
#pragma once

#include <string_view>

#include "events/monitor_config.hpp"
#include "events/result.hpp"

namespace kw::validation {

inline constexpr std::size_t max_name_len = 200;   // tenant, key, channel, title
inline constexpr std::size_t max_id_len = 64;      // ids chosen by clients
inline constexpr std::size_t max_url_len = 2048;
inline constexpr std::size_t max_email_len = 254;
inline constexpr std::size_t max_reason_len = 500;
inline constexpr int max_timeout_ms = 120000;
inline constexpr int max_retries = 10;
inline constexpr int max_redirects = 20;
inline constexpr int max_interval_s = 86400;

// Non-empty (after trimming blanks), at most `max_len` bytes.
status name(std::string_view field, std::string_view value,
            std::size_t max_len = max_name_len);
// [A-Za-z0-9_.:-]{1,64}
status id(std::string_view field, std::string_view value);
// Something@something, bounded.
status email(std::string_view field, std::string_view value);
// http:// or https:// followed by a non-empty host; no blanks; bounded.
status http_url(std::string_view field, std::string_view value);
// [a-z0-9-]{1,63}
status slug(std::string_view value);
// 64 lowercase hex digits (SHA-256).
status sha256_hex(std::string_view field, std::string_view value);

// The kind-specific rules of a monitor configuration, and
// interval_s >= min_interval_s (the plan's minimum).
status monitor_config(const kw::monitor_config& c, int min_interval_s);

}  // namespace kw::validation
