// Tests of the CloudEvents codec: every event type survives a round trip with
// every field intact; the encoding is canonical and pinned by a golden record;
// every kind of malformed input is rejected with an errc::decode error naming
// the field, and no input crashes the decoder.
#include "events/codec.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <regex>
#include <set>
#include <string>
#include <variant>

#include "events/event_fields.hpp"
#include "events/hash_chain.hpp"
#include "samples.hpp"

namespace {

using nlohmann::json;
using kw::test::sample_event;
using kw::test::sample_payloads;

void expect_same_envelope(const kw::envelope& a, const kw::envelope& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.aggregate, b.aggregate);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.actor, b.actor);
  EXPECT_EQ(a.correlation_id, b.correlation_id);
  EXPECT_EQ(a.causation_id, b.causation_id);
  EXPECT_EQ(a.prevhash, b.prevhash);
  EXPECT_EQ(a.hash, b.hash);
}

TEST(codec, every_event_type_has_a_sample) {
  std::set<std::size_t> covered;
  for (const auto& d : sample_payloads()) covered.insert(d.index());
  for (std::size_t i = 0; i < std::variant_size_v<kw::event_data>; ++i) {
    EXPECT_TRUE(covered.count(i)) << "no sample for " << kw::type_at(i)
                                  << ": add one to tests/unit/events/samples.hpp";
  }
}

TEST(codec, every_event_type_round_trips) {
  for (const auto& d : sample_payloads()) {
    SCOPED_TRACE(kw::type_of(d));
    auto e = sample_event(d);
    if (!kw::is_check_result(d)) {
      e.meta.prevhash = std::string(64, 'b');
      e.meta.hash = std::string(64, 'c');
    }
    const std::string bytes = kw::encode(e);
    auto back = kw::decode(bytes);
    ASSERT_TRUE(back.ok()) << back.err().message << "\n" << bytes;
    expect_same_envelope(e.meta, back->meta);
    EXPECT_EQ(back->data.index(), d.index());
    EXPECT_TRUE(kw::payload_equal(back->data, d)) << bytes;
    EXPECT_EQ(kw::encode(*back), bytes);
    EXPECT_EQ(json::parse(bytes)["type"], kw::type_of(d));
  }
}

TEST(codec, a_changed_field_does_not_compare_equal) {
  // Guards the round-trip test itself: payload_equal must see every field.
  auto a = sample_payloads();
  auto b = sample_payloads();
  std::get<kw::monitor_created>(b[19]).config.grace_s += 1;
  EXPECT_FALSE(kw::payload_equal(a[19], b[19]));
  std::get<kw::check_completed>(b[29]).cert_expires_at.reset();
  EXPECT_FALSE(kw::payload_equal(a[29], b[29]));
}

TEST(codec, encoding_is_canonical) {
  for (const auto& d : sample_payloads()) {
    SCOPED_TRACE(kw::type_of(d));
    const std::string bytes = kw::encode(sample_event(d));
    // Sorted keys and no whitespace: equal to nlohmann's sorted compact dump.
    EXPECT_EQ(json::parse(bytes).dump(), bytes);
    const auto ordered = nlohmann::ordered_json::parse(bytes);
    std::string prev;
    for (const auto& item : ordered.items()) {
      EXPECT_LT(prev, item.key());
      prev = item.key();
    }
  }
}

TEST(codec, golden_record) {
  kw::event e = sample_event(kw::tenant_renamed{"Acme \"Corp\""}, 3);
  e.meta.prevhash = "";
  e.meta.hash = "";
  EXPECT_EQ(kw::encode(e),
            R"({"actor":{"id":"u_1","ip":"203.0.113.9","kind":"user"},"aggregate":"tenant/acme",)"
            R"("causationid":"cmd-7","correlationid":"req-42","data":{"name":"Acme \"Corp\""},)"
            R"("hash":"","id":"01a20cff-7d7b-7abf-9234-56789abcdef0","prevhash":"","seq":3,)"
            R"("source":"keepwatch/node-1","specversion":"1.0","subject":"tenant/acme",)"
            R"("tenantid":"acme","time":"2026-11-24T10:00:00.123459Z",)"
            R"("type":"keepwatch.tenant.renamed.v1"})");
}

