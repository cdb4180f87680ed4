// The projection registry and the helpers the projections share.
#include "projections/projection.hpp"

#include "events/codec.hpp"
#include "projections/projections.hpp"

namespace kw::projections {

std::vector<std::unique_ptr<projection>> all_projections() {
  std::vector<std::unique_ptr<projection>> out;
  out.push_back(make_dashboard_projection());
  out.push_back(make_usage_projection());
  out.push_back(make_billing_projection());
  out.push_back(make_audit_projection());
  return out;
}

std::unique_ptr<projection> make_projection(std::string_view name) {
  for (auto& p : all_projections())
    if (name == p->name()) return std::move(p);
  return nullptr;
}

std::vector<std::string> projection_names() {
  std::vector<std::string> out;
  for (auto& p : all_projections()) out.emplace_back(p->name());
  return out;
}

std::string sql_time(timestamp t) { return format_time(t); }

std::string sql_day(timestamp t) { return format_time(t).substr(0, 10); }

std::string monitor_of(const envelope& m) {
  constexpr std::string_view prefix = "monitor/";
  std::string_view a = m.aggregate;
  if (a.substr(0, prefix.size()) == prefix) a.remove_prefix(prefix.size());
  return std::string(a);
}

void monitor_period_sql(const char* table, const event& e, sql_batch& out) {
  const std::string tenant = e.meta.tenant.get();
  const std::string at = sql_time(e.meta.time);
  auto open = [&](const std::string& monitor) {
    out.push_back({std::string("INSERT INTO ") + table +
                       " (tenant_id, monitor_id, started_at) VALUES ($1, $2, $3) "
                       "ON CONFLICT DO NOTHING",
                   {tenant, monitor, at}});
  };
  auto close = [&](const std::string& monitor) {
    out.push_back({std::string("UPDATE ") + table +
                       " SET ended_at = $3 WHERE tenant_id = $1 AND monitor_id = $2 AND ended_at IS NULL",
                   {tenant, monitor, at}});
  };
  std::visit(overloaded{
                 [&](const monitor_created& d) { open(d.monitor_id); },
                 [&](const monitor_resumed&) { open(monitor_of(e.meta)); },
                 [&](const monitor_paused&) { close(monitor_of(e.meta)); },
                 [&](const monitor_deleted& d) { close(d.monitor_id); },
                 [&](const tenant_deleted&) {
                   out.push_back({std::string("UPDATE ") + table +
                                      " SET ended_at = $2 WHERE tenant_id = $1 AND ended_at IS NULL",
                                  {tenant, at}});
                 },
                 [&](const auto&) {},
             },
             e.data);
}

namespace {

void append_literal(std::string& out, const std::string& v) {
  out += '\'';
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '\'') {
      out += "''";
    } else if (c == '\0') {
      out += "\xEF\xBF\xBD";  // U+FFFD: PostgreSQL text cannot hold NUL
    } else {
      out += c;
    }
  }
  out += '\'';
}

}  // namespace

std::string render(const sql_statement& s) {
  std::string out;
  out.reserve(s.sql.size() + 64);
  const std::string& q = s.sql;
  for (std::size_t i = 0; i < q.size();) {
    if (q[i] == '$' && i + 1 < q.size() && q[i + 1] >= '1' && q[i + 1] <= '9') {
      std::size_t j = i + 1;
      std::size_t n = 0;
      while (j < q.size() && q[j] >= '0' && q[j] <= '9') n = n * 10 + std::size_t(q[j++] - '0');
      if (n >= 1 && n <= s.params.size()) {
        const auto& v = s.params[n - 1];
        if (v) {
          append_literal(out, *v);
        } else {
          out += "NULL";
        }
        i = j;
        continue;
      }
    }
    out += q[i++];
  }
  return out;
}

}  // namespace kw::projections
