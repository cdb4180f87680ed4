// Fuzz target: the configuration loader (config/config.hpp). The input is
// the text of a TOML file, loaded as the node's configuration and as a plan
// catalogue. Loading is strict: any text gives a configuration or an error
// naming the key, never a crash or an escaping exception. The text is held
// in a memory file (memfd) so the loader reads it through its real path.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("keepwatch-fuzz.toml", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ftruncate(fd, 0) != 0 ||
      (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))) {
    std::perror("fuzz: memfd");
    std::abort();
  }
  auto c = kw::load_config(path, {{"KEEPWATCH_LOG_PARTITIONS", "4"}});
  if (!c) {
    if (c.err().code != kw::errc::invalid) std::abort();
  } else if (c->partitions != 4) {
    std::abort();  // the environment overrides the file
  }
  auto p = kw::load_plans(path);
  if (!p && p.err().code != kw::errc::invalid) std::abort();
  return 0;
}
