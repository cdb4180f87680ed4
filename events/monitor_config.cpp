// JSON conversion and equality of monitor_config. The wire fields are listed
// once, in event_fields.hpp; this file only binds them to the public API.
#include "events/monitor_config.hpp"

#include <tuple>

#include "events/json_io.hpp"

namespace kw {

bool operator==(const monitor_config& a, const monitor_config& b) {
  auto tie = [](const monitor_config& c) {
    return std::tie(c.name, c.kind, c.url, c.host, c.port, c.interval_s,
                    c.timeout_ms, c.retries, c.accepted_status, c.keyword,
                    c.keyword_absent, c.max_redirects, c.verify_tls,
                    c.push_token_hash, c.push_token_sealed, c.grace_s, c.tags, c.channel_ids);
  };
  // The tie above must list every member, as fields_of does.
  static_assert(std::tuple_size_v<decltype(tie(a))> == field_count<monitor_config>());
  return tie(a) == tie(b);
}

void to_json(nlohmann::json& j, const monitor_config& c) { json_io::write(j, c); }

status from_json(const nlohmann::json& j, monitor_config& c, const std::string& path) {
  return json_io::read_status(j, c, path);
}

}  // namespace kw
