// The projection runner (runner.hpp): consumer group in, one PostgreSQL
// transaction per batch out.
#include "projections/runner.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "events/codec.hpp"
#include "projections/offsets_reached.hpp"
#include "storage/group_consumer.hpp"

namespace kw::projections {
namespace {

using storage::topic;
using storage::topic_partition;

std::string with_timeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  if (url.find("://") != std::string::npos)
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=10";
  return url + " connect_timeout=10";
}

std::optional<topic> topic_of_name(const std::string& s) {
  for (topic t : {topic::events, topic::checks, topic::deadletter})
    if (s == storage::topic_name(t)) return t;
  return std::nullopt;
}

std::string lit(const std::string& s) { return render({"$1", {s}}); }

// What a dead letter says: the projection, where the record was, why it was
// refused, and the record itself (as text when it is UTF-8, else base64-free
// hex so that nothing is lost).
std::string dead_letter_value(const std::string& projection, const storage::consumed_record& r,
                              const std::string& reason) {
  nlohmann::json j{{"projection", projection},
                   {"topic", storage::topic_name(r.t)},
                   {"partition", r.partition.get()},
                   {"offset", r.offset.get()},
                   {"key", valid_utf8(r.key) ? r.key : std::string()},
                   {"reason", reason}};
  if (valid_utf8(r.value)) {
    j["value"] = r.value;
  } else {
    static const char* hex = "0123456789abcdef";
    std::string h;
    for (unsigned char c : r.value) {
      h += hex[c >> 4];
      h += hex[c & 15];
    }
    j["value_hex"] = h;
  }
  return j.dump();
}

}  // namespace

struct runner::impl {
  std::unique_ptr<projection> proj;
  storage::event_log* log = nullptr;
  runner_options opts;
  std::unique_ptr<pqxx::connection> db;
  std::unique_ptr<storage::group_consumer> consumer;
  // Per assigned (topic, partition): the next offset, as PostgreSQL holds it.
  std::map<topic_partition, std::int64_t> next;
  // Assigned but not yet positioned from PostgreSQL (it was unreachable).
  std::set<topic_partition> unsynced;
  runner_stats stats;
  // Set once the log no longer holds records this projection still needs
  // (its offset is below a partition's earliest offset): it stops for good.
  std::optional<error> halted;

  status connect() {
    if (db && db->is_open()) return ok_status();
    try {
      db = std::make_unique<pqxx::connection>(with_timeout(opts.database_url));
      return ok_status();
    } catch (const std::exception& e) {
      db.reset();
      return error{errc::unavailable, std::string("database: ") + e.what()};
    }
  }

  // Reads the offsets of `parts` from PostgreSQL (creating rows at 0 for
  // partitions never read) and positions the consumer there.
  status sync(const std::vector<topic_partition>& parts) {
    if (parts.empty()) return ok_status();
    if (auto st = connect(); !st) {
      for (auto& tp : parts) unsynced.insert(tp);
      return st;
    }
    std::vector<storage::partition_offset> seeks;
    try {
      pqxx::work w(*db);
      std::string values;
      for (auto& tp : parts) {
        if (!values.empty()) values += ", ";
        values += "(" + lit(proj->name()) + ", " + lit(storage::topic_name(tp.t)) + ", " +
                  std::to_string(tp.partition.get()) + ", 0)";
      }
      w.exec("INSERT INTO projection_offsets (projection, topic, log_partition, next_offset) VALUES " +
             values + " ON CONFLICT DO NOTHING");
      auto rows = w.exec("SELECT topic, log_partition, next_offset FROM projection_offsets WHERE projection = " +
                         lit(proj->name()));
      w.commit();
      std::map<topic_partition, std::int64_t> stored;
      for (const auto& row : rows) {
        auto t = topic_of_name(row[0].as<std::string>());
        if (!t) continue;
        stored[{*t, partition_id{row[1].as<int>()}}] = row[2].as<std::int64_t>();
      }
      // A truncated events topic is never projected: the records between
      // this projection's offset and the partition's earliest are gone.
      for (auto& tp : parts) {
        if (tp.t != storage::topic::events) continue;
        const std::int64_t at = stored.count(tp) ? stored[tp] : 0;
        auto st = storage::check_not_truncated(*log, tp.t, tp.partition, log_offset{at},
                                               std::string("projection ") + proj->name());
        if (!st) {
          if (st.err().code == errc::storage) halted = st.err();
          for (auto& x : parts) unsynced.insert(x);
          return st;
        }
      }
      for (auto& tp : parts) {
        const std::int64_t at = stored.count(tp) ? stored[tp] : 0;
        next[tp] = at;
        unsynced.erase(tp);
        // As PostgreSQL holds it now (a rebuild may have moved it back).
        offsets_reached::of(opts.database_url).set(proj->name(), tp.t, tp.partition, at);
        seeks.push_back({tp.t, tp.partition, log_offset{at}});
      }
    } catch (const pqxx::broken_connection& e) {
      db.reset();
      for (auto& tp : parts) unsynced.insert(tp);
      return error{errc::unavailable, std::string("database: ") + e.what()};
    } catch (const std::exception& e) {
      for (auto& tp : parts) unsynced.insert(tp);
      return error{errc::storage, std::string("database: ") + e.what()};
    }
    return consumer->seek(seeks);
  }

