// The helpers every route group shares (api_context.hpp).
#include "gateway/api_context.hpp"

#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>

#include <pqxx/pqxx>
#include <sodium.h>

#include "actors/host/node.hpp"
#include "events/codec.hpp"
#include "events/json_limits.hpp"
#include "gateway/pg_pool.hpp"
#include "projections/offsets_reached.hpp"
#include "storage/event_log.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {

// ---- the role table (README "Who may do what")

bool may(const std::string& who, action a) noexcept {
  const bool platform = who == "platform_admin";
  if (a == action::platform) return platform;
  if (platform) return true;
  const bool owner = who == "owner", admin = who == "admin", member = who == "member";
  const bool viewer = who == "viewer", auditor = who == "auditor";
  const bool key_read = who == "key:read", key_rw = who == "key:read_write";
  switch (a) {
    case action::read: return owner || admin || member || viewer || auditor || key_read || key_rw;
    case action::read_billing: return owner || admin || auditor;
    case action::read_audit: return owner || auditor;
    case action::manage_monitors:
    case action::manage_maintenance:
    case action::manage_status_pages: return owner || admin || member || key_rw;
    case action::manage_channels:
    case action::manage_api_keys:
    case action::manage_members: return owner || admin;
    case action::manage_tenant: return owner;
    case action::platform: return false;
  }
  return false;
}

const char* to_string(action a) noexcept {
  switch (a) {
    case action::read: return "read";
    case action::read_billing: return "read_billing";
    case action::read_audit: return "read_audit";
    case action::manage_monitors: return "manage_monitors";
    case action::manage_maintenance: return "manage_maintenance";
    case action::manage_status_pages: return "manage_status_pages";
    case action::manage_channels: return "manage_channels";
    case action::manage_api_keys: return "manage_api_keys";
    case action::manage_members: return "manage_members";
    case action::manage_tenant: return "manage_tenant";
    case action::platform: return "platform";
  }
  return "?";
}

api_context::api_context(node& nd, pg_pool& p, const api_options& opts) : n(nd), pool(p), o(opts) {}

command_meta api_context::meta_for(const http_request& req, const caller& c) const {
  command_meta m;
  // With an Idempotency-Key the command's id is the key bound to the request
  // it came with (caller, method, target, body bytes): the same request sent
  // again is the same command, and the tenant replays its first answer; the
  // key reused for another request is another command — never a replay of
  // the answer to something else (a DELETE answered with a create's 201).
  if (auto key = req.header("idempotency-key"))
    m.command_id = "idem-" + sha256_of(c.kind + "\n" + c.id + "\n" + req.method + " " + req.target + "\n" +
                                       std::to_string(req.body.size()) + "\n" + req.body + "\n" + *key)
                                 .substr(0, 32);
  else
    m.command_id = new_id();
  m.actor = actor_ref{c.kind, c.id, req.remote_ip};
  m.time = now_us();
  m.correlation_id = req.request_id;
  return m;
}

std::string api_context::object_id(const std::string& prefix, const http_request& req, const caller& c) {
  if (auto key = req.header("idempotency-key"))
    return prefix + sha256_of(c.tenant + "\n" + prefix + "\n" + *key).substr(0, 16);
  return prefix + random_hex(8);
}

namespace {

// ?wait_for=<partition>:<offset> and ?wait_ms=, read strictly: nullopt with
// a detail naming the parameter when either is malformed or out of range.
struct wait_request {
  int partition = 0;
  std::int64_t offset = 0;
  long wait_ms = 2000;
};

std::optional<wait_request> wait_request_of(const http_request& req, int partitions, json& details) {
  wait_request w;
  const std::size_t before = details.size();
  if (auto it = req.query.find("wait_for"); it != req.query.end()) {
    const auto colon = it->second.find(':');
    const auto part = colon == std::string::npos ? std::nullopt : parse_int(it->second.substr(0, colon));
    const auto off = colon == std::string::npos ? std::nullopt : parse_int(it->second.substr(colon + 1));
    if (!part || !off || *off < 0) {
      details.push_back({{"field", "wait_for"},
                         {"message", "expected <partition>:<offset>, as a write answered (two integers, 0 or more)"}});
    } else if (*part < 0 || *part >= partitions) {
      details.push_back({{"field", "wait_for"},
                         {"message", "no partition " + std::to_string(*part) + ": the log has " +
                                         std::to_string(partitions) + " (0 to " + std::to_string(partitions - 1) +
                                         ")"}});
    } else {
      w.partition = static_cast<int>(*part);
      w.offset = *off;
    }
  }
  if (auto it = req.query.find("wait_ms"); it != req.query.end()) {
    const auto ms = parse_int(it->second);
    if (!ms || *ms < 0 || *ms > 10000)
      details.push_back({{"field", "wait_ms"}, {"message", "must be an integer from 0 to 10000"}});
    else
      w.wait_ms = static_cast<long>(*ms);
  }
  if (details.size() != before) return std::nullopt;
  return w;
}

}  // namespace

