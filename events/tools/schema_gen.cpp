// kw_schema_gen <dir>: writes events/schemas/<type>.json for every event type
// from the codec's field lists (see events/schema.hpp). Run it after changing
// an event struct; schema_test fails until the files are regenerated.
#include <cstdio>
#include <fstream>
#include <string>
#include <variant>

#include "events/event.hpp"
#include "events/schema.hpp"
#include "events/codec.hpp"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : KW_SCHEMA_DIR;
  constexpr std::size_t n = std::variant_size_v<kw::event_data>;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string schema = kw::event_schema(i);
    const std::string path = dir + "/" + kw::type_at(i) + ".json";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << schema;
    if (!out) {
      std::fprintf(stderr, "kw_schema_gen: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::printf("kw_schema_gen: wrote %zu schemas to %s\n", n, dir.c_str());
  return 0;
}
