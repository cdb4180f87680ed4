// The leaf readers and writers of json_io.hpp: strings, integers with range
// checks, booleans, timestamps and the enums of the event structs.
#include "events/json_io.hpp"

#include <limits>

#include "events/codec.hpp"

namespace kw::json_io {

const char* kind_name(const json& j) noexcept {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "discarded";
  }
  return "unknown";
}

namespace {

error expected(const std::string& path, const char* what, const json& j) {
  return fail(path, std::string("expected ") + what + ", got " + kind_name(j));
}

// Reads any JSON integer into [lo, hi]; floats ("1.0", "1e3") are not integers.
read_error read_int(const json& j, std::int64_t lo, std::int64_t hi,
                    std::int64_t& out, const std::string& path) {
  if (j.is_number_unsigned()) {
    auto u = j.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) return fail(path, "integer out of range");
    out = static_cast<std::int64_t>(u);
    return std::nullopt;
  }
  if (j.is_number_integer()) {
    auto s = j.get<std::int64_t>();
    if (s < lo || s > hi) return fail(path, "integer out of range");
    out = s;
    return std::nullopt;
  }
  return expected(path, "integer", j);
}

constexpr const auto& kind_names = monitor_kind_names;
constexpr const auto& status_names = monitor_status_names;

template <class E, std::size_t N>
read_error read_enum(const json& j, const char* const (&names)[N], E& out,
                     const std::string& path, const char* choices) {
  if (!j.is_string()) return expected(path, "string", j);
  const auto& s = j.get_ref<const std::string&>();
  for (std::size_t i = 0; i < N; ++i) {
    if (s == names[i]) {
      out = static_cast<E>(i);
      return std::nullopt;
    }
  }
  return fail(path, "unknown value " + json(s).dump(-1, ' ', false, json::error_handler_t::replace) +
                        " (expected " + choices + ")");
}

}  // namespace

void write(json& out, const std::string& v) { out = v; }
void write(json& out, int v) { out = v; }
void write(json& out, std::int64_t v) { out = v; }
void write(json& out, bool v) { out = v; }
void write(json& out, timestamp v) { out = format_time(v); }
void write(json& out, monitor_kind v) { out = to_string(v); }
void write(json& out, monitor_status v) { out = to_string(v); }

read_error read(const json& j, std::string& v, const std::string& path) {
  if (!j.is_string()) return expected(path, "string", j);
  v = j.get_ref<const std::string&>();
  return std::nullopt;
}

read_error read(const json& j, int& v, const std::string& path) {
  std::int64_t x = 0;
  if (auto e = read_int(j, std::numeric_limits<int>::min(),
                        std::numeric_limits<int>::max(), x, path)) {
    return e;
  }
  v = static_cast<int>(x);
  return std::nullopt;
}

read_error read(const json& j, std::int64_t& v, const std::string& path) {
  return read_int(j, std::numeric_limits<std::int64_t>::min(),
                  std::numeric_limits<std::int64_t>::max(), v, path);
}

read_error read(const json& j, bool& v, const std::string& path) {
  if (!j.is_boolean()) return expected(path, "boolean", j);
  v = j.get<bool>();
  return std::nullopt;
}

read_error read(const json& j, timestamp& v, const std::string& path) {
  if (!j.is_string()) return expected(path, "timestamp string", j);
  auto t = parse_time(j.get_ref<const std::string&>());
  if (!t) return fail(path, t.err().message);
  v = *t;
  return std::nullopt;
}

read_error read(const json& j, monitor_kind& v, const std::string& path) {
  return read_enum(j, kind_names, v, path, "http|keyword|tcp|push");
}

read_error read(const json& j, monitor_status& v, const std::string& path) {
  return read_enum(j, status_names, v, path, "pending|up|down|maintenance");
}

}  // namespace kw::json_io

namespace kw {

const char* to_string(monitor_kind k) noexcept {
  auto i = static_cast<std::size_t>(k);
  return i < 4 ? json_io::kind_names[i] : "unknown";
}

const char* to_string(monitor_status s) noexcept {
  auto i = static_cast<std::size_t>(s);
  return i < 4 ? json_io::status_names[i] : "unknown";
}

}  // namespace kw
