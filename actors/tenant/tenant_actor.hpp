// The Tenant actor: a thin CAF shell over tenant_decider.
//
// Lifecycle (one batch in flight at a time; commands wait in order):
//
//   idle ──requests──▶ decide each in turn ──▶ all rejected or retries ──▶ replies ──▶ idle
//                          │
//                          └─events──▶ appending ──ack──▶ evolve, reply to each ──▶ idle
//                                          └──────fail──▶ appended ones: the error;
//                                                         the others: decided again
//                                                         (state unchanged)
//
// Batching (group commit): the commands queued when the actor is idle are
// decided one after another, each against the state as the ones before it
// in the batch leave it, and their events go to the log as one append (one
// write, one fsync). Each command keeps its own events, its own reply, its
// own entry in the reply cache. The state the actor shows (queries,
// snapshots) is only ever the durable one: the batch is decided on the
// state, which is then taken back, and evolved again on the log's
// acknowledgement. A command refused or recognised as a retry while the
// state carries events of the batch not yet durable is answered only after
// the append: if it fails, nothing of the batch happened, so such a command
// is decided again (its refusal may have depended on the batch). When the
// append's outcome is unknown, every appended command of the batch hears so
// at once and the actor takes nothing else until the log says which
// (shell.hpp: defer_unknown_outcome).
//
//   idle for passivate_after_s ──▶ asks the host to passivate it; the host
//   stops routing to it, the actor snapshots itself and quits.
//
// Spawned by the partition host (actors/host/shell.hpp: spawn_tenant).
#pragma once
