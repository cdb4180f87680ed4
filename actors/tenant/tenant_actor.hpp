// The Tenant actor: a thin CAF shell over tenant_decider.
//
// Lifecycle (one command at a time; others wait in order):
//
//   idle ──request──▶ decide ──rejected──▶ reply error ──▶ idle
//                        │
//                        └─events──▶ appending ──ack──▶ evolve, reply ──▶ idle
//                                        └──────fail──▶ reply error (state unchanged)
//
//   idle for passivate_after_s ──▶ asks the host to passivate it; the host
//   stops routing to it, the actor snapshots itself and quits.
//
// Spawned by the partition host (actors/host/shell.hpp: spawn_tenant).
#pragma once
