// The ledger's write-ahead log (internal to haihe::ledger): DATA/wal.
//
// Why. On this kind of disk a flush costs per distinct place written, not
// per byte: measured here, fdatasync after one 64 KiB sequential write takes
// 0.17 ms (median), after sixteen scattered 4 KiB writes 1.2 ms. An LMDB
// commit rewrites a dozen scattered B-tree pages and then its meta page (a
// second flush), about 0.6 ms a batch. So a batch commits by appending ONE
// record here (one sequential write that returns once the record is on
// the disk: O_DIRECT | O_DSYNC, or pwrite + fdatasync where a file system
// refuses O_DIRECT); a background thread
// applies the records to LMDB in group transactions (checkpoints), and
// opening the ledger re-applies the records LMDB does not hold yet.
//
// Format. The file is a ring of `capacity` bytes. A record starts on a
// 4 KiB boundary: the header below (little-endian), the batch's journal
// record, trades, movements, snapshot and reservation image bytes exactly
// as ledger/format.h stores them, and the chain head after the batch; then
// zero padding to the next boundary. Records are written in seq order; when
// the next does not fit before `capacity` it goes to offset 0. A record is
// overwritten only after a checkpoint holds it. Opening finds records by
// their header at every boundary; a record counts only if it extends the
// chain from LMDB's head (the SHA-256 head in it must equal the one computed
// from the previous head and its bytes), so torn writes and records of an
// earlier lap are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/sha256.h"

namespace haihe::ledger::wal {

inline constexpr std::uint32_t kMagic = 0x314c5748;  // "HWL1"
inline constexpr std::size_t kAlign = 4096;
// magic u32, reserved u32, seq u64, journal u32, trades u32, movements u32,
// reserved u32, snapshot u64, image u64, head 32 bytes.
inline constexpr std::size_t kHeader = 4 + 4 + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 32;

/// One batch as the ledger stores it.
struct Parts {
  Seq seq = 0;
  std::span<const std::byte> journal, trades, movements, snapshot, image;
  Hash head{};
};

/// The record's bytes, padded to kAlign.
std::vector<std::byte> encode(const Parts& p);
/// Splits a record (header checked, sizes add up); false if malformed.
bool decode(std::span<const std::byte> record, Parts& out);

/// The chain head after the batch `p` (ledger/format.h): SHA-256 of the
/// previous head and the batch's stored bytes. `flags`: its journal header's.
Hash chain_next(Sha256& sha, const Hash& prev, const Parts& p, std::uint8_t flags);

/// Read-only (haihe audit): how many batches after `head` the log at `file`
/// holds that extend the chain from `head_hash` — committed, not yet in
/// LMDB. 0 if there is no log.
std::uint64_t waiting(const std::filesystem::path& file, Seq head, const Hash& head_hash);

/// The ring file, written in full (zeros) when it is created for flushed
/// appends. Used by the ledger's writer thread only.
class Ring {
 public:
  /// Opens DIR/wal, creating it. `sync`: every append is on the disk when
  /// append() returns, and the file is first filled to `capacity` with
  /// zeros (about 40 ms for 16 MiB here).
  Ring(const std::filesystem::path& file, std::uint64_t capacity, bool sync);
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  std::uint64_t capacity() const { return capacity_; }

  /// Every record whose header is intact and whose seq is > after, ordered
  /// by seq (several may share one: the caller checks the chain).
  struct Found {
    Seq seq;
    std::uint64_t offset, bytes;
  };
  std::vector<Found> scan(Seq after) const;

  /// The records that extend the chain from (head, head_hash), in order,
  /// and the others found past head (torn, or of an earlier lap).
  struct Followed {
    std::vector<std::vector<std::byte>> records;
    std::vector<Found> leftovers;
  };
  Followed follow(Seq head, const Hash& head_hash) const;

  /// Makes every record unfindable (a new ledger: they belong to no chain here).
  void clear();
  /// Makes a record unfindable (one of an earlier lap that open() did not take).
  void erase(const Found& f);

  /// Where the next record of `bytes` would go, if a record not yet held by
  /// a checkpoint lies there: that record's seq (wait for a checkpoint past
  /// it, then call checkpointed()).
  std::optional<Seq> blocked_by(std::uint64_t bytes) const;
  /// Writes the record (and flushes when `sync`). Precondition: not
  /// blocked_by(rec.size()), rec.size() <= capacity(). Throws LedgerError.
  void append(Seq seq, std::span<const std::byte> rec);
  /// Records up to `seq` are held by LMDB: their space may be reused.
  void checkpointed(Seq seq);

 private:
  std::uint64_t place(std::uint64_t bytes) const;

  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t capacity_;
  bool sync_;
  std::uint64_t next_ = 0;  // offset of the next record
  int direct_fd_ = -1;      // O_DIRECT | O_DSYNC (sync_ only)
  void* aligned_ = nullptr;  // kAlign-aligned copy of the record
  std::size_t aligned_bytes_ = 0;
  std::deque<Found> live_;  // appended, not yet checkpointed, in seq order
};

}  // namespace haihe::ledger::wal
