// Errors as values, for all of Keepwatch.
//
// Every fallible operation returns `kw::result<T>`: either a value or a
// `kw::error` carrying a stable code and a human-readable message. Business
// rejections (a quota reached, a suspended tenant) are errors of this kind,
// never exceptions. Codes are part of the API contract: never renumber them.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kw {

// Stable error codes. The first six are the domain rejections of DESIGN.md;
// the rest belong to the edges (decoding, storage, I/O).
enum class errc : int {
  invalid = 1,         // the input breaks a rule of the domain or the format
  not_found = 2,       // no such tenant, monitor, member, ...
  conflict = 3,        // already exists, or the expected version differs
  quota_exceeded = 4,  // the plan's limit would be exceeded
  forbidden = 5,       // the actor may not do this
  suspended = 6,       // the tenant is suspended
  decode = 20,         // a record could not be decoded
  storage = 30,        // the log or snapshot store failed
  unavailable = 31,    // a dependency is not reachable right now
  timeout = 32,        // an operation did not finish in time
  internal = 99,       // a bug: should never be seen
};

constexpr std::string_view to_string(errc c) noexcept {
  switch (c) {
    case errc::invalid: return "invalid";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::quota_exceeded: return "quota_exceeded";
    case errc::forbidden: return "forbidden";
    case errc::suspended: return "suspended";
    case errc::decode: return "decode";
    case errc::storage: return "storage";
    case errc::unavailable: return "unavailable";
    case errc::timeout: return "timeout";
    case errc::internal: return "internal";
  }
  return "internal";
}

struct error {
  errc code = errc::internal;
  std::string message;

  friend bool operator==(const error& a, const error& b) {
    return a.code == b.code && a.message == b.message;
  }
};

inline error make_error(errc code, std::string message) {
  return error{code, std::move(message)};
}

// A value or an error. Deliberately small: `ok()`, `value()`, `err()`.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(error e) : v_(std::in_place_index<1>, std::move(e)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const error& err() const { assert(!ok()); return std::get<1>(v_); }

private:
  std::variant<T, error> v_;
};

// For operations that return nothing on success.
struct unit {};
using status = result<unit>;
inline status ok_status() { return unit{}; }

}  // namespace kw
