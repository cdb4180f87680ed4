// The dev broker over librdkafka's mock cluster: see dev_broker.hpp.
// The mock cluster needs an rd_kafka_t for its bookkeeping; a private,
// otherwise idle producer handle serves, and outlives the cluster.
#include "storage/dev_broker.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <vector>

namespace kw::storage {

struct dev_broker::impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  int brokers = 0;
  std::vector<std::pair<std::string, int>> topics;  // created: name, partitions
  rd_kafka_t* client = nullptr;  // asks the earliest offsets (dropped())

  ~impl() {
    if (client) rd_kafka_destroy(client);
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
    if (rk) rd_kafka_destroy(rk);
  }
};

namespace {

status mock_status(rd_kafka_resp_err_t err, const std::string& what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return ok_status();
  const errc code = err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? errc::conflict
                    : err == RD_KAFKA_RESP_ERR__UNKNOWN_BROKER || err == RD_KAFKA_RESP_ERR__INVALID_ARG
                        ? errc::invalid
                        : errc::internal;
  return error{code, "dev broker: " + what + ": " + rd_kafka_err2str(err)};
}

}  // namespace

dev_broker::dev_broker(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
dev_broker::~dev_broker() = default;

result<std::unique_ptr<dev_broker>> dev_broker::start(int brokers) {
  if (brokers <= 0 || brokers > 64)
    return error{errc::invalid, "dev broker: broker count must be in [1, 64], got " +
                                    std::to_string(brokers)};
  auto i = std::make_unique<impl>();
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster: keep its own logging to warnings.
  rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr);
  // The mock brokers' accepted connections take their socket options from
  // this handle. With Nagle on (librdkafka < 2.2's default) a broker holds
  // the second of two small back-to-back responses (a transaction's produce
  // responses, one per topic-partition) until the client's delayed ACK:
  // ~40 ms per transaction.
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof errstr);
  i->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!i->rk) {
    rd_kafka_conf_destroy(conf);
    return error{errc::internal, std::string("dev broker: creating the host handle: ") + errstr};
  }
  i->cluster = rd_kafka_mock_cluster_new(i->rk, brokers);
  if (!i->cluster) return error{errc::unavailable, "dev broker: could not start the mock cluster"};
  i->brokers = brokers;
  return std::unique_ptr<dev_broker>(new dev_broker(std::move(i)));
}

std::string dev_broker::bootstrap() const {
  return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

int dev_broker::brokers() const noexcept { return impl_->brokers; }

status dev_broker::create_topic(const std::string& name, int partitions, int replication_factor) {
  if (partitions <= 0 || replication_factor <= 0 || replication_factor > impl_->brokers)
    return error{errc::invalid, "dev broker: topic " + name + ": " + std::to_string(partitions) +
                                    " partitions, replication factor " +
                                    std::to_string(replication_factor) + " on " +
                                    std::to_string(impl_->brokers) + " broker(s)"};
  auto st = mock_status(
      rd_kafka_mock_topic_create(impl_->cluster, name.c_str(), partitions, replication_factor),
      "creating topic " + name);
  if (st) impl_->topics.emplace_back(name, partitions);
  return st;
}

result<std::vector<dev_broker::dropped_records>> dev_broker::dropped() {
  if (!impl_->client) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap().c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    impl_->client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!impl_->client) {
      rd_kafka_conf_destroy(conf);
      return error{errc::internal, std::string("dev broker: creating a client: ") + errstr};
    }
  }
  std::vector<dropped_records> out;
  for (const auto& [name, partitions] : impl_->topics)
    for (int p = 0; p < partitions; ++p) {
      std::int64_t lo = 0, hi = 0;
      const auto err = rd_kafka_query_watermark_offsets(impl_->client, name.c_str(), p, &lo, &hi, 5000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return mock_status(err, "earliest offset of " + name + "/" + std::to_string(p)).err();
      if (lo > 0) out.push_back({name, p, lo});
    }
  return out;
}

status dev_broker::broker_down(int id) {
  return mock_status(rd_kafka_mock_broker_set_down(impl_->cluster, id),
                     "broker " + std::to_string(id) + " down");
}

status dev_broker::broker_up(int id) {
  return mock_status(rd_kafka_mock_broker_set_up(impl_->cluster, id),
                     "broker " + std::to_string(id) + " up");
}

status dev_broker::set_leader(const std::string& topic, int partition, int broker_id) {
  return mock_status(
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition, broker_id),
      "leader of " + topic + "/" + std::to_string(partition));
}

status dev_broker::set_rtt(int broker_id, std::chrono::milliseconds rtt) {
  return mock_status(
      rd_kafka_mock_broker_set_rtt(impl_->cluster, broker_id, static_cast<int>(rtt.count())),
      "rtt of broker " + std::to_string(broker_id));
}

void dev_broker::push_request_errors(request r, std::size_t count, kafka_error e) {
  std::vector<rd_kafka_resp_err_t> errors(count, static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, static_cast<std::int16_t>(r), count,
                                          errors.data());
}

void dev_broker::clear_request_errors(request r) {
  rd_kafka_mock_clear_request_errors(impl_->cluster, static_cast<std::int16_t>(r));
}

}  // namespace kw::storage
