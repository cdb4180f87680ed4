// The CloudEvents codec (see codec.hpp): canonical encoding, strict decoding,
// RFC 3339 times and UUID v7 ids. Everything here is pure: no clock, no
// random device, no I/O.
//
// decode has two paths: fast_decode (fast_decode.hpp) reads plain, valid
// records straight into the structs; everything else goes to parse_strict
// below, a full JSON tree, which alone words the errors. The fast path only
// ever accepts records the strict one accepts, with the same result.
#include "events/codec.hpp"

#include <array>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "events/fast_decode.hpp"
#include "events/hash_chain.hpp"
#include "events/json_io.hpp"
#include "events/json_limits.hpp"

namespace kw {

namespace {

using json = nlohmann::json;

constexpr std::size_t n_types = std::variant_size_v<event_data>;

template <std::size_t... I>
constexpr std::array<const char*, n_types> make_type_names(std::index_sequence<I...>) {
  return {std::variant_alternative_t<I, event_data>::type...};
}
constexpr auto type_names = make_type_names(std::make_index_sequence<n_types>{});

// ---- time ------------------------------------------------------------------

constexpr std::int64_t us_per_day = 86'400'000'000;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
  std::int64_t y;
  unsigned m, d;
};

constexpr civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

constexpr std::int64_t min_time = days_from_civil(0, 1, 1) * us_per_day;
constexpr std::int64_t max_time = days_from_civil(9999, 12, 31) * us_per_day + us_per_day - 1;

constexpr bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}
constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// ---- strict parsing --------------------------------------------------------

constexpr int max_depth = json_max_depth;
// No record Keepwatch writes comes near this; a larger one is refused before
// anything reads it.
constexpr std::size_t max_record_bytes = 8u << 20;

// Thrown from the parser callback; caught in decode.
struct reject {
  std::string message;
};

