// Stand-ins for the functions of the node and the PostgreSQL pool that
// gateway/api_context.cpp calls (meta_for, wait_for), so the fuzz targets
// link its request helpers without CAF, RocksDB or a database. No target
// calls either; if one ever does, it aborts, so the fuzzer reports it rather
// than testing a fake.
#include <cstdio>
#include <cstdlib>

#include "actors/host/node.hpp"
#include "gateway/pg_pool.hpp"

namespace kw {

std::string new_id() {
  std::fputs("fuzz link seam: kw::new_id() called (needs the node)\n", stderr);
  std::abort();
}

int node::partitions() const {
  std::fputs("fuzz link seam: node::partitions() called (needs the node)\n", stderr);
  std::abort();
}

}  // namespace kw

namespace kw::gateway {

status pg_pool::with_tenant(const std::string&, const std::function<void(pqxx::transaction_base&)>&) {
  std::fputs("fuzz link seam: pg_pool::with_tenant() called (needs PostgreSQL)\n", stderr);
  std::abort();
}

}  // namespace kw::gateway
