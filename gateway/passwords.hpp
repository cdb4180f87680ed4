// Password hashing: argon2id through libsodium's crypto_pwhash_str, whose
// output carries its own salt and parameters. Hashes live only in the
// gateway's credentials table, never in the event log.
#pragma once

#include <string>

#include "events/result.hpp"

namespace kw::gateway {

// The cost of a hash: `interactive` (libsodium's interactive limits, 64 MiB)
// for production; `fast` (the minimum limits) for tests only.
enum class password_cost { interactive, fast };

result<std::string> hash_password(const std::string& password, password_cost cost = password_cost::interactive);
bool verify_password(const std::string& hash, const std::string& password);

}  // namespace kw::gateway
