// The four projections of Keepwatch's read side (their tables are in
// migrations/0002_read_models.sql):
//   dashboard  tenants, members, API keys, channels, status pages,
//              maintenance windows, monitors with their status and last
//              check, heartbeats, minute/hour/day stats, incidents;
//   usage      per tenant and day: checks, notifications, API calls, and the
//              monitor activity periods monitor-hours come from;
//   billing    plan and monitor periods per tenant, and the invoices closed
//              from them when each month has ended;
//   audit      one row per domain event with the entity before and after.
#pragma once

#include <memory>

#include "projections/projection.hpp"

namespace kw::projections {

std::unique_ptr<projection> make_dashboard_projection();
std::unique_ptr<projection> make_usage_projection();
std::unique_ptr<projection> make_billing_projection();
std::unique_ptr<projection> make_audit_projection();

}  // namespace kw::projections
