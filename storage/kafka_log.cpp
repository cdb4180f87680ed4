// KafkaLog implementation: see kafka_log.hpp for the guarantees.
//
// Clients (librdkafka handles), each with one job:
//  - `admin`: metadata, topic creation, consumer-group offsets (admin API).
//  - `reader`: a read_committed consumer that never joins its group; each
//    read assigns one partition at an offset, consumes to a known end, and
//    unassigns. One read at a time (`read_mu`).
//  - `writers` (kafka_options::producers of them): writer w owns the
//    partitions p with p mod producers == w, and has a transactional producer
//    (transactional.id <prefix>keepwatch-<node>-p<N>[_<M>...]), a queue and a
//    thread. A group commit is one transaction over the appends queued for
//    its partitions — their records across the topics and the chain heads
//    they move — so writers commit in parallel. The producer is re-created
//    after every failed group, so each group starts from a clean producer
//    epoch, and after the cluster was unreachable work simply resumes.
//
// Invariants:
//  - Only a partition's writer thread seals, produces, and moves that
//    partition's chain heads; it publishes heads (under its `heads_mu`) and
//    `acked_end` only after a commit. A failed group's overlays are dropped:
//    that is the rollback.
//  - Delivery reports are served by rd_kafka_poll on the writer's thread;
//    each message's opaque is a sequence number, so a late report of an
//    earlier group can never be taken for one of the current group.
//  - `acked_end[slot]` is one past the highest acknowledged offset: reads and
//    end_offset wait (bounded) until the cluster's stable offset reaches it,
//    which gives read-your-writes although transaction markers are written
//    after the commit returns.
//  - A fatal error on any writer's producer stops every writer (`fatal`):
//    the node stops taking writes as a whole.
#include "storage/kafka_log.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "storage/kafka_errors.hpp"
#include "storage/kafka_handles.hpp"

namespace kw::storage {

namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

constexpr const char* chain_topic_base = "keepwatch.chains.v1";
// Bounds one transaction, so that a flood of appends cannot build an
// unbounded one.
constexpr std::size_t max_group_appends = 1024;

struct pending {
  partition_id p;
  std::vector<record> records;
  append_callback done;
};

// Destroys what librdkafka handed out, on every path.
struct event_guard {
  rd_kafka_event_t* e;
  ~event_guard() {
    if (e) rd_kafka_event_destroy(e);
  }
};
struct queue_guard {
  rd_kafka_queue_t* q;
  ~queue_guard() {
    if (q) rd_kafka_queue_destroy(q);
  }
};

using delivery_cb = void (*)(rd_kafka_t*, const rd_kafka_message_t*, void*);

// A handle with Keepwatch's defaults, then the user's properties (which may
// override them), then Keepwatch's own settings (which win).
result<rd_kafka_t*> make_handle(rd_kafka_type_t type, const kafka_options& o,
                                const std::vector<std::pair<std::string, std::string>>& ours,
                                delivery_cb on_delivery = nullptr, void* opaque = nullptr) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v, bool user) -> status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
      return error{errc::invalid, std::string(user ? "kafka.properties." : "kafka: setting ") + k +
                                      ": " + errstr};
    return ok_status();
  };
  // Nagle's algorithm holds the tail of a request that spans several
  // topic-partitions (a group's events, checks and chain heads) until the
  // broker's delayed ACK: ~40 ms per transaction. Every request here is
  // latency-bound; librdkafka < 2.2 leaves Nagle on.
  if (auto s = set("socket.nagle.disable", "true", false); !s) {
    rd_kafka_conf_destroy(conf);
    return s.err();
  }
  for (const auto& [k, v] : o.properties)
    if (auto s = set(k, v, true); !s) {
      rd_kafka_conf_destroy(conf);
      return s.err();
    }
  if (auto s = set("bootstrap.servers", o.bootstrap_servers, false); !s) {
    rd_kafka_conf_destroy(conf);
    return s.err();
  }
  for (const auto& [k, v] : ours)
    if (auto s = set(k, v, false); !s) {
      rd_kafka_conf_destroy(conf);
      return s.err();
    }
  if (on_delivery) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  if (opaque) rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return error{errc::invalid, std::string("kafka: creating a client: ") + errstr};
  }
  return rk;
}

// Runs one admin request and waits for its result event.
result<rd_kafka_event_t*> await_admin(rd_kafka_queue_t* q, steady::time_point deadline,
                                      const std::string& what) {
  // The admin request carries its own timeout; wait a little longer for it.
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, remaining_ms(deadline) + 1000);
  if (!ev) return error{errc::unavailable, "kafka: " + what + ": no answer in time"};
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const auto cls = classify(rd_kafka_event_error(ev), nullptr);
    error e = to_error(cls, "kafka: " + what, rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
    return e;
  }
  return ev;
}

rd_kafka_AdminOptions_t* admin_options(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                                       steady::time_point deadline, bool operation_timeout) {
  char errstr[256];
  rd_kafka_AdminOptions_t* o = rd_kafka_AdminOptions_new(rk, op);
  const int ms = std::max(1, remaining_ms(deadline));
  rd_kafka_AdminOptions_set_request_timeout(o, ms, errstr, sizeof errstr);
  if (operation_timeout) rd_kafka_AdminOptions_set_operation_timeout(o, ms, errstr, sizeof errstr);
  return o;
}

}  // namespace

std::string kafka_topic_name(const std::string& prefix, topic t) {
  return prefix + topic_name(t);
}

std::string kafka_chain_topic_name(const std::string& prefix) { return prefix + chain_topic_base; }

