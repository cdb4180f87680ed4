// The outcome of one check, as the prober reports it to the monitor actor.
//
// Plain data, no I/O types. `ok` is the verdict; everything else explains it.
// `error` is empty exactly when `ok` is true and is meant for humans (it ends
// up in check_recorded and in alerts), so its wording is part of the product:
// "connection refused", "timeout after 500 ms", "status 500 not accepted",
// "keyword \"x\" not found", "too many redirects", "TLS certificate
// verification failed: ...".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "events/ids.hpp"

namespace kw::checks {

struct probe_result {
  bool ok = false;
  std::int64_t latency_us = 0;  // steady clock, from probe start to verdict
  int http_status = 0;          // last HTTP status seen; 0 when none (tcp, errors)
  std::string error;            // empty iff ok
  // notAfter of the leaf certificate whenever TLS was used (if several TLS
  // hops were made through redirects, the earliest of them).
  std::optional<kw::timestamp> cert_expires_at;
  int redirects = 0;            // redirects followed
};

}  // namespace kw::checks