void api_context::check_query(const http_request& req, const std::set<std::string>& known, json& details) const {
  unknown_query(req, known, details);
  (void)wait_request_of(req, n.partitions(), details);
}

bool api_context::wait_for(const http_request& req) const {
  if (!req.query.count("wait_for")) return true;
  json ignored = json::array();
  const auto w = wait_request_of(req, n.partitions(), ignored);
  if (!w) return false;  // refused by check_query before any route gets here
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(w->wait_ms);
  // PostgreSQL says where the dashboard projection is, at most twice: now,
  // and at the deadline if the projections of this process have not
  // announced the offset meanwhile (offsets_reached.hpp; a projection in
  // another process announces nothing here).
  auto passed_in_db = [&] {
    bool passed = false;
    (void)pool.with_tenant("", [&](pqxx::transaction_base& t) {
      auto r = t.exec_params("SELECT next_offset > $1 FROM projection_offsets WHERE projection = 'dashboard' "
                             "AND topic = $3 AND log_partition = $2",
                             w->offset, w->partition, std::string(storage::topic_name(storage::topic::events)));
      passed = !r.empty() && r[0][0].as<bool>();
    });
    return passed;
  };
  if (passed_in_db()) return true;
  if (projections::offsets_reached::of(o.database_url)
          .wait_past("dashboard", storage::topic::events, partition_id{w->partition}, w->offset, deadline))
    return true;
  return passed_in_db();
}

// ---- answers

json write_reply(const command_reply& r) {
  return {{"event_ids", r.event_ids}, {"offsets", r.offsets}, {"partition", r.partition}, {"duplicate", r.duplicate}};
}

namespace {
int status_of(errc c) {
  switch (c) {
    case errc::invalid: return 422;
    case errc::not_found: return 404;
    case errc::conflict: return 409;
    case errc::quota_exceeded: return 409;
    case errc::forbidden: return 403;
    case errc::suspended: return 403;
    case errc::unavailable:
    case errc::timeout: return 503;
    default: return 500;
  }
}
}  // namespace

http_response from_error(const error& e, const http_request& req) {
  const int st = status_of(e.code);
  if (st >= 500 && e.code != errc::unavailable && e.code != errc::timeout)
    return http_response::error(500, "internal", "internal error", req.request_id);
  return http_response::error(st, std::string(to_string(e.code)), e.message, req.request_id);
}

http_response invalid(const http_request& req, const json& details) {
  return http_response::error(422, "invalid", "the request is not valid", req.request_id, details);
}

http_response not_found(const http_request& req, const std::string& what) {
  return http_response::error(404, "not_found", "no " + what, req.request_id);
}

bool if_none_match(const http_request& req, const std::string& etag) {
  const auto inm = req.header("if-none-match");
  if (!inm) return false;
  const std::string& v = *inm;
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
    if (i >= v.size()) break;
    if (v[i] == '*') return true;
    if (v.compare(i, 2, "W/") == 0) i += 2;
    if (i >= v.size() || v[i] != '"') return false;
    const auto end = v.find('"', i + 1);
    if (end == std::string::npos) return false;
    if (v.compare(i, end + 1 - i, etag) == 0) return true;
    i = end + 1;
  }
  return false;
}

http_response bad_query(const http_request& req, const json& details) {
  return http_response::error(422, "invalid", "bad query parameters", req.request_id, details);
}

http_response fresh_or_stale(const json& body, bool fresh) {
  auto res = http_response::json(200, body);
  if (!fresh) res.set_header("X-Keepwatch-Stale", "true");
  return res;
}

// ---- bodies and queries

std::optional<http_response> no_fields(const http_request& req) {
  if (req.body.empty()) return std::nullopt;
  json b;
  if (auto bad = body_object(req, b)) return bad;
  json details = json::array();
  unknown_fields(b, {}, details);
  if (!details.empty()) return invalid(req, details);
  return std::nullopt;
}

void login_rules(const std::string& email, const std::string& email_field, const std::string& password,
                 const std::string& password_field, json& details) {
  if (email.size() > 254 || email.find('@') == std::string::npos || email.front() == '@' || email.back() == '@')
    details.push_back({{"field", email_field}, {"message", "not an email address"}});
  if (password.size() < 10 || password.size() > 256)
    details.push_back({{"field", password_field}, {"message", "must be 10 to 256 characters"}});
}

