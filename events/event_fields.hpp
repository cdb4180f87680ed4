// Field lists: the one place that names, for the wire, every field of every
// event payload and of monitor_config.
//
// The codec (to_json / from_json), the JSON Schemas and the tests all walk these
// lists, so a field cannot be encoded under one name and decoded under
// another. A static_assert below counts the members of each struct: adding a
// member to an event struct without listing it here fails to compile, so a
// field can never be silently dropped from the log.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "events/event.hpp"

namespace kw {

template <class T>
struct type_tag {};

// One wire field: its JSON name and the member it maps to.
template <class T, class M>
struct field_ref {
  const char* name;
  M T::*member;
};

template <class T, class M>
constexpr field_ref<T, M> fld(const char* name, M T::*member) {
  return {name, member};
}

// ---- envelope ------------------------------------------------------------

inline auto fields_of(type_tag<actor_ref>) {
  using T = actor_ref;
  return std::make_tuple(fld("kind", &T::kind), fld("id", &T::id),
                         fld("ip", &T::ip));
}

// ---- monitor_config ------------------------------------------------------

inline auto fields_of(type_tag<status_range>) {
  using T = status_range;
  return std::make_tuple(fld("low", &T::low), fld("high", &T::high));
}

inline auto fields_of(type_tag<monitor_config>) {
  using T = monitor_config;
  return std::make_tuple(
      fld("name", &T::name), fld("kind", &T::kind), fld("url", &T::url),
      fld("host", &T::host), fld("port", &T::port),
      fld("interval_s", &T::interval_s), fld("timeout_ms", &T::timeout_ms),
      fld("retries", &T::retries), fld("accepted_status", &T::accepted_status),
      fld("keyword", &T::keyword), fld("keyword_absent", &T::keyword_absent),
      fld("max_redirects", &T::max_redirects),
      fld("verify_tls", &T::verify_tls), fld("push_token_hash", &T::push_token_hash),
      fld("push_token_sealed", &T::push_token_sealed),
      fld("grace_s", &T::grace_s), fld("tags", &T::tags),
      fld("channel_ids", &T::channel_ids));
}

// ---- tenant aggregate ----------------------------------------------------

inline auto fields_of(type_tag<tenant_created>) {
  using T = tenant_created;
  return std::make_tuple(fld("name", &T::name), fld("plan", &T::plan),
                         fld("owner_user_id", &T::owner_user_id),
                         fld("owner_email", &T::owner_email));
}
inline auto fields_of(type_tag<tenant_renamed>) {
  return std::make_tuple(fld("name", &tenant_renamed::name));
}
inline auto fields_of(type_tag<tenant_plan_changed>) {
  using T = tenant_plan_changed;
  return std::make_tuple(fld("from_plan", &T::from_plan),
                         fld("to_plan", &T::to_plan));
}
inline auto fields_of(type_tag<tenant_suspended>) {
  return std::make_tuple(fld("reason", &tenant_suspended::reason));
}
inline auto fields_of(type_tag<tenant_activated>) { return std::make_tuple(); }
inline auto fields_of(type_tag<tenant_deleted>) { return std::make_tuple(); }
inline auto fields_of(type_tag<member_added>) {
  using T = member_added;
  return std::make_tuple(fld("user_id", &T::user_id), fld("email", &T::email),
                         fld("role", &T::role));
}
inline auto fields_of(type_tag<member_role_changed>) {
  using T = member_role_changed;
  return std::make_tuple(fld("user_id", &T::user_id),
                         fld("from_role", &T::from_role),
                         fld("to_role", &T::to_role));
}
inline auto fields_of(type_tag<member_removed>) {
  return std::make_tuple(fld("user_id", &member_removed::user_id));
}
inline auto fields_of(type_tag<api_key_created>) {
  using T = api_key_created;
  return std::make_tuple(fld("key_id", &T::key_id), fld("name", &T::name),
                         fld("key_hash", &T::key_hash), fld("scope", &T::scope));
}
inline auto fields_of(type_tag<api_key_revoked>) {
  return std::make_tuple(fld("key_id", &api_key_revoked::key_id));
}
inline auto fields_of(type_tag<channel_created>) {
  using T = channel_created;
  return std::make_tuple(fld("channel_id", &T::channel_id),
                         fld("name", &T::name), fld("kind", &T::kind),
                         fld("url", &T::url), fld("secret_enc", &T::secret_enc));
}
inline auto fields_of(type_tag<channel_updated>) {
  using T = channel_updated;
  return std::make_tuple(fld("channel_id", &T::channel_id),
                         fld("name", &T::name), fld("url", &T::url),
                         fld("secret_enc", &T::secret_enc));
}
inline auto fields_of(type_tag<channel_deleted>) {
  return std::make_tuple(fld("channel_id", &channel_deleted::channel_id));
}
inline auto fields_of(type_tag<status_page_created>) {
  using T = status_page_created;
  return std::make_tuple(fld("page_id", &T::page_id), fld("slug", &T::slug),
                         fld("title", &T::title),
                         fld("monitor_ids", &T::monitor_ids));
}
inline auto fields_of(type_tag<status_page_updated>) {
  using T = status_page_updated;
  return std::make_tuple(fld("page_id", &T::page_id), fld("slug", &T::slug),
                         fld("title", &T::title),
                         fld("monitor_ids", &T::monitor_ids));
}
inline auto fields_of(type_tag<status_page_deleted>) {
  return std::make_tuple(fld("page_id", &status_page_deleted::page_id));
}
inline auto fields_of(type_tag<maintenance_scheduled>) {
  using T = maintenance_scheduled;
  return std::make_tuple(fld("window_id", &T::window_id),
                         fld("title", &T::title),
                         fld("monitor_ids", &T::monitor_ids),
                         fld("starts_at", &T::starts_at),
                         fld("ends_at", &T::ends_at));
}
inline auto fields_of(type_tag<maintenance_cancelled>) {
  return std::make_tuple(fld("window_id", &maintenance_cancelled::window_id));
}
inline auto fields_of(type_tag<api_calls_recorded>) {
  using T = api_calls_recorded;
  return std::make_tuple(fld("day", &T::day), fld("calls", &T::calls));
}
inline auto fields_of(type_tag<tree_head_signed>) {
  using T = tree_head_signed;
  return std::make_tuple(fld("tree_size", &T::tree_size), fld("root", &T::root),
                         fld("signed_at", &T::signed_at), fld("key_id", &T::key_id),
                         fld("signature", &T::signature));
}

// ---- monitor aggregate ---------------------------------------------------

inline auto fields_of(type_tag<monitor_created>) {
  using T = monitor_created;
  return std::make_tuple(fld("monitor_id", &T::monitor_id),
                         fld("config", &T::config));
}
inline auto fields_of(type_tag<monitor_updated>) {
  return std::make_tuple(fld("config", &monitor_updated::config));
}
inline auto fields_of(type_tag<monitor_paused>) { return std::make_tuple(); }
inline auto fields_of(type_tag<monitor_resumed>) { return std::make_tuple(); }
inline auto fields_of(type_tag<monitor_deleted>) {
  return std::make_tuple(fld("monitor_id", &monitor_deleted::monitor_id));
}
inline auto fields_of(type_tag<monitor_status_changed>) {
  using T = monitor_status_changed;
  return std::make_tuple(fld("from", &T::from), fld("to", &T::to),
                         fld("reason", &T::reason),
                         fld("check_seq", &T::check_seq));
}
inline auto fields_of(type_tag<incident_opened>) {
  using T = incident_opened;
  return std::make_tuple(fld("incident_id", &T::incident_id),
                         fld("cause", &T::cause));
}
inline auto fields_of(type_tag<incident_closed>) {
  using T = incident_closed;
  return std::make_tuple(fld("incident_id", &T::incident_id),
                         fld("opened_at", &T::opened_at),
                         fld("duration_ms", &T::duration_ms));
}
inline auto fields_of(type_tag<notification_delivered>) {
  using T = notification_delivered;
  return std::make_tuple(fld("channel_id", &T::channel_id),
                         fld("incident_id", &T::incident_id),
                         fld("transition", &T::transition),
                         fld("attempts", &T::attempts),
                         fld("http_status", &T::http_status));
}
inline auto fields_of(type_tag<notification_failed>) {
  using T = notification_failed;
  return std::make_tuple(fld("channel_id", &T::channel_id),
                         fld("incident_id", &T::incident_id),
                         fld("transition", &T::transition),
                         fld("attempts", &T::attempts), fld("error", &T::error));
}
inline auto fields_of(type_tag<check_completed>) {
  using T = check_completed;
  return std::make_tuple(fld("monitor_id", &T::monitor_id), fld("ok", &T::ok),
                         fld("latency_us", &T::latency_us),
                         fld("http_status", &T::http_status),
                         fld("error", &T::error),
                         fld("cert_expires_at", &T::cert_expires_at));
}

// ---- enums ---------------------------------------------------------------

// The wire names of the enums, indexed by value.
inline constexpr const char* monitor_kind_names[] = {"http", "keyword", "tcp", "push"};
inline constexpr const char* monitor_status_names[] = {"pending", "up", "down",
                                                       "maintenance"};

// ---- walking the lists ---------------------------------------------------

// Calls f(field_ref) for every wire field of T, in declaration order.
template <class T, class F>
void for_each_field(F&& f) {
  std::apply([&](const auto&... fr) { (f(fr), ...); },
             fields_of(type_tag<T>{}));
}

template <class T>
constexpr std::size_t field_count() {
  return std::tuple_size_v<decltype(fields_of(type_tag<T>{}))>;
}

// Member-wise equality over the wire fields (complete: see the assert below).
template <class T>
bool fields_equal(const T& a, const T& b) {
  bool same = true;
  for_each_field<T>([&](const auto& f) {
    if (!(a.*(f.member) == b.*(f.member))) same = false;
  });
  return same;
}

// Payload equality: same alternative, same fields.
inline bool payload_equal(const event_data& a, const event_data& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        return fields_equal(x, std::get<T>(b));
      },
      a);
}

