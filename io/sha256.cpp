// SHA-256 through OpenSSL's EVP digest interface.
#include "io/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace diffuse::eval {

void Sha256::FreeContext::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  DIFFUSE_CHECK(context_ != nullptr && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1,
                "OpenSSL cannot start a SHA-256 digest");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) {
  DIFFUSE_CHECK(EVP_DigestUpdate(context_.get(), data, size) == 1, "OpenSSL SHA-256 update failed");
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  DIFFUSE_CHECK(EVP_DigestFinal_ex(context_.get(), digest, &length) == 1, "OpenSSL SHA-256 digest failed");
  static const char kHex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += kHex[digest[i] >> 4];
    text += kHex[digest[i] & 15];
  }
  return text;
}

std::string file_sha256(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  DIFFUSE_CHECK(file, "cannot open ", path, ": ", std::strerror(errno));
  Sha256 hash;
  std::vector<char> chunk(1 << 20);
  while (file) {
    file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.update(chunk.data(), static_cast<size_t>(file.gcount()));
  }
  DIFFUSE_CHECK(file.eof(), "cannot read ", path, ": ", std::strerror(errno));
  return hash.hex_digest();
}

}  // namespace diffuse::eval
