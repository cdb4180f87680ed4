// The fast path of kw::decode (see fast_decode.hpp): a single pass over the
// bytes, straight into the event structs, driven by the field lists of
// event_fields.hpp. Every "return false" means "not decided here", never
// "invalid": the strict parser in codec.cpp takes over and has the last word.
#include "events/fast_decode.hpp"

#include <array>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "events/codec.hpp"
#include "events/event_fields.hpp"

namespace kw::detail {

namespace {

constexpr std::size_t n_types = std::variant_size_v<event_data>;

template <class T, std::size_t I = 0>
constexpr std::size_t index_in_data() {
  if constexpr (std::is_same_v<std::variant_alternative_t<I, event_data>, T>) {
    return I;
  } else {
    return index_in_data<T, I + 1>();
  }
}
constexpr std::size_t check_index = index_in_data<check_completed>();

// The wire names of T's fields, in fields_of order.
template <class T, std::size_t... I>
std::array<std::string_view, sizeof...(I)> names_of(std::index_sequence<I...>) {
  [[maybe_unused]] const auto fs = fields_of(type_tag<T>{});
  return {std::string_view(std::get<I>(fs).name)...};
}

// Index in `names` of `key`, or -1.
template <std::size_t N>
int find_name(const std::array<std::string_view, N>& names, std::string_view key) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i].size() == key.size() &&
        std::memcmp(names[i].data(), key.data(), key.size()) == 0) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

class reader {
public:
  reader(const char* begin, const char* end) : p_(begin), end_(end) {}

  void ws() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool at_end() noexcept {
    ws();
    return p_ == end_;
  }
  bool consume(char c) noexcept {
    ws();
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  // A string without escapes, as a view into the input.
  bool plain_string(std::string_view& out) noexcept {
    if (!consume('"')) return false;
    const char* s = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(s, static_cast<std::size_t>(p_ - s));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
      ++p_;
    }
    return false;
  }

  // `"key":`, the key without escapes (no field name needs one).
  bool key(std::string_view& k) noexcept { return plain_string(k) && consume(':'); }

  // An object, unchecked: only its extent is found here; the caller reads
  // the span again with a strict reader that must consume all of it.
  bool skip_object(const char*& begin, const char*& end) noexcept {
    ws();
    if (p_ == end_ || *p_ != '{') return false;
    begin = p_;
    int depth = 0;
    for (; p_ != end_; ++p_) {
      const char c = *p_;
      if (c == '"') {
        for (++p_; p_ != end_ && *p_ != '"'; ++p_) {
          if (*p_ == '\\' && ++p_ == end_) return false;
        }
        if (p_ == end_) return false;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        end = ++p_;
        return true;
      }
    }
    return false;
  }

  // ---- leaves ------------------------------------------------------------

