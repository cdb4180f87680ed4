// The Monitor actor: a thin CAF shell over monitor_decider that also runs the
// monitor's checks.
//
// Commands (from users, or its own check results and webhook deliveries) are
// decided one at a time; events are appended and only on the log's
// acknowledgement evolved and replied to. Checks:
//
//   active ──tick (interval ± jitter)──▶ probing ──probe done──▶ record_check
//     ▲                                                              │
//     └──────────────────────── next tick ◀──────────────────────────┘
//   push: each beat is an ok check; a tick that finds no beat within
//   interval + grace records a failed one.
//   A move to down or back up notifies the monitor's webhook channels; each
//   delivery's outcome is recorded as an event (record_delivery).
//
// Paused, deleted or suspended-tenant monitors schedule nothing. Ticks carry
// a generation so a pause or an update cancels the ticks already scheduled.
#pragma once
