// haihe::gateway — FIX logon passwords, stored only as salted hashes.
//
// File DATA/fix-passwords, one line per party (mode 0600, rewritten whole
// and renamed into place):
//     PARTY_ID pbkdf2-sha256 ITERATIONS SALT_HEX HASH_HEX
// PBKDF2-HMAC-SHA256 (OpenSSL PKCS5_PBKDF2_HMAC), 16-byte random salt,
// 32-byte hash, iterations stored per entry (at least kMinIterations).
// Comparison is constant time (CRYPTO_memcmp).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace haihe::gateway {

inline constexpr std::uint32_t kMinIterations = 100'000;
inline constexpr std::uint32_t kDefaultIterations = 100'000;
inline constexpr std::size_t kMaxPasswordLen = 1024;

struct Credential {
  std::uint32_t iterations = 0;
  std::array<std::uint8_t, 16> salt{};
  std::array<std::uint8_t, 32> hash{};
};

enum class PasswordCheck : std::uint8_t { ok, wrong, no_entry };

/// A malformed or unreadable file (the message says where).
class PasswordFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PasswordFile {
 public:
  /// Reads `path`; a missing file is an empty set. Throws PasswordFileError.
  static PasswordFile load(const std::filesystem::path& path);

  PasswordCheck check(std::string_view party_id, std::string_view password) const;
  bool has(std::string_view party_id) const { return entries_.count(std::string(party_id)) != 0; }
  std::size_t size() const { return entries_.size(); }

  /// Sets (or replaces) the party's password with a fresh random salt.
  void set(std::string_view party_id, std::string_view password,
           std::uint32_t iterations = kDefaultIterations);
  /// Writes the file atomically (temp file, fsync, rename), mode 0600.
  void save(const std::filesystem::path& path) const;

  static Credential derive(std::string_view password, const std::array<std::uint8_t, 16>& salt,
                           std::uint32_t iterations);

 private:
  std::map<std::string, Credential, std::less<>> entries_;
};

}  // namespace haihe::gateway