  bool read(std::string& out) {
    if (!consume('"')) return false;
    const char* s = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out.assign(s, static_cast<std::size_t>(p_ - s));
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        out.assign(s, static_cast<std::size_t>(p_ - s));
        return escaped_tail(out);
      }
      ++p_;
    }
    return false;
  }

  bool read(int& v) noexcept {
    std::int64_t x = 0;
    if (!integer(x) || x < std::numeric_limits<int>::min() ||
        x > std::numeric_limits<int>::max()) {
      return false;
    }
    v = static_cast<int>(x);
    return true;
  }

  bool read(std::int64_t& v) noexcept { return integer(v); }

  bool read(bool& v) noexcept {
    ws();
    if (literal("true")) {
      v = true;
    } else if (literal("false")) {
      v = false;
    } else {
      return false;
    }
    return true;
  }

  // A timestamp cannot contain a short escape, so an escaped one (\u...) is
  // left to the strict parser.
  bool read(timestamp& v) noexcept {
    std::string_view s;
    std::int64_t us = 0;
    const char* why = nullptr;
    if (!plain_string(s) || !parse_time_us(s, us, &why)) return false;
    v = timestamp(us);
    return true;
  }

  bool read(monitor_kind& v) noexcept { return enumeration(monitor_kind_names, v); }
  bool read(monitor_status& v) noexcept { return enumeration(monitor_status_names, v); }

  // ---- composites ----------------------------------------------------------

  template <class T>
  bool read(std::vector<T>& v) {
    if (!consume('[')) return false;
    v.clear();
    if (consume(']')) return true;
    do {
      v.emplace_back();
      if (!read(v.back())) return false;
    } while (consume(','));
    return consume(']');
  }

  template <class T>
  bool read(std::optional<T>& v) {
    ws();
    if (literal("null")) {
      v.reset();
      return true;
    }
    T x{};
    if (!read(x)) return false;
    v = std::move(x);
    return true;
  }

  // An object with exactly the fields of T, each once, in any order.
  template <class T, class = decltype(fields_of(type_tag<T>{}))>
  bool read(T& v) {
    constexpr std::size_t n = field_count<T>();
    static_assert(n < 32, "the seen-mask below holds 31 fields");
    static const auto fields = fields_of(type_tag<T>{});
    static const auto names = names_of<T>(std::make_index_sequence<n>{});
    if (!consume('{')) return false;
    if (consume('}')) return n == 0;
    std::uint32_t seen = 0;
    do {
      std::string_view k;
      if (!key(k)) return false;
      const int i = find_name(names, k);
      if (i < 0 || (seen >> i & 1u) != 0) return false;
      seen |= 1u << i;
      if (!read_field(static_cast<std::size_t>(i), v, fields, std::make_index_sequence<n>{})) {
        return false;
      }
    } while (consume(','));
    return consume('}') && seen == (1u << n) - 1;
  }

private:
  template <class T, class Fields, std::size_t... I>
  bool read_field(std::size_t i, T& v, const Fields& fields, std::index_sequence<I...>) {
    bool ok = false;
    (void)((i == I && ((ok = read(v.*(std::get<I>(fields).member))), true)) || ...);
    return ok;
  }

  // The rest of a string after its first backslash; \u escapes are left to
  // the strict parser (it checks surrogate pairs).
  bool escaped_tail(std::string& out) {
    while (p_ != end_) {
      const char* run = p_;
      while (p_ != end_ && *p_ != '"' && *p_ != '\\' &&
             static_cast<unsigned char>(*p_) >= 0x20) {
        ++p_;
      }
      out.append(run, static_cast<std::size_t>(p_ - run));
      if (p_ == end_ || static_cast<unsigned char>(*p_) < 0x20) return false;
      if (*p_ == '"') {
        ++p_;
        return true;
      }
      if (++p_ == end_) return false;
      char c;
      switch (*p_) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        default: return false;
      }
      out.push_back(c);
      ++p_;
    }
    return false;
  }

  // -?(0|[1-9][0-9]*) with at most 18 digits; anything longer, or with a
  // fraction or an exponent, goes to the strict parser.
  bool integer(std::int64_t& v) noexcept {
    ws();
    const char* q = p_;
    const bool neg = q != end_ && *q == '-';
    if (neg) ++q;
    if (q == end_ || *q < '0' || *q > '9') return false;
    std::int64_t m = 0;
    if (*q == '0') {
      ++q;
    } else {
      const char* first = q;
      for (; q != end_ && *q >= '0' && *q <= '9'; ++q) {
        if (q - first == 18) return false;
        m = m * 10 + (*q - '0');
      }
    }
    if (q != end_ && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9'))) {
      return false;
    }
    v = neg ? -m : m;
    p_ = q;
    return true;
  }

  template <std::size_t N>
  bool literal(const char (&lit)[N]) noexcept {
    constexpr std::size_t n = N - 1;
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, lit, n) != 0) return false;
    p_ += n;
    return true;
  }

  template <class E, std::size_t N>
  bool enumeration(const char* const (&names)[N], E& v) noexcept {
    std::string_view s;
    if (!plain_string(s)) return false;
    for (std::size_t i = 0; i < N; ++i) {
      if (s == names[i]) {
        v = static_cast<E>(i);
        return true;
      }
    }
    return false;
  }

  const char* p_;
  const char* end_;
};

