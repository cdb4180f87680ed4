// Limits on JSON that comes from outside the process — request bodies,
// access tokens, records read from the log, snapshots — checked by one
// linear scan before any parser builds a tree.
//
// Why a scan first: nlohmann's parser is iterative, but copying, comparing
// and destroying the tree it builds recurse once per level of nesting, so a
// 400 KB body of 200,000 '[' parses and then overflows the stack. The scan
// walks the bytes once, skipping strings (with their escapes), and stops as
// soon as the depth passes the limit; it never recurses and never
// allocates. It does not check that the text is JSON: the parser that runs
// next does.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kw {

// The deepest nesting any Keepwatch JSON needs (an event's data, a monitor's
// config, a request body): objects and arrays inside one another.
constexpr int json_max_depth = 32;

// True when no '{' or '[' of `text` (outside strings) is nested deeper than
// `max_depth` levels (the outermost value is level 1).
bool json_within_depth(std::string_view text, int max_depth = json_max_depth) noexcept;

// The first '"' or '\\' in [p, end), or end: how the scans here and in the
// hash chain skip the inside of a string, eight bytes at a time.
const char* find_quote_or_backslash(const char* p, const char* end) noexcept;

// Why `text` is refused — more than `max_bytes`, or nested deeper than
// `max_depth` — or nullopt when it is within both.
std::optional<std::string> json_limits_error(std::string_view text, std::size_t max_bytes,
                                             int max_depth = json_max_depth);

}  // namespace kw
