// Strict reading and canonical writing of JSON values, driven by the field
// lists of event_fields.hpp. Internal to kw_events: other modules go through
// the codec (codec.hpp) or the per-struct to_json / from_json.
//
// Guarantees: `read` never throws on any JSON input, never defaults a missing
// field and rejects unknown fields; its first error names the offending value
// by path ("data.config.accepted_status[1].low: expected integer"). `write`
// emits every listed field, enums as strings, timestamps as RFC 3339.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/event_fields.hpp"
#include "events/result.hpp"

namespace kw::json_io {

using json = nlohmann::json;
using read_error = std::optional<error>;

inline error fail(const std::string& path, std::string what) {
  return make_error(errc::decode, path + ": " + std::move(what));
}
inline std::string join(const std::string& path, const char* name) {
  return path.empty() ? std::string(name) : path + "." + name;
}
// "string", "integer", ... for messages.
const char* kind_name(const json& j) noexcept;

// ---- leaves (json_io.cpp) ------------------------------------------------

void write(json& out, const std::string& v);
void write(json& out, int v);
void write(json& out, std::int64_t v);
void write(json& out, bool v);
void write(json& out, timestamp v);
void write(json& out, monitor_kind v);
void write(json& out, monitor_status v);

read_error read(const json& j, std::string& v, const std::string& path);
read_error read(const json& j, int& v, const std::string& path);
read_error read(const json& j, std::int64_t& v, const std::string& path);
read_error read(const json& j, bool& v, const std::string& path);
read_error read(const json& j, timestamp& v, const std::string& path);
read_error read(const json& j, monitor_kind& v, const std::string& path);
read_error read(const json& j, monitor_status& v, const std::string& path);

// ---- composites ----------------------------------------------------------

template <class T>
void write(json& out, const std::vector<T>& v);
template <class T>
void write(json& out, const std::optional<T>& v);
template <class T, class = decltype(fields_of(type_tag<T>{}))>
void write(json& out, const T& v);

template <class T>
read_error read(const json& j, std::vector<T>& v, const std::string& path);
template <class T>
read_error read(const json& j, std::optional<T>& v, const std::string& path);
template <class T, class = decltype(fields_of(type_tag<T>{}))>
read_error read(const json& j, T& v, const std::string& path);

template <class T>
void write(json& out, const std::vector<T>& v) {
  out = json::array();
  for (const auto& x : v) {
    json e;
    write(e, x);
    out.push_back(std::move(e));
  }
}

template <class T>
void write(json& out, const std::optional<T>& v) {
  if (v) {
    write(out, *v);
  } else {
    out = nullptr;
  }
}

template <class T, class>
void write(json& out, const T& v) {
  out = json::object();
  for_each_field<T>(
      [&](const auto& f) { write(out[f.name], v.*(f.member)); });
}

template <class T>
read_error read(const json& j, std::vector<T>& v, const std::string& path) {
  if (!j.is_array()) return fail(path, std::string("expected array, got ") + kind_name(j));
  v.clear();
  v.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    T x{};
    if (auto e = read(j[i], x, path + "[" + std::to_string(i) + "]")) return e;
    v.push_back(std::move(x));
  }
  return std::nullopt;
}

// A present null is the empty optional; a missing key is still an error
// (checked by the object reader before we get here).
template <class T>
read_error read(const json& j, std::optional<T>& v, const std::string& path) {
  if (j.is_null()) {
    v.reset();
    return std::nullopt;
  }
  T x{};
  if (auto e = read(j, x, path)) return e;
  v = std::move(x);
  return std::nullopt;
}

template <class T, class>
read_error read(const json& j, T& v, const std::string& path) {
  if (!j.is_object()) return fail(path, std::string("expected object, got ") + kind_name(j));
  read_error err;
  std::size_t found = 0;
  for_each_field<T>([&](const auto& f) {
    if (err) return;
    auto it = j.find(f.name);
    if (it == j.end()) {
      err = fail(join(path, f.name), "missing field");
      return;
    }
    ++found;
    err = read(*it, v.*(f.member), join(path, f.name));
  });
  if (err) return err;
  if (found != j.size()) {
    // Some key is not in the list: name the first one.
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool known = false;
      for_each_field<T>([&](const auto& f) { known = known || it.key() == f.name; });
      if (!known) return fail(join(path, it.key().c_str()), "unknown field");
    }
  }
  return std::nullopt;
}

// Adapters for the public per-struct functions.
template <class T>
status read_status(const json& j, T& v, const std::string& path) {
  if (auto e = read(j, v, path)) return *e;
  return ok_status();
}

}  // namespace kw::json_io

// Defines the public to_json / from_json of one struct (see KW_EVENT_JSON).
#define KW_DEFINE_EVENT_JSON(T)                                             \
  void to_json(nlohmann::json& j, const T& e) { json_io::write(j, e); }     \
  status from_json(const nlohmann::json& j, T& e, const std::string& path) { \
    return json_io::read_status(j, e, path);                                \
  }
