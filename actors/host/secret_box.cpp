// See secret_box.hpp.
#include "actors/host/secret_box.hpp"

#include "actors/host/key_file.hpp"

#include <sodium.h>

#include <cstring>
#include <vector>

namespace kw {

namespace {
constexpr std::string_view prefix = "sb1:";
}

result<std::shared_ptr<const secret_box>> secret_box::open_or_create(const std::string& key_file) {
  if (sodium_init() < 0) return make_error(errc::internal, "libsodium failed to initialise");
  auto box = std::make_shared<secret_box>();
  auto key = read_or_create_key(key_file, box->key_.size(), "secret key", [] {
    std::string k(crypto_secretbox_KEYBYTES, '\0');
    crypto_secretbox_keygen(reinterpret_cast<unsigned char*>(k.data()));
    return k;
  });
  if (!key) return key.err();
  std::copy(key->begin(), key->end(), box->key_.begin());
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
