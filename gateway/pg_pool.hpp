// The gateway's PostgreSQL connections: a small pool, and transactions that
// run as the application role. Every transaction starts with
// `SET LOCAL ROLE keepwatch_app` (no table ownership, no BYPASSRLS) and,
// for tenant reads, `set_config('keepwatch.tenant_id', tenant, true)`, so
// row-level security decides what it sees; both end with the transaction.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/result.hpp"

namespace pqxx {
class transaction_base;
class result;
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

  // A hot read in one round trip: the role and the tenant set, then the
  // statement `name` (prepared from `sql` once per connection, its
  // parameters $1.. given as `args`, sent as quoted literals; nullopt is
  // NULL), both in the one implicit transaction of a multi-statement query,
  // so row-level security holds exactly as in with_tenant. `fn` reads the
  // rows. Errors as with_tenant's.
  status read_as_tenant(const std::string& tenant, const std::string& name, const std::string& sql,
                        const std::vector<std::optional<std::string>>& args,
                        const std::function<void(const pqxx::result&)>& fn);

  // True when a trivial query answers (readiness).
  bool reachable();

  struct impl;  // the connections (pg_pool.cpp)

private:
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::gateway