  void on_assigned(const storage::partition_list& parts) {
    for (auto& tp : parts) {
      next.erase(tp);
      unsynced.insert(tp);
    }
    (void)sync(parts);
  }

  void on_revoked(const storage::partition_list& parts) {
    for (auto& tp : parts) {
      next.erase(tp);
      unsynced.erase(tp);
    }
  }

  // Moves the offsets of the batch from what we read to where it ends, in
  // transaction `w`; false when another writer moved them first.
  bool move_offsets(pqxx::work& w, const std::map<topic_partition, std::int64_t>& ends) {
    std::string values;
    for (auto& [tp, end] : ends) {
      if (!values.empty()) values += ", ";
      values += "(" + lit(storage::topic_name(tp.t)) + ", " + std::to_string(tp.partition.get()) + ", " +
                std::to_string(next.at(tp)) + "::bigint, " + std::to_string(end) + "::bigint)";
    }
    auto r = w.exec("UPDATE projection_offsets AS o SET next_offset = v.n FROM (VALUES " + values +
                    ") AS v(t, p, e, n) WHERE o.projection = " + lit(proj->name()) +
                    " AND o.topic = v.t AND o.log_partition = v.p AND o.next_offset = v.e");
    return r.affected_rows() == ends.size();
  }

  status dead_letter(const storage::consumed_record& r, const std::string& reason) {
    storage::record d;
    d.t = topic::deadletter;
    d.key = r.key;
    d.value = dead_letter_value(proj->name(), r, reason);
    d.headers = {{"content-type", "application/json"},
                 {"keepwatch_projection", proj->name()},
                 {"keepwatch_source", std::string(storage::topic_name(r.t)) + "/" +
                                          std::to_string(r.partition.get()) + "/" +
                                          std::to_string(r.offset.get())}};
    auto ack = log->append_sync(r.partition, {std::move(d)});
    if (!ack) return ack.err();
    ++stats.dead_letters;
    return ok_status();
  }

  enum class outcome { applied, fenced, rejected };

  // Applies `recs` (decoded as `events`; nullptr for a record that was
  // dead-lettered, whose offset only moves) with the offsets in one
  // transaction. `rejected`: PostgreSQL refused the SQL (its message in
  // `why`); nothing was written.
  outcome apply(const std::vector<const storage::consumed_record*>& recs,
                const std::vector<const event*>& events, std::string& why) {
    std::vector<projected_event> batch;
    std::map<topic_partition, std::int64_t> ends;
    for (std::size_t i = 0; i < recs.size(); ++i) {
      auto& r = *recs[i];
      ends[{r.t, r.partition}] = r.offset.get() + 1;
      if (events[i] != nullptr) batch.push_back({r.t, r.partition, r.offset, events[i]});
    }
    sql_batch stmts;
    if (!batch.empty()) proj->apply(batch, stmts);
    std::string sql;
    for (auto& s : stmts) {
      sql += render(s);
      sql += ";\n";
    }
    try {
      pqxx::work w(*db);
      if (!sql.empty()) w.exec(sql);
      if (!move_offsets(w, ends)) {
        w.abort();
        return outcome::fenced;
      }
      w.commit();
    } catch (const pqxx::sql_error& e) {
      why = e.what();
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      return outcome::rejected;
    }
    auto& board = offsets_reached::of(opts.database_url);
    for (auto& [tp, end] : ends) {
      next[tp] = end;
      board.set(proj->name(), tp.t, tp.partition, end);  // committed: readers waiting for it may go
    }
    return outcome::applied;
  }

