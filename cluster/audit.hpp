// `keepwatch audit …`: what compliance staff read straight from the log —
// never from a read model — on the embedded log or on Kafka, read-only, beside
// a running node.
//
//   replay   a tenant's events between two instants: who did what, when, from
//            where, with the state before and after (JSON lines or CSV)
//   verify   every tenant's (or one tenant's) hash chain and Merkle root
//   state    a tenant's and its monitors' state as of an instant, rebuilt
//            with the deciders' own evolve
//
// Guarantees:
//  - The chain is verified as the log is read, from the tenant's first
//    record: a record whose hash does not match its bytes, or whose prevhash
//    is not the previous record's hash (one removed, reordered or a cut
//    beginning), stops the command with the offset, seq, the expected and the
//    found hash, and a non-zero exit. Nothing after a break is reported as
//    history.
//  - Read-only: the embedded log is opened in RocksDB's read-only mode,
//    Kafka through a reader that never writes or joins a group
//    (storage/kafka_reader.hpp).
//  - Progress goes to stderr only when it is a terminal; stdout (or --out)
//    carries nothing but the output.
#pragma once

#include <cstdint>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/event.hpp"
#include "events/merkle.hpp"
#include "storage/event_log.hpp"

namespace kw::storage {
class kafka_reader;
}

namespace kw::audit {

// Where the events topic is read from. One source serves one reader at a
// time.
class log_source {
public:
  virtual ~log_source() = default;
  virtual int partitions() const = 0;
  // Every committed record of the events topic's partition p, in offset order.
  virtual status scan_events(partition_id p, const std::function<bool(const storage::stored_record&)>& fn) = 0;
};

std::unique_ptr<log_source> from_event_log(std::shared_ptr<storage::event_log> log);
std::unique_ptr<log_source> from_kafka(std::unique_ptr<storage::kafka_reader> reader, int partitions);
// A reader of its own on Kafka (storage/kafka_reader.hpp: no group, no
// writes) over the events topic; `partitions` 0: as many as the topic has.
result<std::unique_ptr<log_source>> open_kafka(const std::string& bootstrap_servers, const std::string& topic_prefix,
                                               const std::map<std::string, std::string>& properties,
                                               std::chrono::milliseconds timeout, int partitions = 0);

// Accepts "2026-12-07", "2026-12-07T10:00:00Z" and fractions of a second up
// to microseconds ("…T10:00:00.5Z"); always UTC.
result<timestamp> parse_instant(std::string_view s);

// Where a tenant's chain broke.
struct chain_break {
  std::int64_t offset = -1;
  std::int64_t seq = 0;
  std::string event_id;
  std::string what;      // "hash mismatch (the record was changed)", ...
  std::string expected;  // the hash the chain needed
  std::string found;     // the hash the record holds
};
std::string describe(const std::string& tenant, const chain_break& b);

// One chained record of a tenant, verified: its offset, its index in the
// tenant's history (the Merkle leaf index, from 0) and the decoded event.
struct chained_record {
  const storage::stored_record& rec;
  std::uint64_t index;
  const event& e;
};

// Reads a tenant's chain from its first record, verifying each link and
// growing `tree` (if given) with each record as a leaf. Calls fn for every
// verified record until fn returns false. A break fills *broke and returns
// errc::invalid; a log that cannot be read returns its error.
status walk_tenant(log_source& src, const std::string& tenant, merkle::tree* tree,
                   const std::function<bool(const chained_record&)>& fn, chain_break* broke);

struct replay_options {
  std::string tenant;
  std::optional<timestamp> from, to;  // inclusive bounds on the event's time
  std::string format = "jsonl";       // jsonl | csv
  std::string out;                    // empty: stdout
};
int replay(log_source& src, const replay_options& o);

// A signed tree head as recorded in the log and as an auditor keeps it
// (`audit heads` writes these as JSON lines; `audit verify --heads` reads them).
struct signed_head {
  std::string tenant;
  std::int64_t tree_size = 0;
  std::string root, signed_at, key_id, signature;
};
result<signed_head> parse_head(const std::string& json_line);
std::string head_json(const signed_head& h);

struct verify_options {
  std::string tenant;        // empty: every tenant
  std::string public_key;    // hex; empty: heads' signatures are not checked
  std::vector<signed_head> held;  // heads kept outside the log (--heads FILE)
};
// Prints one line per tenant (events, Merkle root, heads checked) and a
// summary. Every head recorded in a chain must sign the root the chain gives
// at its size (and, with a public key, verify); every held head must be
// extended by the log (a cut or recomputed history is not). Returns the
// number of tenants with a problem, or -1 if the log could not be read.
int verify_chains(log_source& src, const verify_options& o);

// Writes the signed heads recorded in a tenant's chain as JSON lines.
int heads(log_source& src, const std::string& tenant);

int state_at(log_source& src, const std::string& tenant, timestamp at);

// ---- the same, as functions that return what they read (the audit API,
// gateway/audit_routes.cpp, and the commands above share them).

// A tenant's events with from <= time <= to (either bound optional) as the
// audit API streams them: each line (no newline) is
//   {"offset":O,"seq":S,"index":I,"event":<the record exactly as stored>}
// `index` the Merkle leaf index; the bytes after "event": up to the final
// '}' are the stored value byte for byte (the leaf data). The chain is
// verified from the tenant's first record as the lines are made; a break
// fills *broke and returns errc::invalid. `line` returning false stops the
// walk (ok). `read` (if given) receives the number of chained records read.
status event_lines(log_source& src, const std::string& tenant, std::optional<timestamp> from,
                   std::optional<timestamp> to, const std::function<bool(const std::string& line)>& line,
                   chain_break* broke, std::uint64_t* read = nullptr);

// `keepwatch audit state`'s document (pretty-printed JSON, two spaces):
// tenant, at, events_applied, last_offset, state, monitors. Progress on a
// terminal's stderr only when `show_progress` (the CLI, never a server).
result<std::string> state_document(log_source& src, const std::string& tenant, timestamp at, chain_break* broke,
                                   bool show_progress = false);

// The signed heads recorded in a tenant's chain, oldest first.
result<std::vector<signed_head>> recorded_heads(log_source& src, const std::string& tenant, chain_break* broke);

// A tenant's whole verified history, for proofs: its Merkle tree, the heads
// in its chain and, when `wanted` is given, the first event it accepts.
struct located_event {
  std::uint64_t index = 0;  // Merkle leaf index
  std::int64_t offset = -1, seq = 0;
  std::string id, aggregate, value;  // value: the record as stored
};
struct tenant_history {
  merkle::tree tree;
  std::vector<signed_head> heads;
  std::optional<located_event> found;
};
result<tenant_history> read_history(log_source& src, const std::string& tenant,
                                    const std::function<bool(const event&)>& wanted, chain_break* broke);

}  // namespace kw::audit
