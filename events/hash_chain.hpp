// The tamper-evident hash chain of a tenant's domain events (DESIGN.md
// "Events"):
//
//   hash = hex(SHA-256(prevhash ‖ canonical JSON of the record without "hash")),
//
// where the record's "prevhash" is the previous record's hash ("" for the first
// record of the chain) and both are lowercase hex. Check results are not
// chained. Changing a sealed record breaks its hash; removing or reordering
// records breaks the next record's prevhash link.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "events/result.hpp"

namespace kw {

// Seals one encoded domain event (the output of encode()) onto the chain:
// rewrites `value` in place with "prevhash" = prev_hash and "hash" = the new
// hash (replacing whatever they held) and returns the new hash.
//
// Runs on the log's writer thread, so it does not parse: it locates the two
// top-level keys in the canonical encoding with one linear scan and hashes the
// bytes around them; the result is byte-identical to re-encoding (tested).
// Errors (errc::invalid, `value` unchanged): prev_hash neither "" nor 64
// lowercase hex digits; `value` not an object with top-level string
// "prevhash" and "hash" (e.g. a check result).
result<std::string> seal(const std::string& prev_hash, std::string& value);

// What seal(prev_hash, value) would return, without copying or rewriting
// `value`, and whether `value` is already exactly what that seal leaves (its
// "prevhash" holds prev_hash and its "hash" the returned hash, byte for
// byte): how a reader checks a stored record against its chain. The same
// errors as seal.
struct seal_check {
  std::string hash;
  bool sealed_as_is = false;
};
result<seal_check> check_seal(const std::string& prev_hash, std::string_view value);

// Verifies one tenant's complete chain, values in log order: the first
// record's prevhash must be `anchor` ("" for a chain that starts at the first
// event), each record's hash must match its content, and each prevhash the
// previous record's hash. The first failure is an errc::invalid error naming
// the record (index and event id) and what broke: "hash mismatch (the record
// was changed)" or "prevhash mismatch (a record was removed or reordered)".
status verify_chain(const std::vector<std::string>& values_in_log_order);
status verify_chain(const std::vector<std::string>& values_in_log_order,
                    const std::string& anchor);

// Lowercase hex SHA-256 of a ‖ b.
std::string sha256_hex(std::string_view a, std::string_view b);

}  // namespace kw
