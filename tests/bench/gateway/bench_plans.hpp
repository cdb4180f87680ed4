// The plan catalogue the gateway benchmarks run under: one plan, "free",
// that no benchmark's load runs into (monitors, interval, API rate).
#pragma once

#include "config/plan.hpp"

namespace kw::gbench {

inline plan_catalog unlimited_plans() {
  plan p;
  p.name = "free";
  p.max_monitors = 10000000;
  p.min_interval_s = 30;
  p.retention_days = 30;
  p.max_users = 100;
  p.max_status_pages = 100;
  p.api_rate_per_min = 1000000000;
  p.base_price_cents = 0;
  p.monitor_price_cents = 0;
  plan_catalog c;
  c.plans["free"] = p;
  return c;
}

}  // namespace kw::gbench
