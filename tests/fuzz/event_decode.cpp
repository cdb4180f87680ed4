// Fuzz target: the event codec's decoder (events/codec.hpp), which reads
// every record of the log and every event a consumer hands back. decode()
// promises to be strict and total: any bytes give an event or an
// errc::decode error, never a throw or a crash. Checked too: an event it
// accepts encodes canonically, and that encoding decodes to an event that
// encodes to the same bytes (both the fast path and the strict parser are
// exercised, since the fuzzer produces both plain and unusual records).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "events/codec.hpp"

namespace {
void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz: broken guarantee: %s\n", what);
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = kw::decode(in);
  if (!e) {
    require(e.err().code == kw::errc::decode, "a refusal that is not errc::decode");
    return 0;
  }
  const std::string once = kw::encode(*e);
  auto again = kw::decode(once);
  require(again.ok(), "the encoding of an accepted event is refused");
  require(kw::encode(*again) == once, "encode(decode(encode(e))) differs from encode(e)");
  return 0;
}