std::optional<http_response> body_object(const http_request& req, json& out) {
  auto ct = req.header("content-type").value_or("");
  if (ct.rfind("application/json", 0) != 0)
    return http_response::error(415, "unsupported_media_type", "send the body as application/json",
                                req.request_id);
  if (!valid_utf8(req.body))
    return http_response::error(400, "bad_request", "the body is not valid UTF-8", req.request_id);
  // Before the parser: a body nested without end parses, and then copying
  // or destroying the tree would exhaust the stack (json_limits.hpp).
  if (!json_within_depth(req.body))
    return http_response::error(400, "bad_request",
                                "the body is nested deeper than " + std::to_string(json_max_depth) +
                                    " levels of objects and arrays",
                                req.request_id);
  out = json::parse(req.body, nullptr, false);
  if (out.is_discarded())
    return http_response::error(400, "bad_request", "the body is not valid JSON", req.request_id);
  if (!out.is_object()) return invalid(req, json::array({{{"field", ""}, {"message", "expected an object"}}}));
  return std::nullopt;
}

void string_fields(const json& body, const std::vector<std::string>& required,
                   const std::vector<std::string>& optional, json& details) {
  for (auto& [k, v] : body.items()) {
    const bool known = std::find(required.begin(), required.end(), k) != required.end() ||
                       std::find(optional.begin(), optional.end(), k) != optional.end();
    if (!known) {
      details.push_back({{"field", k}, {"message", "unknown field"}});
    } else if (!v.is_string()) {
      details.push_back({{"field", k}, {"message", "expected a string"}});
    }
  }
  for (auto& r : required)
    if (!body.contains(r)) details.push_back({{"field", r}, {"message", "required"}});
}

void unknown_fields(const json& body, const std::set<std::string>& known, json& details) {
  for (auto& [k, v] : body.items())
    if (!known.count(k)) details.push_back({{"field", k}, {"message", "unknown field"}});
}

void unknown_query(const http_request& req, const std::set<std::string>& known, json& details) {
  for (auto& [k, v] : req.query) {
    if (!valid_utf8(k)) {
      details.push_back({{"field", ""}, {"message", "a query parameter's name is not valid UTF-8"}});
    } else if (!known.count(k) && k != "wait_for" && k != "wait_ms") {
      details.push_back({{"field", k}, {"message", "unknown query parameter"}});
    } else if (!valid_utf8(v)) {
      details.push_back({{"field", k}, {"message", "must be valid UTF-8"}});
    }
  }
}

std::optional<std::int64_t> parse_int(const std::string& s) {
  std::int64_t v = 0;
  const char* b = s.data();
  const char* e = b + s.size();
  if (b == e || *b == '+') return std::nullopt;
  auto [end, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || end != e) return std::nullopt;
  return v;
}

page page_of(const http_request& req, json& details) {
  page p;
  if (auto l = req.query.find("limit"); l != req.query.end()) {
    const auto v = parse_int(l->second);
    p.limit = v && *v >= 1 && *v <= 200 ? static_cast<int>(*v) : -1;
    if (p.limit < 1 || p.limit > 200) details.push_back({{"field", "limit"}, {"message", "must be 1 to 200"}});
  }
  if (auto cur = req.query.find("cursor"); cur != req.query.end()) {
    p.after = from_cursor(cur->second);
    if (p.after.empty()) details.push_back({{"field", "cursor"}, {"message", "not a cursor of this list"}});
  }
  return p;
}

std::string to_cursor(const std::string& key) {
  std::string out(sodium_base64_encoded_len(key.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string from_cursor(const std::string& c) {
  std::string out(c.size(), '\0');
  std::size_t len = 0;
  if (c.empty() || sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), c.data(), c.size(),
                                     nullptr, &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return {};
  out.resize(len);
  return valid_utf8(out) ? out : std::string();
}

namespace {

// Days from 1970-01-01 to y-m-d (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + std::int64_t(doe) - 719468;
}

bool digits(const std::string& s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), T or t or space.
std::optional<timestamp> parse_rfc3339(const std::string& s) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  std::int64_t micros = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 6) micros = micros * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return std::nullopt;
    for (; n < 6; ++n) micros *= 10;
  }
  std::int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om) || oh > 23 ||
        om > 59)
      return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t secs = days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + se - offset_s;
  return timestamp{secs * 1000000 + micros};
}

}  // namespace

std::optional<timestamp> time_param(const http_request& req, const std::string& name, json& details) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return std::nullopt;
  const std::string& v = it->second;
  if (!v.empty() && v.size() <= 12 && v.find_first_not_of("0123456789") == std::string::npos)
    return timestamp{*parse_int(v) * 1000000};  // at most 12 digits: no overflow
  if (auto t = parse_rfc3339(v)) return t;
  details.push_back({{"field", name}, {"message", "expected an RFC 3339 time or unix seconds"}});
  return std::nullopt;
}

std::string rfc3339(timestamp t) { return format_time(t); }

std::string rfc3339_sql(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

timestamp now_us() {
  return timestamp{std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace kw::gateway
