// See secret_box.hpp.
#include "actors/host/secret_box.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <cstring>
#include <fstream>
#include <vector>

namespace kw {

namespace {
constexpr std::string_view prefix = "sb1:";
}

result<std::shared_ptr<const secret_box>> secret_box::open_or_create(const std::string& key_file) {
  if (sodium_init() < 0) return make_error(errc::internal, "libsodium failed to initialise");
  auto box = std::make_shared<secret_box>();
  std::ifstream in(key_file, std::ios::binary);
  if (!in && errno != ENOENT)
    return make_error(errc::storage, "secret key " + key_file + ": " + std::strerror(errno));
  if (in) {
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.size() != box->key_.size())
      return make_error(errc::invalid, "secret key " + key_file + ": expected " +
                                           std::to_string(box->key_.size()) + " bytes, found " +
                                           std::to_string(bytes.size()));
    std::copy(bytes.begin(), bytes.end(), box->key_.begin());
    return std::shared_ptr<const secret_box>(box);
  }
  // A new key: written to a temporary file, synced, then renamed into place
  // (and the directory synced), so a crash leaves either no key or the whole
  // key — never a key lost after secrets sealed with it reached the log.
  crypto_secretbox_keygen(box->key_.data());
  auto tmp = key_file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errc::storage, "secret key " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, box->key_.data(), box->key_.size()) == ssize_t(box->key_.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), key_file.c_str()) != 0)
    return make_error(errc::storage, "secret key " + key_file + ": cannot write: " + std::strerror(errno));
  auto slash = key_file.find_last_of('/');
  auto dir = slash == std::string::npos ? std::string(".") : key_file.substr(0, slash + 1);
  if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return std::shared_ptr<const secret_box>(box);
}

std::string secret_box::seal(std::string_view plain) const {
  std::vector<unsigned char> buf(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 plain.size());
  randombytes_buf(buf.data(), crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(buf.data() + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                        buf.data(), key_.data());
  std::string b64(sodium_base64_ENCODED_LEN(buf.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), buf.data(), buf.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return std::string(prefix) + b64;
}

result<std::string> secret_box::open(std::string_view sealed) const {
  if (sealed.substr(0, prefix.size()) != prefix)
    return make_error(errc::invalid, "not a sealed secret");
  auto b64 = sealed.substr(prefix.size());
  std::vector<unsigned char> buf(b64.size());
  std::size_t len = 0;
  if (sodium_base642bin(buf.data(), buf.size(), b64.data(), b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
    return make_error(errc::invalid, "sealed secret: bad encoding");
  std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 buf.data() + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, buf.data(), key_.data()) != 0)
    return make_error(errc::invalid, "sealed secret: wrong key or altered");
  return plain;
}

}  // namespace kw
