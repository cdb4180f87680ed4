// The wire codec of Keepwatch events: CloudEvents 1.0 structured JSON, as in
// DESIGN.md "Events".
//
// encode() is canonical: keys sorted at every level, no whitespace, integers
// as integers, timestamps as "YYYY-MM-DDTHH:MM:SS.ffffffZ". Equal events encode
// to equal bytes, which the hash chain (hash_chain.hpp) relies on. Domain
// events always carry "prevhash" and "hash" ("" until sealed); check results
// (is_check_result) carry neither.
//
// decode() is strict and total: any input — invalid UTF-8, not JSON, a
// duplicate key, a wrong specversion, an unknown type, a missing or unknown
// field at any level, a wrong JSON type, an out-of-range integer, a bad
// timestamp or enum — yields errc::decode with a message that starts with the
// path of the offending field ("data.config.interval_s: expected integer,
// got string"). It never throws, never crashes and never defaults a field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.hpp"
#include "events/result.hpp"

namespace kw {

// The canonical CloudEvents JSON of an event. Strings that are not valid UTF-8
// are written with U+FFFD in place of the bad bytes (the gateway validates
// input, so this does not happen in practice); encode never throws.
std::string encode(const event& e);

// The strict inverse of encode.
result<event> decode(std::string_view bytes);

// "2026-11-24T10:00:00.123456Z". Times before 0000-01-01 or after
// 9999-12-31T23:59:59.999999Z are clamped to those bounds.
std::string format_time(timestamp t);

// Accepts exactly the form format_time writes (27 characters, 6 fractional
// digits, "Z"), with a real calendar date and no leap second.
result<timestamp> parse_time(std::string_view s);

// A UUID version 7 (RFC 9562, section 5.7) for event ids: 48 bits of Unix
// milliseconds from `t` (floored), then the version, the low 12 bits of
// rand_a, the variant and the low 62 bits of rand_b. The caller supplies the
// randomness, so the codec reads no clock and no random device. Lowercase,
// 8-4-4-4-12.
std::string uuid_v7(timestamp t, std::uint64_t rand_a, std::uint64_t rand_b);

// The event_data alternative index of a CloudEvents type, if it is one, and
// the reverse ("" when index >= std::variant_size_v<event_data>).
std::optional<std::size_t> index_of_type(std::string_view type) noexcept;
const char* type_at(std::size_t index) noexcept;

// The older versions of event types that decode still reads, through an
// upcaster to the current version (e.g. "keepwatch.monitor.created.v1"). Their
// schemas stay in events/schemas/ beside the current ones.
std::vector<std::string_view> older_types();

// True if `bytes` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool valid_utf8(std::string_view bytes) noexcept;

}  // namespace kw
