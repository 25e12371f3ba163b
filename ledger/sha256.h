// SHA-256 through OpenSSL's EVP interface (internal to haihe::ledger).
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <span>
#include <string>

#include "ledger/ledger.h"

namespace haihe::ledger {

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  ~Sha256();
  void reset();
  void update(const void* p, std::size_t n);
  void update(std::span<const std::byte> s) { update(s.data(), s.size()); }
  Hash finish();  // then reset() before the next message

 private:
  EVP_MD_CTX* ctx_;
};

Hash sha256(std::span<const std::byte> s);

}  // namespace haihe::ledger
