// The core's journal records (exchange/journal.h).
#include "exchange/journal.h"

#include <openssl/evp.h>

#include <bit>
#include <cassert>
#include <cstring>
#include <type_traits>

#include "ledger/audit.h"

namespace haihe::exchange {
namespace {

static_assert(std::endian::native == std::endian::little, "the journal format is little-endian");
static_assert(std::is_trivially_copyable_v<Command> && std::has_unique_object_representations_v<Command>);
static_assert(std::is_trivially_copyable_v<Event> && std::has_unique_object_representations_v<Event>);
static_assert(sizeof(Command) % 8 == 0 && sizeof(Command) / 8 <= 32);
static_assert(sizeof(Event) % 8 == 0 && sizeof(Event) / 8 <= 32);

constexpr std::size_t kHeaderBytes = 4 + 4 + 8 + 4 + 4 + 32;

template <class T>
void put(std::vector<std::byte>& out, T v) {
  const auto n = out.size();
  out.resize(n + sizeof(T));
  std::memcpy(out.data() + n, &v, sizeof(T));
}

/// The words of `s` that differ from `prev` (zero for the first record):
/// u32 mask, then those words. Consecutive events of one command share most
/// words (seq, time, instrument, price, ...), so this halves the journal.
template <class S>
void encode_words(const S& s, const S* prev, std::vector<std::byte>& out) {
  constexpr std::size_t kWords = sizeof(S) / 8;
  std::uint64_t words[kWords], base[kWords] = {};
  std::memcpy(words, &s, sizeof(S));
  if (prev != nullptr) std::memcpy(base, prev, sizeof(S));
  std::uint32_t mask = 0;
  std::size_t changed = 0;
  for (std::size_t i = 0; i < kWords; ++i) {
    if (words[i] != base[i]) {
      mask |= std::uint32_t{1} << i;
      ++changed;
    }
  }
  const auto n = out.size();
  out.resize(n + 4 + changed * 8);
  std::byte* p = out.data() + n;
  std::memcpy(p, &mask, 4);
  p += 4;
  for (std::size_t i = 0; i < kWords; ++i) {
    if (mask & (std::uint32_t{1} << i)) {
      std::memcpy(p, &words[i], 8);
      p += 8;
    }
  }
}

template <class S>
bool decode_words(std::span<const std::byte>& in, const S* prev, S& s) {
  constexpr std::size_t kWords = sizeof(S) / 8;
  if (in.size() < 4) return false;
  std::uint32_t mask;
  std::memcpy(&mask, in.data(), 4);
  if (kWords < 32 && (mask >> kWords) != 0) return false;
  const auto count = static_cast<std::size_t>(std::popcount(mask));
  if (in.size() < 4 + count * 8) return false;
  std::uint64_t words[kWords] = {};
  if (prev != nullptr) std::memcpy(words, prev, sizeof(S));
  const std::byte* p = in.data() + 4;
  for (std::size_t i = 0; i < kWords; ++i) {
    if (mask & (std::uint32_t{1} << i)) {
      std::memcpy(&words[i], p, 8);
      p += 8;
    }
  }
  std::memcpy(&s, words, sizeof(S));
  in = in.subspan(4 + count * 8);
  return true;
}

}  // namespace

void encode_command(const Command& c, std::vector<std::byte>& out) { encode_words<Command>(c, nullptr, out); }
void encode_event(const Event& e, std::vector<std::byte>& out) { encode_words<Event>(e, nullptr, out); }

void encode_batch(std::uint64_t snapshot_min_commands, std::span<const Command> commands,
                  std::span<const Event> party_events,
                  const std::array<std::uint8_t, 32>& public_digest, std::vector<std::byte>& out) {
  out.reserve(out.size() + kHeaderBytes + commands.size() * 80 + party_events.size() * 140);
  put<std::uint32_t>(out, kBatchMagic);
  put<std::uint32_t>(out, kBatchVersion);
  put<std::uint64_t>(out, snapshot_min_commands);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(commands.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(party_events.size()));
  const auto n = out.size();
  out.resize(n + 32);
  std::memcpy(out.data() + n, public_digest.data(), 32);
  for (std::size_t k = 0; k < commands.size(); ++k) encode_words(commands[k], k ? &commands[k - 1] : nullptr, out);
  for (std::size_t k = 0; k < party_events.size(); ++k) {
    encode_words(party_events[k], k ? &party_events[k - 1] : nullptr, out);
  }
}

bool decode_batch(std::span<const std::byte> input, BatchRecord& out) {
  std::uint32_t magic = 0;
  if (input.size() < 4) return false;
  std::memcpy(&magic, input.data(), 4);
  if (magic != kBatchMagic) return false;
  if (input.size() < kHeaderBytes) throw CoreError("damaged core journal record (short header): run haihe audit verify");
  std::uint32_t version, n_commands, n_events;
  std::memcpy(&version, input.data() + 4, 4);
  std::memcpy(&out.snapshot_min_commands, input.data() + 8, 8);
  std::memcpy(&n_commands, input.data() + 16, 4);
  std::memcpy(&n_events, input.data() + 20, 4);
  std::memcpy(out.public_digest.data(), input.data() + 24, 32);
  if (version != kBatchVersion) {
    throw CoreError("core journal record of version " + std::to_string(version) +
                    ": this haihe reads version " + std::to_string(kBatchVersion));
  }
  auto rest = input.subspan(kHeaderBytes);
  if (n_commands > rest.size() / 4 || n_events > rest.size() / 4) {
    throw CoreError("damaged core journal record (counts): run haihe audit verify");
  }
  out.commands.resize(n_commands);
  out.party_events.resize(n_events);
  for (std::size_t k = 0; k < n_commands; ++k) {
    if (!decode_words(rest, k ? &out.commands[k - 1] : nullptr, out.commands[k])) {
      throw CoreError("damaged core journal record (command): run haihe audit verify");
    }
  }
  for (std::size_t k = 0; k < n_events; ++k) {
    if (!decode_words(rest, k ? &out.party_events[k - 1] : nullptr, out.party_events[k])) {
      throw CoreError("damaged core journal record (event): run haihe audit verify");
    }
  }
  if (!rest.empty()) throw CoreError("damaged core journal record (trailing bytes): run haihe audit verify");
  return true;
}

EventDigest::EventDigest() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) {
    throw CoreError("OpenSSL SHA-256 is not available");
  }
}
EventDigest::~EventDigest() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void EventDigest::add(const Event& e) {
  // The struct's bytes (fixed layout, no padding: the same event, the same bytes).
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), &e, sizeof(Event));
}

std::array<std::uint8_t, 32> EventDigest::finish() {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  return out;
}

void read_commands(const std::filesystem::path& data_dir, const std::function<void(const Command&)>& fn) {
  auto reader = ledger::audit::Reader::open(data_dir);
  BatchRecord record;
  reader.read_journal(1, [&](ledger::Seq, ledger::TimestampNs, ledger::Bytes input) {
    if (!decode_batch(input, record)) return;
    for (const Command& c : record.commands) fn(c);
  });
}

}  // namespace haihe::exchange
