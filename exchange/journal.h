// haihe::exchange journal records — the bytes the core stores as each
// batch's journal input (ledger::Batch::commit), and how to read them back.
//
// Record (little-endian):
//   u32 magic kBatchMagic ("HXB1"), u32 version (1),
//   u64 snapshot_min_commands (the core's snapshot policy, fixed at genesis),
//   u32 command_count, u32 party_event_count,
//   32 bytes: SHA-256 of the public (market and regulator) events' bytes,
//   command_count encoded Commands, then party_event_count encoded Events
//   (the events of Audience::party, in publication order).
// A Command or Event is encoded as its 8-byte words (the structs are
// fixed-layout, with no padding bytes) against the previous one of the same
// list (all zero for the first): u32 mask of the words that differ, then
// those words in order. Same structs, same bytes.
//
// Journal inputs that do not start with the magic are the ledger's own
// (genesis, rules amendments) and carry no commands.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "exchange/core.h"

namespace haihe::exchange {

inline constexpr std::uint32_t kBatchMagic = 0x31425848;  // "HXB1" little-endian
inline constexpr std::uint32_t kBatchVersion = 1;

struct BatchRecord {
  std::uint64_t snapshot_min_commands = 0;
  std::vector<Command> commands;
  std::vector<Event> party_events;
  std::array<std::uint8_t, 32> public_digest{};
};

/// Appends the encoding of one record to `out`.
void encode_batch(std::uint64_t snapshot_min_commands, std::span<const Command> commands,
                  std::span<const Event> party_events,
                  const std::array<std::uint8_t, 32>& public_digest, std::vector<std::byte>& out);

/// Parses a journal input. Returns false if it is not a core batch record
/// (a ledger record); throws CoreError if it claims to be one and is damaged.
bool decode_batch(std::span<const std::byte> input, BatchRecord& out);

/// Appends the word encoding of one Command / Event (against all zero).
void encode_command(const Command& c, std::vector<std::byte>& out);
void encode_event(const Event& e, std::vector<std::byte>& out);

/// SHA-256 over events' bytes (the public digest).
class EventDigest {
 public:
  EventDigest();
  ~EventDigest();
  EventDigest(const EventDigest&) = delete;
  EventDigest& operator=(const EventDigest&) = delete;
  void add(const Event& e);
  std::array<std::uint8_t, 32> finish();  // and reset

 private:
  void* ctx_;
};

/// Every command stored in a data directory's journal, in sequence order,
/// read with a read-only transaction (safe while the exchange runs).
/// E.g. the order flow a simulation re-runs under another design.
void read_commands(const std::filesystem::path& data_dir,
                   const std::function<void(const Command&)>& fn);

}  // namespace haihe::exchange
