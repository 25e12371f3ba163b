// haihe::exchange — the exchange core: sequencer, single-writer core loop,
// subscribers, trading-day clock, snapshots, recovery and replay
// (DESIGN.md §3).
//
// Model
// -----
//     auto core = Core::open(options);     // opens the ledger, recovers the books
//     auto sub  = core->subscribe(Audience::party, party, 1 << 16);
//     core->start();                       // the one writer thread
//     core->submit(command);               // any thread: ok | busy | stopped
//     while (sub->poll(event)) ...         // any one thread per subscription
//     core->stop();                        // drain, commit, sync, join
//
// Front doors (FIX gateway, admin socket, simulator) translate their input
// into `Command`s and submit them; nobody else touches the books or the
// ledger. The core thread repeatedly:
//   1. reads the clock once and injects the trading-day commands that are due
//      (pre-open, open, midday break, reopen, end of day, auction uncrosses),
//      each stamped with its scheduled time. Every weekday (Monday-Friday,
//      local time) per instrument: pre-open at its pre_open (a call phase:
//      orders collect, indicative prices are published); at each session
//      start the opening auction uncrosses the book and then continuous
//      instruments trade continuously, batch instruments stay in a call
//      phase uncrossed every batch_interval_ms, call instruments stay in a
//      call phase uncrossed at their call_times; between sessions the midday
//      break; at the last session's end the day ends: DAY orders expire, GTD
//      orders whose date has come expire, and the closing price (the day's
//      last trade, else the old reference) becomes the next reference. A halt
//      outlasts the schedule until resumed (the end of day still applies).
//      After a pause (the core down, a stalled clock) the missed points run
//      in order, except that of several due batch uncrosses only the last runs;
//   2. drains up to max_batch commands from the queue, stamping each with the
//      next sequence number and the time it was taken (never earlier than the
//      previous stamp);
//   3. executes each: core checks (party, instrument, permission, ClOrdID),
//      ledger reservation, engine matching, ledger settlement of every fill,
//      release of every remainder;
//   4. commits ONE ledger transaction holding the batch's effects and its
//      journal record (the stamped commands with the ledger's decisions, the
//      per-party events, a digest of the public events): with durability
//      full, one record written and flushed to the ledger's write-ahead log,
//      which a ledger thread checkpoints into LMDB (ledger/ledger.h);
//   5. only then publishes the batch's events to the subscribers.
// Nothing is published that is not committed; a crash loses nothing anyone
// was told about.
//
// Determinism: the core reads no clock but the injected Clock (once per
// loop, and every reading is journaled as a stamp), draws no random numbers,
// and never iterates an unordered container. The same stamped commands give
// byte-identical events, journal records and chain head; `replay()` proves it.
//
// Recovery: open() opens the ledger (which re-applies the committed batches
// its last checkpoint did not hold, so it holds every one), restores the books and the core's tables from the latest snapshot
// (stored in the ledger with the batch that took it) and re-runs the journal
// after it through the engine. The ledger's decisions are taken from the
// journal (its effects are already stored), and every re-run batch must
// reproduce the stored events exactly; then the rebuilt books are checked
// against the ledger's open reservations. Any mismatch throws CoreError.
// Snapshots are taken deterministically, when the commands since the last one
// reach max(Options::snapshot_min_commands, open orders + today's ClOrdIDs / 2),
// so recovery re-runs a bounded journal (measured: 100,000 resting orders
// reopen in about a second, tests/exchange/test_recovery_time.cpp).
//
// Units as everywhere: fen (int64) for money, the instrument's base unit for
// quantities, int64 nanoseconds since the Unix epoch (UTC) for time. Local
// time is fixed UTC+8 (MarketRules::utc_offset_min).
//
// Thread safety: submit(), subscribe() and the Subscription consumer side are
// thread-safe; everything else is for the thread that owns the Core.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
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

#include "engine/engine.h"
#include "ledger/ledger.h"
#include "rules/rules.h"

