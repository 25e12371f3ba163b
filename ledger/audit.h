// haihe::ledger::audit — the regulator's tools on a data directory, read-only.
//
// Everything here opens the LMDB environment with MDB_RDONLY in one read
// transaction (a consistent view), so it runs safely while the exchange
// writes, and on a hot copy made with `mdb_copy`. Do not use it on a
// directory that a Ledger in the same process has open (LMDB allows one
// environment handle per file and process); use another process.
//
// verify() recomputes the audit chain from the journal, the trades, the
// movements and the snapshots (ledger/format.h, "canonical bytes"), folds
// every batch's write-set from genesis, and compares the fold with every live
// state table byte for byte and every reservation image with the folded
// orders. It stops at the first mismatch and says where: the batch whose
// chain link fails, or the table and key and the batch that last wrote the
// record. When the history is intact it checks the laws on the folded state
// (conservation, no negative balance, every cap, reservations equal their
// orders' sums).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/ledger.h"

namespace haihe::ledger::audit {

/// Read-only handle on a data directory.
class Reader {
 public:
  /// Throws LedgerError: no ledger there, not a haihe ledger, other format.
  static Reader open(const std::filesystem::path& dir);
  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;
  ~Reader();

  std::string rules_text() const;  // the rules file stored (at genesis, or by the last amendment)
  std::string rules_sha256() const;
  Seq head_seq() const;
  Hash head_hash() const;

  /// Calls fn for every journal record with from <= seq, in order: its
  /// batch, timestamp and the caller's input bytes (valid during the call).
  void read_journal(Seq from, const std::function<void(Seq, TimestampNs, Bytes input)>& fn) const;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Mismatch {
  enum class Kind : std::uint8_t { none, format, batch, record };
  Kind kind = Kind::none;
  Seq batch = 0;      // kind batch: the batch; kind record: the batch that last wrote it (0: none)
  std::string table;  // kind record (and batch, when one table is to blame)
  std::string key;    // kind record: the key, readable
  std::string detail; // one line for a person
};

struct VerifyResult {
  bool ok = false;
  Seq batches = 0;
  Hash head{};
  std::uint64_t trades = 0, movements = 0, records = 0, open_orders = 0;
  /// Batches committed after LMDB's last checkpoint, waiting in the
  /// write-ahead log (DATA/wal): applied when the exchange next opens the
  /// directory (or at its next checkpoint while it runs). Not verified here.
  std::uint64_t waiting_in_log = 0;
  Mismatch mismatch;                    // integrity failure (history or a table)
  std::vector<std::string> violations;  // laws broken although the history is intact
  std::string summary() const;          // what `haihe audit verify` prints
};

/// `rules`: the market rules for the law checks; nullptr loads the rules
/// stored in the directory.
VerifyResult verify(const std::filesystem::path& dir, const rules::MarketRules* rules = nullptr);

/// Replays the stored batches of `src` into the empty directory `dst`:
/// applies each write-set, appends trades, movements, snapshots and
/// reservation images, recomputes the chain. Returns the new head, which
/// equals the source's when the history is intact (law 6 at the storage
/// level). Throws LedgerError.
Hash fold_into(const std::filesystem::path& src, const std::filesystem::path& dst);

/// Every (key, value) of one table of a directory in key order, for
/// byte-for-byte comparisons in tests and tools.
std::vector<std::pair<std::string, std::string>> dump_table(const std::filesystem::path& dir,
                                                            const std::string& table);
std::vector<std::string> table_names();  // every LMDB table of the format

// ---- reports ----

struct ReportFilter {
  std::optional<PartyIndex> party;
  std::optional<RegionIndex> city;  // a region: its parties, its caps, its zones, its government
  std::optional<InstrumentIndex> instrument;
  TimestampNs from_ns = std::numeric_limits<TimestampNs>::min();  // trades, movements and sums
  TimestampNs to_ns = std::numeric_limits<TimestampNs>::max();    // [from, to)
};

struct Report {
  Seq head_seq = 0;
  Hash head{};
  TimestampNs head_ts_ns = 0;
  struct HoldingRow { PartyIndex party; InstrumentIndex instrument; Holding h; };
  struct CashRow { PartyIndex party; Cash c; };
  struct RegionRow { RegionIndex region; InstrumentIndex instrument; RegionUsage u; Qty cap; };  // cap -1: none
  struct ZoneRow { ZoneIndex zone; std::uint16_t vintage; Qty held; Qty cap; Qty loss; };      // cap -1: none
  struct CompensationRow { PartyIndex city; Fen fen; std::uint64_t trades; Qty qty; };
  struct LevyRow { PartyIndex fund; Fen fen; std::uint64_t trades; };
  struct FeeRow { InstrumentIndex instrument; Fen buyer_fen; Fen seller_fen; std::uint64_t trades; Fen value_fen; };
  std::vector<HoldingRow> holdings;   // current, nonzero
  std::vector<CashRow> cash;          // current, nonzero
  std::vector<RegionRow> regions;     // current usage of every region and instrument used or capped
  std::vector<ZoneRow> zones;         // current usage of every zone and vintage
  std::vector<CompensationRow> compensation;  // received per city government, in the time range
  std::vector<LevyRow> levies;        // received per fund, in the time range
  std::vector<FeeRow> fees;           // per instrument, in the time range
  std::vector<TradeRecord> trades;    // in the time range
  std::vector<MovementRecord> movements;  // issuance, retirement, cash, grants, in the time range
};

Report build_report(const Reader& reader, const rules::MarketRules& rules, const ReportFilter& filter);

}  // namespace haihe::ledger::audit
