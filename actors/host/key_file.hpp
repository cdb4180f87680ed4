// The node's key files (the secret box key, the tree-head signing key): read
// one of exactly the expected size, or create it once.
//
// A new key is written to a temporary file with mode 0600, synced, renamed
// into place and its directory synced, so a crash leaves either no key or the
// whole key — never a key lost after what it sealed or signed reached the log.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "events/result.hpp"

namespace kw {

// `what` names the key in errors ("secret key", "tree-head signing key").
result<std::string> read_or_create_key(const std::string& path, std::size_t size, const std::string& what,
                                       const std::function<std::string()>& make);

}  // namespace kw
