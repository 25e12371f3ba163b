// haihe::ledger — the system of record: an LMDB registry of rights and cash
// that enforces the caps, settles delivery-versus-payment with ecological
// compensation, levies and fees, and keeps a hash chain a regulator can verify
// without trusting the operator (DESIGN.md §2, §3, §5).
//
// Model
// -----
// One writer thread owns a `Ledger`. Work is grouped in batches:
//
//     auto ledger = Ledger::open(dir, rules, rules_text, options);
//     Batch b = ledger.begin();
//     b.reserve_buy(order, party, instrument, qty, limit_fen);   // -> Reason
//     b.settle(Fill{buy_order, sell_order, qty, price_fen, ts}); // -> Reason
//     b.release(order);                                          // -> Reason
//     CommitInfo c = b.commit(journal_bytes, batch_ts_ns);       // one durable record
//     // only now publish the batch's effects
//
// Every operation is all-or-nothing: it either applies completely or returns
// a `Reason` other than `ok` and changes nothing; the rest of the batch
// stands. Nothing is durable (or visible to other processes) before `commit`,
// which stores the whole batch atomically — as one write-ahead record, then
// in LMDB at the next checkpoint (below): the changed records (each written
// once, however often the batch touched it), the trades and movements
// (appended), the journal record (appended, key = batch sequence) and the
// audit chain record (appended). `abort()` (or destroying an uncommitted
// Batch) undoes the batch in memory. Reads on the Ledger see the batch's
// effects so far.
//
// Units: money in fen (int64), quantities in the instrument's base unit
// (int64), prices in fen per base unit. Every charge in basis points is
// floor(value * bps / 10000). All arithmetic is integer and overflow-checked
// (a product that would not fit returns Reason::overflow). Timestamps are
// given by the caller (int64 nanoseconds since the Unix epoch, UTC); the
// ledger never reads a clock, so the same calls give the same bytes.
//
// Settlement (rules/rules.h documents the rules; this is how they are booked),
// for a fill of qty at price p, value = qty * p:
//   seller: reserved rights -= qty;   cash += value - seller_fee - levy
//   buyer:  incoming reach   -= qty;   rights += delivered
//           reserved cash    -= value + buyer_fee + compensation
//   delivered = qty (same region, or the buyer is in the zone's own city, or
//               not water), floor(qty * num / den) under the zone's
//               TransferRule for the buyer's region; no rule: rejected
//               (transfer_not_allowed). qty - delivered goes to the source
//               zone's conveyance-loss account (loss_qty()).
//   compensation = fen_per_unit * qty + floor(value * bps / 10000) to the
//               route's beneficiary, when the instrument's zone has a route
//               for the buyer's region.
//   buyer_fee / seller_fee = floor(value * bps / 10000) to the exchange party;
//   levy (emission) = floor(value * bps / 10000) to the levy's fund.
// The fill's price must be at or below the buy order's limit (the sell
// side's limit is the engine's business). A party may trade with itself; the
// ledger books it like any trade (self-trade prevention is the engine's).
// Caps: a fill never raises the buyer's holding + reach (delivered <= qty)
// nor a zone's total (water only moves or is lost), so settle cannot break a
// cap the reservation respected; it still refuses a fill that would raise a
// party above its limit. Zone caps are checked by issue() only.
//
// Reservations are per order, keyed by the caller's order id:
//   reserve_sell moves qty of the party's free rights to reserved;
//   reserve_buy  reserves qty * limit + buyer fee + compensation (exact for
//                the buyer's region) in cash, and qty of "incoming" headroom
//                counted against the party holding limit and the region cap
//                until the order fills or is released. Because every fill is
//                at or below the limit and every floor is sub-additive, what
//                an order has reserved always covers its remaining fills.
//   settle       consumes the two orders' reservations; an order whose
//                remaining qty reaches 0 is closed by settle and any cash it
//                no longer needs is returned. Do not release it afterwards
//                (that returns unknown_order).
//   release      returns what an open order no longer needs (cancel, expiry,
//                an IOC remainder, a qty reduction; a market buy reserves at
//                the instrument's ceiling and releases the rest). For every party and
//                instrument, reserved rights, incoming reach and reserved cash
//                equal exactly the sums over its open orders — checked by
//                check_invariants() and by `haihe audit verify`.
//
// Commit, the write-ahead log and checkpoints (ledger/wal.h)
//   commit() makes the batch durable by appending ONE record to the
//   write-ahead log DATA/wal (the journal record, trades, movements,
//   snapshot, reservation image and chain head: everything the batch
//   stores). A background thread puts the records into an LMDB write
//   transaction and commits it — a checkpoint — when a quarter of the log
//   has accumulated, when no batch came for 2 ms, 20 ms after the first
//   record it holds, or when asked (history reads below, sync(), closing,
//   a log with no room). Small, frequent checkpoints: one every 250 ms
//   wrote enough at once to stall the log's flushes for ~10 ms. The timing
//   reads the clock but changes nothing stored: LMDB holds the same records
//   however they are grouped. Opening the ledger re-applies the records
//   LMDB does not hold (their chain heads are checked), so a crash between
//   commit and checkpoint loses nothing. Measured on this kind of disk, one
//   sequential record costs about a quarter of an LMDB commit (a dozen
//   scattered pages, then the meta page). Other processes read LMDB: they
//   see the batches up to the last checkpoint (haihe audit verify counts
//   those waiting in the log), and after a crash, the rest once the
//   exchange has reopened the directory.
//
// Durability (Options::durability)
//   full (default): the record is on the disk before commit() returns
//        (written with O_DIRECT | O_DSYNC, or flushed with fdatasync), and
//        every checkpoint is an LMDB commit with its flushes. A committed batch survives a crash of the process, of the
//        operating system and a power cut.
//   none: nothing is flushed (the log's writes and MDB_NOSYNC). A committed
//        batch survives a crash or SIGKILL of the process (the OS still
//        holds the pages), but a power cut or kernel crash may lose the most
//        recent batches; the database stays consistent (it reopens at an
//        earlier committed batch) unless the file system reorders writes
//        across LMDB's meta pages.
//
// Order state and recovery. The open orders' reservations live in memory. They
// are not a live LMDB table, because rewriting records of random orders on
// every commit dirties thousands of B-tree pages per batch and costs most of
// the durable throughput. Instead every change to an order's reservation is
// part of the batch's write-set in its journal record (hashed into the chain),
// and every so often — deterministically, when the order entries written
// since the last one reach 8 x max(open orders, Options::image_min_entries) —
// commit appends a compact sorted image of all open reservations (table
// `reservations`; 100,000 orders take about 2 MB). Open
// loads the latest image and re-applies the write-sets of the batches after
// it, so a crash loses no reservation and opening stays fast. The caller's
// book snapshots (put_snapshot) are separate and opaque to the ledger.
//
// Storage layout, canonical bytes and the audit chain: ledger/format.h.
// Verification and reports: ledger/audit.h.
//
// Thread safety: none. One thread at a time uses a Ledger and its Batch (the
// checkpoint thread is internal). Other processes may read the data
// directory at any time (audit, mdb_copy).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rules.h"

