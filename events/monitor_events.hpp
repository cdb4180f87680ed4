// Events of the Monitor aggregate (aggregate "monitor/<monitor_id>") and the
// check result of the checks topic.
//
// monitor_created and monitor_deleted are decided by the Tenant (the authority
// for plan limits) and are events of the tenant's stream (aggregate
// "tenant/<id>", subject "monitor/<monitor_id>"): they begin and end the
// monitor. check_completed goes to keepwatch.checks.v1 with a per-monitor seq
// instead of the hash chain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "events/ids.hpp"
#include "events/monitor_config.hpp"
#include "events/tenant_events.hpp"  // KW_EVENT_TYPE

namespace kw {

enum class monitor_status { pending, up, down, maintenance };

const char* to_string(monitor_status s) noexcept;

struct monitor_created {
  KW_EVENT_TYPE("monitor.created", 2)
  std::string monitor_id;
  monitor_config config;
};

struct monitor_updated {
  KW_EVENT_TYPE("monitor.updated", 2)
  monitor_config config;
};

struct monitor_paused {
  KW_EVENT_TYPE("monitor.paused", 1)
};

struct monitor_resumed {
  KW_EVENT_TYPE("monitor.resumed", 1)
};

struct monitor_deleted {
  KW_EVENT_TYPE("monitor.deleted", 1)
  std::string monitor_id;
};

struct monitor_status_changed {
  KW_EVENT_TYPE("monitor.status_changed", 1)
  monitor_status from = monitor_status::pending;
  monitor_status to = monitor_status::pending;
  std::string reason;      // the check's error, or why the status moved
  std::int64_t check_seq = 0;  // the check that caused it (0 if none)
};

struct incident_opened {
  KW_EVENT_TYPE("monitor.incident_opened", 1)
  std::string incident_id;
  std::string cause;
};

struct incident_closed {
  KW_EVENT_TYPE("monitor.incident_closed", 1)
  std::string incident_id;
  timestamp opened_at;
  std::int64_t duration_ms = 0;
};

// One attempt series of a webhook delivery, recorded once it ended.
struct notification_delivered {
  KW_EVENT_TYPE("monitor.notification_delivered", 1)
  std::string channel_id;
  std::string incident_id;
  std::string transition;  // down | up
  int attempts = 0;
  int http_status = 0;
};

struct notification_failed {
  KW_EVENT_TYPE("monitor.notification_failed", 1)
  std::string channel_id;
  std::string incident_id;
  std::string transition;
  int attempts = 0;
  std::string error;
};

// A check result (checks topic). `ok` is the probe's verdict; the status
// machine decides what it means for the monitor.
struct check_completed {
  KW_EVENT_TYPE("check.completed", 1)
  std::string monitor_id;
  bool ok = false;
  std::int64_t latency_us = 0;
  int http_status = 0;                  // 0 when not HTTP or no response
  std::string error;                    // empty when ok
  std::optional<timestamp> cert_expires_at;  // HTTPS only
};

KW_EVENT_JSON(monitor_created)
KW_EVENT_JSON(monitor_updated)
KW_EVENT_JSON(monitor_paused)
KW_EVENT_JSON(monitor_resumed)
KW_EVENT_JSON(monitor_deleted)
KW_EVENT_JSON(monitor_status_changed)
KW_EVENT_JSON(incident_opened)
KW_EVENT_JSON(incident_closed)
KW_EVENT_JSON(notification_delivered)
KW_EVENT_JSON(notification_failed)
KW_EVENT_JSON(check_completed)

#undef KW_EVENT_TYPE_UNUSED

}  // namespace kw