namespace haihe::exchange {

using rules::Fen;
using rules::InstrumentIndex;
using rules::kNone;
using rules::PartyIndex;
using rules::Qty;
using Seq = std::uint64_t;         // command sequence number: 1, 2, ... for ever
using TimestampNs = std::int64_t;  // ns since the Unix epoch, UTC
using OrderId = std::uint64_t;     // exchange order id, unique for ever (= ledger order id)
using engine::OrderType;
using engine::Side;
using engine::StpMode;
using engine::TimeInForce;
using engine::TradingState;

/// A client order id (FIX ClOrdID): 1..32 printable ASCII characters
/// (0x21..0x7e), NUL-padded. Unique per party per trading day.
struct ClOrdId {
  static constexpr std::size_t kMaxLen = 32;
  std::array<char, kMaxLen> chars{};
  /// nullopt when `s` is empty, longer than kMaxLen or not printable ASCII.
  static std::optional<ClOrdId> from(std::string_view s);
  std::string_view view() const;
  bool empty() const { return chars[0] == '\0'; }
  friend bool operator==(const ClOrdId&, const ClOrdId&) = default;
  friend auto operator<=>(const ClOrdId&, const ClOrdId&) = default;
};

// ------------------------------------------------------------------ commands

enum class CommandKind : std::uint8_t {
  // participant (party = the submitting party, acting for itself)
  new_order = 1,
  cancel = 2,            // by order_id, or by orig_cl_ord_id when order_id is 0
  replace = 3,           // likewise; new price_fen and qty (new total), new cl_ord_id
  mass_cancel = 4,       // every open order of the party (instrument kNone) or one instrument
  order_status = 5,      // one order (order_id or orig_cl_ord_id), or all open orders (neither)
  position_request = 6,  // holdings (every instrument) and cash of the party
  book_request = 7,      // market data snapshot of one instrument, to the party
  // operator / regulator (party = who asked; target = the account acted on)
  halt = 16,             // instrument; post_only != 0: also cancel resting orders
  resume = 17,           // instrument: back to the state the schedule says
  set_reference = 18,    // instrument, price_fen
  issue = 19,            // target, instrument, qty
  retire = 20,           // target, instrument, qty
  deposit = 21,          // target, qty = fen
  withdraw = 22,         // target, qty = fen
  grant = 23,            // party or target = the fund, counterparty = the city, qty = fen
  session_open = 24,     // instrument or every instrument (kNone): open now
  session_close = 25,    // instrument or every instrument (kNone): end the day now
  // injected by the core's clock (never accepted from submit())
  schedule = 32,         // instrument: phase (pre_open, open, break, end of day)
  uncross = 33,          // instrument: run the call auction now
};
std::string_view to_string(CommandKind k);

/// A scheduled trading-day transition (Command::phase for schedule).
enum class Phase : std::uint8_t { none = 0, pre_open = 1, open = 2, midday_break = 3, end_of_day = 4 };
std::string_view to_string(Phase p);

/// One command. A plain, fixed-layout record (it is journaled as bytes):
/// zero-initialise, fill what the kind needs, submit.
struct Command {
  CommandKind kind = CommandKind::new_order;
  Side side = Side::buy;
  OrderType type = OrderType::limit;
  TimeInForce tif = TimeInForce::day;
  StpMode stp = StpMode::cancel_newest;
  std::uint8_t post_only = 0;      // new order: post-only; halt: also cancel resting orders
  Phase phase = Phase::none;       // schedule only
  std::uint8_t ledger_outcome = 0; // set by the core: the ledger's decision (journaled)
  PartyIndex party = kNone;        // who submits (participant: the account)
  InstrumentIndex instrument = kNone;
  PartyIndex target = kNone;       // admin: the account acted on (issue, deposit, ...)
  PartyIndex counterparty = kNone; // grant: the city government
  std::uint32_t expire_date = 0;   // GTD: yyyymmdd, local
  std::uint32_t pad0 = 0;
  OrderId order_id = 0;            // cancel/replace/status: the exchange order id (0: use orig_cl_ord_id)
  Fen price_fen = 0;               // limit price; set_reference: the new reference
  Qty qty = 0;                     // order qty (replace: new total); issue/retire: qty; cash: fen
  std::uint64_t user_ref = 0;      // opaque to the core, echoed in the events (front door's tag)
  ClOrdId cl_ord_id{};             // new/replace: the new ClOrdID; mass cancel: its request id
  ClOrdId orig_cl_ord_id{};        // cancel/replace/status: the order's current ClOrdID
  // Set by the core when it takes the command (anything submitted is overwritten).
  Seq seq = 0;
  TimestampNs ts_ns = 0;
  friend bool operator==(const Command&, const Command&) = default;
};

// -------------------------------------------------------------------- events

/// Who may see an event. A subscription of audience `party` receives that
/// party's events; `market` the market events; `regulator` EVERY event of
/// every audience (party, market and regulator), in commit order — the full
/// copy a regulator's drop copy or a gateway's single publisher reads.
enum class Audience : std::uint8_t {
  party = 1,      // Event::party's execution events (its orders, positions, admin replies)
  market = 2,     // public market data: book levels, trades (no parties), states
  regulator = 3,  // trade reports with both parties and every charge (+ all of the above)
};

enum class EventKind : std::uint8_t {
  // audience party
  order_accepted = 1,    // new order acknowledged (ExecType New)
  order_rejected = 2,    // new order refused (reject_source/reject_code)
  order_fill = 3,        // a fill of the party's order (last_qty @ last_px_fen)
  order_cancelled = 4,   // left the book without trading (cancel_cause)
  order_replaced = 5,    // price/qty changed (cl_ord_id new, orig_cl_ord_id old)
  order_expired = 6,     // DAY at end of day, GTD at its date
  order_status = 7,      // answer to order_status (one per order; reject when unknown)
  cancel_rejected = 8,   // cancel or replace refused (reject_source/reject_code)
  mass_cancel_done = 9,  // answer to mass_cancel: qty = number of orders cancelled
  position = 10,         // answer to position_request: one per instrument held (cum_qty =
                         //   free, aux_fen = reserved qty, delivered_qty = incoming), then
  cash = 11,             //   one cash event (cum_value_fen = free fen, aux_fen = reserved fen, is_last)
  book_level = 12,       // answer to book_request: one per level (side, price_fen, order_qty =
                         //   level qty; state; aux_fen = reference), bids best first then
                         //   asks; is_last on the last (an empty book: one with qty 0)
  admin_done = 13,       // an admin command applied (to the party that asked)
  admin_rejected = 14,   // an admin command refused
  // audience market
  level = 32,            // total resting qty at a price (0: level empty)
  trade = 33,            // a public trade print
  state = 34,            // an instrument's trading state changed
  reference = 35,        // reference price / band changed
  indicative = 36,       // call phase: indicative price and volume (0: no cross)
  // audience regulator
  trade_report = 48,     // a settled trade: both parties, every charge (drop copy)
};
std::string_view to_string(EventKind k);

/// Where a rejection came from; reject_code is that module's enum value.
enum class RejectSource : std::uint8_t { none = 0, core = 1, engine = 2, ledger = 3 };

/// The core's own reasons (RejectSource::core).
enum class CoreReject : std::uint8_t {
  none = 0,
  unknown_party,         // party index not in the rules
  unknown_instrument,    // instrument index not in the rules
  not_permitted,         // the party may not trade this instrument / may not do this admin action
  invalid_cl_ord_id,     // missing ClOrdID
  duplicate_cl_ord_id,   // the party used this ClOrdID today
  unknown_order,         // no open order of this party with this id / ClOrdID
  invalid_command,       // unknown kind or a field out of range
  invalid_amount,        // admin: qty or price <= 0
  invalid_state,         // resume of an instrument that is not halted, etc.
};
std::string_view to_string(CoreReject r);

/// A readable text for a rejection: "engine: price_outside_band".
std::string reject_text(RejectSource source, std::uint8_t code);

/// One event. Fixed layout, all fields 8-byte words or packed into them.
struct Event {
  Seq seq = 0;                 // the command that caused it
  TimestampNs ts_ns = 0;       // that command's stamp
  EventKind kind = EventKind::order_accepted;
  Audience audience = Audience::party;
  Side side = Side::buy;
  TradingState state = TradingState::closed;  // order_status: ord status source; state events
  RejectSource reject_source = RejectSource::none;
  std::uint8_t reject_code = 0;
  std::uint8_t cancel_cause = 0;  // engine::CancelCause for order_cancelled
  std::uint8_t is_last = 0;       // last event of a multi-event answer
  PartyIndex party = kNone;       // audience party: whose event; trade_report: the buyer
  InstrumentIndex instrument = kNone;
  OrderType type = OrderType::limit;
  TimeInForce tif = TimeInForce::day;
  CommandKind command = CommandKind::new_order;  // the kind of the causing command
  std::uint8_t pad0 = 0;
  PartyIndex counterparty = kNone;  // trade_report: the seller; admin: the target
  OrderId order_id = 0;         // trade_report: the buy order
  OrderId other_order_id = 0;   // trade_report: the sell order
  ClOrdId cl_ord_id{};
  ClOrdId orig_cl_ord_id{};
  Fen price_fen = 0;            // order limit / level / trade / reference price
  Qty order_qty = 0;            // order total qty; level: level qty; indicative: volume
  Qty leaves_qty = 0;
  Qty cum_qty = 0;              // filled so far
  Fen cum_value_fen = 0;        // sum of qty * price of the fills (average = cum_value / cum_qty)
  Qty last_qty = 0;             // fill: this fill
  Fen last_px_fen = 0;          // fill: its price; reference: band low
  Fen aux_fen = 0;              // reference: band high; cash: reserved fen; position: reserved qty
  std::uint64_t trade_id = 0;   // ledger trade id (fills, trades, trade reports)
  Qty delivered_qty = 0;        // trade_report: what the buyer received
  Fen fee_fen = 0;              // fill: this party's fee; report: buyer fee
  Fen other_fee_fen = 0;        // report: seller fee
  Fen compensation_fen = 0;     // fill (buyer) / report: ecological compensation paid
  Fen levy_fen = 0;             // fill (seller) / report: environmental levy paid
  PartyIndex beneficiary = kNone;  // report: who received the compensation
  std::uint32_t expire_date = 0;
  std::uint64_t user_ref = 0;   // echoed from the causing command
  friend bool operator==(const Event&, const Event&) = default;
};

// ---------------------------------------------------------------- clock

/// The time source of the core. Read once per loop by the core thread only.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampNs now_ns() = 0;
};
/// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  TimestampNs now_ns() override;
};
/// A clock that moves only when told to (simulations, tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimestampNs start_ns) : now_(start_ns) {}
  TimestampNs now_ns() override { return now_.load(std::memory_order_acquire); }
  void set(TimestampNs t) { now_.store(t, std::memory_order_release); }
  void advance(TimestampNs d) { now_.fetch_add(d, std::memory_order_acq_rel); }

 private:
  std::atomic<TimestampNs> now_;
};