namespace haihe::ledger {

using rules::Fen;
using rules::InstrumentIndex;
using rules::PartyIndex;
using rules::Qty;
using rules::RegionIndex;
using rules::ZoneIndex;
using OrderId = std::uint64_t;     // the caller's order id (unique while open; not 2^64-1)
using Seq = std::uint64_t;         // batch sequence number, 1 = genesis
using TradeId = std::uint64_t;     // 1, 2, ... in settlement order
using TimestampNs = std::int64_t;  // ns since the Unix epoch, UTC, from the caller
using Hash = std::array<std::uint8_t, 32>;
using Bytes = std::span<const std::byte>;

/// Why an operation was rejected. `ok` means it was applied.
enum class Reason : std::uint8_t {
  ok = 0,
  unknown_account,        // party index out of range
  unknown_instrument,     // instrument index out of range
  unknown_order,          // no open reservation with this order id
  duplicate_order,        // an open reservation already has this order id
  invalid_order,          // the order id 2^64-1 (reserved by the ledger)
  invalid_quantity,       // qty/amount <= 0, or release keep_qty above what is open
  invalid_price,          // limit or fill price <= 0
  insufficient_holdings,  // not enough free rights
  insufficient_cash,      // not enough free cash
  party_cap,              // the party's holding limit would be exceeded
  region_cap,             // the region's cap would be exceeded
  zone_cap,               // the source zone's sustainable yield would be exceeded
  transfer_not_allowed,   // no transfer rule from the water's zone to the buyer's region
  not_permitted,          // this party may not: trade this instrument (Party::may_trade),
                          // hold rights (regulator), grant (not a fund), receive a grant
                          // (not a city government)
  order_mismatch,         // settle: not a buy and a sell of one instrument, qty above
                          // an order's open qty, or price above the buy limit
  overflow,               // an amount would not fit in int64
  snapshot_exists,        // put_snapshot called twice in one batch
};
std::string_view to_string(Reason r);

/// Lower-case hex of bytes (e.g. a chain head).
std::string to_hex(std::span<const std::uint8_t> bytes);

enum class Durability : std::uint8_t { full, none };

struct Options {
  Durability durability = Durability::full;
  /// Initial LMDB map size. The map doubles whenever a commit finds it full,
  /// up to max_map_bytes; beyond that commit throws LedgerError.
  std::uint64_t map_bytes = std::uint64_t{1} << 30;
  std::uint64_t max_map_bytes = std::uint64_t{1} << 40;
  /// Timestamp of the genesis batch (created when the directory is empty).
  TimestampNs genesis_ts_ns = 0;
  /// Reservation image policy: an image is appended when the order entries
  /// written since the last one reach 8 x max(open orders, this). Fixed at
  /// genesis (stored in meta, so replays take images at the same batches);
  /// ignored when opening an existing ledger. Small values are for tests.
  std::uint64_t image_min_entries = 65536;
  /// Opening a ledger with rules other than the stored ones fails unless
  /// this is set. Then the rules are amended: a batch stores the new rules
  /// (journal input "haihe amend rules-sha256 <new> replaces <old>", at
  /// amend_ts_ns). Only appending regions, zones, parties and instruments is
  /// allowed (stored keys keep their meaning); caps, fees, transfers,
  /// compensation and levies may change and apply from then on. Holdings
  /// above a lowered cap stay (no new headroom is granted; verify reports
  /// them); open buy orders keep what they reserved — after raising fees or
  /// compensation, release and re-reserve them, or their fills may be
  /// rejected with insufficient_cash.
  bool amend_rules = false;
  TimestampNs amend_ts_ns = 0;
  /// Size of the write-ahead log's ring (DATA/wal, see Durability). A batch
  /// record bigger than half of it is committed straight to LMDB instead.
  std::uint64_t wal_bytes = std::uint64_t{16} << 20;
  /// Tests: checkpoint only when asked (history reads, sync(), closing) or
  /// when the log has no room, never by time or size — so that a test can
  /// stop a process whose batches only the log holds.
  bool defer_checkpoints = false;
};

/// Open/configuration/environment problems (not business rejections): a
/// missing or foreign data directory, a different format version, rules that
/// do not match the stored ones, a full disk. The message says what to do.
class LedgerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- records (the values the reads return) --------------------------------

struct Holding {            // one party, one instrument
  Qty free_qty = 0;         // may be sold, retired
  Qty reserved_qty = 0;     // offered by open sell orders
  Qty incoming_qty = 0;     // what open buy orders may still bring in (cap headroom)
  friend bool operator==(const Holding&, const Holding&) = default;
};
struct Cash {               // one party
  Fen free_fen = 0;
  Fen reserved_fen = 0;     // held by open buy orders
  friend bool operator==(const Cash&, const Cash&) = default;
};
struct RegionUsage {        // one region, one instrument: the sums over its parties
  Qty held_qty = 0;         // free + reserved
  Qty incoming_qty = 0;     // open buy orders' reach
  friend bool operator==(const RegionUsage&, const RegionUsage&) = default;
};
struct Supply {             // one instrument (or cash)
  Qty issued_qty = 0;       // cash: deposited fen
  Qty retired_qty = 0;      // cash: withdrawn fen
  friend bool operator==(const Supply&, const Supply&) = default;
};

enum class Side : std::uint8_t { buy = 1, sell = 2 };

struct OrderReservation {
  PartyIndex party = rules::kNone;
  InstrumentIndex instrument = rules::kNone;
  Side side = Side::buy;
  Fen limit_fen = 0;  // buy: the limit price reserved at; sell: 0
  Qty qty = 0;        // open qty: sell: rights reserved; buy: incoming reach
  Fen cash_fen = 0;   // buy: cash still reserved; sell: 0
  friend bool operator==(const OrderReservation&, const OrderReservation&) = default;
};

/// One fill from the engine.
struct Fill {
  OrderId buy_order = 0;
  OrderId sell_order = 0;
  Qty qty = 0;
  Fen price_fen = 0;  // per base unit
  TimestampNs ts_ns = 0;
};

/// A settled trade, as stored (table `trades`).
struct TradeRecord {
  TradeId id = 0;
  Seq seq = 0;  // batch
  TimestampNs ts_ns = 0;
  InstrumentIndex instrument = 0;
  PartyIndex buyer = 0, seller = 0;
  OrderId buy_order = 0, sell_order = 0;
  Qty qty = 0;            // sold
  Qty delivered_qty = 0;  // received by the buyer; qty - delivered_qty went to loss
  Fen price_fen = 0;
  Fen value_fen = 0;      // qty * price
  Fen buyer_fee_fen = 0, seller_fee_fen = 0;
  Fen compensation_fen = 0;
  PartyIndex beneficiary = rules::kNone;  // compensation receiver, or kNone
  Fen levy_fen = 0;
  PartyIndex fund = rules::kNone;         // levy receiver, or kNone
  ZoneIndex zone = rules::kNone;          // water: source zone
  friend bool operator==(const TradeRecord&, const TradeRecord&) = default;
};

/// A non-trade movement (table `movements`): issuance, retirement, cash in
/// and out, grants.
enum class MovementKind : std::uint8_t { issue = 1, retire = 2, deposit = 3, withdraw = 4, grant = 5 };
struct MovementRecord {
  std::uint64_t id = 0;
  Seq seq = 0;
  TimestampNs ts_ns = 0;  // the batch's
  MovementKind kind = MovementKind::issue;
  PartyIndex party = 0;                      // receiver (issue, deposit, grant: the city) or giver
  PartyIndex counterparty = rules::kNone;    // grant: the fund
  InstrumentIndex instrument = rules::kNone; // issue/retire; kNone for cash
  std::int64_t amount = 0;                   // qty or fen
  friend bool operator==(const MovementRecord&, const MovementRecord&) = default;
};

struct CommitInfo {
  Seq seq = 0;   // the batch's sequence number
  Hash head{};   // the chain head after it
  std::uint64_t journal_bytes = 0;  // size of its journal record
};

/// What buying `qty` at `limit_fen` reserves for a party (reserve_buy).
struct BuyQuote {
  Reason reason = Reason::ok;
  Fen cash_fen = 0;          // value + buyer fee + compensation
  Fen compensation_fen = 0;
  Fen buyer_fee_fen = 0;
};

/// How a transfer from seller to buyer delivers (settle's rule).
struct Delivery {
  Reason reason = Reason::ok;  // ok or transfer_not_allowed
  std::int64_t num = 1, den = 1;
  ZoneIndex loss_zone = rules::kNone;
};

class Ledger;
struct LedgerImpl;

/// The open batch. Move-only; at most one per Ledger at a time.
class Batch {
 public:
  Batch(Batch&& o) noexcept;
  Batch& operator=(Batch&&) = delete;
  Batch(const Batch&) = delete;
  ~Batch();  // aborts if neither committed nor aborted

