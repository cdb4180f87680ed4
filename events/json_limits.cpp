// The depth and size scan of JSON from outside (json_limits.hpp).
#include "events/json_limits.hpp"

#include <cstdint>
#include <cstring>

namespace kw {

const char* find_quote_or_backslash(const char* p, const char* end) noexcept {
  // A byte of w equal to b shows as a set high bit in (x - 0x01…) & ~x, x = w ^ b…
  // (the classic zero-byte test); only whether any is set is used, so the
  // borrow across bytes that test can cause after a match does not matter.
  constexpr std::uint64_t ones = 0x0101'0101'0101'0101ull, highs = 0x8080'8080'8080'8080ull;
  constexpr std::uint64_t quotes = ones * '"', backslashes = ones * '\\';
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::uint64_t q = w ^ quotes, b = w ^ backslashes;
    if ((((q - ones) & ~q) | ((b - ones) & ~b)) & highs) break;
    p += 8;
  }
  while (p != end && *p != '"' && *p != '\\') ++p;
  return p;
}

bool json_within_depth(std::string_view text, int max_depth) noexcept {
  int depth = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p != end) {
    const char c = *p++;
    if (c == '"') {
      // Skip the string: a backslash escapes the next byte, whatever it is,
      // so "\"" and "\\" end where the parser says they end.
      for (;;) {
        p = find_quote_or_backslash(p, end);
        if (p == end || *p == '"') break;
        if (++p == end) return true;  // a backslash at the end: unterminated, the parser refuses it
        ++p;
      }
      if (p != end) ++p;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      if (depth > 0) --depth;
    }
  }
  return true;
}

std::optional<std::string> json_limits_error(std::string_view text, std::size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes)
    return "larger than " + std::to_string(max_bytes) + " bytes";
  if (!json_within_depth(text, max_depth))
    return "nested deeper than " + std::to_string(max_depth) + " levels";
  return std::nullopt;
}

}  // namespace kw