// ---- payloads ----------------------------------------------------------------

template <std::size_t I>
bool read_data(reader& r, event_data& out) {
  return r.read(out.template emplace<I>());
}

using data_reader = bool (*)(reader&, event_data&);

template <std::size_t... I>
constexpr std::array<data_reader, n_types> make_readers(std::index_sequence<I...>) {
  return {&read_data<I>...};
}
constexpr auto data_readers = make_readers(std::make_index_sequence<n_types>{});

// ---- envelope ----------------------------------------------------------------

enum env_key : int {
  k_specversion, k_id, k_source, k_type, k_subject, k_time, k_tenantid, k_aggregate,
  k_seq, k_actor, k_correlationid, k_causationid, k_data, k_prevhash, k_hash, n_env_keys
};
const std::array<std::string_view, n_env_keys> env_names = {
    "specversion", "id", "source", "type", "subject", "time", "tenantid", "aggregate",
    "seq", "actor", "correlationid", "causationid", "data", "prevhash", "hash"};

constexpr std::uint32_t unchained_keys = (1u << k_prevhash) - 1;  // all but prevhash, hash
constexpr std::uint32_t chained_keys = (1u << n_env_keys) - 1;

}  // namespace

bool fast_decode(std::string_view bytes, event& out) {
  reader r(bytes.data(), bytes.data() + bytes.size());
  envelope& m = out.meta;
  std::optional<std::size_t> type;
  const char* data_begin = nullptr;  // the payload, when it precedes "type"
  const char* data_end = nullptr;
  std::uint32_t seen = 0;

  if (!r.consume('{')) return false;
  do {
    std::string_view k;
    if (!r.key(k)) return false;
    const int i = find_name(env_names, k);
    if (i < 0 || (seen & (1u << i)) != 0) return false;
    seen |= 1u << i;
    bool ok = false;
    switch (static_cast<env_key>(i)) {
      case k_specversion: {
        std::string_view v;
        ok = r.plain_string(v) && v == "1.0";
        break;
      }
      case k_type: {
        std::string_view v;
        ok = r.plain_string(v) && (type = index_of_type(v)).has_value();
        break;
      }
      case k_id: ok = r.read(m.id); break;
      case k_source: ok = r.read(m.source); break;
      case k_subject: ok = r.read(m.subject); break;
      case k_time: ok = r.read(m.time); break;
      case k_tenantid: ok = r.read(m.tenant.get()); break;
      case k_aggregate: ok = r.read(m.aggregate); break;
      case k_seq: ok = r.read(m.seq.get()); break;
      case k_actor: ok = r.read(m.actor); break;
      case k_correlationid: ok = r.read(m.correlation_id); break;
      case k_causationid: ok = r.read(m.causation_id); break;
      case k_prevhash: ok = r.read(m.prevhash); break;
      case k_hash: ok = r.read(m.hash); break;
      case k_data:
        // The canonical encoding sorts "data" before "type": keep its span
        // and read it once the type is known.
        ok = type ? data_readers[*type](r, out.data) : r.skip_object(data_begin, data_end);
        break;
      case n_env_keys: break;
    }
    if (!ok) return false;
  } while (r.consume(','));
  if (!r.consume('}') || !r.at_end() || !type) return false;

  // Check results carry no prevhash / hash; domain events carry both.
  if (seen != (*type == check_index ? unchained_keys : chained_keys)) return false;

  if (data_begin != nullptr) {
    reader d(data_begin, data_end);
    if (!data_readers[*type](d, out.data) || !d.at_end()) return false;
  }
  return true;
}

}  // namespace kw::detail