/// The local date (yyyymmdd) and minute of day of a timestamp at a UTC offset.
struct LocalTime {
  std::uint32_t date = 0;
  std::uint32_t minute = 0;  // 0..1439
  std::uint32_t weekday = 0; // 0 = Monday .. 6 = Sunday
};
LocalTime local_time(TimestampNs ts_ns, std::int32_t utc_offset_min);
/// The UTC timestamp of local date yyyymmdd at minute `minute`.
TimestampNs local_to_utc(std::uint32_t date, std::uint32_t minute, std::int32_t utc_offset_min);

// ---------------------------------------------------------------- subscribers

/// A bounded single-consumer stream of events for one audience. The core
/// pushes after each commit and never waits: when the stream is full the
/// subscription is cut off (cut_off() becomes true, with a reason) and gets
/// nothing more. The consumer then drains what is left, drops the
/// subscription and subscribes anew, and recovers its state with
/// order_status / position_request / book_request commands.
class Subscription {
 public:
  virtual ~Subscription() = default;
  /// Takes the next event; false when none is waiting.
  virtual bool poll(Event& out) = 0;
  /// Takes up to out.size() events; returns how many.
  virtual std::size_t poll(std::span<Event> out) = 0;
  virtual bool cut_off() const = 0;
  virtual std::string cut_off_reason() const = 0;
  /// Waits (up to timeout) until an event may be waiting. Spurious wake-ups allowed.
  virtual void wait(std::chrono::microseconds timeout) = 0;
  virtual Audience audience() const = 0;
  virtual PartyIndex party() const = 0;
};

