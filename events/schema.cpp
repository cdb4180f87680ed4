// Generates the JSON Schema of each event type from the codec's field lists
// (see schema.hpp). Every object is closed (additionalProperties: false) and
// every field required, exactly as decode() enforces.
#include "events/schema.hpp"

#include <limits>

#include "events/codec.hpp"
#include "events/json_io.hpp"

namespace kw {

namespace {

using json = nlohmann::json;

json schema_of(type_tag<std::string>) { return {{"type", "string"}}; }
json schema_of(type_tag<bool>) { return {{"type", "boolean"}}; }
json schema_of(type_tag<int>) {
  return {{"type", "integer"},
          {"minimum", std::numeric_limits<int>::min()},
          {"maximum", std::numeric_limits<int>::max()}};
}
json schema_of(type_tag<std::int64_t>) { return {{"type", "integer"}}; }
json schema_of(type_tag<timestamp>) {
  return {{"type", "string"},
          {"format", "date-time"},
          {"pattern", "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"}};
}
json schema_of(type_tag<monitor_kind>) {
  return {{"type", "string"}, {"enum", {"http", "keyword", "tcp", "push"}}};
}
json schema_of(type_tag<monitor_status>) {
  return {{"type", "string"}, {"enum", {"pending", "up", "down", "maintenance"}}};
}
template <class T>
json schema_of(type_tag<std::vector<T>>);
template <class T>
json schema_of(type_tag<std::optional<T>>);
template <class T, class = decltype(fields_of(type_tag<T>{}))>
json schema_of(type_tag<T>);

template <class T>
json schema_of(type_tag<std::vector<T>>) {
  return {{"type", "array"}, {"items", schema_of(type_tag<T>{})}};
}
template <class T>
json schema_of(type_tag<std::optional<T>>) {
  return {{"anyOf", {schema_of(type_tag<T>{}), {{"type", "null"}}}}};
}
template <class T, class>
json schema_of(type_tag<T>) {
  json props = json::object();
  json required = json::array();
  for_each_field<T>([&](const auto& f) {
    using M = std::decay_t<decltype(std::declval<T&>().*(f.member))>;
    props[f.name] = schema_of(type_tag<M>{});
    required.push_back(f.name);
  });
  return {{"type", "object"},
          {"properties", props},
          {"required", required},
          {"additionalProperties", false}};
}

template <std::size_t I>
json data_schema() {
  return schema_of(type_tag<std::variant_alternative_t<I, event_data>>{});
}

template <std::size_t... I>
json data_schema_at(std::size_t index, std::index_sequence<I...>) {
  json out;
  ((index == I ? (out = data_schema<I>(), 0) : 0), ...);
  return out;
}

}  // namespace

std::string event_schema(std::size_t index) {
  constexpr std::size_t n = std::variant_size_v<event_data>;
  if (index >= n) return {};
  const auto seq = std::make_index_sequence<n>{};
  const std::string type = type_at(index);
  const bool chained = type != check_completed::type;

  json props = {
      {"specversion", {{"const", "1.0"}}},
      {"id", {{"type", "string"}, {"description", "UUID v7"}}},
      {"source", {{"type", "string"}, {"description", "keepwatch/<node>"}}},
      {"type", {{"const", type}}},
      {"subject", {{"type", "string"}}},
      {"time", schema_of(type_tag<timestamp>{})},
      {"tenantid", {{"type", "string"}}},
      {"aggregate", {{"type", "string"}, {"description", "tenant/<id> or monitor/<id>"}}},
      {"seq", schema_of(type_tag<std::int64_t>{})},
      {"actor", schema_of(type_tag<actor_ref>{})},
      {"correlationid", {{"type", "string"}}},
      {"causationid", {{"type", "string"}}},
      {"data", data_schema_at(index, seq)},
  };
  if (chained) {
    props["prevhash"] = {{"type", "string"}, {"description", "hex SHA-256; \"\" first"}};
    props["hash"] = {{"type", "string"}, {"description", "hex SHA-256"}};
  }
  json required = json::array();
  for (auto it = props.begin(); it != props.end(); ++it) required.push_back(it.key());
  const json schema = {
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"title", type},
      {"description", chained ? "Keepwatch domain event (CloudEvents 1.0, hash-chained)"
                              : "Keepwatch check result (CloudEvents 1.0, not chained)"},
      {"type", "object"},
      {"properties", props},
      {"required", required},
      {"additionalProperties", false},
  };
  return schema.dump(2) + "\n";
}

}  // namespace kw
