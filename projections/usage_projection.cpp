// The usage projection: per tenant and UTC day, the checks run, the
// notifications sent and the API calls served (counters that only add, so the
// order check results and domain events are read in does not matter), and
// each monitor's activity periods, from which usage_report (0003) computes
// monitor-hours and the peak of active monitors.
//
// Checks and notifications are counted on the day of the event's time; API
// calls arrive already counted (api_calls_recorded, flushed by the gateway)
// and are added to the day the event names, which is the day they were served
// even when the flush lands after midnight.
#include <map>

#include <nlohmann/json.hpp>

#include "projections/projections.hpp"

namespace kw::projections {
namespace {

class usage final : public projection {
public:
  const char* name() const noexcept override { return "usage"; }
  std::vector<storage::topic> topics() const override {
    return {storage::topic::events, storage::topic::checks};
  }
  std::vector<std::string> tables() const override { return {"usage_daily", "usage_monitor_periods"}; }

  void apply(const std::vector<projected_event>& batch, sql_batch& out) const override {
    struct day_counts {
      std::int64_t checks = 0, notifications = 0, api_calls = 0;
    };
    std::map<std::pair<std::string, std::string>, day_counts> counts;  // (tenant, day)
    for (auto& r : batch) {
      const event& e = *r.e;
      if (std::holds_alternative<check_completed>(e.data)) {
        ++counts[{e.meta.tenant.get(), sql_day(e.meta.time)}].checks;
      } else if (std::holds_alternative<notification_delivered>(e.data)) {
        ++counts[{e.meta.tenant.get(), sql_day(e.meta.time)}].notifications;
      } else if (auto* a = std::get_if<api_calls_recorded>(&e.data)) {
        counts[{e.meta.tenant.get(), a->day}].api_calls += a->calls;
      } else {
        monitor_period_sql("usage_monitor_periods", e, out);
      }
    }
    if (counts.empty()) return;
    auto rows = nlohmann::json::array();
    for (auto& [k, v] : counts)
      rows.push_back({{"t", k.first}, {"d", k.second}, {"c", v.checks}, {"n", v.notifications}, {"a", v.api_calls}});
    out.push_back({"INSERT INTO usage_daily AS u (tenant_id, day, checks, notifications, api_calls) "
                   "SELECT t, d, c, n, a FROM json_to_recordset($1::json) "
                   "AS x(t text, d date, c bigint, n bigint, a bigint) "
                   "ON CONFLICT (tenant_id, day) DO UPDATE SET checks = u.checks + excluded.checks, "
                   "notifications = u.notifications + excluded.notifications, "
                   "api_calls = u.api_calls + excluded.api_calls",
                   {rows.dump()}});
  }
};

}  // namespace

std::unique_ptr<projection> make_usage_projection() { return std::make_unique<usage>(); }

}  // namespace kw::projections
