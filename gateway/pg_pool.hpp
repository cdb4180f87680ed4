// The gateway's PostgreSQL connections: a small pool, and transactions that
// run as the application role. Every transaction starts with
// `SET LOCAL ROLE keepwatch_app` (no table ownership, no BYPASSRLS) and,
// for tenant reads, `set_config('keepwatch.tenant_id', tenant, true)`, so
// row-level security decides what it sees; both end with the transaction.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "events/result.hpp"

namespace pqxx {
class transaction_base;
}

namespace kw::gateway {

class pg_pool {
public:
  pg_pool(std::string url, int size);
  ~pg_pool();
  pg_pool(const pg_pool&) = delete;
  pg_pool& operator=(const pg_pool&) = delete;

  // Runs `fn` in a transaction as keepwatch_app with the tenant set (empty:
  // none, so tenant tables show nothing), and commits. Exceptions from `fn`
  // roll back; database errors become errc::unavailable (connection) or
  // errc::storage (the statement), never exceptions.
  status with_tenant(const std::string& tenant, const std::function<void(pqxx::transaction_base&)>& fn);

  // True when a trivial query answers (readiness).
  bool reachable();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::gateway
