// Read-only scans of Keepwatch's Kafka topics (see kafka_reader.hpp).
#include "storage/kafka_reader.hpp"

#include "storage/kafka_handles.hpp"
#include "storage/kafka_log.hpp"

namespace kw::storage {

struct kafka_reader::impl {
  kafka_reader_options opt;
  rd_kafka_t* consumer = nullptr;
  ~impl() {
    if (consumer) {
      rd_kafka_consumer_close(consumer);
      rd_kafka_destroy(consumer);
    }
  }
  std::string name(topic t) const { return kafka_topic_name(opt.topic_prefix, t); }
};

kafka_reader::kafka_reader(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
kafka_reader::~kafka_reader() = default;

result<std::unique_ptr<kafka_reader>> kafka_reader::open(kafka_reader_options options) {
  auto i = std::make_unique<impl>();
  i->opt = std::move(options);
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) -> status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      return error{errc::invalid, "kafka setting " + k + ": " + err};
    return ok_status();
  };
  std::map<std::string, std::string> settings = i->opt.properties;
  // Keepwatch's own settings win: read committed records, never commit.
  settings["bootstrap.servers"] = i->opt.bootstrap_servers;
  settings["group.id"] = "keepwatch-audit-reader";  // assign() only: never joins it
  settings["enable.auto.commit"] = "false";
  settings["enable.auto.offset.store"] = "false";
  settings["enable.partition.eof"] = "true";
  settings["isolation.level"] = "read_committed";
  settings["auto.offset.reset"] = "earliest";
  for (auto& [k, v] : settings)
    if (auto st = set(k, v); !st) {
      rd_kafka_conf_destroy(conf);
      return st.err();
    }
  i->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!i->consumer) {
    rd_kafka_conf_destroy(conf);
    return error{errc::unavailable, std::string("kafka: cannot create a reader: ") + err};
  }
  return std::unique_ptr<kafka_reader>(new kafka_reader(std::move(i)));
}

result<int> kafka_reader::partitions(topic t) {
  const std::string name = impl_->name(t);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(impl_->consumer, name.c_str(), nullptr);
  metadata_guard g;
  auto rc = rd_kafka_metadata(impl_->consumer, 0, rkt, &g.md, static_cast<int>(impl_->opt.timeout.count()));
  rd_kafka_topic_destroy(rkt);
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{errc::unavailable, "kafka: metadata of " + name + ": " + rd_kafka_err2str(rc)};
  for (int k = 0; k < g.md->topic_cnt; ++k)
    if (name == g.md->topics[k].topic) {
      if (g.md->topics[k].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return error{errc::not_found, "kafka: topic " + name + ": " + rd_kafka_err2str(g.md->topics[k].err)};
      return g.md->topics[k].partition_cnt;
    }
  return error{errc::not_found, "kafka: no topic " + name};
}

result<std::pair<std::int64_t, std::int64_t>> kafka_reader::watermarks(topic t, partition_id p) {
  int64_t low = 0, high = 0;
  auto rc = rd_kafka_query_watermark_offsets(impl_->consumer, impl_->name(t).c_str(), p.get(), &low, &high,
                                             static_cast<int>(impl_->opt.timeout.count()));
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{errc::unavailable, "kafka: offsets of " + impl_->name(t) + " partition " +
                                        std::to_string(p.get()) + ": " + rd_kafka_err2str(rc)};
  return std::make_pair(std::int64_t{low}, std::int64_t{high});
}

status kafka_reader::scan(topic t, partition_id p, log_offset from,
                          const std::function<bool(const stored_record&)>& fn) {
  auto marks = watermarks(t, p);
  if (!marks) return marks.err();
  if (marks->second <= std::max<std::int64_t>(from.get(), marks->first)) return ok_status();
  const std::string name = impl_->name(t);
  partitions_guard l{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(l.l, name.c_str(), p.get())->offset = std::max<std::int64_t>(from.get(), marks->first);
  if (auto rc = rd_kafka_assign(impl_->consumer, l.l); rc != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{errc::unavailable, "kafka: cannot read " + name + ": " + rd_kafka_err2str(rc)};
  struct unassign {
    rd_kafka_t* c;
    ~unassign() { rd_kafka_assign(c, nullptr); }
  } done_with{impl_->consumer};
  auto deadline = std::chrono::steady_clock::now() + impl_->opt.timeout;
  stored_record r;
  for (;;) {
    message_guard m{rd_kafka_consumer_poll(impl_->consumer, std::min(remaining_ms(deadline), 500))};
    if (!m.m) {
      if (remaining_ms(deadline) == 0)
        return error{errc::unavailable, "kafka: reading " + name + " partition " + std::to_string(p.get()) +
                                            ": no progress for " +
                                            std::to_string(impl_->opt.timeout.count()) + " ms"};
      continue;
    }
    if (m.m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return ok_status();
    if (m.m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return error{errc::unavailable, "kafka: reading " + name + ": " + rd_kafka_message_errstr(m.m)};
    deadline = std::chrono::steady_clock::now() + impl_->opt.timeout;
    r = stored_record{};
    fill_record(r, t, m.m);
    if (!fn(r)) return ok_status();
  }
}

}  // namespace kw::storage