TEST(codec, monitor_config_json_shape) {
  json j = kw::test::sample_config();
  EXPECT_EQ(j["kind"], "keyword");
  EXPECT_EQ(j["accepted_status"], json::parse(R"([{"high":204,"low":200},{"high":302,"low":301}])"));
  EXPECT_EQ(j["verify_tls"], false);
  kw::monitor_config back;
  ASSERT_TRUE(kw::from_json(j, back, "config").ok());
  EXPECT_EQ(back, kw::test::sample_config());
  back.tags.push_back("x");
  EXPECT_NE(back, kw::test::sample_config());
  j["kind"] = "ftp";
  auto st = kw::from_json(j, back, "config");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.err().message, R"(config.kind: unknown value "ftp" (expected http|keyword|tcp|push))");
}

TEST(codec, check_results_carry_no_hash_chain_fields) {
  const auto checks = sample_event(sample_payloads()[29]);
  ASSERT_TRUE(kw::is_check_result(checks.data));
  const json j = json::parse(kw::encode(checks));
  EXPECT_FALSE(j.contains("prevhash"));
  EXPECT_FALSE(j.contains("hash"));
  EXPECT_EQ(j["data"]["cert_expires_at"], "2026-11-25T10:00:00.123456Z");

  auto no_cert = checks;
  std::get<kw::check_completed>(no_cert.data).cert_expires_at.reset();
  EXPECT_TRUE(json::parse(kw::encode(no_cert))["data"]["cert_expires_at"].is_null());
  auto back = kw::decode(kw::encode(no_cert));
  ASSERT_TRUE(back.ok()) << back.err().message;
  EXPECT_FALSE(std::get<kw::check_completed>(back->data).cert_expires_at.has_value());

  int n = 0;
  for (const auto& d : sample_payloads()) n += kw::is_check_result(d);
  EXPECT_EQ(n, 1);
}

// ---- malformed input -------------------------------------------------------

json base_record() { return json::parse(kw::encode(sample_event(sample_payloads()[19]))); }

void expect_rejected(const std::string& bytes, const std::string& message_start) {
  auto r = kw::decode(bytes);
  ASSERT_FALSE(r.ok()) << "accepted: " << bytes;
  EXPECT_EQ(r.err().code, kw::errc::decode);
  EXPECT_EQ(r.err().message.rfind(message_start, 0), 0u)
      << "message: " << r.err().message << "\nexpected to start with: " << message_start;
}

void expect_rejected(const json& j, const std::string& message_start) {
  expect_rejected(j.dump(), message_start);
}

TEST(codec_rejects, invalid_utf8) {
  std::string bytes = kw::encode(sample_event(sample_payloads()[0]));
  const auto at = bytes.find("Acme");
  bytes[at + 1] = '\xff';
  expect_rejected(bytes, "invalid UTF-8 at byte " + std::to_string(at + 1));
  expect_rejected(std::string("{\"a\":\"\xc0\xaf\"}"), "invalid UTF-8");      // overlong
  expect_rejected(std::string("{\"a\":\"\xed\xa0\x80\"}"), "invalid UTF-8");  // surrogate
}

TEST(codec_rejects, not_json_or_not_an_object) {
  const std::string bytes = kw::encode(sample_event(sample_payloads()[19]));
  expect_rejected(bytes.substr(0, bytes.size() / 2), "not valid JSON");
  expect_rejected(bytes + "x", "not valid JSON");
  expect_rejected(std::string(), "not valid JSON");
  expect_rejected(std::string("[1,2]"), "expected a JSON object, got array");
  expect_rejected(std::string("\"x\""), "expected a JSON object, got string");
  expect_rejected(std::string(R"({"a":1,"a":2})"), "not valid JSON: duplicate key \"a\"");
  expect_rejected(std::string(100000, '['), "not valid JSON");
}

TEST(codec_rejects, every_truncation) {
  const std::string bytes = kw::encode(sample_event(sample_payloads()[19]));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = kw::decode(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.err().code, kw::errc::decode);
  }
}

TEST(codec_rejects, corrupted_bytes_never_crash) {
  const std::string bytes = kw::encode(sample_event(sample_payloads()[29]));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (char c : {'\0', '"', '{', '}', '1', '\\', '\x80'}) {
      std::string b = bytes;
      b[i] = c;
      auto r = kw::decode(b);
      if (!r.ok()) {
        EXPECT_EQ(r.err().code, kw::errc::decode);
      }
    }
  }
}

TEST(codec_rejects, wrong_specversion_and_unknown_type) {
  auto j = base_record();
  j["specversion"] = "0.3";
  expect_rejected(j, R"(specversion: expected "1.0", got "0.3")");
  j = base_record();
  j["type"] = "keepwatch.monitor.exploded.v1";
  expect_rejected(j, R"(type: unknown event type "keepwatch.monitor.exploded.v1")");
  j["type"] = "keepwatch.monitor.created.v3";
  expect_rejected(j, "type: unknown event type");
}

