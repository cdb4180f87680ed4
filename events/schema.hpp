// JSON Schemas (draft 2020-12) of the event wire format, generated from the
// same field lists as the codec (event_fields.hpp), so a schema cannot drift
// from what encode() writes and decode() accepts. The files in
// events/schemas/<type>.json are this output, written by kw_schema_gen;
// tests/unit/events/schema_test.cpp fails when they are stale.
#pragma once

#include <cstddef>
#include <string>

namespace kw {

// The schema of the full envelope of event_data alternative `index`, with that
// type's data; pretty-printed, keys sorted, ending in a newline. "" if index
// is out of range.
std::string event_schema(std::size_t index);

}  // namespace kw
