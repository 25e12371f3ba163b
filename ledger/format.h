// haihe::ledger storage format, version 1 — the bytes on disk and the bytes
// hashed into the audit chain. Used by the ledger, `haihe audit` and the
// tests; nothing here needs the engine or the rules.
//
// The write-ahead log (the file wal, beside) holds the batches committed
// since the last checkpoint in the same bytes: ledger/wal.h.
//
// One LMDB environment (data.mdb, lock.mdb) in the data directory with these
// named databases. Keys are big-endian (so LMDB's byte order is numeric
// order). Record values are sequences of LEB128 varints (u: unsigned; s:
// signed, zigzag; n: an index or kNone, stored as index + 1 or 0), which
// keeps the bytes written and hashed per trade small. The journal header and
// the counts are little-endian, fixed layout.
//
// State tables (rewritten; a record whose fields are all zero is deleted):
//   meta          ASCII name -> value: "format_version" u32 (= kVersion),
//                 "image_min_entries" u64 (reservation image policy),
//                 "rules_sha256" 64 hex chars, "rules_toml" the rules file's
//                 bytes, "layout" one line per region, zone, party and
//                 instrument ("party 7 E1 0 1": index, id, kind, region) —
//                 what the keys below mean. Written by the genesis batch and
//                 by rules amendments (which may only append to the layout).
//   accounts      party u32 -> kind u8, region u32, id bytes (genesis)
//   holdings      party u32, instrument u32 -> s free, s reserved, s incoming
//   cash          party u32 -> s free, s reserved
//   region_usage  region u32, instrument u32 -> s held, s incoming
//   zone_usage    zone u32, vintage u16 -> s held (loss account excluded)
//   loss          zone u32, instrument u32 -> s qty (the zone's conveyance-loss account)
//   supply        instrument u32 (0xFFFFFFFF: cash) -> s issued, s retired
//   (orders)      order u64 -> u party, u instrument, u side (1 buy, 2 sell),
//                 s limit, s qty, s cash. Not an LMDB table: kept in memory,
//                 logged in the write-sets and imaged in `reservations`.
// Append-only tables (MDB_APPEND, keys u64 ascending):
//   journal       seq -> journal record (below)
//   chain         seq -> 32-byte head after the batch
//   trades        trade id -> u seq, s ts, u instrument, u buyer, u seller,
//                 n beneficiary, n fund, n zone, u buy order, u sell order,
//                 s qty, s delivered, s price, s buyer fee, s seller fee,
//                 s compensation, s levy
//   movements     movement id -> u seq, s ts, u kind, u party, n counterparty,
//                 n instrument, s amount
//   snapshots     seq -> the caller's opaque bytes (put_snapshot)
//   reservations  seq -> u64 LE count, then count x (order u64 BE, u8 length,
//                 order value) in ascending order id: every open reservation
//                 after the batch
//
// Journal record (LE): u32 magic kJournalMagic, u64 seq, i64 ts_ns,
//   u64 first_trade_id, u32 trade_count, u64 first_movement_id,
//   u32 movement_count, u8 flags (1: snapshots[seq] stored, 2:
//   reservations[seq] stored), u32 input_len, u32 write_count, the input
//   bytes, then the write-set: write_count entries sorted by (table, key), each
//   u8 table, u8 key_len, key, u32 value_len (kDeleted: deleted), value.
//   The write-set holds the final value of every state record (and order) the
//   batch changed.
//
// Canonical bytes and the chain: head(0) = 32 zero bytes;
//   head(seq) = SHA-256(head(seq-1) || journal[seq]
//                       || for each of its trades: key || u8 length || value
//                       || for each of its movements: key || u8 length || value
//                       || if flag 1: u64 LE length || snapshots[seq]
//                       || if flag 2: u64 LE length || reservations[seq]).
// `audit verify` recomputes every head, folds the write-sets from genesis and
// compares the result with every state table byte for byte, and every
// reservation image with the folded orders.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "ledger/ledger.h"

