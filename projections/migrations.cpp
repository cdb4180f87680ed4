#include "projections/migrations.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include <pqxx/pqxx>

namespace kw::projections {
namespace {

namespace fs = std::filesystem;

// Serialises migration runs within a database ("kwmigr" in ASCII).
constexpr long long kMigrationLockKey = 0x6b776d696772LL;

struct migration {
  int version = 0;
  std::string name;  // the file name, e.g. 0001_schema_migrations_and_roles.sql
  std::string sql;
};

// NNNN_name.sql -> NNNN, or -1.
int version_of(std::string_view file) {
  constexpr std::string_view ext = ".sql";
  if (file.size() < 4 + 1 + 1 + ext.size()) return -1;
  if (file.substr(file.size() - ext.size()) != ext) return -1;
  for (std::size_t i = 0; i < 4; ++i)
    if (!std::isdigit(static_cast<unsigned char>(file[i]))) return -1;
  if (file[4] != '_') return -1;
  for (std::size_t i = 5; i < file.size() - ext.size(); ++i) {
    const auto c = static_cast<unsigned char>(file[i]);
    if (!std::isalnum(c) && c != '_') return -1;
  }
  const int v = std::stoi(std::string(file.substr(0, 4)));
  return v >= 1 ? v : -1;
}

kw::result<std::map<int, migration>> load(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return make_error(errc::not_found, "migrations directory not found: " + dir);
  std::map<int, migration> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().filename().string();
    if (!file.empty() && file[0] == '.') continue;
    const int v = version_of(file);
    if (v < 0 || !it->is_regular_file())
      return make_error(errc::invalid, "migration file not named NNNN_name.sql: " + dir + "/" + file);
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof())
      return make_error(errc::invalid, "cannot read migration " + it->path().string());
    auto [pos, inserted] = out.emplace(v, migration{v, file, text.str()});
    if (!inserted)
      return make_error(errc::invalid, "two migrations with number " + file.substr(0, 4) + ": " +
                                           pos->second.name + " and " + file);
  }
  if (ec) return make_error(errc::invalid, "cannot list " + dir + ": " + ec.message());
  return out;
}

// Adds connect_timeout=10 when the URL sets none, so an unreachable host fails
// instead of hanging.
std::string with_connect_timeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=10";
  return url + (url.empty() ? "" : " ") + "connect_timeout=10";
}

// Strips the trailing newline libpq leaves on its messages.
std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

void lock(pqxx::work& tx) {
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
}

}  // namespace

kw::result<int> apply_migrations(const std::string& database_url, const std::string& dir) {
  auto files = load(dir);
  if (!files) return files.err();

  std::string current;  // the migration being applied, for error messages
  try {
    pqxx::connection conn(with_connect_timeout(database_url));
    {
      pqxx::work tx(conn);
      lock(tx);
      tx.exec0(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version int PRIMARY KEY,"
          " name text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    }
    int applied = 0;
    for (const auto& [version, m] : *files) {
      pqxx::work tx(conn);
      lock(tx);  // held until commit: a concurrent run waits, then sees the row
      if (!tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", version).empty())
        continue;  // tx rolls back (nothing done) when it goes out of scope
      current = m.name;
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
                     version, m.name);
      tx.commit();
      current.clear();
      ++applied;
    }
    return applied;
  } catch (const pqxx::broken_connection& e) {
    return make_error(errc::unavailable, "PostgreSQL unreachable: " + trimmed(e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    return make_error(errc::unavailable,
                      "commit of migration " + current + " in doubt: " + trimmed(e.what()));
  } catch (const pqxx::sql_error& e) {
    if (current.empty()) return make_error(errc::invalid, "migrations: " + trimmed(e.what()));
    return make_error(errc::invalid, "migration " + current + " failed (rolled back): " + trimmed(e.what()));
  } catch (const std::exception& e) {
    return make_error(errc::internal, "migrations: " + trimmed(e.what()));
  }
}

}  // namespace kw::projections
