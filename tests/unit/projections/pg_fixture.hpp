// A real PostgreSQL 15 for the projection tests: one throwaway server per test
// binary (ops/pg.sh start, stopped at exit), a fresh database per test.
#pragma once

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#ifndef KW_PG_SH
#error "define KW_PG_SH as the path of ops/pg.sh"
#endif

namespace kw::test {

inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  if (::pclose(p) != 0) return {};
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The suite's server: started on first use, stopped when the binary exits.
class pg_server {
public:
  static pg_server& get() {
    static pg_server s;
    return s;
  }
  // postgresql://postgres@127.0.0.1:PORT/keepwatch, or "" if it did not start.
  const std::string& url() const { return url_; }

  // A new empty database on the server; its URL.
  std::string fresh_database(const std::string& prefix = "kw_test") {
    const std::string db = prefix + "_" + std::to_string(++next_);
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + db);
    tx.exec("CREATE DATABASE " + db);
    return url_.substr(0, url_.rfind('/') + 1) + db;
  }

  ~pg_server() {
    if (!dir_.empty()) {
      (void)std::system((std::string("'") + KW_PG_SH + "' stop '" + dir_ + "' >/dev/null 2>&1").c_str());
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

private:
  pg_server() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kw-pg-test.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    url_ = run_capture(std::string("'") + KW_PG_SH + "' start '" + dir_ + "'");
  }
  std::string dir_;
  std::string url_;
  int next_ = 0;
};

// The single value of a query ("NULL" for SQL NULL or no row).
inline std::string scalar(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "NULL";
  return r[0][0].c_str();
}

}  // namespace kw::test

namespace kw::test {

// A checksum of a table's rows (order-independent): equal tables, equal sums.
inline std::string table_checksum(const std::string& url, const std::string& table) {
  return scalar(url, "SELECT coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), 'empty') FROM " + table +
                         " r");
}

}  // namespace kw::test
