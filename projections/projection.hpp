// A projection: a named view of the log, a pure `apply(batch)` that yields the
// SQL bringing its PostgreSQL tables up to date, and the tables themselves
// (DESIGN.md, read side).
//
// Contract:
//  - apply is pure: the same batch gives the same statements; it reads no
//    clock and no database. The runner (runner.hpp) executes the statements,
//    in order, in one transaction together with the consumed offsets.
//  - Order: records of one (topic, partition) come in log order; records of
//    different topics or partitions come in no particular order, and a
//    rebuild may interleave them differently from the first run. Every
//    projection is written so that its tables do not depend on that
//    interleaving (check results only add to counters, insert rows, or keep
//    the highest seq), so a rebuild yields identical tables.
//  - tick(now, caught_up) yields the statements that depend on time passing
//    (retention, closing invoices); the runner calls it now and then, in a
//    transaction of its own. `caught_up` lists the partitions of the events
//    topic that this member has read to their end.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.hpp"
#include "events/ids.hpp"
#include "storage/event_log.hpp"

namespace kw::projections {

// One decoded record of a batch, with where it came from.
struct projected_event {
  storage::topic t = storage::topic::events;
  partition_id partition{0};
  log_offset offset{0};
  const event* e = nullptr;
};

// A statement with $1..$n placeholders and their values (nullopt = NULL).
// Values are text; casts in the SQL give them their types.
struct sql_statement {
  std::string sql;
  std::vector<std::optional<std::string>> params;
};
using sql_batch = std::vector<sql_statement>;

class projection {
public:
  virtual ~projection() = default;
  virtual const char* name() const noexcept = 0;
  virtual std::vector<storage::topic> topics() const = 0;
  // The tables it writes: what a rebuild truncates.
  virtual std::vector<std::string> tables() const = 0;
  // The statements that apply `batch`.
  virtual void apply(const std::vector<projected_event>& batch, sql_batch& out) const = 0;
  // The statements that depend on time passing (none by default).
  virtual void tick(timestamp now, const std::vector<partition_id>& caught_up, sql_batch& out) const {}
};

// dashboard, usage, billing, audit — in that order.
std::vector<std::unique_ptr<projection>> all_projections();
// One of them by name; nullptr if there is none of that name.
std::unique_ptr<projection> make_projection(std::string_view name);
std::vector<std::string> projection_names();

// ---- helpers shared by the projections (projection.cpp)

// "2026-11-24T10:00:00.123456Z": a timestamptz literal.
std::string sql_time(timestamp t);
// "2026-11-24": the UTC day of `t`, a date literal.
std::string sql_day(timestamp t);
// The monitor id of an event of the monitor aggregate ("monitor/<id>").
std::string monitor_of(const envelope& m);

// Monitor activity periods in `table` (usage_monitor_periods or
// billing_monitor_periods): a period opens at monitor_created and
// monitor_resumed and closes at monitor_paused, monitor_deleted and
// tenant_deleted. Appends nothing for other events.
void monitor_period_sql(const char* table, const event& e, sql_batch& out);

// Renders `s` with its parameters inlined as SQL literals (strings quoted
// with standard_conforming_strings on, NUL bytes replaced by U+FFFD), so a
// whole batch can be sent in one round trip.
std::string render(const sql_statement& s);

}  // namespace kw::projections