  // Rights. issue checks the party limit, region cap and zone cap.
  Reason issue(PartyIndex party, InstrumentIndex instrument, Qty qty);
  Reason retire(PartyIndex party, InstrumentIndex instrument, Qty qty);  // from free
  // Cash.
  Reason deposit(PartyIndex party, Fen fen);
  Reason withdraw(PartyIndex party, Fen fen);  // from free
  Reason grant(PartyIndex fund, PartyIndex city, Fen fen);

  // Orders. When several reasons apply, the first of: unknown_account,
  // unknown_instrument, invalid_quantity, invalid_price (buy), overflow (buy
  // value), not_permitted, invalid_order, duplicate_order, then
  // insufficient_holdings (sell) or party_cap, region_cap,
  // insufficient_cash (buy).
  Reason reserve_sell(OrderId order, PartyIndex party, InstrumentIndex instrument, Qty qty);
  Reason reserve_buy(OrderId order, PartyIndex party, InstrumentIndex instrument, Qty qty,
                     Fen limit_fen);
  /// Keeps keep_qty of the order open and returns the rest (buy: the cash
  /// beyond what keep_qty needs at the limit). keep_qty 0 closes the order.
  Reason release(OrderId order, Qty keep_qty = 0);
  /// Settles one fill; `out` receives the trade when ok. Reasons, first
  /// applicable: unknown_order, order_mismatch (same order, sides,
  /// instrument), invalid_quantity, invalid_price, order_mismatch (qty above
  /// either order's open qty, price above the buy limit),
  /// transfer_not_allowed, insufficient_cash (only after an amendment raised
  /// charges), overflow, party_cap.
  Reason settle(const Fill& fill, TradeRecord* out = nullptr);