json parse_strict(std::string_view bytes) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= max_depth) throw reject{"nested deeper than " + std::to_string(max_depth)};
        if (ev == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& k = parsed.get_ref<const std::string&>();
        if (!keys.empty() && !keys.back().insert(k).second) {
          throw reject{"duplicate key " + parsed.dump()};
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  return json::parse(bytes.begin(), bytes.end(), cb, /*allow_exceptions=*/true,
                     /*ignore_comments=*/false);
}

template <class T>
void get(const json& j, const char* name, T& out, json_io::read_error& err) {
  if (err) return;
  auto it = j.find(name);
  if (it == j.end()) {
    err = json_io::fail(name, "missing field");
    return;
  }
  err = json_io::read(*it, out, name);
}

template <std::size_t I>
json_io::read_error read_data(const json& j, event_data& out) {
  std::variant_alternative_t<I, event_data> v{};
  if (auto e = json_io::read(j, v, "data")) return e;
  out.template emplace<I>(std::move(v));
  return std::nullopt;
}

using data_reader = json_io::read_error (*)(const json&, event_data&);

template <std::size_t... I>
constexpr std::array<data_reader, n_types> make_readers(std::index_sequence<I...>) {
  return {&read_data<I>...};
}
constexpr auto data_readers = make_readers(std::make_index_sequence<n_types>{});

// ---- older versions ---------------------------------------------------------
//
// An event type whose payload changed incompatibly got a new version; records
// of the old one stay in the log as they were written (the hash chain is over
// the stored bytes) and are read through an upcaster: a rewrite of the old
// payload into the current version's, then the current reader. Only the strict
// path reads them (the fast path knows current types only). Decoding such a
// record gives the current struct, so encoding it again writes the current
// version.

// monitor.created/updated v1 → v2: the push token in clear becomes its hash
// (the sealed form is unknown: "").
void upcast_push_token(json& data) {
  auto cfg = data.find("config");
  if (cfg == data.end() || !cfg->is_object()) return;
  auto token = cfg->find("push_token");
  // A v1 record with v2's fields is not v1: left for the reader to refuse.
  if (token == cfg->end() || !token->is_string() || cfg->contains("push_token_hash") ||
      cfg->contains("push_token_sealed"))
    return;
  const auto& clear = token->get_ref<const std::string&>();
  (*cfg)["push_token_hash"] = clear.empty() ? std::string() : sha256_hex("", clear);
  (*cfg)["push_token_sealed"] = "";
  cfg->erase("push_token");
}

struct older_version {
  std::string_view type;
  std::size_t index;  // the current version's alternative
  void (*upcast)(json& data);
};

template <class T>
std::size_t index_of_alternative() {
  return event_data(std::in_place_type<T>).index();
}

const std::array<older_version, 2> older_versions{{
    {"keepwatch.monitor.created.v1", index_of_alternative<monitor_created>(), upcast_push_token},
    {"keepwatch.monitor.updated.v1", index_of_alternative<monitor_updated>(), upcast_push_token},
}};

const older_version* find_older_version(std::string_view type) {
  for (const auto& o : older_versions)
    if (o.type == type) return &o;
  return nullptr;
}

result<event> decode_impl(std::string_view bytes) {
  // Size and depth first (json_limits.hpp): neither path below then meets
  // a record that could exhaust the stack or the memory.
  if (auto why = json_limits_error(bytes, max_record_bytes, max_depth))
    return make_error(errc::decode, "not valid JSON: " + *why);
  if (valid_utf8(bytes)) {
    // The records of the log take the fast path (fast_decode.hpp); whatever it
    // does not take, valid or not, is decided by the strict parser below.
    event e{envelope{}, event_data{}};
    if (detail::fast_decode(bytes, e)) return e;
  } else {
    // Name the first bad byte.
    std::size_t lo = 0, hi = bytes.size();
    while (hi - lo > 1) {
      std::size_t mid = lo + (hi - lo) / 2;
      if (valid_utf8(bytes.substr(0, mid))) lo = mid; else hi = mid;
    }
    return make_error(errc::decode, "invalid UTF-8 at byte " + std::to_string(lo));
  }
  json j;
  try {
    j = parse_strict(bytes);
  } catch (const reject& r) {
    return make_error(errc::decode, "not valid JSON: " + r.message);
  } catch (const json::exception& ex) {
    return make_error(errc::decode, std::string("not valid JSON: ") + ex.what());
  }
  if (!j.is_object()) {
    return make_error(errc::decode, std::string("expected a JSON object, got ") +
                                        json_io::kind_name(j));
  }

  json_io::read_error err;
  std::string specversion, type;
  get(j, "specversion", specversion, err);
  if (!err && specversion != "1.0") {
    err = json_io::fail("specversion", "expected \"1.0\", got " + j["specversion"].dump());
  }
  get(j, "type", type, err);
  std::size_t index = 0;
  const older_version* older = nullptr;
  if (!err) {
    auto i = index_of_type(type);
    if (!i && (older = find_older_version(type))) i = older->index;
    if (!i) {
      err = json_io::fail("type", "unknown event type " +
                                      json(type).dump(-1, ' ', false, json::error_handler_t::replace));
    } else {
      index = *i;
    }
  }
  if (err) return *err;
  // Check results are not hash-chained: they carry no prevhash / hash.
  const bool chained = std::string_view(type_names[index]) != check_completed::type;

  event e{envelope{}, event_data{}};
  envelope& m = e.meta;
  std::int64_t seq = 0;
  std::string tenant;
  timestamp t;
  get(j, "id", m.id, err);
  get(j, "source", m.source, err);
  get(j, "subject", m.subject, err);
  get(j, "time", t, err);
  get(j, "tenantid", tenant, err);
  get(j, "aggregate", m.aggregate, err);
  get(j, "seq", seq, err);
  get(j, "actor", m.actor, err);
  get(j, "correlationid", m.correlation_id, err);
  get(j, "causationid", m.causation_id, err);
  if (chained) {
    get(j, "prevhash", m.prevhash, err);
    get(j, "hash", m.hash, err);
  }
  if (!err) {
    auto it = j.find("data");
    if (it == j.end()) {
      err = json_io::fail("data", "missing field");
    } else {
      if (older && it->is_object()) older->upcast(*it);
      err = data_readers[index](*it, e.data);
    }
  }
  if (err) return *err;

  // Every field is read; anything else is unknown.
  const std::size_t expected_keys = chained ? 15 : 13;
  if (j.size() != expected_keys) {
    static const std::set<std::string> known = {
        "specversion", "id", "source", "type", "subject", "time", "tenantid",
        "aggregate", "seq", "actor", "correlationid", "causationid", "data"};
    for (auto it = j.begin(); it != j.end(); ++it) {
      const bool ok = known.count(it.key()) != 0 ||
                      (chained && (it.key() == "prevhash" || it.key() == "hash"));
      if (!ok) return json_io::fail(it.key(), "unknown field");
    }
  }
  m.time = t;
  m.tenant = tenant_id(std::move(tenant));
  m.seq = seq_no(seq);
  return e;
}

}  // namespace

// ---- public ------------------------------------------------------------------

const char* type_of(const event_data& d) noexcept {
  return d.index() < n_types ? type_names[d.index()] : "";
}

bool is_check_result(const event_data& d) noexcept {
  return std::holds_alternative<check_completed>(d);
}

const char* type_at(std::size_t index) noexcept {
  return index < n_types ? type_names[index] : "";
}

std::vector<std::string_view> older_types() {
  std::vector<std::string_view> out;
  for (const auto& o : older_versions) out.push_back(o.type);
  return out;
}

