// SHA-256 (FIPS 180-4), to fingerprint a feature network's weights (the
// fingerprint names cached reference statistics, so statistics are reused
// exactly when the weights are bit-identical) and input files (`eval
// --ref-stats` records which statistics file it used). Python's hashlib computes the
// same digest (tools/convert_inception_weights.py). Computed by OpenSSL's libcrypto.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace diffuse::eval {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(const std::string& text) { update(text.data(), text.size()); }
  // The digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string hex_digest();

 private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> context_;
};

// The digest of the file's bytes (as `sha256sum` prints it); an unreadable file is an Error naming it.
std::string file_sha256(const std::string& path);

}  // namespace diffuse::eval
