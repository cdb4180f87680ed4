// The one place librdkafka errors are classified: see kafka_errors.hpp.
#include "storage/kafka_errors.hpp"

namespace kw::storage {

const char* to_string(kafka_error_class c) noexcept {
  switch (c) {
    case kafka_error_class::retriable: return "retriable";
    case kafka_error_class::abortable: return "abortable";
    case kafka_error_class::fatal: return "fatal";
  }
  return "fatal";
}

kafka_error_class classify(const rd_kafka_error_t* e) noexcept {
  if (e == nullptr) return kafka_error_class::retriable;  // not called without an error
  if (rd_kafka_error_is_fatal(e)) return kafka_error_class::fatal;
  if (rd_kafka_error_txn_requires_abort(e)) return kafka_error_class::abortable;
  if (rd_kafka_error_is_retriable(e)) return kafka_error_class::retriable;
  // Neither retriable nor abortable, and not fatal either: an API misuse or
  // a state error. Abort and start over is the safe answer.
  return kafka_error_class::abortable;
}

kafka_error_class classify(rd_kafka_resp_err_t err, rd_kafka_t* producer) noexcept {
  if (err == RD_KAFKA_RESP_ERR__FATAL) return kafka_error_class::fatal;
  if (producer != nullptr && rd_kafka_fatal_error(producer, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_error_class::fatal;
  switch (err) {
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
      return kafka_error_class::fatal;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
      return kafka_error_class::retriable;
    default:
      return kafka_error_class::abortable;
  }
}

error to_error(kafka_error_class c, const std::string& what, const std::string& detail) {
  const errc code = c == kafka_error_class::abortable ? errc::storage : errc::unavailable;
  return error{code, what + ": " + detail + " (" + to_string(c) + ")"};
}

}  // namespace kw::storage