// ---------------------------------------------------------------- the core

enum class SubmitResult : std::uint8_t {
  ok = 0,
  busy = 1,     // the queue is full: try again later (nothing was queued)
  stopped = 2,  // the core is stopping or stopped
  invalid = 3,  // a kind that only the core may issue (schedule, uncross)
};
std::string_view to_string(SubmitResult r);

/// Start-up and environment problems (bad data directory, rules mismatch, a
/// recovery that does not reproduce the journal). The message says what to do.
class CoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CoreOptions {
  std::filesystem::path data_dir;
  std::shared_ptr<const rules::MarketRules> rules;
  std::string rules_text;  // the exact bytes `rules` was parsed from
  ledger::Durability durability = ledger::Durability::full;
  /// Serve an existing directory with different rules: journaled amendment.
  bool amend_rules = false;
  /// nullptr: SystemClock. Must outlive the Core.
  Clock* clock = nullptr;
  /// Queue capacity (commands; at most 65534, Boost.Lockfree's bound).
  std::uint32_t queue_capacity = 65534;
  /// Most commands executed in one batch (one ledger transaction).
  std::uint32_t max_batch = 8192;
  /// Snapshot policy, fixed at genesis (stored): see the header comment.
  std::uint64_t snapshot_min_commands = 200'000;
  /// Ledger image policy (ledger::Options::image_min_entries), fixed at genesis.
  std::uint64_t image_min_entries = 65536;
  /// Resting orders per book (engine pools).
  std::uint32_t max_orders_per_book = 1u << 17;
  /// false: no schedule commands are injected (tests that drive states by hand).
  bool run_schedule = true;
  /// Check the ledger's laws after every batch (tests; O(state) per batch).
  bool check_every_batch = false;
};

