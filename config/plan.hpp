// The plan catalogue: what each plan allows and costs. Plain data, loaded
// from config/plans.toml by config/plans_loader; the Tenant decider reads it
// to enforce limits (monitor count, minimum interval, users, status pages).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace kw {

struct plan {
  std::string name;
  int max_monitors = 0;
  int min_interval_s = 0;
  int retention_days = 0;
  int max_users = 0;
  int max_status_pages = 0;
  int api_rate_per_min = 0;
  std::int64_t base_price_cents = 0;     // per month
  std::int64_t monitor_price_cents = 0;  // per monitor-month, pro-rated by hours
};

struct plan_catalog {
  std::map<std::string, plan> plans;

  const plan* find(const std::string& name) const {
    auto i = plans.find(name);
    return i == plans.end() ? nullptr : &i->second;
  }
};

}  // namespace kw