TEST(codec_rejects, each_missing_envelope_field) {
  const auto base = base_record();
  ASSERT_EQ(base.size(), 15u);
  for (const auto& item : base.items()) {
    SCOPED_TRACE(item.key());
    auto j = base;
    j.erase(item.key());
    expect_rejected(j, item.key() + ": missing field");
  }
  for (const char* k : {"kind", "id", "ip"}) {
    auto j = base;
    j["actor"].erase(k);
    expect_rejected(j, std::string("actor.") + k + ": missing field");
  }
}

TEST(codec_rejects, each_missing_data_field) {
  const auto base = base_record();
  for (const auto& item : base["data"]["config"].items()) {
    SCOPED_TRACE(item.key());
    auto j = base;
    j["data"]["config"].erase(item.key());
    expect_rejected(j, "data.config." + item.key() + ": missing field");
  }
  auto j = base;
  j["data"].erase("monitor_id");
  expect_rejected(j, "data.monitor_id: missing field");

  auto check = json::parse(kw::encode(sample_event(sample_payloads()[29])));
  check["data"].erase("cert_expires_at");  // optional value, but the key is required
  expect_rejected(check, "data.cert_expires_at: missing field");
}

TEST(codec_rejects, wrong_json_types) {
  auto j = base_record();
  j["data"]["config"]["interval_s"] = "60";
  expect_rejected(j, "data.config.interval_s: expected integer, got string");
  j = base_record();
  j["data"]["config"]["interval_s"] = 60.0;
  expect_rejected(j, "data.config.interval_s: expected integer, got number");
  j = base_record();
  j["data"]["config"]["verify_tls"] = 1;
  expect_rejected(j, "data.config.verify_tls: expected boolean, got integer");
  j = base_record();
  j["data"]["monitor_id"] = nullptr;
  expect_rejected(j, "data.monitor_id: expected string, got null");
  j = base_record();
  j["data"]["config"]["tags"] = "prod";
  expect_rejected(j, "data.config.tags: expected array, got string");
  j = base_record();
  j["data"]["config"]["tags"][1] = 7;
  expect_rejected(j, "data.config.tags[1]: expected string, got integer");
  j = base_record();
  j["data"]["config"]["accepted_status"][1]["low"] = "301";
  expect_rejected(j, "data.config.accepted_status[1].low: expected integer, got string");
  j = base_record();
  j["data"] = json::array();
  expect_rejected(j, "data: expected object, got array");
  j = base_record();
  j["seq"] = "17";
  expect_rejected(j, "seq: expected integer, got string");
  j = base_record();
  j["actor"] = "u_1";
  expect_rejected(j, "actor: expected object, got string");
}

TEST(codec_rejects, unknown_fields) {
  auto j = base_record();
  j["data"]["colour"] = "red";
  expect_rejected(j, "data.colour: unknown field");
  j = base_record();
  j["data"]["config"]["accepted_status"][0]["mid"] = 250;
  expect_rejected(j, "data.config.accepted_status[0].mid: unknown field");
  j = base_record();
  j["traceparent"] = "00-abc";
  expect_rejected(j, "traceparent: unknown field");
  j = base_record();
  j["actor"]["role"] = "admin";
  expect_rejected(j, "actor.role: unknown field");
  auto paused = json::parse(kw::encode(sample_event(kw::monitor_paused{})));
  paused["data"]["why"] = "x";
  expect_rejected(paused, "data.why: unknown field");
  auto check = json::parse(kw::encode(sample_event(sample_payloads()[29])));
  check["prevhash"] = "";
  expect_rejected(check, "prevhash: unknown field");
}

TEST(codec_rejects, out_of_range_integers) {
  auto j = base_record();
  j["data"]["config"]["port"] = 4294967296LL;
  expect_rejected(j, "data.config.port: integer out of range");
  j = base_record();
  j["data"]["config"]["port"] = -2147483649LL;
  expect_rejected(j, "data.config.port: integer out of range");
  j = base_record();
  j["seq"] = 18446744073709551615ULL;
  expect_rejected(j, "seq: integer out of range");
  std::string big = base_record().dump();
  const auto at = big.find("\"seq\":17");
  big.replace(at, 8, "\"seq\":123456789012345678901234567890");
  expect_rejected(big, "seq: expected integer, got number");
}

