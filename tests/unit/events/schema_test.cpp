// Tests that events/schemas/<type>.json match the codec: one file per event
// type, each parses, pins its type, requires exactly the fields the encoder
// writes (envelope and data), accepts every sample encoding and rejects an
// extra data field; and the files equal the generator's current output.
#include "events/schema.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <variant>

#include "events/codec.hpp"
#include "samples.hpp"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> keys_of(const json& obj) {
  std::set<std::string> out;
  for (const auto& item : obj.items()) out.insert(item.key());
  return out;
}

std::set<std::string> as_set(const json& arr) {
  std::set<std::string> out;
  for (const auto& v : arr) out.insert(v.get<std::string>());
  return out;
}

// The subset of JSON Schema 2020-12 the generated schemas use. Returns "" when
// `v` is valid, else the path of the first violation.
std::string violation(const json& s, const json& v, const std::string& path) {
  if (s.contains("const") && s["const"] != v) return path + ": const";
  if (s.contains("enum")) {
    bool found = false;
    for (const auto& e : s["enum"]) found = found || e == v;
    if (!found) return path + ": enum";
  }
  if (s.contains("anyOf")) {
    bool any = false;
    for (const auto& alt : s["anyOf"]) any = any || violation(alt, v, path).empty();
    if (!any) return path + ": anyOf";
  }
  if (s.contains("type")) {
    const std::string t = s["type"];
    const bool ok = (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
                    (t == "string" && v.is_string()) || (t == "boolean" && v.is_boolean()) ||
                    (t == "integer" && v.is_number_integer()) || (t == "null" && v.is_null());
    if (!ok) return path + ": type " + t;
  }
  if (v.is_number_integer()) {
    if (s.contains("minimum") && v.get<std::int64_t>() < s["minimum"].get<std::int64_t>()) return path + ": minimum";
    if (s.contains("maximum") && v.get<std::int64_t>() > s["maximum"].get<std::int64_t>()) return path + ": maximum";
  }
  if (v.is_string() && s.contains("pattern") &&
      !std::regex_search(v.get<std::string>(), std::regex(s["pattern"].get<std::string>()))) {
    return path + ": pattern";
  }
  if (v.is_object()) {
    if (s.contains("required")) {
      for (const auto& r : s["required"]) {
        if (!v.contains(r.get<std::string>())) return path + "." + r.get<std::string>() + ": required";
      }
    }
    for (const auto& item : v.items()) {
      const auto props = s.value("properties", json::object());
      if (props.contains(item.key())) {
        auto e = violation(props[item.key()], item.value(), path + "." + item.key());
        if (!e.empty()) return e;
      } else if (s.value("additionalProperties", true) == false) {
        return path + "." + item.key() + ": additionalProperties";
      }
    }
  }
  if (v.is_array() && s.contains("items")) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto e = violation(s["items"], v[i], path + "[" + std::to_string(i) + "]");
      if (!e.empty()) return e;
    }
  }
  return {};
}

// Checks `required` == the keys the encoder wrote, at every object level.
void expect_required_matches(const json& schema, const json& value, const std::string& path) {
  if (schema.contains("anyOf")) {
    for (const auto& alt : schema["anyOf"]) {
      if (violation(alt, value, path).empty()) expect_required_matches(alt, value, path);
    }
    return;
  }
  if (value.is_object()) {
    ASSERT_TRUE(schema.contains("required")) << path;
    EXPECT_EQ(as_set(schema["required"]), keys_of(value)) << path;
    EXPECT_EQ(keys_of(schema["properties"]), keys_of(value)) << path;
    EXPECT_EQ(schema["additionalProperties"], false) << path;
    for (const auto& item : value.items()) {
      expect_required_matches(schema["properties"][item.key()], item.value(), path + "." + item.key());
    }
  } else if (value.is_array()) {
    for (const auto& x : value) expect_required_matches(schema["items"], x, path + "[]");
  }
}

fs::path schema_path(const std::string& type) { return fs::path(KW_SCHEMA_DIR) / (type + ".json"); }

TEST(schema, one_file_per_event_type_and_no_other) {
  std::set<std::string> expected;
  for (std::size_t i = 0; i < std::variant_size_v<kw::event_data>; ++i) {
    expected.insert(std::string(kw::type_at(i)) + ".json");
  }
  for (auto older : kw::older_types()) expected.insert(std::string(older) + ".json");
  std::set<std::string> present;
  for (const auto& f : fs::directory_iterator(KW_SCHEMA_DIR)) {
    if (f.path().extension() == ".json") present.insert(f.path().filename().string());
  }
  EXPECT_EQ(present, expected);
}

TEST(schema, each_file_matches_what_the_codec_writes) {
  for (const auto& d : kw::test::sample_payloads()) {
    const std::string type = kw::type_of(d);
    SCOPED_TRACE(type);
    const std::string text = read_file(schema_path(type));
    ASSERT_FALSE(text.empty()) << "missing " << schema_path(type);
    const json schema = json::parse(text, nullptr, false);
    ASSERT_FALSE(schema.is_discarded()) << "not JSON: " << schema_path(type);
    EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    EXPECT_EQ(schema["properties"]["type"]["const"], type);
    EXPECT_EQ(schema["properties"]["data"]["additionalProperties"], false);

    auto e = kw::test::sample_event(d);
    const json encoded = json::parse(kw::encode(e));
    EXPECT_EQ(as_set(schema["properties"]["data"]["required"]), keys_of(encoded["data"]));
    expect_required_matches(schema, encoded, "");
    EXPECT_EQ(violation(schema, encoded, ""), "");

    // What decode rejects, the schema rejects too.
    json extra = encoded;
    extra["data"]["unexpected"] = 1;
    EXPECT_NE(violation(schema, extra, ""), "");
    json wrong_type = encoded;
    wrong_type["type"] = "keepwatch.other.v1";
    EXPECT_NE(violation(schema, wrong_type, ""), "");
    json bad_time = encoded;
    bad_time["time"] = "2026-11-24T10:00:00Z";
    EXPECT_NE(violation(schema, bad_time, ""), "");
    for (const auto& item : encoded.items()) {
      json missing = encoded;
      missing.erase(item.key());
      EXPECT_NE(violation(schema, missing, ""), "") << item.key();
    }
  }
}

TEST(schema, files_are_up_to_date_with_the_generator) {
  for (std::size_t i = 0; i < std::variant_size_v<kw::event_data>; ++i) {
    const std::string type = kw::type_at(i);
    EXPECT_EQ(read_file(schema_path(type)), kw::event_schema(i))
        << schema_path(type) << " is stale: run kw_schema_gen";
  }
  EXPECT_EQ(kw::event_schema(std::variant_size_v<kw::event_data>), "");
}

}  // namespace