status kafka_check_kept_forever(const std::string& topic_name,
                                const std::map<std::string, std::string>& configs) {
  const std::string fix =
      ": its records must be kept forever. Fix: kafka-configs.sh --bootstrap-server <broker> "
      "--alter --entity-type topics --entity-name " +
      topic_name + " --add-config retention.ms=-1,retention.bytes=-1,cleanup.policy=delete";
  auto at = [&](const char* k) -> std::optional<std::string> {
    auto it = configs.find(k);
    if (it == configs.end()) return std::nullopt;
    return it->second;
  };
  const auto ms = at("retention.ms");
  if (!ms) return error{errc::invalid, "kafka: topic " + topic_name + ": the cluster did not say its retention.ms" + fix};
  if (*ms != "-1")
    return error{errc::invalid, "kafka: topic " + topic_name + " has retention.ms=" + *ms + fix};
  if (const auto bytes = at("retention.bytes"); bytes && *bytes != "-1")
    return error{errc::invalid, "kafka: topic " + topic_name + " has retention.bytes=" + *bytes + fix};
  if (const auto policy = at("cleanup.policy"); policy && *policy != "delete")
    return error{errc::invalid, "kafka: topic " + topic_name + " has cleanup.policy=" + *policy +
                                    " (compaction keeps only the last record of each tenant)" + fix};
  return ok_status();
}

std::vector<kafka_topic_spec> kafka_topic_specs(const kafka_options& o) {
  // acks=all is durable only with min.insync.replicas > 1 where there are
  // replicas to require.
  const std::string min_isr = std::to_string(std::min(2, std::max(1, o.replication_factor)));
  auto spec = [&](std::string name, std::map<std::string, std::string> configs) {
    configs["min.insync.replicas"] = min_isr;
    return kafka_topic_spec{std::move(name), o.partitions, o.replication_factor, std::move(configs)};
  };
  return {
      spec(kafka_topic_name(o.topic_prefix, topic::events), {{"retention.ms", "-1"}}),
      spec(kafka_topic_name(o.topic_prefix, topic::checks),
           {{"retention.ms", std::to_string(o.checks_retention_ms)}}),
      spec(kafka_topic_name(o.topic_prefix, topic::deadletter), {{"retention.ms", "-1"}}),
      spec(kafka_chain_topic_name(o.topic_prefix), {{"cleanup.policy", "compact"}}),
  };
}

// The producers' transaction.timeout.ms: the coordinator aborts a transaction
// still open this long after it began.
static long long transaction_timeout_ms(const kafka_options& opt) {
  return std::max<long long>(10000, 2 * opt.append_timeout.count());
}

struct kafka_log::impl {
  struct delivery {
    bool done = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::int64_t offset = -1;
  };

  using chain_key = std::pair<std::int32_t, std::string>;  // (partition, key)

  // A transactional unit: a fixed set of partitions (p mod writers == index)
  // with its producer, its queue, its thread and its chain heads. Everything
  // but the queue and the heads is touched by its thread only (and by open
  // and close, when it is not running).
  struct writer {
    std::vector<std::int32_t> partitions;
    std::string txn_id;
    rd_kafka_t* producer = nullptr;
    bool reload_heads = true;

    // Committed heads of its partitions. Written by the writer thread under
    // the lock; read by it without, by others with it.
    mutable std::mutex heads_mu;
    std::map<chain_key, std::string> heads;

    std::mutex mu;
    std::condition_variable cv;
    std::deque<pending> queue;
    bool stopping = false;
    std::thread thread;

    // Delivery reports of the group in flight.
    std::vector<delivery> deliveries;
    std::size_t reported = 0;
    std::uint64_t delivery_base = 0;
    std::uint64_t next_message = 1;
  };

  kafka_options opt;
  std::shared_ptr<chain_sealer> sealer;
  std::string names[3];  // by topic - 1
  std::string chains_name;

  rd_kafka_t* admin = nullptr;
  bool dev = false;  // the cluster is the dev broker (librdkafka's mock cluster)
  rd_kafka_t* reader = nullptr;
  std::mutex read_mu;  // one read (assign, consume, unassign) at a time

  std::vector<std::unique_ptr<writer>> writers;  // partition p: writers[p % size]

  std::unique_ptr<std::atomic<std::int64_t>[]> acked_end;  // per (topic, partition)

  std::atomic<bool> fatal{false};
  std::atomic<bool> closed{false};
  std::mutex fatal_mu;
  std::string fatal_reason;

  ~impl() { shutdown(); }

  void shutdown() {
    // Every writer answers what it has queued, in parallel.
    for (auto& w : writers) {
      {
        std::lock_guard<std::mutex> lk(w->mu);
        w->stopping = true;
      }
      w->cv.notify_all();
    }
    for (auto& w : writers)
      if (w->thread.joinable()) w->thread.join();
    closed.store(true);
    for (auto& w : writers) drop_producer(*w);
    if (reader) {
      rd_kafka_consumer_close(reader);
      rd_kafka_destroy(reader);
      reader = nullptr;
    }
    if (admin) {
      rd_kafka_destroy(admin);
      admin = nullptr;
    }
  }

  std::size_t slot(topic t, partition_id p) const noexcept {
    return (static_cast<std::size_t>(t) - 1) * static_cast<std::size_t>(opt.partitions) +
           static_cast<std::size_t>(p.get());
  }
  const std::string& name(topic t) const { return names[static_cast<int>(t) - 1]; }

  status check(topic t, partition_id p) const {
    if (closed.load()) return error{errc::unavailable, "kafka log is closed"};
    if (!valid_topic(t))
      return error{errc::invalid, "unknown topic " + std::to_string(static_cast<int>(t))};
    if (p.get() < 0 || p.get() >= opt.partitions)
      return error{errc::invalid, "partition " + std::to_string(p.get()) + " out of range [0, " +
                                      std::to_string(opt.partitions) + ")"};
    return ok_status();
  }