  // Forgets where the consumer is: the next step reads every assigned
  // partition again from the offsets PostgreSQL holds. After any failure
  // between a poll and its commit, since the consumer has moved past records
  // that were not applied.
  void lose_position() {
    for (auto& [tp, at] : next) unsynced.insert(tp);
    next.clear();
  }

  result<std::size_t> step() {
    if (halted) {
      if (consumer) consumer->close();  // leaves its group: it reads nothing more
      return *halted;
    }
    if (auto st = connect(); !st) return st.err();
    if (!unsynced.empty()) {
      if (auto st = sync({unsynced.begin(), unsynced.end()}); !st) return st.err();
    }
    auto polled = consumer->poll(opts.max_batch, opts.poll_timeout);
    if (!polled) {
      lose_position();
      return polled.err();
    }
    // Only records of positioned partitions, from where PostgreSQL says.
    std::vector<const storage::consumed_record*> recs;
    for (auto& r : *polled) {
      auto it = next.find({r.t, r.partition});
      if (it == next.end() || unsynced.count({r.t, r.partition}) || r.offset.get() < it->second) continue;
      recs.push_back(&r);
    }
    if (recs.empty()) return std::size_t(0);
    auto applied = apply_polled(recs);
    if (!applied) {
      lose_position();
      return applied.err();
    }
    ++stats.batches;
    stats.records += std::int64_t(*applied);
    // The group's own offsets follow, for tools that watch consumer lag;
    // PostgreSQL's are the ones that count.
    std::vector<storage::partition_offset> commits;
    for (auto& [tp, at] : next) commits.push_back({tp.t, tp.partition, log_offset{at}});
    (void)consumer->commit(commits);
    return *applied;
  }

  // Decodes, dead-letters and applies one poll's records; how many it
  // consumed. On an error or a fence the caller re-reads the positions.
  result<std::size_t> apply_polled(const std::vector<const storage::consumed_record*>& recs) {
    try {
      std::vector<event> decoded(recs.size());
      std::vector<const event*> events(recs.size(), nullptr);
      std::vector<std::string> refused(recs.size());
      for (std::size_t i = 0; i < recs.size(); ++i) {
        auto d = decode(recs[i]->value);
        if (d) {
          decoded[i] = std::move(*d);
          events[i] = &decoded[i];
        } else {
          refused[i] = d.err().message;
        }
      }
      for (std::size_t i = 0; i < recs.size(); ++i)
        if (!refused[i].empty())
          if (auto st = dead_letter(*recs[i], "undecodable: " + refused[i]); !st) return st.err();
      std::string why;
      switch (apply(recs, events, why)) {
        case outcome::applied:
          return recs.size();
        case outcome::fenced:
          ++stats.fenced;
          return error{errc::conflict, "the offsets moved under this runner (a rebuild or another runner)"};
        case outcome::rejected:
          break;
      }
      // One record at a time, to find the one PostgreSQL refuses.
      for (std::size_t i = 0; i < recs.size(); ++i) {
        std::vector<const storage::consumed_record*> one{recs[i]};
        std::vector<const event*> ev{events[i]};
        std::string one_why;
        auto o = apply(one, ev, one_why);
        if (o == outcome::rejected) {
          if (auto st = dead_letter(*recs[i], "refused by the read model: " + one_why); !st) return st.err();
          std::vector<const event*> none{nullptr};
          o = apply(one, none, one_why);
        }
        if (o != outcome::applied) {
          if (o == outcome::fenced) ++stats.fenced;
          return error{errc::conflict, "record " + std::to_string(recs[i]->offset.get()) + ": " +
                                           (o == outcome::fenced ? "the offsets moved under this runner"
                                                                 : "refused: " + one_why)};
        }
      }
      return recs.size();
    } catch (const pqxx::broken_connection& e) {
      db.reset();
      return error{errc::unavailable, std::string("database: ") + e.what()};
    } catch (const std::exception& e) {
      // E.g. a commit whose outcome is unknown: PostgreSQL's offsets say.
      db.reset();
      return error{errc::unavailable, std::string("database: ") + e.what()};
    }
  }

