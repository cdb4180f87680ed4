// The gateway's PostgreSQL pool (pg_pool.hpp).
#include "gateway/pg_pool.hpp"

#include <condition_variable>
#include <mutex>
#include <set>
#include <vector>

#include <pqxx/pqxx>

namespace kw::gateway {

// A pooled connection and the statements read_as_tenant prepared on it.
struct pooled {
  std::unique_ptr<pqxx::connection> conn;
  std::set<std::string> prepared;
  pqxx::connection& operator*() { return *conn; }
  explicit operator bool() const { return conn != nullptr; }
};

struct pg_pool::impl {
  std::string url;
  int size = 4;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<pooled> idle;
  int open = 0;

  pooled take() {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return !idle.empty() || open < size; });
    if (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      return c;
    }
    ++open;
    lk.unlock();
    try {
      return pooled{std::make_unique<pqxx::connection>(url), {}};
    } catch (...) {
      std::lock_guard<std::mutex> g(mu);
      --open;
      cv.notify_one();
      throw;
    }
  }

  void give_back(pooled c) {
    std::lock_guard<std::mutex> lk(mu);
    if (c && c.conn->is_open()) {
      idle.push_back(std::move(c));
    } else {
      --open;
    }
    cv.notify_one();
  }
};

pg_pool::pg_pool(std::string url, int size) : impl_(std::make_unique<impl>()) {
  impl_->url = std::move(url);
  if (impl_->url.find("connect_timeout") == std::string::npos)
    impl_->url += (impl_->url.find("://") != std::string::npos
                       ? (impl_->url.find('?') == std::string::npos ? "?" : "&")
                       : " ") +
                  std::string("connect_timeout=5");
  impl_->size = size < 1 ? 1 : size;
}

pg_pool::~pg_pool() = default;

namespace {

// Runs `use` on a pooled connection and gives it back (dropped if it broke);
// database errors become errc::unavailable (connection) or errc::storage
// (the statement), anything else errc::internal.
template <class Use>
status on_connection(pg_pool::impl& pool, Use&& use) {
  pooled c;
  try {
    c = pool.take();
  } catch (const std::exception& e) {
    return error{errc::unavailable, std::string("database: ") + e.what()};
  }
  status out = ok_status();
  try {
    use(c);
  } catch (const pqxx::broken_connection& e) {
    c.conn.reset();
    out = error{errc::unavailable, std::string("database: ") + e.what()};
  } catch (const pqxx::sql_error& e) {
    out = error{errc::storage, std::string("database: ") + e.what()};
  } catch (const std::exception& e) {
    out = error{errc::internal, e.what()};
  }
  pool.give_back(std::move(c));
  return out;
}

}  // namespace

status pg_pool::with_tenant(const std::string& tenant, const std::function<void(pqxx::transaction_base&)>& fn) {
  return on_connection(*impl_, [&](pooled& c) {
    pqxx::work w(*c);
    // One round trip for both: the role (as SET LOCAL ROLE) and the tenant.
    w.exec_params("SELECT set_config('role', 'keepwatch_app', true), set_config('keepwatch.tenant_id', $1, true)",
                  tenant);
    fn(w);
    w.commit();
  });
}

status pg_pool::read_as_tenant(const std::string& tenant, const std::string& name, const std::string& sql,
                               const std::vector<std::optional<std::string>>& args,
                               const std::function<void(const pqxx::result&)>& fn) {
  return on_connection(*impl_, [&](pooled& c) {
    pqxx::nontransaction n(*c);
    if (!c.prepared.count(name)) {
      n.exec("PREPARE " + c.conn->quote_name(name) + " AS " + sql);
      c.prepared.insert(name);
    }
    // One Query message, several statements: one implicit transaction, so
    // the settings made local by set_config hold for the EXECUTE and end
    // with it.
    std::string q = "SELECT set_config('role', 'keepwatch_app', true), set_config('keepwatch.tenant_id', " +
                    c.conn->quote(tenant) + ", true); EXECUTE " + c.conn->quote_name(name);
    for (std::size_t i = 0; i < args.size(); ++i)
      q += (i ? ", " : "(") + (args[i] ? c.conn->quote(*args[i]) : std::string("NULL"));
    if (!args.empty()) q += ")";
    const pqxx::result r = n.exec(q);
    fn(r);
  });
}

bool pg_pool::reachable() {
  return with_tenant("", [](pqxx::transaction_base& w) { w.exec("SELECT 1"); }).ok();
}

}  // namespace kw::gateway