  std::string where() const { return "kafka at " + opt.bootstrap_servers; }

  // ---- open: topics -------------------------------------------------------

  result<std::unique_ptr<metadata_guard>> fetch_metadata(steady::time_point deadline) {
    auto md = std::make_unique<metadata_guard>();
    // all_topics = 1: a request for named topics could auto-create them.
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(admin, 1, nullptr, &md->md, std::max(1, remaining_ms(deadline)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return error{errc::unavailable, where() + ": no broker answered within " +
                                          std::to_string(opt.timeout.count()) +
                                          " ms: " + rd_kafka_err2str(err)};
    return md;
  }

  static const rd_kafka_metadata_topic_t* find_topic(const rd_kafka_metadata_t* md,
                                                     const std::string& n) {
    for (int i = 0; i < md->topic_cnt; ++i)
      if (n == md->topics[i].topic &&
          md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return &md->topics[i];
    return nullptr;
  }

  static status check_topic(const rd_kafka_metadata_topic_t& t, const kafka_topic_spec& s) {
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return error{errc::unavailable, "kafka: topic " + s.name + ": " + rd_kafka_err2str(t.err)};
    if (t.partition_cnt != s.partitions)
      return error{errc::invalid, "kafka: topic " + s.name + " has " +
                                      std::to_string(t.partition_cnt) + " partitions, config says " +
                                      std::to_string(s.partitions)};
    if (t.partition_cnt > 0 && t.partitions[0].replica_cnt != s.replication_factor)
      return error{errc::invalid, "kafka: topic " + s.name + " has replication factor " +
                                      std::to_string(t.partitions[0].replica_cnt) +
                                      ", config says " + std::to_string(s.replication_factor)};
    return ok_status();
  }

  status create_with_admin_api(const std::vector<kafka_topic_spec>& specs,
                               steady::time_point deadline) {
    char errstr[512];
    std::vector<rd_kafka_NewTopic_t*> topics;
    for (const auto& s : specs) {
      rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(s.name.c_str(), s.partitions,
                                                      s.replication_factor, errstr, sizeof errstr);
      if (!nt) {
        rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
        return error{errc::invalid, "kafka: topic " + s.name + ": " + errstr};
      }
      for (const auto& [k, v] : s.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
      topics.push_back(nt);
    }
    queue_guard q{rd_kafka_queue_new(admin)};
    rd_kafka_AdminOptions_t* o =
        admin_options(admin, RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline, true);
    rd_kafka_CreateTopics(admin, topics.data(), topics.size(), o, q.q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
    auto ev = await_admin(q.q, deadline, "creating topics");
    if (!ev)
      return error{ev.err().code,
                   ev.err().message +
                       " (does the cluster implement CreateTopics? librdkafka's mock cluster "
                       "does not: create the topics beforehand, e.g. with keepwatch dev-broker)"};
    event_guard g{ev.value()};
    std::size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(g.e), &n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        continue;
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      return to_error(classify(err, nullptr),
                      std::string("kafka: creating topic ") + rd_kafka_topic_result_name(results[i]),
                      msg ? msg : rd_kafka_err2str(err));
    }
    return ok_status();
  }

  status ensure_topics(steady::time_point deadline) {
    const auto specs = kafka_topic_specs(opt);
    auto md = fetch_metadata(deadline);
    if (!md) return md.err();
    std::vector<kafka_topic_spec> missing;
    for (const auto& s : specs) {
      if (const auto* t = find_topic(md.value()->md, s.name)) {
        if (auto c = check_topic(*t, s); !c) return c;
      } else {
        missing.push_back(s);
      }
    }
    if (missing.empty()) return ok_status();
    if (opt.create_topic) {
      for (const auto& s : missing)
        if (auto c = opt.create_topic(s); !c && c.err().code != errc::conflict) return c;
    } else if (auto c = create_with_admin_api(missing, deadline); !c) {
      return c;
    }
    // Wait until the cluster's metadata shows every created topic.
    for (;;) {
      auto again = fetch_metadata(deadline);
      if (!again) return again.err();
      bool all = true;
      for (const auto& s : missing) {
        const auto* t = find_topic(again.value()->md, s.name);
        if (!t || t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          all = false;
          continue;
        }
        if (auto c = check_topic(*t, s); !c) return c;
      }
      if (all) return ok_status();
      if (remaining_ms(deadline) == 0)
        return error{errc::unavailable, where() + ": created topics did not appear in time"};
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  // ---- reading ------------------------------------------------------------

  // The last stable offset of (topic, partition): past every committed record.
  result<std::int64_t> query_end(const std::string& topic_name, std::int32_t p,
                                 steady::time_point deadline) {
    std::int64_t lo = 0, hi = 0;
    const auto err = rd_kafka_query_watermark_offsets(reader, topic_name.c_str(), p, &lo, &hi,
                                                      std::max(1, remaining_ms(deadline)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return to_error(classify(err, nullptr),
                      "kafka: end offset of " + topic_name + "/" + std::to_string(p),
                      rd_kafka_err2str(err));
    return hi;
  }

  // Consumes (topic, p) from `from` until `max` records or `end`; read_mu held.
  template <class F>
  status consume_locked(const std::string& topic_name, std::int32_t p, std::int64_t from,
                        std::size_t max, std::int64_t end, steady::time_point deadline,
                        F&& on_message) {
    const std::string what = "kafka: reading " + topic_name + "/" + std::to_string(p);
    {
      partitions_guard l{rd_kafka_topic_partition_list_new(1)};
      rd_kafka_topic_partition_list_add(l.l, topic_name.c_str(), p)->offset = from;
      if (auto err = rd_kafka_assign(reader, l.l); err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return error{errc::storage, what + ": " + rd_kafka_err2str(err)};
    }
    status st = ok_status();
    std::int64_t next = from;
    std::size_t n = 0;
    while (n < max && next < end) {
      const int left = remaining_ms(deadline);
      if (left == 0) {
        st = error{errc::unavailable, what + ": no answer within " +
                                          std::to_string(opt.timeout.count()) + " ms"};
        break;
      }
      message_guard m{rd_kafka_consumer_poll(reader, std::min(left, 100))};
      if (!m.m) continue;
      const bool ours = m.m->rkt && m.m->partition == p && topic_name == rd_kafka_topic_name(m.m->rkt);
      if (m.m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // Everything stable was delivered; the rest up to `end` were
        // transaction markers.
        if (ours && m.m->offset >= end) break;
        continue;
      }
      if (m.m->err) {
        if (classify(m.m->err, nullptr) == kafka_error_class::retriable) continue;
        st = error{errc::storage, what + ": " + rd_kafka_message_errstr(m.m)};
        break;
      }
      if (!ours || m.m->offset < next) continue;  // left over from an earlier read
      if (m.m->offset >= end) break;
      on_message(m.m);
      ++n;
      next = m.m->offset + 1;
    }
    rd_kafka_assign(reader, nullptr);
    return st;
  }

  static stored_record to_record(topic t, const rd_kafka_message_t* m) {
    stored_record r;
    fill_record(r, t, m);
    return r;
  }

  // The earliest offset (t, p) still holds: the low watermark.
  result<std::int64_t> query_begin(const std::string& topic_name, std::int32_t p,
                                   steady::time_point deadline) {
    std::int64_t lo = 0, hi = 0;
    const auto err = rd_kafka_query_watermark_offsets(reader, topic_name.c_str(), p, &lo, &hi,
                                                      std::max(1, remaining_ms(deadline)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return to_error(classify(err, nullptr),
                      "kafka: earliest offset of " + topic_name + "/" + std::to_string(p),
                      rd_kafka_err2str(err));
    return lo;
  }

  // librdkafka's mock cluster (keepwatch dev-broker) names itself
  // "mockCluster<hex>" in its metadata.
  void detect_dev_broker(steady::time_point deadline) {
    if (char* id = rd_kafka_clusterid(admin, std::max(1, remaining_ms(deadline)))) {
      dev = std::strncmp(id, "mockCluster", 11) == 0;
      rd_kafka_mem_free(admin, id);
    }
  }

  // The events topic must keep every record forever (DescribeConfigs). The
  // dev broker implements no DescribeConfigs: it is not asked (its own
  // limit is watched by `keepwatch dev-broker`, and recovery and the
  // projections check the partitions' earliest offsets).
  status check_events_kept_forever(steady::time_point deadline) {
    if (dev) return ok_status();
    const std::string n = name(topic::events);
    rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, n.c_str());
    queue_guard q{rd_kafka_queue_new(admin)};
    rd_kafka_AdminOptions_t* o = admin_options(admin, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline, false);
    rd_kafka_DescribeConfigs(admin, &res, 1, o, q.q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    auto ev = await_admin(q.q, deadline, "describing the configuration of topic " + n);
    if (!ev) return ev.err();
    event_guard g{ev.value()};
    std::size_t cnt = 0;
    const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(g.e), &cnt);
    std::map<std::string, std::string> configs;
    for (std::size_t i = 0; i < cnt; ++i) {
      if (const auto err = rd_kafka_ConfigResource_error(rs[i]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* msg = rd_kafka_ConfigResource_error_string(rs[i]);
        return to_error(classify(err, nullptr), "kafka: describing topic " + n,
                        msg ? msg : rd_kafka_err2str(err));
      }
      std::size_t ne = 0;
      const rd_kafka_ConfigEntry_t** es = rd_kafka_ConfigResource_configs(rs[i], &ne);
      for (std::size_t e = 0; e < ne; ++e) {
        const char* v = rd_kafka_ConfigEntry_value(es[e]);
        configs[rd_kafka_ConfigEntry_name(es[e])] = v ? v : "";
      }
    }
    return kafka_check_kept_forever(n, configs);
  }

  // The end of (t, p), waiting (bounded) until it covers every acknowledged
  // record: transaction markers land just after a commit returns.
  result<std::int64_t> stable_end(topic t, partition_id p, steady::time_point deadline) {
    const std::int64_t acked = acked_end[slot(t, p)].load(std::memory_order_acquire);
    for (;;) {
      auto end = query_end(name(t), p.get(), deadline);
      if (!end) return end;
      if (end.value() >= acked) return end;
      if (remaining_ms(deadline) == 0)
        return error{errc::unavailable, "kafka: " + name(t) + "/" + std::to_string(p.get()) +
                                            ": acknowledged records not yet stable"};
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

  writer& writer_of(partition_id p) const {
    return *writers[static_cast<std::size_t>(p.get()) % writers.size()];
  }

  // Reads the chain heads of w's partitions from the chains topic.
  status load_heads(writer& w, steady::time_point deadline) {
    std::map<chain_key, std::string> loaded;
    for (const std::int32_t p : w.partitions) {
      std::lock_guard<std::mutex> lk(read_mu);
      auto end = query_end(chains_name, p, deadline);
      if (!end) return end.err();
      if (end.value() == 0) continue;
      auto st = consume_locked(chains_name, p, 0, std::numeric_limits<std::size_t>::max(),
                               end.value(), deadline, [&](const rd_kafka_message_t* m) {
                                 std::string key, value;
                                 if (m->key) key.assign(static_cast<const char*>(m->key), m->key_len);
                                 if (m->payload)
                                   value.assign(static_cast<const char*>(m->payload), m->len);
                                 loaded[{p, std::move(key)}] = std::move(value);
                               });
      if (!st) return st;
    }
    std::lock_guard<std::mutex> hl(w.heads_mu);
    w.heads = std::move(loaded);
    return ok_status();
  }

  // ---- the producers ------------------------------------------------------

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* w = static_cast<writer*>(opaque);
    const auto seq = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
    if (seq < w->delivery_base || seq - w->delivery_base >= w->deliveries.size()) return;
    auto& d = w->deliveries[seq - w->delivery_base];
    if (!d.done) ++w->reported;
    d.done = true;
    d.err = m->err;
    d.offset = m->offset;
  }

  void set_fatal(const std::string& reason) {
    {
      std::lock_guard<std::mutex> lk(fatal_mu);
      if (fatal_reason.empty()) fatal_reason = reason;
    }
    fatal.store(true);
  }

  error fatal_error() {
    std::lock_guard<std::mutex> lk(fatal_mu);
    return error{errc::unavailable,
                 "kafka log stopped taking writes after a fatal producer error: " + fatal_reason};
  }

  static void drop_producer(writer& w) {
    if (!w.producer) return;
    rd_kafka_purge(w.producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(w.producer, 0);  // serves the purged messages' reports
    rd_kafka_destroy(w.producer);
    w.producer = nullptr;
  }

  // (Re)creates w's transactional producer. init_transactions fences any
  // earlier producer with the same transactional.id and aborts what it left
  // open.
  status start_producer(writer& w, steady::time_point deadline) {
    drop_producer(w);
    const auto txn_timeout = std::to_string(transaction_timeout_ms(opt));
    auto p = make_handle(RD_KAFKA_PRODUCER, opt,
                         {{"transactional.id", w.txn_id},
                          {"enable.idempotence", "true"},
                          {"acks", "all"},
                          // The writer batches a group itself and waits for it:
                          // lingering would only add latency.
                          {"linger.ms", "0"},
                          {"transaction.timeout.ms", txn_timeout},
                          {"message.timeout.ms", txn_timeout}},
                         &impl::on_delivery, &w);
    if (!p) return p.err();
    rd_kafka_error_t* e = rd_kafka_init_transactions(p.value(), std::max(1, remaining_ms(deadline)));
    if (e) {
      const auto cls = classify(e);
      error out = to_error(cls, where() + ": initialising the transactional producer " + w.txn_id,
                           rd_kafka_error_string(e));
      if (cls == kafka_error_class::fatal) set_fatal(out.message);
      rd_kafka_error_destroy(e);
      rd_kafka_destroy(p.value());
      return out;
    }
    w.producer = p.value();
    // Warm the producer's metadata for our topics: otherwise it learns their
    // partitions on its next periodic refresh and the first transaction
    // waits up to a second for it. A failure here only costs that second.
    {
      std::vector<rd_kafka_topic_t*> known;
      for (const std::string* n : {&names[0], &names[1], &names[2], &chains_name})
        known.push_back(rd_kafka_topic_new(w.producer, n->c_str(), nullptr));
      metadata_guard md;
      rd_kafka_metadata(w.producer, 0, nullptr, &md.md, std::max(1, remaining_ms(deadline)));
      for (auto* t : known)
        if (t) rd_kafka_topic_destroy(t);
    }
    if (w.reload_heads) {
      if (auto s = load_heads(w, deadline); !s) return s;
      w.reload_heads = false;
    }
    return ok_status();
  }

  // ---- the writers --------------------------------------------------------

  void run_writer(writer& w) {
    std::deque<pending> group;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(w.mu);
        w.cv.wait(lk, [&] { return w.stopping || !w.queue.empty(); });
        if (w.queue.empty()) return;
        while (!w.queue.empty() && group.size() < max_group_appends) {
          group.push_back(std::move(w.queue.front()));
          w.queue.pop_front();
        }
      }
      commit_group(w, group);
      group.clear();
    }
  }

  struct staged {
    const record* rec;   // the record (its value is in `value`)
    std::string value;   // as stored (sealed if chained)
  };

  // The producer call for one record; headers are handed over on success.
  static rd_kafka_resp_err_t produce(writer& w, const std::string& topic_name, std::int32_t p,
                                     const std::string& key, const std::string& value,
                                     const std::vector<header>& hs) {
    rd_kafka_headers_t* h = nullptr;
    if (!hs.empty()) {
      h = rd_kafka_headers_new(hs.size());
      for (const auto& x : hs)
        rd_kafka_header_add(h, x.name.data(), static_cast<ssize_t>(x.name.size()), x.value.data(),
                            static_cast<ssize_t>(x.value.size()));
    }
    const std::uint64_t seq = w.next_message++;
    w.deliveries.emplace_back();
    const auto err = rd_kafka_producev(
        w.producer, RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_PARTITION(p),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq))),
        RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && h) rd_kafka_headers_destroy(h);
    return err;
  }

  // One group of w's partitions = one transaction.
  void commit_group(writer& w, std::deque<pending>& group) {
    std::vector<std::optional<result<append_ack>>> outcomes(group.size());
    auto answer = [&] {
      for (std::size_t i = 0; i < group.size(); ++i) {
        try {
          group[i].done(outcomes[i] ? std::move(*outcomes[i])
                                    : result<append_ack>(error{errc::internal, "no outcome"}));
        } catch (...) {
          // A callback must not throw; the writer must outlive a faulty one.
        }
      }
    };
    auto fail_rest = [&](const error& e) {
      for (auto& o : outcomes)
        if (!o || o->ok()) o = e;
    };

    // Checks that need no cluster. (Appends to a partition out of range are
    // queued on writer 0 and fail here.)
    bool any = false;
    for (std::size_t i = 0; i < group.size(); ++i) {
      for (const auto& rec : group[i].records)
        if (auto c = check(rec.t, group[i].p); !c) {
          outcomes[i] = c.err();
          break;
        }
      if (!outcomes[i] && &writer_of(group[i].p) != &w)
        outcomes[i] = error{errc::internal, "append queued on the writer of another partition"};
      any = any || !outcomes[i];
    }
    if (!any) return answer();
    if (fatal.load()) {
      fail_rest(fatal_error());
      return answer();
    }

    const auto deadline = steady::now() + opt.append_timeout;
    if (!w.producer || w.reload_heads) {
      if (auto s = start_producer(w, deadline); !s) {
        drop_producer(w);
        fail_rest(s.err());
        return answer();
      }
    }
    rd_kafka_t* const producer = w.producer;

    // Failure after the transaction began: abort (bounded), and start the
    // next group from a fresh producer. `commit_sent`: the outcome may be a
    // commit, so the heads must be reloaded from Kafka.
    auto fail_group = [&](kafka_error_class cls, const std::string& what, const std::string& detail,
                          bool commit_sent) {
      error e = to_error(cls, where() + ": " + what, detail);
      if (commit_sent) e.message += "; outcome unknown";
      if (cls == kafka_error_class::fatal) {
        set_fatal(e.message);
      } else if (!commit_sent) {
        if (rd_kafka_error_t* a = rd_kafka_abort_transaction(
                producer, std::max(200, remaining_ms(deadline)))) {
          rd_kafka_error_destroy(a);
        }
      }
      if (commit_sent) w.reload_heads = true;
      drop_producer(w);
      fail_rest(e);
      answer();
    };

    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer)) {
      const auto cls = classify(e);
      const std::string msg = rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return fail_group(cls, "beginning a transaction", msg, false);
    }

    w.deliveries.clear();
    w.reported = 0;
    w.delivery_base = w.next_message;
    // Heads this group moves, over w.heads (which only this thread changes).
    std::map<chain_key, std::string> group_heads;
    std::vector<std::vector<std::size_t>> record_delivery(group.size());  // append -> deliveries
    std::map<chain_key, std::string> local_heads;
    std::vector<staged> batch;

    for (std::size_t i = 0; i < group.size(); ++i) {
      if (outcomes[i]) continue;
      pending& a = group[i];
      local_heads.clear();
      batch.clear();
      std::optional<error> failed;
      for (auto& rec : a.records) {
        std::string value = rec.value;
        if (rec.chained && sealer) {
          chain_key k{a.p.get(), rec.key};
          std::string prev;
          if (auto l = local_heads.find(k); l != local_heads.end()) prev = l->second;
          else if (auto g = group_heads.find(k); g != group_heads.end()) prev = g->second;
          else if (auto s = w.heads.find(k); s != w.heads.end()) prev = s->second;
          result<std::string> sealed = error{errc::internal, "sealer did not run"};
          try {
            sealed = sealer->seal(prev, value);
          } catch (const std::exception& ex) {
            sealed = error{errc::internal, std::string("chain sealer threw: ") + ex.what()};
          } catch (...) {
            sealed = error{errc::internal, "chain sealer threw"};
          }
          if (!sealed) {
            failed = sealed.err();
            break;
          }
          local_heads[std::move(k)] = std::move(sealed.value());
        }
        batch.push_back(staged{&rec, std::move(value)});
      }
      if (failed) {
        outcomes[i] = std::move(*failed);
        continue;
      }
      for (auto& [k, h] : local_heads) group_heads[k] = std::move(h);
      append_ack ack;
      ack.values.reserve(batch.size());
      for (auto& s : batch) {
        const auto err = produce(w, name(s.rec->t), a.p.get(), s.rec->key, s.value, s.rec->headers);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
          return fail_group(classify(err, producer), "producing to " + name(s.rec->t),
                            rd_kafka_err2str(err), false);
        record_delivery[i].push_back(w.deliveries.size() - 1);
        ack.values.push_back(std::move(s.value));
      }
      outcomes[i] = std::move(ack);  // offsets filled in after the commit
    }

    if (w.deliveries.empty()) {  // every append failed its checks or its seal
      if (rd_kafka_error_t* a = rd_kafka_abort_transaction(producer, std::max(200, remaining_ms(deadline))))
        rd_kafka_error_destroy(a);
      return answer();
    }

    // The heads moved, in the same transaction: heads and records never disagree.
    for (const auto& [k, h] : group_heads) {
      const auto err = produce(w, chains_name, k.first, k.second, h, {});
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return fail_group(classify(err, producer), "producing to " + chains_name,
                          rd_kafka_err2str(err), false);
    }

    // Serve delivery reports until every record has one. (Not rd_kafka_flush:
    // it sleeps in 10 ms steps between reports.)
    while (w.reported < w.deliveries.size()) {
      const int left = remaining_ms(deadline);
      if (left == 0)
        return fail_group(kafka_error_class::retriable,
                          "no delivery within " + std::to_string(opt.append_timeout.count()) + " ms",
                          "cluster unreachable or too slow", false);
      rd_kafka_poll(producer, std::min(left, 100));
    }
    for (const auto& d : w.deliveries) {
      if (d.err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return fail_group(classify(d.err, producer), "delivery", rd_kafka_err2str(d.err), false);
    }

    if (rd_kafka_error_t* e =
            rd_kafka_commit_transaction(producer, std::max(1, remaining_ms(deadline)))) {
      const auto cls = classify(e);
      const std::string msg = rd_kafka_error_string(e);
      // An abortable commit error means the commit did not happen.
      const bool maybe_committed = cls != kafka_error_class::abortable;
      rd_kafka_error_destroy(e);
      return fail_group(cls, "committing the transaction", msg, maybe_committed);
    }

    // Committed: publish heads and ends, fill in the offsets, answer.
    if (!group_heads.empty()) {
      std::lock_guard<std::mutex> lk(w.heads_mu);
      for (auto& [k, h] : group_heads) w.heads[k] = std::move(h);
    }
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (!outcomes[i] || !outcomes[i]->ok()) continue;
      auto& ack = outcomes[i]->value();
      const auto& recs = group[i].records;
      ack.offsets.reserve(record_delivery[i].size());
      for (std::size_t j = 0; j < record_delivery[i].size(); ++j) {
        const std::int64_t off = w.deliveries[record_delivery[i][j]].offset;
        ack.offsets.emplace_back(off);
        auto& end = acked_end[slot(recs[j].t, group[i].p)];
        std::int64_t cur = end.load(std::memory_order_relaxed);
        while (cur < off + 1 && !end.compare_exchange_weak(cur, off + 1)) {
        }
      }
    }
    answer();
  }
};

kafka_log::kafka_log(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

kafka_log::~kafka_log() { close(); }

void kafka_log::close() { impl_->shutdown(); }

bool kafka_log::healthy() const noexcept { return !impl_->fatal.load(); }

std::chrono::milliseconds kafka_log::settle_time() const {
  return std::chrono::milliseconds(transaction_timeout_ms(impl_->opt) + 5000);
}

int kafka_log::partitions() const noexcept { return impl_->opt.partitions; }

result<std::unique_ptr<kafka_log>> kafka_log::open(kafka_options options,
                                                   std::shared_ptr<chain_sealer> sealer) {
  if (options.bootstrap_servers.empty())
    return error{errc::invalid, "kafka: bootstrap_servers is empty"};
  if (options.partitions <= 0)
    return error{errc::invalid, "kafka: partition count must be positive, got " +
                                    std::to_string(options.partitions)};
  if (options.replication_factor <= 0)
    return error{errc::invalid, "kafka: replication factor must be positive, got " +
                                    std::to_string(options.replication_factor)};
  if (options.producers <= 0)
    return error{errc::invalid, "kafka: producer count must be positive, got " +
                                    std::to_string(options.producers)};
  if (options.timeout.count() <= 0 || options.append_timeout.count() <= 0)
    return error{errc::invalid, "kafka: timeouts must be positive"};

  auto i = std::make_unique<impl>();
  i->opt = std::move(options);
  i->sealer = std::move(sealer);
  const auto& o = i->opt;
  for (topic t : {topic::events, topic::checks, topic::deadletter})
    i->names[static_cast<int>(t) - 1] = kafka_topic_name(o.topic_prefix, t);
  i->chains_name = kafka_chain_topic_name(o.topic_prefix);
  const std::string node = o.node_name.empty() ? "node" : o.node_name;
  const auto deadline = steady::now() + o.timeout;

  auto admin = make_handle(RD_KAFKA_PRODUCER, o, {});
  if (!admin) return admin.err();
  i->admin = admin.value();
  if (auto s = i->ensure_topics(deadline); !s) return s.err();
  i->detect_dev_broker(deadline);
  if (auto s = i->check_events_kept_forever(deadline); !s) return s.err();

  auto reader = make_handle(RD_KAFKA_CONSUMER, o,
                            {{"group.id", o.topic_prefix + "keepwatch-reader-" + node},
                             {"enable.auto.commit", "false"},
                             {"enable.auto.offset.store", "false"},
                             {"isolation.level", "read_committed"},
                             {"enable.partition.eof", "true"},
                             {"auto.offset.reset", "earliest"},
                             {"fetch.wait.max.ms", "10"}});
  if (!reader) return reader.err();
  i->reader = reader.value();
  rd_kafka_poll_set_consumer(i->reader);

  const std::size_t slots = 3 * static_cast<std::size_t>(o.partitions);
  i->acked_end.reset(new std::atomic<std::int64_t>[slots]);
  for (std::size_t s = 0; s < slots; ++s) i->acked_end[s].store(0);

  // The transactional units, started in parallel (each init_transactions
  // is a few round trips to the transaction coordinator). Writer w owns the
  // partitions p with p mod n == w; its transactional.id names them.
  const int n = std::min(o.producers, o.partitions);
  for (int w = 0; w < n; ++w) {
    auto wr = std::make_unique<impl::writer>();
    std::string owned;
    for (int p = w; p < o.partitions; p += n) {
      wr->partitions.push_back(p);
      owned += (owned.empty() ? "" : "_") + std::to_string(p);
    }
    wr->txn_id = o.topic_prefix + "keepwatch-" + node + "-p" + owned;
    i->writers.push_back(std::move(wr));
  }
  {
    std::vector<status> started(i->writers.size(), ok_status());
    std::vector<std::thread> starters;
    for (std::size_t p = 0; p < i->writers.size(); ++p)
      starters.emplace_back([&, p] { started[p] = i->start_producer(*i->writers[p], deadline); });
    for (auto& t : starters) t.join();
    for (auto& s : started)
      if (!s) return s.err();  // ~impl drops what did start
  }

  for (auto& w : i->writers)
    w->thread = std::thread([p = i.get(), w = w.get()] { p->run_writer(*w); });
  return std::unique_ptr<kafka_log>(new kafka_log(std::move(i)));
}

void kafka_log::append(partition_id p, std::vector<record> records, append_callback done) {
  // Each partition has its writer; an append to a partition out of range
  // goes to writer 0, which fails it (callbacks always run on a writer).
  const bool in_range = p.get() >= 0 && p.get() < impl_->opt.partitions;
  impl::writer& w = in_range ? impl_->writer_of(p) : *impl_->writers[0];
  {
    std::lock_guard<std::mutex> lk(w.mu);
    if (!w.stopping) {
      w.queue.push_back(pending{p, std::move(records), std::move(done)});
      w.cv.notify_one();
      return;
    }
  }
  done(error{errc::unavailable, "kafka log is closed"});
}

result<std::vector<stored_record>> kafka_log::read(topic t, partition_id p, log_offset from,
                                                   std::size_t max) {
  if (auto c = impl_->check(t, p); !c) return c.err();
  if (from.get() < 0) return error{errc::invalid, "negative offset"};
  std::vector<stored_record> out;
  if (max == 0) return out;
  const auto deadline = steady::now() + impl_->opt.timeout;
  auto end = impl_->stable_end(t, p, deadline);
  if (!end) return end.err();
  if (from.get() >= end.value()) return out;
  std::lock_guard<std::mutex> lk(impl_->read_mu);
  auto st = impl_->consume_locked(impl_->name(t), p.get(), from.get(), max, end.value(), deadline,
                                  [&](const rd_kafka_message_t* m) {
                                    out.push_back(impl::to_record(t, m));
                                  });
  if (!st) return st.err();
  return out;
}

result<log_offset> kafka_log::end_offset(topic t, partition_id p) {
  if (auto c = impl_->check(t, p); !c) return c.err();
  auto end = impl_->stable_end(t, p, steady::now() + impl_->opt.timeout);
  if (!end) return end.err();
  return log_offset{end.value()};
}

result<log_offset> kafka_log::begin_offset(topic t, partition_id p) {
  if (auto c = impl_->check(t, p); !c) return c.err();
  auto begin = impl_->query_begin(impl_->name(t), p.get(), steady::now() + impl_->opt.timeout);
  if (!begin) return begin.err();
  return log_offset{begin.value()};
}

bool kafka_log::on_dev_broker() const noexcept { return impl_->dev; }

result<std::string> kafka_log::chain_head(partition_id p, const std::string& key) {
  if (auto c = impl_->check(topic::events, p); !c) return c.err();
  const auto& w = impl_->writer_of(p);
  std::lock_guard<std::mutex> lk(w.heads_mu);
  auto it = w.heads.find({p.get(), key});
  return it == w.heads.end() ? std::string() : it->second;
}

status kafka_log::commit_offset(const std::string& group, topic t, partition_id p,
                                log_offset next) {
  if (auto c = impl_->check(t, p); !c) return c.err();
  if (next.get() < 0) return error{errc::invalid, "negative offset"};
  const auto deadline = steady::now() + impl_->opt.timeout;
  const std::string what = "committing the offset of group " + group;
  partitions_guard l{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(l.l, impl_->name(t).c_str(), p.get())->offset = next.get();
  rd_kafka_AlterConsumerGroupOffsets_t* req =
      rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), l.l);
  queue_guard q{rd_kafka_queue_new(impl_->admin)};
  rd_kafka_AdminOptions_t* o =
      admin_options(impl_->admin, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, deadline, false);
  rd_kafka_AlterConsumerGroupOffsets(impl_->admin, &req, 1, o, q.q);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_AlterConsumerGroupOffsets_destroy(req);
  auto ev = await_admin(q.q, deadline, what);
  if (!ev) return ev.err();
  event_guard g{ev.value()};
  std::size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(g.e), &n);
  for (std::size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i]))
      return to_error(classify(e), "kafka: " + what, rd_kafka_error_string(e));
    const auto* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts && j < parts->cnt; ++j)
      if (parts->elems[j].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return to_error(classify(parts->elems[j].err, nullptr), "kafka: " + what,
                        rd_kafka_err2str(parts->elems[j].err));
  }
  return ok_status();
}

result<std::optional<log_offset>> kafka_log::committed_offset(const std::string& group, topic t,
                                                              partition_id p) {
  if (auto c = impl_->check(t, p); !c) return c.err();
  const auto deadline = steady::now() + impl_->opt.timeout;
  const std::string what = "reading the committed offset of group " + group;
  partitions_guard l{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(l.l, impl_->name(t).c_str(), p.get());
  rd_kafka_ListConsumerGroupOffsets_t* req =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), l.l);
  queue_guard q{rd_kafka_queue_new(impl_->admin)};
  rd_kafka_AdminOptions_t* o =
      admin_options(impl_->admin, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, deadline, false);
  rd_kafka_ListConsumerGroupOffsets(impl_->admin, &req, 1, o, q.q);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
  auto ev = await_admin(q.q, deadline, what);
  if (!ev) return ev.err();
  event_guard g{ev.value()};
  std::size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(g.e), &n);
  for (std::size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i]))
      return to_error(classify(e), "kafka: " + what, rd_kafka_error_string(e));
    const auto* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts && j < parts->cnt; ++j) {
      const auto& e = parts->elems[j];
      if (e.partition != p.get() || impl_->name(t) != e.topic) continue;
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return to_error(classify(e.err, nullptr), "kafka: " + what, rd_kafka_err2str(e.err));
      if (e.offset < 0) return std::optional<log_offset>();
      return std::optional<log_offset>(log_offset{e.offset});
    }
  }
  return std::optional<log_offset>();
}

}  // namespace kw::storage
