// The depth and size scan of JSON from outside (json_limits.hpp).
#include "events/json_limits.hpp"

namespace kw {

bool json_within_depth(std::string_view text, int max_depth) noexcept {
  int depth = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p != end) {
    const char c = *p++;
    if (c == '"') {
      // Skip the string: a backslash escapes the next byte, whatever it is,
      // so "\"" and "\\" end where the parser says they end.
      while (p != end && *p != '"') {
        if (*p == '\\' && ++p == end) return true;  // unterminated: the parser refuses it
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
