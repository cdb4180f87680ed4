// The fast path of kw::decode (codec.hpp), internal to kw_events.
//
// fast_decode reads a record straight into an event, without building a JSON
// tree, when the record is in the plain shape the log holds: strings without
// \u escapes, integers without fraction or exponent and below 10^18 in
// magnitude, every key once, no unknown key. It never reports an error: on
// anything else — a malformed record as much as a valid but unusual one —
// it returns false and decode falls back to the strict tree-based parser,
// which alone decides whether the record is accepted and words the error.
// So fast_decode accepts a subset of what the strict parser accepts, and on
// that subset yields exactly the same event; the strict parser's behaviour
// and messages are unchanged.
//
// The caller must have checked the bytes with valid_utf8 first.
#pragma once

#include <cstdint>
#include <string_view>

#include "events/event.hpp"

namespace kw::detail {

// True and `out` filled when the record was decoded here; false when the
// strict parser must decide (out is then in an unspecified state).
bool fast_decode(std::string_view bytes, event& out);

// The core of parse_time (codec.cpp): microseconds since the epoch, or false
// with `why` set to the reason parse_time reports.
bool parse_time_us(std::string_view s, std::int64_t& us, const char** why) noexcept;

}  // namespace kw::detail