TEST(codec_rejects, bad_timestamps) {
  for (const char* bad : {"2026-11-24T10:00:00Z", "2026-11-24T10:00:00.123456+00:00",
                          "2026-11-24 10:00:00.123456Z", "2026-02-29T10:00:00.000000Z",
                          "2026-13-01T10:00:00.000000Z", "2026-11-24T24:00:00.000000Z",
                          "2026-11-24T10:00:60.000000Z", "2026-11-24T10:00:00.12345aZ", ""}) {
    SCOPED_TRACE(bad);
    auto j = base_record();
    j["time"] = bad;
    expect_rejected(j, "time: invalid timestamp");
  }
  auto j = base_record();
  j["time"] = 1795514400;
  expect_rejected(j, "time: expected timestamp string, got integer");
  auto closed = json::parse(kw::encode(sample_event(sample_payloads()[26])));
  closed["data"]["opened_at"] = "yesterday";
  expect_rejected(closed, "data.opened_at: invalid timestamp");
}

TEST(codec_rejects, bad_enum_strings) {
  auto j = base_record();
  j["data"]["config"]["kind"] = "HTTP";
  expect_rejected(j, "data.config.kind: unknown value \"HTTP\" (expected http|keyword|tcp|push)");
  auto sc = json::parse(kw::encode(sample_event(sample_payloads()[24])));
  sc["data"]["to"] = "sideways";
  expect_rejected(sc, "data.to: unknown value \"sideways\" (expected pending|up|down|maintenance)");
  sc["data"]["to"] = 2;
  expect_rejected(sc, "data.to: expected string, got integer");
}

// ---- older versions ------------------------------------------------------------

// monitor.created v1 (push token in clear), as the log of an earlier release
// holds it, still decodes: to the current version, with the token's hash and
// no sealed form; encoding it again writes v2 without the token.
TEST(codec_older_versions, monitor_created_v1_upcasts_its_push_token_to_a_hash) {
  json v2 = json::parse(kw::encode(sample_event(kw::monitor_created{"m_1", {}}, 3)));
  json v1 = v2;
  v1["type"] = "keepwatch.monitor.created.v1";
  auto& cfg = v1["data"]["config"];
  cfg.erase("push_token_hash");
  cfg.erase("push_token_sealed");
  cfg["kind"] = "push";
  cfg["url"] = "";
  cfg["push_token"] = "tok-from-2025";
  auto back = kw::decode(v1.dump());
  ASSERT_TRUE(back.ok()) << back.err().message;
  const auto& d = std::get<kw::monitor_created>(back->data);
  EXPECT_EQ(d.config.push_token_hash, kw::sha256_hex("", "tok-from-2025"));
  EXPECT_EQ(d.config.push_token_sealed, "");
  const std::string again = kw::encode(*back);
  EXPECT_NE(again.find("keepwatch.monitor.created.v2"), std::string::npos);
  EXPECT_EQ(again.find("tok-from-2025"), std::string::npos);
  // v1 with v2's fields, or v2 with v1's, is refused: each version is strict.
  json mixed = v1;
  mixed["data"]["config"]["push_token_hash"] = "x";
  EXPECT_FALSE(kw::decode(mixed.dump()).ok());
  json old_field_in_v2 = v2;
  old_field_in_v2["data"]["config"]["push_token"] = "tok";
  EXPECT_FALSE(kw::decode(old_field_in_v2.dump()).ok());
  for (auto type : kw::older_types()) EXPECT_FALSE(kw::index_of_type(type).has_value()) << type;
}

// ---- metering ------------------------------------------------------------------

