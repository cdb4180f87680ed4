// The billing projection: which plan each tenant was on when, when each of
// its monitors was active, and — once a month has ended and this member has
// read the tenant's partition to its end — the month's invoice, closed by
// billing_close_partition (0003) exactly once per tenant and month.
//
// It reads only the domain events: their order within a partition is the
// log's, so the periods, and the invoices computed from them, are the same
// on every rebuild.
#include "projections/projections.hpp"

namespace kw::projections {
namespace {

class billing final : public projection {
public:
  const char* name() const noexcept override { return "billing"; }
  std::vector<storage::topic> topics() const override { return {storage::topic::events}; }
  std::vector<std::string> tables() const override {
    return {"billing_tenants", "billing_plan_periods", "billing_monitor_periods", "invoice_lines",
            "invoices"};
  }

  void apply(const std::vector<projected_event>& batch, sql_batch& out) const override {
    for (auto& r : batch) {
      const event& e = *r.e;
      const std::string t = e.meta.tenant.get();
      const std::string at = sql_time(e.meta.time);
      auto close_plan = [&] {
        out.push_back({"UPDATE billing_plan_periods SET ended_at = $2 WHERE tenant_id = $1 AND ended_at IS NULL",
                       {t, at}});
      };
      auto open_plan = [&](const std::string& plan) {
        out.push_back({"INSERT INTO billing_plan_periods (tenant_id, plan, started_at) VALUES ($1, $2, $3)",
                       {t, plan, at}});
      };
      if (auto* c = std::get_if<tenant_created>(&e.data)) {
        out.push_back({"INSERT INTO billing_tenants (tenant_id, log_partition) VALUES ($1, $2)",
                       {t, std::to_string(r.partition.get())}});
        open_plan(c->plan);
      } else if (auto* p = std::get_if<tenant_plan_changed>(&e.data)) {
        close_plan();
        open_plan(p->to_plan);
      } else if (std::holds_alternative<tenant_deleted>(e.data)) {
        close_plan();
      }
      monitor_period_sql("billing_monitor_periods", e, out);
    }
  }

  // A month is closed for a partition's tenants once it has ended and the
  // partition has been read to its end: every event of the month is in.
  void tick(timestamp now, const std::vector<partition_id>& caught_up, sql_batch& out) const override {
    const std::string month = sql_day(now).substr(0, 7) + "-01";
    for (auto p : caught_up)
      out.push_back({"SELECT billing_close_partition($1::int, $2::date)", {std::to_string(p.get()), month}});
  }
};

}  // namespace

std::unique_ptr<projection> make_billing_projection() { return std::make_unique<billing>(); }

}  // namespace kw::projections