  /// Stores the caller's snapshot (e.g. the books) with this batch; the
  /// ledger never interprets it. At most one per batch.
  Reason put_snapshot(Bytes snapshot);

  /// Stores the batch with `journal_input` (the batch's inputs, e.g. the
  /// core's command records, stored verbatim) and the caller's timestamp:
  /// durable when it returns (see Durability). Throws LedgerError if the
  /// environment fails (disk full, I/O error, map at max_map_bytes, an
  /// earlier checkpoint failed); the batch is then undone in memory and
  /// nothing of it is stored.
  CommitInfo commit(Bytes journal_input, TimestampNs ts_ns);
  void abort();

  Seq seq() const;  // the sequence number this batch will commit as

 private:
  friend class Ledger;
  explicit Batch(LedgerImpl* impl) : impl_(impl) {}
  LedgerImpl* impl_;
};

class Ledger {
 public:
  /// Opens the ledger in `dir`, creating it (and the genesis batch, seq 1:
  /// the rules' genesis holdings and cash, journal input "haihe genesis
  /// rules-sha256 <hex>") when the directory holds none. `rules` must be the
  /// parse of `rules_text`; the text is stored at genesis and must match on
  /// every later open. Throws LedgerError with an actionable message.
  static Ledger open(const std::filesystem::path& dir,
                     std::shared_ptr<const rules::MarketRules> rules,
                     std::string_view rules_text, const Options& options = {});

