// Every librdkafka error Keepwatch meets, classified once (librdkafka's
// transactions.c): retriable, abortable or fatal. Private to storage/: it
// includes rdkafka.h, so only the Kafka adapter's .cpp files include it.
//
//  - retriable: the operation may simply be tried again (timeouts, a broker
//    away); nothing is lost, nothing is visible.
//  - abortable: the current transaction must be aborted; the producer stays
//    usable. Nothing of the transaction becomes visible to read_committed
//    readers.
//  - fatal: the producer is unusable (fenced by another instance with the
//    same transactional.id, an idempotence invariant broken). The log stops
//    taking writes rather than risk losing or duplicating anything.
#pragma once

#include <librdkafka/rdkafka.h>

#include <string>

#include "events/result.hpp"

namespace kw::storage {

enum class kafka_error_class { retriable, abortable, fatal };

const char* to_string(kafka_error_class c) noexcept;

// A transactional API error (init/begin/commit/abort_transaction).
kafka_error_class classify(const rd_kafka_error_t* e) noexcept;

// A plain error code (a delivery report, produce, metadata, admin result).
// `producer` (may be null) is asked whether it has raised a fatal error.
kafka_error_class classify(rd_kafka_resp_err_t err, rd_kafka_t* producer) noexcept;

// The Keepwatch error for a classified Kafka error: fatal and retriable ones
// are errc::unavailable (the cluster, or this node's producer, is not
// usable now); abortable ones errc::storage (the write was refused).
error to_error(kafka_error_class c, const std::string& what, const std::string& detail);

}  // namespace kw::storage
