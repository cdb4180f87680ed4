// Sample events for the kw_events tests: one payload for every alternative of
// kw::event_data, each field set to a non-default, distinct value so a field
// dropped, swapped or defaulted by the codec shows up in a round trip.
// codec_test fails if a new event type is added without a sample here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "events/codec.hpp"
#include "events/event.hpp"

namespace kw::test {

// 2026-11-24T10:00:00.123456Z
inline timestamp t0() { return timestamp(1'795'514'400'123'456); }

inline monitor_config sample_config() {
  monitor_config c;
  c.name = "Shop – checkout ✓";  // non-ASCII on purpose
  c.kind = monitor_kind::keyword;
  c.url = "https://shop.example.com/checkout?a=1&b=\"2\"";
  c.host = "shop.example.com";
  c.port = 8443;
  c.interval_s = 30;
  c.timeout_ms = 4500;
  c.retries = 2;
  c.accepted_status = {{200, 204}, {301, 302}};
  c.keyword = "Add to cart";
  c.keyword_absent = true;
  c.max_redirects = 3;
  c.verify_tls = false;
  c.push_token_hash = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
  c.push_token_sealed = "sb1:bm9uY2UtYW5kLWNpcGhlcnRleHQ=";
  c.grace_s = 15;
  c.tags = {"prod", "eu"};
  c.channel_ids = {"ch_1", "ch_2"};
  return c;
}

inline std::vector<event_data> sample_payloads() {
  std::vector<event_data> v;
  v.emplace_back(tenant_created{"Acme", "pro", "u_1", "owner@acme.example"});
  v.emplace_back(tenant_renamed{"Acme Corp"});
  v.emplace_back(tenant_plan_changed{"free", "pro"});
  v.emplace_back(tenant_suspended{"payment failed"});
  v.emplace_back(tenant_activated{});
  v.emplace_back(tenant_deleted{});
  v.emplace_back(member_added{"u_2", "bob@acme.example", "admin"});
  v.emplace_back(member_role_changed{"u_2", "admin", "viewer"});
  v.emplace_back(member_removed{"u_2"});
  v.emplace_back(api_key_created{"k_1", "ci", std::string(64, 'a'), "read"});
  v.emplace_back(api_key_revoked{"k_1"});
  v.emplace_back(channel_created{"ch_1", "ops hook", "webhook",
                                 "https://hooks.example/x", "enc:abc"});
  v.emplace_back(channel_updated{"ch_1", "ops hook 2", "https://hooks.example/y", ""});
  v.emplace_back(channel_deleted{"ch_1"});
  v.emplace_back(status_page_created{"p_1", "acme", "Acme status", {"m_1", "m_2"}});
  v.emplace_back(status_page_updated{"p_1", "acme-2", "Acme", {}});
  v.emplace_back(status_page_deleted{"p_1"});
  v.emplace_back(maintenance_scheduled{"w_1", "db upgrade", {"m_1"},
                                       timestamp(t0().get() + 3'600'000'000),
                                       timestamp(t0().get() + 7'200'000'001)});
  v.emplace_back(maintenance_cancelled{"w_1"});
  v.emplace_back(monitor_created{"m_1", sample_config()});
  {
    auto c = sample_config();
    c.kind = monitor_kind::tcp;
    c.accepted_status.clear();
    v.emplace_back(monitor_updated{c});
  }
  v.emplace_back(monitor_paused{});
  v.emplace_back(monitor_resumed{});
  v.emplace_back(monitor_deleted{"m_1"});
  v.emplace_back(monitor_status_changed{monitor_status::up, monitor_status::down,
                                        "timeout after 4500 ms", 1234});
  v.emplace_back(incident_opened{"i_1", "HTTP 503"});
  v.emplace_back(incident_closed{"i_1", timestamp(t0().get() - 60'000'000), 60'000});
  v.emplace_back(notification_delivered{"ch_1", "i_1", "down", 2, 204});
  v.emplace_back(notification_failed{"ch_1", "i_1", "up", 5, "connection refused"});
  v.emplace_back(check_completed{"m_1", false, 4'500'123, 503, "HTTP 503",
                                 timestamp(t0().get() + 86'400'000'000)});
  v.emplace_back(api_calls_recorded{"2026-11-24", 1'234'567});
  v.emplace_back(tree_head_signed{42, std::string(64, 'a'), timestamp(t0().get() + 5'000'000), "0123456789abcdef",
                                  std::string(128, 'c')});
  return v;
}

inline event sample_event(event_data d, std::int64_t seq = 17) {
  event e{envelope{}, std::move(d)};
  envelope& m = e.meta;
  m.time = timestamp(t0().get() + seq);
  m.id = uuid_v7(m.time, 0xABC + static_cast<std::uint64_t>(seq), 0x1234'5678'9ABC'DEF0ull);
  m.source = "keepwatch/node-1";
  const bool monitor_stream = std::string(type_of(e.data)).rfind("keepwatch.tenant.", 0) != 0;
  m.aggregate = monitor_stream ? "monitor/m_1" : "tenant/acme";
  m.subject = m.aggregate;
  m.tenant = tenant_id("acme");
  m.seq = seq_no(seq);
  m.actor = actor_ref{"user", "u_1", "203.0.113.9"};
  m.correlation_id = "req-42";
  m.causation_id = "cmd-7";
  return e;
}

}  // namespace kw::test