  // True when (t, p) has nothing past what this member has read.
  bool at_end(const topic_partition& tp) {
    auto it = next.find(tp);
    if (it == next.end()) return false;
    auto more = log->read(tp.t, tp.partition, log_offset{it->second}, 1);
    return more && more->empty();
  }
};

runner::runner(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
runner::~runner() { close(); }

result<std::unique_ptr<runner>> runner::open(std::unique_ptr<projection> p, storage::event_log& log,
                                             runner_options o) {
  auto im = std::make_unique<impl>();
  im->proj = std::move(p);
  im->log = &log;
  im->opts = std::move(o);
  if (auto st = im->connect(); !st) return st.err();
  auto* raw = im.get();
  storage::group_callbacks cb;
  cb.on_assigned = [raw](const storage::partition_list& ps) { raw->on_assigned(ps); };
  cb.on_revoked = [raw](const storage::partition_list& ps) { raw->on_revoked(ps); };
  auto c = storage::open_group_consumer(log, std::string("projection.") + raw->proj->name(),
                                        raw->proj->topics(), std::move(cb), raw->opts.kafka);
  if (!c) return c.err();
  im->consumer = std::move(*c);
  return std::unique_ptr<runner>(new runner(std::move(im)));
}

const projection& runner::view() const { return *impl_->proj; }

std::optional<error> runner::halted() const { return impl_->halted; }

result<std::size_t> runner::step() { return impl_->step(); }

result<std::int64_t> runner::catch_up(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // The ends to reach: where each partition of the projection's topics ends now.
  std::map<topic_partition, std::int64_t> ends;
  for (topic t : impl_->proj->topics())
    for (int p = 0; p < impl_->log->partitions(); ++p) {
      auto e = impl_->log->end_offset(t, partition_id{p});
      if (!e) return e.err();
      ends[{t, partition_id{p}}] = e->get();
    }
  std::int64_t total = 0;
  for (;;) {
    auto n = step();
    if (n) total += std::int64_t(*n);
    const auto assigned = impl_->consumer->assignment();
    bool done = !assigned.empty() && impl_->unsynced.empty();
    for (auto& tp : assigned) {
      auto it = impl_->next.find(tp);
      if (it == impl_->next.end() || (it->second < ends[tp] && !impl_->at_end(tp))) {
        done = false;
        break;
      }
    }
    if (done && n && *n == 0) return total;
    if (std::chrono::steady_clock::now() > deadline)
      return error{errc::unavailable, std::string("projection ") + impl_->proj->name() +
                                          " did not catch up in time" +
                                          (n ? std::string() : ": " + n.err().message)};
  }
}

status runner::tick(timestamp now) {
  if (auto st = impl_->connect(); !st) return st;
  std::vector<partition_id> caught_up;
  for (auto& tp : impl_->consumer->assignment())
    if (tp.t == topic::events && impl_->unsynced.count(tp) == 0 && impl_->at_end(tp))
      caught_up.push_back(tp.partition);
  sql_batch stmts;
  impl_->proj->tick(now, caught_up, stmts);
  if (stmts.empty()) return ok_status();
  try {
    pqxx::work w(*impl_->db);
    for (auto& s : stmts) w.exec(render(s));
    w.commit();
    return ok_status();
  } catch (const pqxx::broken_connection& e) {
    impl_->db.reset();
    return error{errc::unavailable, std::string("database: ") + e.what()};
  } catch (const std::exception& e) {
    return error{errc::storage, std::string(impl_->proj->name()) + " tick: " + e.what()};
  }
}

const runner_stats& runner::stats() const { return impl_->stats; }

void runner::close() {
  if (impl_ && impl_->consumer) impl_->consumer->close();
}

status sync_plans(const std::string& database_url, const plan_catalog& plans) {
  try {
    pqxx::connection c(with_timeout(database_url));
    pqxx::work w(c);
    for (auto& [name, p] : plans.plans) {
      sql_statement s{
          "INSERT INTO plans (name, max_monitors, min_interval_s, retention_days, max_users, "
          "max_status_pages, api_rate_per_min, base_price_cents, monitor_price_cents) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO UPDATE SET "
          "max_monitors = excluded.max_monitors, min_interval_s = excluded.min_interval_s, "
          "retention_days = excluded.retention_days, max_users = excluded.max_users, "
          "max_status_pages = excluded.max_status_pages, api_rate_per_min = excluded.api_rate_per_min, "
          "base_price_cents = excluded.base_price_cents, monitor_price_cents = excluded.monitor_price_cents",
          {name, std::to_string(p.max_monitors), std::to_string(p.min_interval_s),
           std::to_string(p.retention_days), std::to_string(p.max_users), std::to_string(p.max_status_pages),
           std::to_string(p.api_rate_per_min), std::to_string(p.base_price_cents),
           std::to_string(p.monitor_price_cents)}};
      w.exec(render(s));
    }
    w.commit();
    return ok_status();
  } catch (const pqxx::broken_connection& e) {
    return error{errc::unavailable, std::string("database: ") + e.what()};
  } catch (const std::exception& e) {
    return error{errc::storage, std::string("plans: ") + e.what()};
  }
}

status reset_projection(const std::string& database_url, const projection& p) {
  try {
    pqxx::connection c(with_timeout(database_url));
    pqxx::work w(c);
    std::string tables;
    for (auto& t : p.tables()) tables += (tables.empty() ? "" : ", ") + w.quote_name(t);
    w.exec("TRUNCATE " + tables);
    w.exec("DELETE FROM projection_offsets WHERE projection = " + lit(p.name()));
    w.commit();
    return ok_status();
  } catch (const pqxx::broken_connection& e) {
    return error{errc::unavailable, std::string("database: ") + e.what()};
  } catch (const std::exception& e) {
    return error{errc::storage, std::string("reset ") + p.name() + ": " + e.what()};
  }
}

result<std::vector<partition_lag>> projection_status(const std::string& database_url, storage::event_log& log) {
  std::map<std::tuple<std::string, std::string, int>, std::int64_t> stored;
  try {
    pqxx::connection c(with_timeout(database_url));
    pqxx::nontransaction w(c);
    for (const auto& row : w.exec("SELECT projection, topic, log_partition, next_offset FROM projection_offsets"))
      stored[{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>()}] = row[3].as<std::int64_t>();
  } catch (const std::exception& e) {
    return error{errc::unavailable, std::string("database: ") + e.what()};
  }
  std::vector<partition_lag> out;
  for (auto& p : all_projections())
    for (topic t : p->topics())
      for (int i = 0; i < log.partitions(); ++i) {
        partition_lag l;
        l.projection = p->name();
        l.t = t;
        l.partition = partition_id{i};
        auto end = log.end_offset(t, l.partition);
        if (!end) return end.err();
        l.end = *end;
        auto it = stored.find({l.projection, storage::topic_name(t), i});
        const std::int64_t from = it == stored.end() ? 0 : it->second;
        if (it != stored.end()) l.next = log_offset{from};
        auto more = log.read(t, l.partition, log_offset{from}, 1);
        if (!more) return more.err();
        l.lag = more->empty() ? 0 : std::max<std::int64_t>(1, end->get() - from);
        out.push_back(l);
      }
  return out;
}

}  // namespace kw::projections