// The API-call counts the gateway flushes: a tenant-stream, hash-chained event
// whose wire shape is pinned here, decoded as strictly as every other type.
TEST(codec_api_calls_recorded, golden_record_and_round_trip) {
  kw::event e = sample_event(kw::api_calls_recorded{"2026-11-24", 1'000'000'000}, 5);
  e.meta.actor = kw::actor_ref{"system", "keepwatch", ""};
  e.meta.correlation_id = "";
  EXPECT_EQ(kw::encode(e),
            R"({"actor":{"id":"keepwatch","ip":"","kind":"system"},"aggregate":"tenant/acme",)"
            R"("causationid":"cmd-7","correlationid":"","data":{"calls":1000000000,"day":"2026-11-24"},)"
            R"("hash":"","id":"01a20cff-7d7b-7ac1-9234-56789abcdef0","prevhash":"","seq":5,)"
            R"("source":"keepwatch/node-1","specversion":"1.0","subject":"tenant/acme",)"
            R"("tenantid":"acme","time":"2026-11-24T10:00:00.123461Z",)"
            R"("type":"keepwatch.tenant.api_calls_recorded.v1"})");
  auto back = kw::decode(kw::encode(e));
  ASSERT_TRUE(back.ok()) << back.err().message;
  const auto& d = std::get<kw::api_calls_recorded>(back->data);
  EXPECT_EQ(d.day, "2026-11-24");
  EXPECT_EQ(d.calls, 1'000'000'000);
  EXPECT_FALSE(kw::is_check_result(back->data));
}

TEST(codec_api_calls_recorded, decoding_is_strict) {
  const json base = json::parse(kw::encode(sample_event(kw::api_calls_recorded{"2026-11-24", 42})));
  ASSERT_TRUE(kw::decode(base.dump()).ok());
  for (const char* field : {"day", "calls"}) {
    auto j = base;
    j["data"].erase(field);
    expect_rejected(j, std::string("data.") + field + ": missing field");
  }
  auto j = base;
  j["data"]["calls"] = "42";
  expect_rejected(j, "data.calls: expected integer, got string");
  j = base;
  j["data"]["calls"] = 4.5;
  expect_rejected(j, "data.calls:");
  j = base;
  j["data"]["calls"] = json::parse("1e30");
  expect_rejected(j, "data.calls:");
  j = base;
  j["data"]["day"] = 20261124;
  expect_rejected(j, "data.day: expected string, got integer");
  j = base;
  j["data"]["day"] = nullptr;
  expect_rejected(j, "data.day:");
  j = base;
  j["data"]["tenant"] = "acme";
  expect_rejected(j, "data.tenant: unknown field");
  j = base;
  j["data"] = json::array();
  expect_rejected(j, "data:");
  j = base;
  j.erase("hash");  // a domain event: the chain fields are required
  expect_rejected(j, "hash: missing field");
}

// ---- time and ids -------------------------------------------------------------

TEST(time, formats_rfc3339_with_microseconds) {
  EXPECT_EQ(kw::format_time(kw::timestamp(0)), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(kw::format_time(kw::test::t0()), "2026-11-24T10:00:00.123456Z");
  EXPECT_EQ(kw::format_time(kw::timestamp(-1)), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(kw::format_time(kw::timestamp(951'782'400'000'000)), "2000-02-29T00:00:00.000000Z");
}

TEST(time, parse_inverts_format) {
  auto t = kw::parse_time("2026-11-24T10:00:00.123456Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, kw::test::t0());
  EXPECT_TRUE(kw::parse_time("2024-02-29T00:00:00.000000Z").ok());
  EXPECT_FALSE(kw::parse_time("2100-02-29T00:00:00.000000Z").ok());
  std::uint64_t x = 88172645463325252ull;  // xorshift: deterministic spread
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    const kw::timestamp ts(static_cast<std::int64_t>(x % 400'000'000'000'000'000ull) -
                           62'135'596'800'000'000LL);  // years 0001..~12000
    const std::string s = kw::format_time(ts);
    auto back = kw::parse_time(s);
    ASSERT_TRUE(back.ok()) << s;
    if (s != "9999-12-31T23:59:59.999999Z") {
      ASSERT_EQ(*back, ts) << s;
    }
  }
}

TEST(uuid, v7_layout) {
  // RFC 9562 appendix A.6 test vector.
  const kw::timestamp t(static_cast<std::int64_t>(0x017F22E279B0ull) * 1000 + 999);
  EXPECT_EQ(kw::uuid_v7(t, 0xCC3, 0x18C4DC0C0C07398Full), "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(kw::uuid_v7(kw::test::t0(), ~0ull, ~0ull), shape));
  EXPECT_TRUE(std::regex_match(kw::uuid_v7(kw::timestamp(0), 0, 0), shape));
  // Later milliseconds sort later.
  EXPECT_LT(kw::uuid_v7(kw::test::t0(), ~0ull, ~0ull),
            kw::uuid_v7(kw::timestamp(kw::test::t0().get() + 1000), 0, 0));
}

TEST(types, names_and_indices_agree) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < std::variant_size_v<kw::event_data>; ++i) {
    const std::string type = kw::type_at(i);
    EXPECT_TRUE(std::regex_match(type, std::regex(R"(^keepwatch\.[a-z]+\.[a-z_]+\.v[0-9]+$)"))) << type;
    EXPECT_TRUE(seen.insert(type).second) << "duplicate type " << type;
    EXPECT_EQ(kw::index_of_type(type), i);
  }
  EXPECT_FALSE(kw::index_of_type("keepwatch.nope.v1").has_value());
  EXPECT_STREQ(kw::type_of(kw::monitor_created{}), "keepwatch.monitor.created.v2");
}

}  // namespace
