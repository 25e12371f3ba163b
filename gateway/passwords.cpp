#include "gateway/passwords.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace haihe::gateway {

namespace {

std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 15];
  }
  return s;
}

template <std::size_t N>
bool from_hex(std::string_view s, std::array<std::uint8_t, N>& out) {
  if (s.size() != 2 * N) return false;
  const auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

bool valid_party_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

}  // namespace

Credential PasswordFile::derive(std::string_view password, const std::array<std::uint8_t, 16>& salt,
                                std::uint32_t iterations) {
  Credential c;
  c.iterations = iterations;
  c.salt = salt;
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(c.hash.size()), c.hash.data()) != 1) {
    throw PasswordFileError("PKCS5_PBKDF2_HMAC failed");
  }
  return c;
}

PasswordFile PasswordFile::load(const std::filesystem::path& path) {
  PasswordFile f;
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return f;
    throw PasswordFileError(path.string() + ": cannot read the password file");
  }
  std::string line;
  std::uint32_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string id, scheme, iter_s, salt_s, hash_s, extra;
    ls >> id >> scheme >> iter_s >> salt_s >> hash_s;
    const auto where = path.string() + ":" + std::to_string(line_no) + ": ";
    if (hash_s.empty() || (ls >> extra)) {
      throw PasswordFileError(where + "expected 'PARTY_ID pbkdf2-sha256 ITERATIONS SALT_HEX HASH_HEX'");
    }
    if (scheme != "pbkdf2-sha256") throw PasswordFileError(where + "unknown scheme '" + scheme + "'");
    Credential c;
    try {
      std::size_t used = 0;
      const unsigned long v = std::stoul(iter_s, &used);
      if (used != iter_s.size() || v < kMinIterations || v > 100'000'000ul) throw std::out_of_range("");
      c.iterations = static_cast<std::uint32_t>(v);
    } catch (const std::exception&) {
      throw PasswordFileError(where + "iterations must be an integer >= " + std::to_string(kMinIterations));
    }
    if (!from_hex(salt_s, c.salt) || !from_hex(hash_s, c.hash)) {
      throw PasswordFileError(where + "salt must be 32 and hash 64 hex digits");
    }
    if (!valid_party_id(id)) throw PasswordFileError(where + "bad party id");
    f.entries_[id] = c;
  }
  return f;
}

PasswordCheck PasswordFile::check(std::string_view party_id, std::string_view password) const {
  const auto it = entries_.find(party_id);
  if (it == entries_.end()) return PasswordCheck::no_entry;
  if (password.size() > kMaxPasswordLen) return PasswordCheck::wrong;
  const Credential got = derive(password, it->second.salt, it->second.iterations);
  return CRYPTO_memcmp(got.hash.data(), it->second.hash.data(), got.hash.size()) == 0 ? PasswordCheck::ok
                                                                                      : PasswordCheck::wrong;
}

void PasswordFile::set(std::string_view party_id, std::string_view password, std::uint32_t iterations) {
  if (!valid_party_id(party_id)) throw PasswordFileError("bad party id");
  if (iterations < kMinIterations) throw PasswordFileError("too few PBKDF2 iterations");
  std::array<std::uint8_t, 16> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    throw PasswordFileError("RAND_bytes failed: no randomness for the salt");
  }
  entries_[std::string(party_id)] = derive(password, salt, iterations);
}

void PasswordFile::save(const std::filesystem::path& path) const {
  std::string text = "# Haihe FIX passwords: PARTY_ID pbkdf2-sha256 ITERATIONS SALT_HEX HASH_HEX\n";
  for (const auto& [id, c] : entries_) {
    text += id + " pbkdf2-sha256 " + std::to_string(c.iterations) + " " + to_hex(c.salt.data(), c.salt.size()) +
            " " + to_hex(c.hash.data(), c.hash.size()) + "\n";
  }
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw PasswordFileError(tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      throw PasswordFileError(tmp + ": " + err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw PasswordFileError(tmp + ": " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw PasswordFileError(path.string() + ": " + ec.message());
}

}  // namespace haihe::gateway