namespace haihe::ledger::format {

static_assert(std::endian::native == std::endian::little, "the ledger assumes a little-endian host");

inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kJournalMagic = 0x314a4848;  // "HHJ1"
inline constexpr std::uint32_t kDeleted = 0xFFFFFFFFu;
inline constexpr std::uint32_t kCashKey = 0xFFFFFFFFu;
inline constexpr std::size_t kJournalHeader = 4 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 4 + 4;
inline constexpr std::size_t kMaxTradeSize = 17 * 10;  // encoded values, at most
inline constexpr std::size_t kMaxMovementSize = 7 * 10;
inline constexpr std::size_t kMaxOrderSize = 6 * 10;
inline constexpr std::uint8_t kFlagSnapshot = 1;
inline constexpr std::uint8_t kFlagReservations = 2;

/// State tables; the number is the table byte in write-set entries.
enum class Table : std::uint8_t {
  meta = 1,
  accounts = 2,
  holdings = 3,
  cash = 4,
  region_usage = 5,
  zone_usage = 6,
  loss = 7,
  supply = 8,
  orders = 9,  // virtual (see above)
};
inline constexpr Table kStateTables[] = {Table::meta,         Table::accounts,   Table::holdings,
                                         Table::cash,         Table::region_usage, Table::zone_usage,
                                         Table::loss,         Table::supply};
const char* table_name(Table t);  // the LMDB database name ("orders" for the virtual one)

// Append-only database names.
inline constexpr const char* kJournal = "journal";
inline constexpr const char* kChain = "chain";
inline constexpr const char* kTrades = "trades";
inline constexpr const char* kMovements = "movements";
inline constexpr const char* kSnapshots = "snapshots";
inline constexpr const char* kReservations = "reservations";

// ---- byte helpers ----
inline void put_u8(std::byte*& p, std::uint8_t v) { *p++ = std::byte{v}; }
inline void put_u16be(std::byte*& p, std::uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, 2);
  p += 2;
}
inline void put_u32be(std::byte*& p, std::uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
  p += 4;
}
inline void put_u64be(std::byte*& p, std::uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
  p += 8;
}
template <class T>
inline void put_le(std::byte*& p, T v) {
  std::memcpy(p, &v, sizeof v);
  p += sizeof v;
}
inline std::uint16_t get_u16be(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline std::uint32_t get_u32be(const std::byte* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline std::uint64_t get_u64be(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
template <class T>
inline T get_le(const std::byte*& p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  p += sizeof v;
  return v;
}

// ---- varints ----
inline void put_u(std::byte*& p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = std::byte{static_cast<std::uint8_t>(v | 0x80)};
    v >>= 7;
  }
  *p++ = std::byte{static_cast<std::uint8_t>(v)};
}
inline void put_s(std::byte*& p, std::int64_t v) {
  put_u(p, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}
inline void put_n(std::byte*& p, std::uint32_t index) {
  put_u(p, index == 0xFFFFFFFFu ? 0 : std::uint64_t{index} + 1);
}

/// Reads varints from a span; an overrun or a malformed varint clears ok.
struct VarReader {
  const std::byte* p;
  const std::byte* end;
  bool ok = true;
  explicit VarReader(std::span<const std::byte> s) : p(s.data()), end(s.data() + s.size()) {}
  std::uint64_t u() {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (p == end) break;
      const auto b = static_cast<std::uint8_t>(*p++);
      v |= std::uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok = false;
    return 0;
  }
  std::int64_t s() {
    const std::uint64_t z = u();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::uint32_t u32() {
    const std::uint64_t v = u();
    if (v > 0xFFFFFFFEu) ok = false;
    return static_cast<std::uint32_t>(v);
  }
  std::uint32_t n() {  // an index or kNone
    const std::uint64_t v = u();
    if (v > 0xFFFFFFFFu) ok = false;
    return v == 0 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(v - 1);
  }
  bool done() const { return ok && p == end; }
};

// ---- records: encoders return the size written; decoders want exactly the bytes ----
std::size_t encode_trade(const TradeRecord& t, std::byte* out /* kMaxTradeSize */);
bool decode_trade(std::uint64_t id, std::span<const std::byte> in, TradeRecord& out);
std::size_t encode_movement(const MovementRecord& m, std::byte* out /* kMaxMovementSize */);
bool decode_movement(std::uint64_t id, std::span<const std::byte> in, MovementRecord& out);
std::size_t encode_order(const OrderReservation& o, std::byte* out /* kMaxOrderSize */);
bool decode_order(std::span<const std::byte> in, OrderReservation& out);

struct JournalHeader {
  Seq seq = 0;
  TimestampNs ts_ns = 0;
  TradeId first_trade = 0;
  std::uint32_t trade_count = 0;
  std::uint64_t first_movement = 0;
  std::uint32_t movement_count = 0;
  std::uint8_t flags = 0;
  std::uint32_t input_len = 0;
  std::uint32_t write_count = 0;
};
void encode_journal_header(const JournalHeader& h, std::byte* out /* kJournalHeader */);

/// A parsed journal record; spans point into the record's bytes.
struct JournalView {
  JournalHeader header;
  std::span<const std::byte> input;
  std::span<const std::byte> writes;  // the write-set entries
};
/// Parses a journal record; false if it is malformed (sizes do not add up).
bool parse_journal(std::span<const std::byte> record, JournalView& out);

struct WriteEntry {
  Table table{};
  std::span<const std::byte> key;
  bool deleted = false;
  std::span<const std::byte> value;
};
/// Iterates write-set entries; returns false if malformed.
template <class Fn>
bool for_each_write(std::span<const std::byte> writes, std::uint32_t count, Fn&& fn) {
  const std::byte* p = writes.data();
  const std::byte* end = p + writes.size();
  for (std::uint32_t i = 0; i < count; ++i) {
    if (end - p < 2) return false;
    WriteEntry e;
    e.table = static_cast<Table>(*p++);
    const auto klen = static_cast<std::size_t>(*p++);
    if (static_cast<std::size_t>(end - p) < klen + 4) return false;
    e.key = {p, klen};
    p += klen;
    const auto vlen = get_le<std::uint32_t>(p);
    if (vlen == kDeleted) {
      e.deleted = true;
    } else {
      if (static_cast<std::size_t>(end - p) < vlen) return false;
      e.value = {p, vlen};
      p += vlen;
    }
    fn(e);
  }
  return p == end;
}

// State-table values.
std::size_t encode_holding(const Holding& v, std::byte* out);  // at most 30 bytes
bool decode_holding(std::span<const std::byte> in, Holding& v);
std::size_t encode_cash(const Cash& v, std::byte* out);  // at most 20 bytes
bool decode_cash(std::span<const std::byte> in, Cash& v);
std::size_t encode_region_usage(const RegionUsage& v, std::byte* out);
bool decode_region_usage(std::span<const std::byte> in, RegionUsage& v);
std::size_t encode_supply(const Supply& v, std::byte* out);
bool decode_supply(std::span<const std::byte> in, Supply& v);
std::size_t encode_qty(Qty v, std::byte* out);  // zone_usage, loss
bool decode_qty(std::span<const std::byte> in, Qty& v);

/// Human-readable key of a state-table record, e.g. "party 3, instrument 7".
std::string describe_key(Table t, std::span<const std::byte> key);

}  // namespace haihe::ledger::format