namespace detail {

// Counts the members of an aggregate: the largest N for which T{x1..xN}
// compiles with placeholders convertible to anything (unevaluated only).
struct any_init {
  template <class U>
  operator U() const;
};

template <class T, class Seq, class = void>
struct brace_ok : std::false_type {};
template <class T, std::size_t... I>
struct brace_ok<T, std::index_sequence<I...>,
                std::void_t<decltype(T{(void(I), any_init{})...})>>
    : std::true_type {};

template <class T, std::size_t N = 0>
constexpr std::size_t aggregate_size() {
  if constexpr (brace_ok<T, std::make_index_sequence<N + 1>>::value) {
    return aggregate_size<T, N + 1>();
  } else {
    return N;
  }
}

template <class T>
constexpr bool fields_complete() {
  return aggregate_size<T>() == field_count<T>();
}

template <class V>
struct all_complete;
template <class... Ts>
struct all_complete<std::variant<Ts...>> {
  static constexpr bool value = (fields_complete<Ts>() && ...);
};

}  // namespace detail

static_assert(detail::fields_complete<actor_ref>(),
              "actor_ref: a member is missing from fields_of");
static_assert(detail::fields_complete<status_range>(),
              "status_range: a member is missing from fields_of");
static_assert(detail::fields_complete<monitor_config>(),
              "monitor_config: a member is missing from fields_of");
static_assert(detail::all_complete<event_data>::value,
              "an event struct has a member missing from its fields_of list");

}  // namespace kw
