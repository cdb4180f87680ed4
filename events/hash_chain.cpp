// The hash chain (see hash_chain.hpp). seal() works on the canonical bytes
// without parsing them; verify_chain() parses each record and also insists
// that the stored bytes are exactly the canonical encoding, so duplicate keys,
// extra whitespace or alternative escapes count as a changed record rather
// than as a second reading of the same hash.
#include "events/hash_chain.hpp"

#include <algorithm>
#include <array>
#include <memory>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "events/json_limits.hpp"

namespace kw {

namespace {

using json = nlohmann::json;

// Fetched once: implicit fetches inside EVP_DigestInit_ex cost about a
// microsecond each on OpenSSL 3.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

template <std::size_t N>
std::string sha256_hex_parts(const std::array<std::string_view, N>& parts) {
  thread_local std::unique_ptr<EVP_MD_CTX, ctx_free> ctx(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  bool ok = ctx && sha256_md() && EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) == 1;
  for (auto p : parts) ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), digest, &len) == 1;
  if (!ok) return {};  // OpenSSL broken: no hash will ever match
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = digits[digest[i] >> 4];
    out[2 * i + 1] = digits[digest[i] & 0xF];
  }
  return out;
}

bool is_hash_hex(std::string_view s) {
  return s.empty() ||
         (s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
          }));
}

constexpr std::size_t npos = std::string_view::npos;

// s[i] == '"'; returns the index one past the closing quote, or npos.
std::size_t skip_string(std::string_view s, std::size_t i) {
  const char* const end = s.data() + s.size();
  for (const char* p = s.data() + i + 1;;) {
    p = find_quote_or_backslash(p, end);
    if (p == end) return npos;
    if (*p == '"') return static_cast<std::size_t>(p - s.data()) + 1;
    if (end - p <= 2) return npos;  // nothing after the escaped byte: unterminated
    p += 2;                         // the escaped byte, whatever it is
  }
}

// A top-level member whose value is a string: [key_begin, value_end) is
// `"key":"value"`, [value_begin, value_end) the quoted value.
struct member_span {
  std::size_t key_begin = npos, value_begin = npos, value_end = npos;
};

// Finds the top-level "hash" and "prevhash" members of a compact JSON object
// in one pass. Relies on the canonical form (no whitespace); anything else
// fails here or later in verify_chain, never silently.
bool find_chain_members(std::string_view s, member_span& hash, member_span& prev) {
  if (s.size() < 2 || s.front() != '{') return false;
  int depth = 1;
  bool expect_key = true;
  std::size_t i = 1;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      const std::size_t begin = i;
      i = skip_string(s, i);
      if (i == npos) return false;
      if (depth == 1 && expect_key) {
        expect_key = false;
        if (i >= s.size() || s[i] != ':') return false;
        const std::string_view key = s.substr(begin + 1, i - begin - 2);
        member_span* m = key == "hash" ? &hash : key == "prevhash" ? &prev : nullptr;
        ++i;
        if (m) {
          if (m->key_begin != npos) return false;  // duplicate
          if (i >= s.size() || s[i] != '"') return false;  // not a string
          m->key_begin = begin;
          m->value_begin = i;
          i = skip_string(s, i);
          if (i == npos) return false;
          m->value_end = i;
        }
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        if (i + 1 != s.size()) return false;
        return hash.key_begin != npos && prev.key_begin != npos;
      }
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
    ++i;
  }
  return false;
}

struct edit {
  std::size_t begin, end;
  std::string_view with;
};

// Applies two non-overlapping edits to s.
std::string apply(std::string_view s, edit a, edit b) {
  if (b.begin < a.begin) std::swap(a, b);
  std::string out;
  out.reserve(s.size() + a.with.size() + b.with.size());
  out.append(s.substr(0, a.begin)).append(a.with);
  out.append(s.substr(a.end, b.begin - a.end)).append(b.with);
  out.append(s.substr(b.end));
  return out;
}

// Where the chain members of an encoded domain event are, and the edit that
// drops its "hash" member (`,"hash":"..."`, or `"hash":"...",` when it is the
// first member); errc::invalid when prev_hash is not a hash or `value` is not
// a chained record.
struct located {
  member_span hash, prev;
  edit drop_hash;
};

result<located> locate(const std::string& prev_hash, std::string_view value) {
  if (!is_hash_hex(prev_hash)) {
    return make_error(errc::invalid, "seal: prev_hash is not empty or 64 lowercase hex digits");
  }
  located at{};
  if (!find_chain_members(value, at.hash, at.prev)) {
    return make_error(errc::invalid,
                      "seal: not an encoded domain event (needs one top-level string "
                      "\"prevhash\" and \"hash\"; check results are not chained)");
  }
  const member_span& h = at.hash;
  at.drop_hash = edit{h.key_begin, h.value_end, {}};
  if (value[h.key_begin - 1] == ',') {
    --at.drop_hash.begin;
  } else if (h.value_end < value.size() && value[h.value_end] == ',') {
    ++at.drop_hash.end;
  }
  return at;
}