struct RecoveryInfo {
  std::uint64_t redone_batches = 0;  // committed but not checkpointed: re-applied from the ledger's log
  Seq snapshot_seq = 0;        // batch of the snapshot used (0: none, from genesis)
  std::uint64_t rerun_batches = 0;
  std::uint64_t rerun_commands = 0;
  std::uint64_t resting_orders = 0;
  double seconds = 0;
};

struct CoreStats {
  std::uint64_t commands = 0;
  std::uint64_t batches = 0;
  std::uint64_t events = 0;
  std::uint64_t trades = 0;
  std::uint64_t snapshots = 0;
  std::uint64_t busy = 0;  // submits answered busy
  std::uint64_t journal_bytes = 0;  // ledger journal records written (live batches)
  // Wall time the core spent (live batches): executing commands (checks,
  // reservations, matching, settlement), committing the ledger transaction
  // (the fsync included) and publishing to subscribers.
  std::int64_t execute_ns = 0, commit_ns = 0, publish_ns = 0;
};

class CoreImpl;

class Core {
 public:
  /// Opens (or creates) the data directory and recovers. Throws CoreError.
  static std::unique_ptr<Core> open(const CoreOptions& options);
  ~Core();  // stops if running

  const rules::MarketRules& rules() const;
  const RecoveryInfo& recovery() const;

  /// Any thread. Never blocks.
  SubmitResult submit(const Command& c);

  /// Any thread. A new stream of `audience` events (party: only that party's).
  /// The subscription receives the events of batches committed after this call.
  std::shared_ptr<Subscription> subscribe(Audience audience, PartyIndex party = kNone,
                                          std::size_t capacity = 1u << 16);

  /// Starts the core thread. After start(), only submit/subscribe/stop.
  void start();
  /// Stops taking commands (submit answers stopped), executes and commits
  /// what is queued, syncs the ledger, joins the thread. Idempotent.
  void stop();

  /// Without start(): one loop iteration on the caller's thread (inject due
  /// schedule commands, drain up to max_batch, execute, commit, publish).
  /// Returns the number of commands executed. For simulations and tests.
  std::size_t step();

  /// Without start(): calls fn for every stored per-party event of the
  /// batches with command seq > after_seq (e.g. a gateway delivering what was
  /// committed but not sent before a crash), in order.
  void for_each_stored_event(Seq after_seq, const std::function<void(const Event&)>& fn) const;

  /// Without start() (or after stop()): reads on the state.
  const ledger::Ledger& ledger() const;
  Seq last_seq() const;  // last command sequence number taken
  CoreStats stats() const;  // any thread (relaxed counters)
  /// Any thread. Empty while healthy; else why the core stopped (a ledger
  /// commit failed, an invariant broke). The core then takes no commands
  /// (submit answers stopped) and every subscription is cut off; restart
  /// the process: recovery resumes from the last committed batch.
  std::string failure() const;
  TradingState state(InstrumentIndex instrument) const;
  std::optional<Fen> reference_fen(InstrumentIndex instrument) const;
  std::uint64_t resting_orders() const;
  /// Checks that the books, the core's order table and the ledger's
  /// reservations agree, and the ledger's laws. Empty: all hold.
  std::vector<std::string> check() const;
  /// A canonical text of the books (every resting order, in priority order,
  /// and each book's meta): equal texts mean equal books.
  std::string books_text() const;

 private:
  explicit Core(std::unique_ptr<CoreImpl> impl);
  std::unique_ptr<CoreImpl> impl_;
};

// ---------------------------------------------------------------- replay

struct ReplayReport {
  Seq batches = 0;
  Seq commands = 0;
  std::uint64_t events_compared = 0;
  bool events_match = true;
  Seq first_mismatch_batch = 0;  // 0: none
  std::string mismatch;          // what differed
  ledger::Hash stored_head{};
  ledger::Hash replayed_head{};
  bool heads_match() const { return stored_head == replayed_head; }
};

/// Re-executes the journal of `data_dir` against an empty ledger and engine
/// in `scratch_dir` (created; must not hold a ledger) and compares every
/// batch's events and the final chain head (law 6). Reads data_dir only.
ReplayReport replay(const std::filesystem::path& data_dir, const std::filesystem::path& scratch_dir);

}  // namespace haihe::exchange
