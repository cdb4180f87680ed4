// See key_file.hpp.
#include "actors/host/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace kw {

result<std::string> read_or_create_key(const std::string& path, std::size_t size, const std::string& what,
                                       const std::function<std::string()>& make) {
  std::ifstream in(path, std::ios::binary);
  if (!in && errno != ENOENT) return make_error(errc::storage, what + " " + path + ": " + std::strerror(errno));
  if (in) {
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.size() != size)
      return make_error(errc::invalid, what + " " + path + ": expected " + std::to_string(size) +
                                           " bytes, found " + std::to_string(bytes.size()));
    return bytes;
  }
  std::string key = make();
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errc::storage, what + " " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, key.data(), key.size()) == ssize_t(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(errc::storage, what + " " + path + ": cannot write: " + std::strerror(errno));
  auto slash = path.find_last_of('/');
  auto dir = slash == std::string::npos ? std::string(".") : path.substr(0, slash + 1);
  if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return key;
}

}  // namespace kw