std::string describe(std::size_t i, const std::string& id) {
  return "record " + std::to_string(i) + " (id " + (id.empty() ? "?" : id) + "): ";
}

}  // namespace

std::string sha256_hex(std::string_view a, std::string_view b) {
  return sha256_hex_parts(std::array<std::string_view, 2>{a, b});
}

result<std::string> seal(const std::string& prev_hash, std::string& value) {
  auto at = locate(prev_hash, value);
  if (!at) return at.err();
  const auto& [h, p, drop_hash] = *at;
  const edit set_prev{p.value_begin + 1, p.value_end - 1, prev_hash};
  const std::string without_hash = apply(value, drop_hash, set_prev);
  std::string hash = sha256_hex_parts(std::array<std::string_view, 2>{prev_hash, without_hash});
  if (hash.empty()) return make_error(errc::internal, "seal: SHA-256 unavailable");
  value = apply(value, edit{h.value_begin + 1, h.value_end - 1, hash}, set_prev);
  return hash;
}

result<seal_check> check_seal(const std::string& prev_hash, std::string_view value) {
  // The same bytes seal() hashes: the record without its "hash" member and
  // with prev_hash in "prevhash". When the record already holds prev_hash
  // (every intact record) they are two slices of it, hashed in place.
  auto at = locate(prev_hash, value);
  if (!at) return at.err();
  const auto& [h, p, drop_hash] = *at;
  const std::string_view stored_prev = value.substr(p.value_begin + 1, p.value_end - p.value_begin - 2);
  const std::string_view stored_hash = value.substr(h.value_begin + 1, h.value_end - h.value_begin - 2);
  seal_check out;
  if (stored_prev == prev_hash) {
    out.hash = sha256_hex_parts(std::array<std::string_view, 3>{
        prev_hash, value.substr(0, drop_hash.begin), value.substr(drop_hash.end)});
  } else {
    const edit set_prev{p.value_begin + 1, p.value_end - 1, prev_hash};
    out.hash = sha256_hex_parts(std::array<std::string_view, 2>{prev_hash, apply(value, drop_hash, set_prev)});
  }
  if (out.hash.empty()) return make_error(errc::internal, "seal: SHA-256 unavailable");
  out.sealed_as_is = stored_prev == prev_hash && stored_hash == out.hash;
  return out;
}

status verify_chain(const std::vector<std::string>& values) {
  return verify_chain(values, std::string());
}

status verify_chain(const std::vector<std::string>& values, const std::string& anchor) {
  std::string expected_prev = anchor;
  for (std::size_t i = 0; i < values.size(); ++i) {
    json j = json_within_depth(values[i]) ? json::parse(values[i], nullptr, /*allow_exceptions=*/false)
                                          : json(json::value_t::discarded);
    if (j.is_discarded() || !j.is_object()) {
      return make_error(errc::invalid, describe(i, {}) + "not a JSON object (the record was changed)");
    }
    const auto id_it = j.find("id");
    const std::string id = id_it != j.end() && id_it->is_string() ? id_it->get<std::string>() : "";
    const auto h_it = j.find("hash");
    const auto p_it = j.find("prevhash");
    if (h_it == j.end() || p_it == j.end() || !h_it->is_string() || !p_it->is_string()) {
      return make_error(errc::invalid, describe(i, id) + "no string \"hash\" and \"prevhash\" "
                                                         "(not a sealed domain event)");
    }
    if (j.dump() != values[i]) {
      return make_error(errc::invalid, describe(i, id) +
                                           "hash mismatch (the record was changed: its bytes "
                                           "are not the canonical encoding)");
    }
    const std::string hash = h_it->get<std::string>();
    const std::string prevhash = p_it->get<std::string>();
    j.erase("hash");
    if (sha256_hex(prevhash, j.dump()) != hash) {
      return make_error(errc::invalid, describe(i, id) + "hash mismatch (the record was changed)");
    }
    if (prevhash != expected_prev) {
      return make_error(errc::invalid,
                        describe(i, id) + "prevhash mismatch (a record was removed or reordered): "
                                          "prevhash \"" + prevhash + "\", expected \"" +
                            expected_prev + "\"" + (i == 0 ? " (the chain's anchor)" : ""));
    }
    expected_prev = hash;
  }
  return ok_status();
}

}  // namespace kw
