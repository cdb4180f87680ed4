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
// Notifications are at-least-once across stops and crashes: the decider's
// state holds what is owed (a transition without a delivered or failed event
// for a channel yet), so on start — after a restart, a crash or a
// re-activation — the actor sends what is owed again, with the same body and
// the same X-Keepwatch-Delivery id (<incident>:<transition>:<channel>), so a
// receiver may see a notification twice and can dedupe on the id. Given up
// (recorded as notification_failed, not sent): what is older than 24 h at a
// restart, what is meant for a channel that was deleted or taken off the
// monitor, and a series whose attempts ran out. A deleted monitor owes
// nothing. Nothing is sent while the tenant is suspended; what is owed goes
// out when the suspension is lifted.
//
// Paused, deleted or suspended-tenant monitors schedule nothing. Ticks carry
// a generation so a pause or an update cancels the ticks already scheduled.
#pragma once