std::optional<std::size_t> index_of_type(std::string_view type) noexcept {
  for (std::size_t i = 0; i < n_types; ++i) {
    if (type == type_names[i]) return i;
  }
  return std::nullopt;
}

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: most of a record is ASCII.
    while (n - i >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080'8080'8080'8080ull) != 0) break;
      i += 8;
    }
    if (i == n) break;
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;        // no overlong
      if (c == 0xED) hi = 0x9F;        // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;        // no overlong
      if (c == 0xF4) hi = 0x8F;        // nothing above U+10FFFF
    } else {
      return false;
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

std::string format_time(timestamp t) {
  std::int64_t us = t.get();
  if (us < min_time) us = min_time;
  if (us > max_time) us = max_time;
  std::int64_t days = us >= 0 ? us / us_per_day : -((-us + us_per_day - 1) / us_per_day);
  std::int64_t rem = us - days * us_per_day;  // [0, us_per_day)
  const civil c = civil_from_days(days);
  const auto secs = rem / 1'000'000;
  const auto frac = rem % 1'000'000;
  // "YYYY-MM-DDTHH:MM:SS.ffffffZ"; the clamp keeps the year in 0..9999.
  char buf[27];
  auto put = [&](int pos, int width, std::int64_t v) {
    for (int i = pos + width - 1; i >= pos; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, c.y);
  buf[4] = '-';
  put(5, 2, c.m);
  buf[7] = '-';
  put(8, 2, c.d);
  buf[10] = 'T';
  put(11, 2, secs / 3600);
  buf[13] = ':';
  put(14, 2, secs / 60 % 60);
  buf[16] = ':';
  put(17, 2, secs % 60);
  buf[19] = '.';
  put(20, 6, frac);
  buf[26] = 'Z';
  return std::string(buf, sizeof buf);
}

result<timestamp> parse_time(std::string_view s) {
  std::int64_t us = 0;
  const char* why = nullptr;
  if (!detail::parse_time_us(s, us, &why)) {
    return make_error(errc::decode, std::string("invalid timestamp (") + why +
                                        "; expected YYYY-MM-DDTHH:MM:SS.ffffffZ)");
  }
  return timestamp(us);
}

namespace detail {

bool parse_time_us(std::string_view s, std::int64_t& out, const char** why) noexcept {
  auto bad = [&](const char* reason) {
    *why = reason;
    return false;
  };
  //                         0123456789012345678901234567
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  if (s.size() != shape.size()) return bad("wrong length");
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) {
      return bad("malformed");
    }
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    std::int64_t v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  const std::int64_t y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2),
                     mi = num(14, 2), sec = num(17, 2), us = num(20, 6);
  if (mo < 1 || mo > 12) return bad("month out of range");
  if (d < 1 || d > days_in_month(y, static_cast<unsigned>(mo))) return bad("day out of range");
  if (h > 23 || mi > 59 || sec > 59) return bad("time of day out of range");
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  out = days * us_per_day + ((h * 60 + mi) * 60 + sec) * 1'000'000 + us;
  return true;
}

}  // namespace detail

std::string uuid_v7(timestamp t, std::uint64_t rand_a, std::uint64_t rand_b) {
  const std::int64_t us = t.get();
  const std::int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
  const std::uint64_t hi = (static_cast<std::uint64_t>(ms) & 0xFFFF'FFFF'FFFFull) << 16 |
                           0x7000u | (rand_a & 0xFFFu);
  const std::uint64_t lo = 0x8000'0000'0000'0000ull | (rand_b & 0x3FFF'FFFF'FFFF'FFFFull);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>(hi >> 16 & 0xFFFF),
                static_cast<unsigned>(hi & 0xFFFF), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFF'FFFF'FFFFull));
  return buf;
}

std::string encode(const event& e) {
  const envelope& m = e.meta;
  json j = json::object();
  j["specversion"] = "1.0";
  j["id"] = m.id;
  j["source"] = m.source;
  j["type"] = type_of(e.data);
  j["subject"] = m.subject;
  j["time"] = format_time(m.time);
  j["tenantid"] = m.tenant.get();
  j["aggregate"] = m.aggregate;
  j["seq"] = m.seq.get();
  json_io::write(j["actor"], m.actor);
  j["correlationid"] = m.correlation_id;
  j["causationid"] = m.causation_id;
  if (!is_check_result(e.data)) {
    j["prevhash"] = m.prevhash;
    j["hash"] = m.hash;
  }
  std::visit([&](const auto& d) { json_io::write(j["data"], d); }, e.data);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<event> decode(std::string_view bytes) {
  try {
    return decode_impl(bytes);
  } catch (const std::exception& ex) {
    return make_error(errc::decode, std::string("undecodable record: ") + ex.what());
  } catch (...) {
    return make_error(errc::decode, "undecodable record");
  }
}

}  // namespace kw