  Ledger(Ledger&&) noexcept;
  Ledger& operator=(Ledger&&) noexcept;
  ~Ledger();

  Batch begin();

  // ---- reads (current state, the open batch included) ----
  const rules::MarketRules& rules() const;
  Holding holding(PartyIndex party, InstrumentIndex instrument) const;
  Cash cash(PartyIndex party) const;
  RegionUsage region_usage(RegionIndex region, InstrumentIndex instrument) const;
  Qty zone_held(ZoneIndex zone, std::uint16_t vintage) const;  // excludes loss
  Qty loss_qty(InstrumentIndex instrument) const;  // conveyance loss booked (its zone's account)
  Supply supply(InstrumentIndex instrument) const;
  Supply cash_supply() const;
  std::optional<OrderReservation> order(OrderId order) const;
  std::size_t open_orders() const;
  /// Every open reservation in ascending order id (for checks, not hot path).
  void for_each_order(const std::function<void(OrderId, const OrderReservation&)>& fn) const;

  BuyQuote quote_buy(PartyIndex party, InstrumentIndex instrument, Qty qty, Fen limit_fen) const;
  Delivery delivery(PartyIndex seller, PartyIndex buyer, InstrumentIndex instrument) const;
  /// Whether a buyer can receive the instrument from a seller in ANY region
  /// (delivery() is ok for every seller outside the buyer's own region):
  /// not water, or the buyer is in the zone's city, or a transfer rule
  /// covers the buyer's region.
  bool may_receive_from_any(PartyIndex buyer, InstrumentIndex instrument) const;
  /// Remaining holding-limit headroom (party limit 0 = unlimited: INT64_MAX).
  Qty party_headroom(PartyIndex party, InstrumentIndex instrument) const;

  // ---- committed history ----
  /// A replay (re-executing the journal into an empty directory) reproduces
  /// the chain only with the same Options::genesis_ts_ns and
  /// image_min_entries as the original: take them from here.
  TimestampNs genesis_ts_ns() const;
  std::uint64_t image_min_entries() const;
  Seq head_seq() const;      // last committed batch
  Hash head_hash() const;    // chain head after it
  TradeId next_trade_id() const;
  /// The most recent snapshot stored with put_snapshot: (its batch, bytes).
  /// The history reads below first wait for a checkpoint that holds every
  /// committed batch (see Durability).
  std::optional<std::pair<Seq, std::vector<std::byte>>> latest_snapshot() const;
  /// Calls fn for every journal record with from <= seq <= head, in order.
  void read_journal(Seq from, const std::function<void(Seq, TimestampNs, Bytes input)>& fn) const;
  std::vector<TradeRecord> trades(TradeId from, std::size_t max_count) const;

  /// Laws 1–3 and the reservation sums on the current state: every violation
  /// found, as text (empty: all hold). O(parties x instruments + orders).
  std::vector<std::string> check_invariants() const;

  /// Checkpoints every committed batch into LMDB and flushes it to the disk
  /// (fdatasync): other processes (haihe audit) then see all of it. With
  /// durability none, call it at an orderly shutdown; closing the ledger
  /// checkpoints too.
  void sync();
  /// Batches that open() re-applied from the write-ahead log (committed, but
  /// not yet checkpointed when the last process stopped).
  std::uint64_t redone_batches() const;

  const std::filesystem::path& dir() const;

 private:
  explicit Ledger(std::unique_ptr<LedgerImpl> impl);
  std::unique_ptr<LedgerImpl> impl_;
};

}  // namespace haihe::ledger
