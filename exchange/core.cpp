// The exchange core (exchange/core.h): sequencer, single-writer loop,
// subscribers, trading-day schedule, snapshots, recovery and replay.
#include "exchange/core.h"

#include <algorithm>
#include <boost/container_hash/hash.hpp>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "exchange/instrument_params.h"
#include "exchange/journal.h"
#include "ledger/audit.h"

namespace haihe::exchange {
namespace {

using engine::RejectReason;
constexpr std::int64_t kMinuteNs = 60'000'000'000;
constexpr std::int64_t kDayNs = 1440 * kMinuteNs;
constexpr std::uint32_t kSnapshotMagic = 0x31535848;  // "HXS1"

struct PartyClOrd {
  PartyIndex party = 0;
  ClOrdId id{};
  friend bool operator==(const PartyClOrd&, const PartyClOrd&) = default;
  friend auto operator<=>(const PartyClOrd&, const PartyClOrd&) = default;
};
struct PartyClOrdHash {
  std::size_t operator()(const PartyClOrd& k) const noexcept {
    std::size_t h = boost::hash_range(k.id.chars.begin(), k.id.chars.end());
    boost::hash_combine(h, k.party);
    return h;
  }
};

/// What the core knows of an open order beyond the book.
struct OrderInfo {
  PartyIndex party = 0;
  InstrumentIndex instrument = 0;
  Side side = Side::buy;
  OrderType type = OrderType::limit;
  TimeInForce tif = TimeInForce::day;
  std::uint32_t expire_date = 0;
  ClOrdId cl_ord_id{};
  Fen price_fen = 0;
  Qty order_qty = 0;
  Qty cum_qty = 0;
  Fen cum_value_fen = 0;
};

// ---------------------------------------------------------------- subscription

class SubImpl final : public Subscription {
 public:
  SubImpl(Audience audience, PartyIndex party, std::size_t capacity)
      : queue_(std::max<std::size_t>(capacity, 16)), audience_(audience), party_(party) {}

  bool poll(Event& out) override { return queue_.pop(out); }
  std::size_t poll(std::span<Event> out) override { return queue_.pop(out.data(), out.size()); }
  bool cut_off() const override { return cut_.load(std::memory_order_acquire); }
  std::string cut_off_reason() const override {
    std::lock_guard lock(mutex_);
    return reason_;
  }
  void wait(std::chrono::microseconds timeout) override {
    if (queue_.read_available() > 0 || cut_off()) return;
    waiting_.store(true, std::memory_order_seq_cst);
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return queue_.read_available() > 0 || cut_off(); });
    waiting_.store(false, std::memory_order_relaxed);
  }
  Audience audience() const override { return audience_; }
  PartyIndex party() const override { return party_; }

  // Core side (one producer: the core thread).
  void push(const Event& e) {
    if (cut_.load(std::memory_order_relaxed)) return;
    if (!queue_.push(e)) {
      cut("fell behind: " + std::to_string(queue_.write_available() + queue_.read_available()) +
          " events unread; subscribe again and recover with status requests");
    }
  }
  void cut(const std::string& reason) {
    {
      std::lock_guard lock(mutex_);
      if (cut_.load(std::memory_order_relaxed)) return;
      reason_ = reason;
      cut_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  }
  void notify() {
    if (waiting_.load(std::memory_order_seq_cst)) {
      std::lock_guard lock(mutex_);
      cv_.notify_all();
    }
  }

 private:
  boost::lockfree::spsc_queue<Event> queue_;
  Audience audience_;
  PartyIndex party_;
  std::atomic<bool> cut_{false};
  std::atomic<bool> waiting_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string reason_;
};

// ---------------------------------------------------------------- byte writer

struct Writer {
  std::vector<std::byte> out;
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto n = out.size();
    out.resize(n + sizeof(T));
    std::memcpy(out.data() + n, &v, sizeof(T));
  }
};
struct Reader {
  std::span<const std::byte> in;
  template <class T>
  T get() {
    if (in.size() < sizeof(T)) throw CoreError("damaged core snapshot (short): run haihe audit verify");
    T v;
    std::memcpy(&v, in.data(), sizeof(T));
    in = in.subspan(sizeof(T));
    return v;
  }
};

}  // namespace

// =================================================================== CoreImpl

class CoreImpl {
 public:
  struct Listener : engine::NullListener {
    CoreImpl* core = nullptr;
    void on_accepted(const engine::Accepted& a) noexcept { core->on_accepted(a); }
    void on_trade(const engine::Trade& t) noexcept { core->on_trade(t); }
    void on_cancelled(const engine::Cancelled& c) noexcept { core->on_cancelled(c); }
    void on_replaced(const engine::Replaced& r) noexcept { core->on_replaced(r); }
    void on_expired(const engine::Expired& x) noexcept { core->on_expired(x); }
    void on_level(const engine::LevelChanged& l) noexcept { core->on_level(l); }
    void on_state(const engine::StateChanged& s) noexcept { core->on_state(s); }
    void on_reference(const engine::ReferenceChanged& r) noexcept { core->on_reference(r); }
    void on_indicative(const engine::Indicative& x) noexcept { core->on_indicative(x); }
  };
  using Engine = engine::Engine<Listener>;

  enum class Mode : std::uint8_t { live, recorded };

  explicit CoreImpl(const CoreOptions& options)
      : options_(options), queue_(std::min<std::uint32_t>(std::max<std::uint32_t>(options.queue_capacity, 2), 65534)) {
    if (!options_.rules) throw CoreError("CoreOptions::rules is required");
    rules_ = options_.rules;
    clock_ = options_.clock != nullptr ? options_.clock : &system_clock_;
    listener_.core = this;
    auto params = instrument_params(*rules_);
    for (auto& p : params) p.max_orders = options_.max_orders_per_book;
    engine_ = std::make_unique<Engine>(params, listener_);
    const std::size_t n = rules_->instruments.size();
    last_trade_px_.assign(n, 0);
    next_point_.assign(n, Point{});
    by_party_.resize(rules_->parties.size());
    events_.reserve(1 << 16);
    batch_cmds_.reserve(options_.max_batch + 64);
    snapshot_min_ = std::max<std::uint64_t>(1, options_.snapshot_min_commands);
  }

  ~CoreImpl() { stop(); }

  // ------------------------------------------------------------- opening

  void open() {
    const auto started = std::chrono::steady_clock::now();
    ledger::Options lo;
    lo.durability = options_.durability;
    lo.genesis_ts_ns = clock_->now_ns();
    lo.image_min_entries = options_.image_min_entries;
    lo.amend_rules = options_.amend_rules;
    lo.amend_ts_ns = lo.genesis_ts_ns;
    try {
      ledger_.emplace(ledger::Ledger::open(options_.data_dir, rules_, options_.rules_text, lo));
      recovery_.redone_batches = ledger_->redone_batches();
    } catch (const ledger::LedgerError& e) {
      throw CoreError(e.what());
    }
    recover();
    recovery_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }

  void recover() {
    ledger::Seq from = 1;
    if (auto snap = ledger_->latest_snapshot()) {
      restore_snapshot(snap->second);
      recovery_.snapshot_seq = snap->first;
      from = snap->first + 1;
    } else {
      // Genesis: the schedule starts at the local midnight of the genesis date.
      const auto g = ledger_->genesis_ts_ns();
      const auto lt = local_time(g, rules_->utc_offset_min);
      last_ts_ = local_to_utc(lt.date, 0, rules_->utc_offset_min) - 1;
      next_trade_id_ = 1;
    }
    // Read the records first: the re-run reads trades, and LMDB allows one
    // read transaction per thread.
    std::vector<std::pair<ledger::Seq, BatchRecord>> records;
    ledger_->read_journal(from, [&](ledger::Seq seq, ledger::TimestampNs, ledger::Bytes input) {
      BatchRecord record;
      if (decode_batch(input, record)) records.emplace_back(seq, std::move(record));
    });
    bool first_core_record = recovery_.snapshot_seq != 0;
    for (auto& [seq, record] : records) {
      if (!first_core_record) {
        snapshot_min_ = record.snapshot_min_commands;
        first_core_record = true;
      }
      mode_ = Mode::recorded;
      run_batch(record.commands);
      mode_ = Mode::live;
      compare_events(seq, record);
      ++recovery_.rerun_batches;
      recovery_.rerun_commands += record.commands.size();
    }
    if (!first_core_record) snapshot_min_ = std::max<std::uint64_t>(1, options_.snapshot_min_commands);
    trade_tape_.clear();
    const auto problems = check();
    if (!problems.empty()) {
      throw CoreError("recovery: the rebuilt books disagree with the ledger: " + problems.front() +
                      " (" + std::to_string(problems.size()) + " problems; run haihe audit verify)");
    }
    recovery_.resting_orders = orders_.size();
    init_schedule();
  }

  void compare_events(ledger::Seq seq, const BatchRecord& record) {
    // Positions answer with the ledger's state at the time, which the
    // re-run cannot see (the ledger is already at its head): they are not
    // re-run (haihe replay compares them).
    std::vector<Event> party, stored;
    party.reserve(events_.size());
    for (const Event& e : events_) {
      if (e.audience == Audience::party) party.push_back(e);
      else digest_.add(e);
    }
    for (const Event& e : record.party_events) {
      if (e.kind != EventKind::position && e.kind != EventKind::cash) stored.push_back(e);
    }
    const auto digest = digest_.finish();
    if (party != stored) {
      std::size_t i = 0;
      while (i < party.size() && i < stored.size() && party[i] == stored[i]) ++i;
      std::string what = "recovery: re-running batch " + std::to_string(seq) +
                         " does not reproduce its stored events (first difference at party event " +
                         std::to_string(i) + ": ";
      if (i < party.size() && i < stored.size()) {
        what += describe_difference(party[i], stored[i]);
      } else {
        what += std::to_string(party.size()) + " events instead of " + std::to_string(stored.size());
      }
      throw CoreError(what + "); run haihe replay and haihe audit verify");
    }
    if (digest != record.public_digest) {
      throw CoreError("recovery: re-running batch " + std::to_string(seq) +
                      " does not reproduce its public events; run haihe replay");
    }
    events_.clear();
  }

  static std::string describe_difference(const Event& got, const Event& stored) {
    std::uint64_t a[sizeof(Event) / 8], b[sizeof(Event) / 8];
    std::memcpy(a, &got, sizeof(Event));
    std::memcpy(b, &stored, sizeof(Event));
    std::string words;
    for (std::size_t k = 0; k < sizeof(Event) / 8; ++k) {
      if (a[k] != b[k]) words += fmt::format(" {}", k);
    }
    return fmt::format("{} vs stored {}, order {} vs {}, words differing:{}", to_string(got.kind),
                       to_string(stored.kind), got.order_id, stored.order_id, words);
  }

  // ------------------------------------------------------------- snapshot

  std::vector<std::byte> make_snapshot() const {
    Writer w;
    w.out.reserve(64 + orders_.size() * 96 + used_log_.size() * 40);
    w.put(kSnapshotMagic);
    w.put(last_seq_);
    w.put(last_ts_);
    w.put(current_date_);
    w.put(next_order_id_);
    w.put(ledger_->next_trade_id());
    w.put(snapshot_min_);
    w.put(static_cast<std::uint32_t>(rules_->instruments.size()));
    for (InstrumentIndex i = 0; i < rules_->instruments.size(); ++i) {
      const auto* book = engine_->book(i);
      const auto meta = book->meta();
      w.put(static_cast<std::uint8_t>(meta.state));
      w.put(meta.reference_fen);
      w.put(meta.next_trade_id);
      w.put(meta.gtd_expired_through);
      w.put(last_trade_px_[i]);
      w.put(book->resting_count());
      book->for_each_resting([&](const engine::RestingOrder& r) {
        const auto it = orders_.find(r.id);
        assert(it != orders_.end());
        const OrderInfo& o = it->second;
        w.put(r.id);
        w.put(r.account);
        w.put(static_cast<std::uint8_t>(r.side));
        w.put(static_cast<std::uint8_t>(r.tif));
        w.put(static_cast<std::uint8_t>(r.stp));
        w.put(static_cast<std::uint8_t>(r.post_only));
        w.put(static_cast<std::uint8_t>(o.type));
        w.put(r.price_fen);
        w.put(r.leaves_qty);
        w.put(r.filled_qty);
        w.put(r.expire_date);
        w.put(o.cl_ord_id);
        w.put(o.cum_value_fen);
      });
    }
    // Today's ClOrdIDs in the order they were first used (deterministic; the
    // hash set's own order is not).
    w.put(static_cast<std::uint64_t>(used_log_.size()));
    for (const auto& k : used_log_) {
      w.put(k.party);
      w.put(k.id);
    }
    return std::move(w.out);
  }

  void restore_snapshot(std::span<const std::byte> bytes) {
    Reader r{bytes};
    if (r.get<std::uint32_t>() != kSnapshotMagic) throw CoreError("the latest snapshot is not a core snapshot");
    last_seq_ = r.get<Seq>();
    last_ts_ = r.get<TimestampNs>();
    current_date_ = r.get<std::uint32_t>();
    next_order_id_ = r.get<OrderId>();
    next_trade_id_ = r.get<std::uint64_t>();
    snapshot_min_ = r.get<std::uint64_t>();
    const auto n = r.get<std::uint32_t>();
    if (n > rules_->instruments.size()) throw CoreError("the snapshot has more instruments than the rules");
    std::vector<std::pair<PartyClOrd, OrderId>> live_orders;
    for (InstrumentIndex i = 0; i < n; ++i) {
      auto* book = engine_->book(i);
      engine::BookMeta meta;
      meta.state = static_cast<TradingState>(r.get<std::uint8_t>());
      meta.reference_fen = r.get<Fen>();
      meta.next_trade_id = r.get<std::uint64_t>();
      meta.gtd_expired_through = r.get<std::uint32_t>();
      if (book->restore_meta(meta) != RejectReason::none) throw CoreError("snapshot: bad book meta");
      last_trade_px_[i] = r.get<Fen>();
      const auto count = r.get<std::uint32_t>();
      for (std::uint32_t k = 0; k < count; ++k) {
        engine::RestingOrder o;
        o.id = r.get<OrderId>();
        o.account = r.get<engine::AccountId>();
        o.side = static_cast<Side>(r.get<std::uint8_t>());
        o.tif = static_cast<TimeInForce>(r.get<std::uint8_t>());
        o.stp = static_cast<StpMode>(r.get<std::uint8_t>());
        o.post_only = r.get<std::uint8_t>() != 0;
        const auto type = static_cast<OrderType>(r.get<std::uint8_t>());
        o.price_fen = r.get<Fen>();
        o.leaves_qty = r.get<Qty>();
        o.filled_qty = r.get<Qty>();
        o.expire_date = r.get<std::uint32_t>();
        const auto cl = r.get<ClOrdId>();
        const auto cum_value = r.get<Fen>();
        if (book->restore(o) != RejectReason::none) throw CoreError("snapshot: an order could not be restored");
        OrderInfo info;
        info.party = o.account;
        info.instrument = i;
        info.side = o.side;
        info.type = type;
        info.tif = o.tif;
        info.expire_date = o.expire_date;
        info.cl_ord_id = cl;
        info.price_fen = o.price_fen;
        info.order_qty = o.leaves_qty + o.filled_qty;
        info.cum_qty = o.filled_qty;
        info.cum_value_fen = cum_value;
        orders_.emplace(o.id, info);
        live_orders.emplace_back(PartyClOrd{o.account, cl}, o.id);
      }
    }
    const auto used = r.get<std::uint64_t>();
    for (std::uint64_t k = 0; k < used; ++k) {
      PartyClOrd key;
      key.party = r.get<PartyIndex>();
      key.id = r.get<ClOrdId>();
      clords_.emplace(key, OrderId{0});
      used_log_.push_back(key);
    }
    for (const auto& [key, id] : live_orders) clords_.insert_or_assign(key, id);
    if (!r.in.empty()) throw CoreError("damaged core snapshot (trailing bytes)");
  }

  // ------------------------------------------------------------- schedule

  /// A trading-day point of one instrument. Points at the same time run in
  /// rank order: pre-open, open, uncross, break, end of day.
  struct Point {
    TimestampNs ts = std::numeric_limits<TimestampNs>::max();
    std::uint8_t rank = 0;
    Phase phase = Phase::none;  // none: an auction uncross
    bool valid() const { return ts != std::numeric_limits<TimestampNs>::max(); }
    bool after(TimestampNs t, std::uint8_t r) const { return ts > t || (ts == t && rank > r); }
    friend bool operator<(const Point& a, const Point& b) { return a.ts != b.ts ? a.ts < b.ts : a.rank < b.rank; }
  };
  static constexpr std::uint8_t kRankPreOpen = 0, kRankOpen = 1, kRankUncross = 2, kRankBreak = 3, kRankEnd = 4;

  /// The instrument's first schedule point after (after_ts, after_rank).
  Point next_point(InstrumentIndex i, TimestampNs after_ts, std::uint8_t after_rank) const {
    const auto& ins = rules_->instruments[i];
    const auto off = rules_->utc_offset_min;
    if (ins.day.sessions.empty()) return {};
    const auto lt = local_time(after_ts, off);
    const TimestampNs day0 = local_to_utc(lt.date, 0, off);
    for (int d = 0; d < 10; ++d) {
      const TimestampNs day_start = day0 + d * kDayNs;
      if (local_time(day_start, off).weekday >= 5) continue;  // no trading on Saturday and Sunday
      Point best;
      auto consider = [&](TimestampNs ts, std::uint8_t rank, Phase phase) {
        const Point p{ts, rank, phase};
        if (p.after(after_ts, after_rank) && p < best) best = p;
      };
      auto at = [&](std::uint32_t minute) { return day_start + std::int64_t{minute} * kMinuteNs; };
      const auto& s = ins.day.sessions;
      if (ins.day.pre_open_min < s.front().start_min) consider(at(ins.day.pre_open_min), kRankPreOpen, Phase::pre_open);
      for (std::size_t k = 0; k < s.size(); ++k) {
        const TimestampNs start = at(s[k].start_min), end = at(s[k].end_min);
        consider(start, kRankOpen, Phase::open);
        consider(end, k + 1 < s.size() ? kRankBreak : kRankEnd, k + 1 < s.size() ? Phase::midday_break : Phase::end_of_day);
        if (ins.mode == rules::TradingMode::batch && ins.batch_interval_ms > 0) {
          // Uncross every interval within the session (the end point uncrosses last).
          const std::int64_t tau = std::int64_t{ins.batch_interval_ms} * 1'000'000;
          std::int64_t j = after_ts > start ? (after_ts - start) / tau : 1;
          if (j < 1) j = 1;
          for (; start + j * tau < end; ++j) {
            const Point p{start + j * tau, kRankUncross, Phase::none};
            if (p.after(after_ts, after_rank)) {
              consider(p.ts, p.rank, p.phase);
              break;
            }
          }
        }
      }
      if (ins.mode == rules::TradingMode::call) {
        for (const auto minute : ins.call_times_min) consider(at(minute), kRankUncross, Phase::none);
      }
      if (best.valid()) return best;
    }
    return {};
  }

  /// The state the schedule gives an instrument at `ts`.
  TradingState scheduled_state(InstrumentIndex i, TimestampNs ts) const {
    const auto& ins = rules_->instruments[i];
    const auto lt = local_time(ts, rules_->utc_offset_min);
    if (lt.weekday >= 5 || ins.day.sessions.empty()) return TradingState::closed;
    const auto& s = ins.day.sessions;
    if (lt.minute < ins.day.pre_open_min) return TradingState::closed;
    if (lt.minute < s.front().start_min) return TradingState::pre_open;
    for (std::size_t k = 0; k < s.size(); ++k) {
      if (lt.minute >= s[k].start_min && lt.minute < s[k].end_min) return session_state(i);
      if (k + 1 < s.size() && lt.minute >= s[k].end_min && lt.minute < s[k + 1].start_min) {
        return TradingState::midday_break;
      }
    }
    return TradingState::closed;
  }

  /// In session: continuous trading, or a call phase for batch and call modes.
  TradingState session_state(InstrumentIndex i) const {
    return rules_->instruments[i].mode == rules::TradingMode::continuous ? TradingState::open : TradingState::call;
  }

  /// Moves a book to `target`, running the call auction first when it leaves
  /// a call phase for continuous trading.
  RejectReason enter(InstrumentIndex i, TradingState target) {
    auto* book = engine_->book(i);
    if (target == TradingState::open && engine::is_call_phase(book->state())) engine_->uncross(i);
    auto rc = engine_->set_state(i, target);
    if (rc == RejectReason::book_crossed) {  // e.g. halted during a call phase
      engine_->set_state(i, TradingState::call);
      engine_->uncross(i);
      rc = engine_->set_state(i, target);
    }
    return rc;
  }

  void init_schedule() {
    for (InstrumentIndex i = 0; i < next_point_.size(); ++i) next_point_[i] = next_point(i, last_ts_, kRankEnd);
  }

  void inject_schedule(TimestampNs now) {
    if (!options_.run_schedule) return;
    while (batch_cmds_.size() < options_.max_batch) {
      InstrumentIndex best = kNone;
      for (InstrumentIndex i = 0; i < next_point_.size(); ++i) {
        if (next_point_[i].ts <= now && (best == kNone || next_point_[i] < next_point_[best])) best = i;
      }
      if (best == kNone) return;
      const Point p = next_point_[best];
      next_point_[best] = next_point(best, p.ts, p.rank);
      if (p.phase == Phase::none && next_point_[best].phase == Phase::none && next_point_[best].ts <= now) {
        continue;  // a later uncross is also due (the core was away): one auction, not a backlog
      }
      Command c{};
      c.kind = p.phase == Phase::none ? CommandKind::uncross : CommandKind::schedule;
      c.instrument = best;
      c.phase = p.phase;
      c.party = kNone;
      stamp(c, p.ts);
      batch_cmds_.push_back(c);
    }
  }

  void stamp(Command& c, TimestampNs ts) {
    c.seq = ++last_seq_;
    c.ts_ns = std::max(ts, last_ts_);
    last_ts_ = c.ts_ns;
  }

  // ------------------------------------------------------------- the loop

  std::size_t step() {
    if (!failure_.empty()) return 0;
    const TimestampNs now = clock_->now_ns();
    batch_cmds_.clear();
    inject_schedule(now);
    Command c;
    while (batch_cmds_.size() < options_.max_batch && queue_.pop(c)) {
      stamp(c, now);
      c.ledger_outcome = 0;
      batch_cmds_.push_back(c);
    }
    if (batch_cmds_.empty()) return 0;
    run_live_batch(batch_cmds_);
    return batch_cmds_.size();
  }

  /// Executes stamped commands as one ledger batch and publishes.
  ledger::CommitInfo run_live_batch(std::vector<Command>& cmds) {
    const auto p0 = std::chrono::steady_clock::now();
    batch_.emplace(ledger_->begin());
    mode_ = Mode::live;
    try {
      run_batch(cmds);
      const auto p1 = std::chrono::steady_clock::now();
      stats_ns_[0].fetch_add((p1 - p0).count(), std::memory_order_relaxed);
      if (!fatal_.empty()) throw CoreError(fatal_);
      // A snapshot costs O(open orders + today's ClOrdIDs); taking one every
      // max(min, that) commands keeps its cost O(1) per command and the
      // journal a restart re-runs no longer than that.
      if (commands_since_snapshot_ >= std::max<std::uint64_t>(snapshot_min_, orders_.size() + used_log_.size() / 2)) {
        const auto bytes = make_snapshot();
        batch_->put_snapshot(bytes);
        commands_since_snapshot_ = 0;
        stats_snapshots_.fetch_add(1, std::memory_order_relaxed);
      }
      journal_.clear();
      party_events_.clear();
      for (const Event& e : events_) {
        if (e.audience == Audience::party) party_events_.push_back(e);
        else digest_.add(e);
      }
      const auto digest = digest_.finish();
      encode_batch(snapshot_min_, cmds, party_events_, digest, journal_);
      if (replay_capture_) {
        captured_party_ = party_events_;
        captured_digest_ = digest;
      }
      const auto p2 = std::chrono::steady_clock::now();
      const auto info = batch_->commit(journal_, last_ts_);
      batch_.reset();
      const auto p3 = std::chrono::steady_clock::now();
      stats_ns_[1].fetch_add((p3 - p2).count(), std::memory_order_relaxed);
      stats_journal_bytes_.fetch_add(info.journal_bytes, std::memory_order_relaxed);
      if (options_.check_every_batch) {
        const auto problems = check();
        if (!problems.empty()) throw CoreError("after batch " + std::to_string(info.seq) + ": " + problems.front());
      }
      publish();
      stats_ns_[2].fetch_add((std::chrono::steady_clock::now() - p3).count(), std::memory_order_relaxed);
      stats_commands_.fetch_add(cmds.size(), std::memory_order_relaxed);
      stats_batches_.fetch_add(1, std::memory_order_relaxed);
      return info;
    } catch (...) {
      if (batch_) {
        batch_->abort();
        batch_.reset();
      }
      events_.clear();
      throw;
    }
  }

  /// Executes commands (live: against the open batch; recorded: the
  /// ledger's decisions come from the commands, its effects are stored).
  void run_batch(std::vector<Command>& cmds) {
    events_.clear();
    fatal_.clear();
    for (Command& c : cmds) {
      cmd_ = &c;
      last_seq_ = std::max(last_seq_, c.seq);
      last_ts_ = std::max(last_ts_, c.ts_ns);
      if (c.ts_ns < day_begin_ns_ || c.ts_ns >= day_end_ns_) new_day(c.ts_ns);
      execute(c);
      if (!fatal_.empty()) break;
    }
    cmd_ = nullptr;
    commands_since_snapshot_ += cmds.size();
    if (!fatal_.empty() && mode_ == Mode::recorded) throw CoreError("recovery: " + fatal_);
  }

  /// A command of another local date: ClOrdIDs may be used again, except
  /// those of orders still open (GTC, GTD).
  void new_day(TimestampNs ts) {
    const auto lt = local_time(ts, rules_->utc_offset_min);
    day_begin_ns_ = local_to_utc(lt.date, 0, rules_->utc_offset_min);
    day_end_ns_ = day_begin_ns_ + kDayNs;
    if (lt.date == current_date_) return;
    current_date_ = lt.date;
    boost::unordered::erase_if(clords_, [](const auto& kv) { return kv.second == 0; });
    used_log_.clear();
    for (InstrumentIndex i = 0; i < engine_->instrument_count(); ++i) {
      engine_->book(i)->for_each_resting([&](const engine::RestingOrder& r) {
        used_log_.push_back(PartyClOrd{r.account, orders_.at(r.id).cl_ord_id});
      });
    }
  }

  void publish() {
    if (subs_dirty_.load(std::memory_order_acquire)) refresh_subscriptions();
    for (const Event& e : events_) {
      switch (e.audience) {
        case Audience::party:
          if (e.party < by_party_.size()) {
            for (SubImpl* s : by_party_[e.party]) s->push(e);
          }
          break;
        case Audience::market:
          for (SubImpl* s : market_) s->push(e);
          break;
        case Audience::regulator:
          break;
      }
      for (SubImpl* s : regulator_) s->push(e);
    }
    stats_events_.fetch_add(events_.size(), std::memory_order_relaxed);
    if (!events_.empty()) {
      for (auto& s : subs_) s->notify();
    }
    events_.clear();
  }

  void refresh_subscriptions() {
    std::lock_guard lock(subs_mutex_);
    subs_dirty_.store(false, std::memory_order_relaxed);
    for (auto& s : new_subs_) subs_.push_back(std::move(s));
    new_subs_.clear();
    // Drop subscriptions nobody holds any more.
    std::erase_if(subs_, [](const std::shared_ptr<SubImpl>& s) { return s.use_count() == 1; });
    for (auto& v : by_party_) v.clear();
    market_.clear();
    regulator_.clear();
    for (auto& s : subs_) {
      switch (s->audience()) {
        case Audience::party:
          if (s->party() < by_party_.size()) by_party_[s->party()].push_back(s.get());
          break;
        case Audience::market: market_.push_back(s.get()); break;
        case Audience::regulator: regulator_.push_back(s.get()); break;
      }
    }
  }

  std::shared_ptr<Subscription> subscribe(Audience audience, PartyIndex party, std::size_t capacity) {
    auto s = std::make_shared<SubImpl>(audience, party, capacity);
    std::lock_guard lock(subs_mutex_);
    if (!failure_copy_.empty()) s->cut("core failed: " + failure_copy_);
    new_subs_.push_back(s);
    subs_dirty_.store(true, std::memory_order_release);
    return s;
  }

  // ------------------------------------------------------------- threads

  SubmitResult submit(const Command& c) {
    if (c.kind == CommandKind::schedule || c.kind == CommandKind::uncross) return SubmitResult::invalid;
    if (stopping_.load(std::memory_order_acquire)) return SubmitResult::stopped;
    if (!queue_.bounded_push(c)) {
      stats_busy_.fetch_add(1, std::memory_order_relaxed);
      return SubmitResult::busy;
    }
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard lock(wake_mutex_);
      wake_cv_.notify_one();
    }
    return SubmitResult::ok;
  }

  void start() {
    if (thread_.joinable()) return;
    stopping_.store(false);
    thread_ = std::thread([this] { loop(); });
  }

  /// The writer thread. When the queue runs dry it spins for a short while
  /// (kSpinNs, pause instructions: a command arriving then is taken at once
  /// without a wake-up), then yields for kYieldNs, and then sleeps until a
  /// producer wakes it or 1 ms passes (the schedule's clock). Bounded by
  /// time, not by a count of yields: under load a yield hands the CPU to the
  /// gateway's threads, and thousands of them cost more than they save.
  void loop() {
    constexpr std::int64_t kSpinNs = 30'000, kYieldNs = 300'000;
    try {
      for (;;) {
        const std::size_t n = step();
        if (!failure_.empty()) return;
        if (n > 0) continue;
        if (stopping_.load(std::memory_order_acquire)) {
          if (queue_.empty()) return;
          continue;
        }
        const auto spin_until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kSpinNs);
        bool arrived = false;
        while (!arrived && std::chrono::steady_clock::now() < spin_until) {
          for (int k = 0; k < 64 && !arrived; ++k) {
            __builtin_ia32_pause();
            arrived = !queue_.empty();
          }
        }
        // Then yield for a while: a core waiting for the next command of a
        // conversation (one order at a time) keeps its CPU awake (a wake-up
        // from sleep costs ~100 us here) while letting the gateway run.
        const auto yield_until = spin_until + std::chrono::nanoseconds(kYieldNs);
        while (!arrived && std::chrono::steady_clock::now() < yield_until) {
          std::this_thread::yield();
          arrived = !queue_.empty();
        }
        if (arrived) continue;
        sleeping_.store(true, std::memory_order_seq_cst);
        {
          std::unique_lock lock(wake_mutex_);
          if (queue_.empty() && !stopping_.load()) {
            wake_cv_.wait_for(lock, std::chrono::milliseconds(1));
          }
        }
        sleeping_.store(false, std::memory_order_relaxed);
      }
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

  void fail(const std::string& why) {
    failure_ = why;
    stopping_.store(true);
    std::lock_guard lock(subs_mutex_);
    failure_copy_ = why;
    for (auto& s : subs_) s->cut("core failed: " + why);
    for (auto& s : new_subs_) s->cut("core failed: " + why);
  }

  void stop() {
    stopping_.store(true, std::memory_order_release);
    {
      std::lock_guard lock(wake_mutex_);
      wake_cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    if (ledger_ && failure_.empty()) {
      // Anything still queued (step() users, or a race with stop): execute it.
      try {
        while (step() > 0) {
        }
        ledger_->sync();
      } catch (const std::exception& e) {
        fail(e.what());
      }
    }
  }

  std::string failure() const {
    std::lock_guard lock(subs_mutex_);
    return failure_copy_;
  }

  // ============================================================ execution

  void execute(Command& c) {
    switch (c.kind) {
      case CommandKind::new_order: return do_new_order(c);
      case CommandKind::cancel: return do_cancel(c);
      case CommandKind::replace: return do_replace(c);
      case CommandKind::mass_cancel: return do_mass_cancel(c);
      case CommandKind::order_status: return do_order_status(c);
      case CommandKind::position_request: return do_positions(c);
      case CommandKind::book_request: return do_book(c);
      case CommandKind::halt:
      case CommandKind::resume:
      case CommandKind::set_reference:
      case CommandKind::issue:
      case CommandKind::retire:
      case CommandKind::deposit:
      case CommandKind::withdraw:
      case CommandKind::grant:
      case CommandKind::session_open:
      case CommandKind::session_close: return do_admin(c);
      case CommandKind::schedule: return do_schedule(c);
      case CommandKind::uncross: return do_uncross(c);
    }
    // An unknown kind: answer the submitter if it is a party.
    if (c.party < rules_->parties.size()) {
      Event& e = emit(EventKind::order_rejected, Audience::party, c.party, c.instrument);
      reject(e, CoreReject::invalid_command);
    }
  }

  Event& emit(EventKind kind, Audience audience, PartyIndex party, InstrumentIndex instrument) {
    Event& e = events_.emplace_back();
    e.seq = cmd_->seq;
    e.ts_ns = cmd_->ts_ns;
    e.kind = kind;
    e.audience = audience;
    e.party = party;
    e.instrument = instrument;
    e.command = cmd_->kind;
    if (audience == Audience::party && party == cmd_->party) e.user_ref = cmd_->user_ref;
    return e;
  }
  static void reject(Event& e, CoreReject r) {
    e.reject_source = RejectSource::core;
    e.reject_code = static_cast<std::uint8_t>(r);
  }
  static void reject(Event& e, RejectReason r) {
    e.reject_source = RejectSource::engine;
    e.reject_code = static_cast<std::uint8_t>(r);
  }
  static void reject(Event& e, ledger::Reason r) {
    e.reject_source = RejectSource::ledger;
    e.reject_code = static_cast<std::uint8_t>(r);
  }
  static void describe(Event& e, OrderId id, const OrderInfo& o) {
    e.order_id = id;
    e.side = o.side;
    e.type = o.type;
    e.tif = o.tif;
    e.expire_date = o.expire_date;
    e.cl_ord_id = o.cl_ord_id;
    e.price_fen = o.price_fen;
    e.order_qty = o.order_qty;
    e.cum_qty = o.cum_qty;
    e.cum_value_fen = o.cum_value_fen;
    e.leaves_qty = o.order_qty - o.cum_qty;
  }
  /// The command as an order description (for rejections before an OrderInfo exists).
  void describe_command(Event& e, const Command& c) const {
    e.side = c.side;
    e.type = c.type;
    e.tif = c.tif;
    e.expire_date = c.expire_date;
    e.cl_ord_id = c.cl_ord_id;
    e.orig_cl_ord_id = c.orig_cl_ord_id;
    e.order_id = c.order_id;
    e.price_fen = c.price_fen;
    e.order_qty = c.qty;
  }

  // ---- ledger port: live calls the batch; recorded takes the journaled decision

  ledger::Reason ledger_decide(Command& c, const std::function<ledger::Reason()>& live) {
    if (mode_ == Mode::recorded) return static_cast<ledger::Reason>(c.ledger_outcome);
    const auto r = live();
    c.ledger_outcome = static_cast<std::uint8_t>(r);
    return r;
  }
  /// A ledger call that must succeed (the reservations make it so).
  void ledger_must(ledger::Reason r, const char* what, OrderId id) {
    if (r != ledger::Reason::ok && fatal_.empty()) {
      fatal_ = std::string("ledger refused ") + what + " of order " + std::to_string(id) + ": " +
               std::string(ledger::to_string(r));
    }
  }
  void ledger_release(OrderId id, Qty keep = 0) {
    if (mode_ == Mode::recorded) return;
    ledger_must(batch_->release(id, keep), "release", id);
  }
  ledger::Reason reserve(OrderId id, PartyIndex party, InstrumentIndex i, Side side, Qty qty, Fen limit) {
    return side == Side::sell ? batch_->reserve_sell(id, party, i, qty)
                              : batch_->reserve_buy(id, party, i, qty, limit);
  }

  bool party_ok(PartyIndex p) const { return p < rules_->parties.size(); }
  bool instrument_ok(InstrumentIndex i) const { return i < rules_->instruments.size(); }

  // ---- new order

  void do_new_order(Command& c) {
    auto refuse = [&](auto reason) {
      if (!party_ok(c.party)) return;  // nobody to tell
      Event& e = emit(EventKind::order_rejected, Audience::party, c.party, c.instrument);
      describe_command(e, c);
      reject(e, reason);
    };
    if (!party_ok(c.party)) return refuse(CoreReject::unknown_party);
    if (!instrument_ok(c.instrument)) return refuse(CoreReject::unknown_instrument);
    if (!rules_->may_trade(c.party, c.instrument)) return refuse(CoreReject::not_permitted);
    // A water buy that no seller outside the buyer's region could fill is
    // refused at entry, so the engine never matches a fill the ledger must refuse.
    if (c.side == Side::buy && !ledger_->may_receive_from_any(c.party, c.instrument)) {
      return refuse(ledger::Reason::transfer_not_allowed);
    }
    if (c.cl_ord_id.empty()) return refuse(CoreReject::invalid_cl_ord_id);
    if (static_cast<std::uint8_t>(c.side) > 1) return refuse(RejectReason::invalid_side);
    const PartyClOrd key{c.party, c.cl_ord_id};
    if (!use_cl_ord_id(key)) return refuse(CoreReject::duplicate_cl_ord_id);

    auto* book = engine_->book(c.instrument);
    // A closed, halted or paused book refuses before anything is reserved.
    switch (book->state()) {
      case TradingState::closed: return refuse(RejectReason::instrument_closed);
      case TradingState::halted: return refuse(RejectReason::instrument_halted);
      case TradingState::midday_break: return refuse(RejectReason::trading_break);
      default: break;
    }
    const OrderId id = next_order_id_++;
    const Fen limit = c.type == OrderType::market ? book->market_limit_fen(Side::buy) : c.price_fen;
    const auto lr = ledger_decide(c, [&] { return reserve(id, c.party, c.instrument, c.side, c.qty, limit); });
    if (lr != ledger::Reason::ok) {
      Event& e = emit(EventKind::order_rejected, Audience::party, c.party, c.instrument);
      describe_command(e, c);
      e.order_id = id;
      reject(e, lr);
      return;
    }
    OrderInfo info;
    info.party = c.party;
    info.instrument = c.instrument;
    info.side = c.side;
    info.type = c.type;
    info.tif = c.tif;
    info.expire_date = c.expire_date;
    info.cl_ord_id = c.cl_ord_id;
    info.price_fen = c.price_fen;
    info.order_qty = c.qty;
    orders_.emplace(id, info);

    engine::NewOrder o;
    o.instrument = c.instrument;
    o.id = id;
    o.account = c.party;
    o.side = c.side;
    o.type = c.type;
    o.tif = c.tif;
    o.stp = c.stp;
    o.post_only = c.post_only != 0;
    o.price_fen = c.price_fen;
    o.qty = c.qty;
    o.expire_date = c.expire_date;
    const auto rc = engine_->new_order(o);
    if (rc != RejectReason::none) {
      orders_.erase(id);
      ledger_release(id);
      Event& e = emit(EventKind::order_rejected, Audience::party, c.party, c.instrument);
      describe_command(e, c);
      e.order_id = id;
      reject(e, rc);
      return;
    }
    settle_aggressor(id, book);
  }

  /// Marks a ClOrdID used today; false if it was (or names an open order).
  bool use_cl_ord_id(const PartyClOrd& key) {
    if (!clords_.try_emplace(key, OrderId{0}).second) return false;
    used_log_.push_back(key);
    return true;
  }

  /// After an order's command: it rests (index its ClOrdID) or is gone.
  void settle_aggressor(OrderId id, const engine::Book<Listener>* book) {
    const auto it = orders_.find(id);
    if (it == orders_.end()) return;  // cancelled or expired: already forgotten
    if (book->find(id)) {
      clords_.insert_or_assign(PartyClOrd{it->second.party, it->second.cl_ord_id}, id);
    } else {
      forget(id);  // fully filled
    }
  }

  void forget(OrderId id) {
    const auto it = orders_.find(id);
    if (it == orders_.end()) return;
    const PartyClOrd key{it->second.party, it->second.cl_ord_id};
    const auto l = clords_.find(key);
    if (l != clords_.end() && l->second == id) l->second = 0;  // used today, no longer open
    orders_.erase(it);
  }

  // ---- engine events

  void on_accepted(const engine::Accepted& a) {
    const auto it = orders_.find(a.order);
    if (it == orders_.end()) return;
    Event& e = emit(EventKind::order_accepted, Audience::party, it->second.party, a.instrument);
    describe(e, a.order, it->second);
  }

  void on_trade(const engine::Trade& t) {
    const bool aggressor_buys = t.aggressor_side == Side::buy;
    const OrderId buy = aggressor_buys ? t.aggressor_order : t.resting_order;
    const OrderId sell = aggressor_buys ? t.resting_order : t.aggressor_order;
    ledger::TradeRecord rec;
    if (mode_ == Mode::live) {
      const ledger::Fill fill{buy, sell, t.qty, t.price_fen, cmd_->ts_ns};
      const auto r = batch_->settle(fill, &rec);
      if (r != ledger::Reason::ok) {
        ledger_must(r, "settlement", buy);
        return;
      }
    } else {
      if (trade_tape_.empty()) {
        auto more = ledger_->trades(next_trade_id_, 4096);
        trade_tape_.assign(more.begin(), more.end());
      }
      if (trade_tape_.empty() || trade_tape_.front().buy_order != buy || trade_tape_.front().sell_order != sell ||
          trade_tape_.front().qty != t.qty || trade_tape_.front().price_fen != t.price_fen) {
        if (fatal_.empty()) fatal_ = "trade " + std::to_string(next_trade_id_) + " is not what the journal re-run produced";
        return;
      }
      rec = trade_tape_.front();
      trade_tape_.pop_front();
      ++next_trade_id_;
    }
    stats_trades_.fetch_add(1, std::memory_order_relaxed);
    last_trade_px_[t.instrument] = t.price_fen;
    auto fill_event = [&](OrderId id, Qty leaves) {
      const auto it = orders_.find(id);
      if (it == orders_.end()) return;
      OrderInfo& o = it->second;
      o.cum_qty += t.qty;
      o.cum_value_fen += t.qty * t.price_fen;
      Event& e = emit(EventKind::order_fill, Audience::party, o.party, t.instrument);
      describe(e, id, o);
      e.leaves_qty = leaves;
      e.last_qty = t.qty;
      e.last_px_fen = t.price_fen;
      e.trade_id = rec.id;
      if (o.side == Side::buy) {
        e.fee_fen = rec.buyer_fee_fen;
        e.compensation_fen = rec.compensation_fen;
        e.delivered_qty = rec.delivered_qty;
        e.counterparty = rec.seller;
      } else {
        e.fee_fen = rec.seller_fee_fen;
        e.levy_fen = rec.levy_fen;
        e.counterparty = rec.buyer;
      }
      e.beneficiary = rec.beneficiary;
    };
    fill_event(t.aggressor_order, t.aggressor_leaves_qty);
    fill_event(t.resting_order, t.resting_leaves_qty);
    {
      Event& e = emit(EventKind::trade, Audience::market, kNone, t.instrument);
      e.side = t.aggressor_side;
      e.price_fen = t.price_fen;
      e.last_px_fen = t.price_fen;
      e.last_qty = t.qty;
      e.trade_id = rec.id;
    }
    {
      Event& e = emit(EventKind::trade_report, Audience::regulator, rec.buyer, t.instrument);
      e.counterparty = rec.seller;
      e.order_id = buy;
      e.other_order_id = sell;
      e.side = t.aggressor_side;
      e.price_fen = t.price_fen;
      e.last_px_fen = t.price_fen;
      e.last_qty = t.qty;
      e.delivered_qty = rec.delivered_qty;
      e.cum_value_fen = rec.value_fen;
      e.trade_id = rec.id;
      e.fee_fen = rec.buyer_fee_fen;
      e.other_fee_fen = rec.seller_fee_fen;
      e.compensation_fen = rec.compensation_fen;
      e.levy_fen = rec.levy_fen;
      e.beneficiary = rec.beneficiary;
      const auto b = orders_.find(buy);
      const auto s = orders_.find(sell);
      if (b != orders_.end()) e.cl_ord_id = b->second.cl_ord_id;
      if (s != orders_.end()) e.orig_cl_ord_id = s->second.cl_ord_id;
    }
    if (t.resting_leaves_qty == 0) forget(t.resting_order);
    if (t.aggressor_leaves_qty == 0) forget(t.aggressor_order);  // (an auction fills both sides)
  }

  void on_cancelled(const engine::Cancelled& c) {
    const auto it = orders_.find(c.order);
    if (it != orders_.end()) {
      Event& e = emit(EventKind::order_cancelled, Audience::party, it->second.party, c.instrument);
      describe(e, c.order, it->second);
      e.leaves_qty = 0;
      e.cancel_cause = static_cast<std::uint8_t>(c.cause);
    }
    ledger_release(c.order);
    forget(c.order);
  }

  void on_expired(const engine::Expired& x) {
    const auto it = orders_.find(x.order);
    if (it != orders_.end()) {
      Event& e = emit(EventKind::order_expired, Audience::party, it->second.party, x.instrument);
      describe(e, x.order, it->second);
      e.leaves_qty = 0;
    }
    ledger_release(x.order);
    forget(x.order);
  }

  void on_replaced(const engine::Replaced& r) {
    const auto it = orders_.find(r.order);
    if (it == orders_.end()) return;
    OrderInfo& o = it->second;
    const ClOrdId old = o.cl_ord_id;
    const PartyClOrd old_key{o.party, old};
    const auto l = clords_.find(old_key);
    if (l != clords_.end() && l->second == r.order) l->second = 0;
    o.cl_ord_id = cmd_->cl_ord_id;
    o.price_fen = r.price_fen;
    o.order_qty = r.qty;
    clords_.insert_or_assign(PartyClOrd{o.party, o.cl_ord_id}, r.order);
    Event& e = emit(EventKind::order_replaced, Audience::party, o.party, r.instrument);
    describe(e, r.order, o);
    e.orig_cl_ord_id = old;
    e.leaves_qty = r.leaves_qty;
  }

  void on_level(const engine::LevelChanged& l) {
    Event& e = emit(EventKind::level, Audience::market, kNone, l.instrument);
    e.side = l.side;
    e.price_fen = l.price_fen;
    e.order_qty = l.qty;
  }

  void on_state(const engine::StateChanged& s) {
    Event& e = emit(EventKind::state, Audience::market, kNone, s.instrument);
    e.state = s.state;
    e.aux_fen = static_cast<Fen>(s.previous);
  }

  void on_reference(const engine::ReferenceChanged& r) {
    Event& e = emit(EventKind::reference, Audience::market, kNone, r.instrument);
    e.price_fen = r.reference_fen;
    e.last_px_fen = r.band_low_fen;
    e.aux_fen = r.band_high_fen;
  }

  void on_indicative(const engine::Indicative& x) {
    Event& e = emit(EventKind::indicative, Audience::market, kNone, x.instrument);
    e.price_fen = x.price_fen;
    e.order_qty = x.volume_qty;
    e.aux_fen = x.imbalance_qty;
  }

  // ---- cancel, replace, mass cancel, status

  /// The party's open order named by the command (order id, or its ClOrdID).
  std::optional<OrderId> resolve(const Command& c) const {
    if (c.order_id != 0) {
      const auto it = orders_.find(c.order_id);
      if (it == orders_.end() || it->second.party != c.party) return std::nullopt;
      return c.order_id;
    }
    if (c.orig_cl_ord_id.empty()) return std::nullopt;
    const auto it = clords_.find(PartyClOrd{c.party, c.orig_cl_ord_id});
    if (it == clords_.end() || it->second == 0) return std::nullopt;
    return it->second;
  }

  void cancel_reject(const Command& c, auto reason, OrderId id) {
    Event& e = emit(EventKind::cancel_rejected, Audience::party, c.party, c.instrument);
    describe_command(e, c);
    if (id != 0) {
      const auto it = orders_.find(id);
      if (it != orders_.end()) {
        describe(e, id, it->second);
        e.cl_ord_id = c.cl_ord_id;
        e.orig_cl_ord_id = c.orig_cl_ord_id;
      }
    }
    reject(e, reason);
  }

  void do_cancel(Command& c) {
    if (!party_ok(c.party)) return;
    const auto id = resolve(c);
    if (!id) return cancel_reject(c, CoreReject::unknown_order, 0);
    const OrderInfo& o = orders_.at(*id);
    const auto rc = engine_->cancel(engine::CancelOrder{o.instrument, *id, c.party});
    if (rc != RejectReason::none) cancel_reject(c, rc, *id);
  }

  void do_replace(Command& c) {
    if (!party_ok(c.party)) return;
    const auto id = resolve(c);
    if (!id) return cancel_reject(c, CoreReject::unknown_order, 0);
    if (c.cl_ord_id.empty()) return cancel_reject(c, CoreReject::invalid_cl_ord_id, *id);
    if (!use_cl_ord_id(PartyClOrd{c.party, c.cl_ord_id})) {
      return cancel_reject(c, CoreReject::duplicate_cl_ord_id, *id);
    }
    const OrderInfo o = orders_.at(*id);  // a copy: the old terms, to restore
    const Qty old_leaves = o.order_qty - o.cum_qty;
    const Qty new_leaves = c.qty - o.cum_qty;
    const bool rereserve = new_leaves > 0 && c.price_fen > 0 &&
                           (new_leaves != old_leaves || (o.side == Side::buy && c.price_fen != o.price_fen));
    if (rereserve) {
      const auto lr = ledger_decide(c, [&] {
        ledger_must(batch_->release(*id, 0), "release for replace", *id);
        const auto r = reserve(*id, o.party, o.instrument, o.side, new_leaves, c.price_fen);
        if (r != ledger::Reason::ok) {
          ledger_must(reserve(*id, o.party, o.instrument, o.side, old_leaves, o.price_fen), "re-reserve", *id);
        }
        return r;
      });
      if (lr != ledger::Reason::ok) return cancel_reject(c, lr, *id);
    }
    auto* book = engine_->book(o.instrument);
    const auto rc = engine_->replace(engine::ReplaceOrder{o.instrument, *id, c.party, c.price_fen, c.qty});
    if (rc != RejectReason::none) {
      if (rereserve && mode_ == Mode::live) {
        ledger_must(batch_->release(*id, 0), "release after refused replace", *id);
        ledger_must(reserve(*id, o.party, o.instrument, o.side, old_leaves, o.price_fen), "re-reserve", *id);
      }
      return cancel_reject(c, rc, *id);
    }
    settle_aggressor(*id, book);
  }

  void do_mass_cancel(Command& c) {
    if (!party_ok(c.party)) return;
    if (c.instrument != kNone && !instrument_ok(c.instrument)) {
      Event& e = emit(EventKind::mass_cancel_done, Audience::party, c.party, c.instrument);
      e.cl_ord_id = c.cl_ord_id;
      reject(e, CoreReject::unknown_instrument);
      return;
    }
    const auto n = c.instrument == kNone ? engine_->mass_cancel(c.party)
                                         : engine_->mass_cancel(c.party, c.instrument);
    Event& e = emit(EventKind::mass_cancel_done, Audience::party, c.party, c.instrument);
    e.cl_ord_id = c.cl_ord_id;
    e.order_qty = n;
    e.is_last = 1;
  }

  void status_event(const Command& c, OrderId id, const OrderInfo& o, bool last) {
    Event& e = emit(EventKind::order_status, Audience::party, c.party, o.instrument);
    describe(e, id, o);
    const auto r = engine_->book(o.instrument)->find(id);
    e.leaves_qty = r ? r->leaves_qty : 0;
    e.state = engine_->book(o.instrument)->state();
    e.orig_cl_ord_id = c.orig_cl_ord_id;
    e.is_last = last ? 1 : 0;
  }

  void do_order_status(Command& c) {
    if (!party_ok(c.party)) return;
    if (c.order_id != 0 || !c.orig_cl_ord_id.empty()) {
      const auto id = resolve(c);
      if (!id) {
        Event& e = emit(EventKind::order_status, Audience::party, c.party, c.instrument);
        describe_command(e, c);
        reject(e, CoreReject::unknown_order);
        e.is_last = 1;
        return;
      }
      return status_event(c, *id, orders_.at(*id), true);
    }
    // Every open order of the party, in book priority order.
    std::vector<OrderId> ids;
    for (InstrumentIndex i = 0; i < engine_->instrument_count(); ++i) {
      if (c.instrument != kNone && c.instrument != i) continue;
      engine_->book(i)->for_each_resting([&](const engine::RestingOrder& r) {
        if (r.account == c.party) ids.push_back(r.id);
      });
    }
    if (ids.empty()) {
      Event& e = emit(EventKind::order_status, Audience::party, c.party, c.instrument);
      reject(e, CoreReject::unknown_order);
      e.is_last = 1;
      return;
    }
    for (std::size_t k = 0; k < ids.size(); ++k) status_event(c, ids[k], orders_.at(ids[k]), k + 1 == ids.size());
  }

  void do_positions(Command& c) {
    if (!party_ok(c.party) || mode_ == Mode::recorded) return;
    for (InstrumentIndex i = 0; i < rules_->instruments.size(); ++i) {
      const auto h = ledger_->holding(c.party, i);
      if (h.free_qty == 0 && h.reserved_qty == 0 && h.incoming_qty == 0) continue;
      Event& e = emit(EventKind::position, Audience::party, c.party, i);
      e.cum_qty = h.free_qty;
      e.aux_fen = h.reserved_qty;
      e.delivered_qty = h.incoming_qty;
    }
    const auto cash = ledger_->cash(c.party);
    Event& e = emit(EventKind::cash, Audience::party, c.party, kNone);
    e.cum_value_fen = cash.free_fen;
    e.aux_fen = cash.reserved_fen;
    e.is_last = 1;
  }

  void do_book(Command& c) {
    if (!party_ok(c.party)) return;
    if (!instrument_ok(c.instrument)) {
      Event& e = emit(EventKind::book_level, Audience::party, c.party, c.instrument);
      reject(e, CoreReject::unknown_instrument);
      e.is_last = 1;
      return;
    }
    const auto* book = engine_->book(c.instrument);
    struct Lv {
      Side side;
      Fen price;
      Qty qty;
    };
    std::vector<Lv> levels;
    book->for_each_resting([&](const engine::RestingOrder& r) {
      if (!levels.empty() && levels.back().side == r.side && levels.back().price == r.price_fen) {
        levels.back().qty += r.leaves_qty;
      } else {
        levels.push_back({r.side, r.price_fen, r.leaves_qty});
      }
    });
    auto add = [&](Side side, Fen price, Qty qty, bool last) {
      Event& e = emit(EventKind::book_level, Audience::party, c.party, c.instrument);
      e.side = side;
      e.price_fen = price;
      e.order_qty = qty;
      e.state = book->state();
      e.aux_fen = book->reference_fen();
      e.is_last = last ? 1 : 0;
    };
    if (levels.empty()) return add(Side::buy, 0, 0, true);
    for (std::size_t k = 0; k < levels.size(); ++k) add(levels[k].side, levels[k].price, levels[k].qty, k + 1 == levels.size());
  }

  // ---- admin

  bool may_admin(const Command& c) const {
    const auto kind = rules_->parties[c.party].kind;
    if (kind == rules::PartyKind::exchange || kind == rules::PartyKind::regulator) return true;
    if (c.kind == CommandKind::grant) {
      const PartyIndex fund = c.target != kNone ? c.target : c.party;
      return kind == rules::PartyKind::fund && fund == c.party;
    }
    return false;
  }

  void admin_result(const Command& c, RejectSource source, std::uint8_t code) {
    Event& e = emit(source == RejectSource::none ? EventKind::admin_done : EventKind::admin_rejected,
                    Audience::party, c.party, c.instrument);
    e.counterparty = c.target;
    e.price_fen = c.price_fen;
    e.order_qty = c.qty;
    e.cl_ord_id = c.cl_ord_id;
    e.reject_source = source;
    e.reject_code = code;
    e.is_last = 1;
  }
  void admin_core(const Command& c, CoreReject r) { admin_result(c, RejectSource::core, static_cast<std::uint8_t>(r)); }
  void admin_engine(const Command& c, RejectReason r) {
    if (r == RejectReason::none) return admin_result(c, RejectSource::none, 0);
    admin_result(c, RejectSource::engine, static_cast<std::uint8_t>(r));
  }
  void admin_ledger(const Command& c, ledger::Reason r) {
    if (r == ledger::Reason::ok) return admin_result(c, RejectSource::none, 0);
    admin_result(c, RejectSource::ledger, static_cast<std::uint8_t>(r));
  }

  void do_admin(Command& c) {
    if (!party_ok(c.party)) return;
    if (!may_admin(c)) return admin_core(c, CoreReject::not_permitted);
    const bool needs_instrument = c.kind == CommandKind::halt || c.kind == CommandKind::resume ||
                                  c.kind == CommandKind::set_reference || c.kind == CommandKind::issue ||
                                  c.kind == CommandKind::retire;
    if (needs_instrument && !instrument_ok(c.instrument)) return admin_core(c, CoreReject::unknown_instrument);
    if ((c.kind == CommandKind::session_open || c.kind == CommandKind::session_close) && c.instrument != kNone &&
        !instrument_ok(c.instrument)) {
      return admin_core(c, CoreReject::unknown_instrument);
    }
    const bool needs_target = c.kind == CommandKind::issue || c.kind == CommandKind::retire ||
                              c.kind == CommandKind::deposit || c.kind == CommandKind::withdraw;
    if (needs_target && !party_ok(c.target)) return admin_core(c, CoreReject::unknown_party);
    const bool needs_amount = needs_target || c.kind == CommandKind::grant;
    if (needs_amount && c.qty <= 0) return admin_core(c, CoreReject::invalid_amount);
    switch (c.kind) {
      case CommandKind::halt:
        return admin_engine(c, engine_->set_state(c.instrument, TradingState::halted, c.post_only != 0));
      case CommandKind::resume: {
        if (engine_->book(c.instrument)->state() != TradingState::halted) return admin_core(c, CoreReject::invalid_state);
        return admin_engine(c, enter(c.instrument, scheduled_state(c.instrument, c.ts_ns)));
      }
      case CommandKind::set_reference:
        if (c.price_fen <= 0) return admin_core(c, CoreReject::invalid_amount);
        return admin_engine(c, engine_->set_reference(c.instrument, c.price_fen));
      case CommandKind::issue:
        return admin_ledger(c, ledger_decide(c, [&] { return batch_->issue(c.target, c.instrument, c.qty); }));
      case CommandKind::retire:
        return admin_ledger(c, ledger_decide(c, [&] { return batch_->retire(c.target, c.instrument, c.qty); }));
      case CommandKind::deposit:
        return admin_ledger(c, ledger_decide(c, [&] { return batch_->deposit(c.target, c.qty); }));
      case CommandKind::withdraw:
        return admin_ledger(c, ledger_decide(c, [&] { return batch_->withdraw(c.target, c.qty); }));
      case CommandKind::grant: {
        const PartyIndex fund = c.target != kNone ? c.target : c.party;
        if (!party_ok(fund) || !party_ok(c.counterparty)) return admin_core(c, CoreReject::unknown_party);
        return admin_ledger(c, ledger_decide(c, [&] { return batch_->grant(fund, c.counterparty, c.qty); }));
      }
      case CommandKind::session_open:
      case CommandKind::session_close: {
        for (InstrumentIndex i = 0; i < engine_->instrument_count(); ++i) {
          if (c.instrument != kNone && c.instrument != i) continue;
          if (c.kind == CommandKind::session_open) {
            enter(i, session_state(i));
          } else {
            end_of_day(i, c.ts_ns);
          }
        }
        return admin_result(c, RejectSource::none, 0);
      }
      default: return admin_core(c, CoreReject::invalid_command);
    }
  }

  // ---- schedule

  void end_of_day(InstrumentIndex i, TimestampNs ts) {
    auto* book = engine_->book(i);
    engine_->end_of_day(i);
    engine_->expire_gtd(i, local_time(ts, rules_->utc_offset_min).date);
    const Fen closing = last_trade_px_[i] != 0 ? last_trade_px_[i] : book->reference_fen();
    if (closing != book->reference_fen()) engine_->set_reference(i, closing);
    last_trade_px_[i] = 0;
  }

  void do_schedule(Command& c) {
    if (!instrument_ok(c.instrument)) return;
    const InstrumentIndex i = c.instrument;
    const auto state = engine_->book(i)->state();
    const bool batch = rules_->instruments[i].mode == rules::TradingMode::batch;
    if (state == TradingState::halted && c.phase != Phase::end_of_day) return;  // a halt outlasts the schedule
    switch (c.phase) {
      case Phase::pre_open: engine_->set_state(i, TradingState::pre_open); return;
      case Phase::open:
        // Continuous: the opening auction, then trading; batch: the opening
        // auction, then a call phase uncrossed every interval; call: a call phase.
        if (batch && engine::is_call_phase(state)) engine_->uncross(i);
        enter(i, session_state(i));
        return;
      case Phase::midday_break:
        if (batch && engine::is_call_phase(state)) engine_->uncross(i);
        engine_->set_state(i, TradingState::midday_break);
        return;
      case Phase::end_of_day:
        if (batch && engine::is_call_phase(state)) engine_->uncross(i);
        end_of_day(i, c.ts_ns);
        return;
      case Phase::none: return;
    }
  }

  void do_uncross(Command& c) {
    if (!instrument_ok(c.instrument)) return;
    if (engine::is_call_phase(engine_->book(c.instrument)->state())) engine_->uncross(c.instrument);
  }

  // ============================================================ checks

  std::vector<std::string> check() const {
    std::vector<std::string> out;
    std::uint64_t resting = 0;
    for (InstrumentIndex i = 0; i < engine_->instrument_count(); ++i) {
      const auto* book = engine_->book(i);
      if (const char* a = book->audit()) out.push_back("book " + std::to_string(i) + ": " + a);
      book->for_each_resting([&](const engine::RestingOrder& r) {
        ++resting;
        const auto it = orders_.find(r.id);
        if (it == orders_.end()) {
          out.push_back("order " + std::to_string(r.id) + " rests but the core does not know it");
          return;
        }
        const OrderInfo& o = it->second;
        if (o.party != r.account || o.instrument != i || o.side != r.side || o.cum_qty != r.filled_qty ||
            o.order_qty != r.leaves_qty + r.filled_qty || o.price_fen != r.price_fen) {
          out.push_back("order " + std::to_string(r.id) + ": the core's record differs from the book");
        }
        const auto lr = ledger_->order(r.id);
        if (!lr) {
          out.push_back("order " + std::to_string(r.id) + " rests but has no ledger reservation");
          return;
        }
        const auto side = r.side == Side::buy ? ledger::Side::buy : ledger::Side::sell;
        if (lr->party != r.account || lr->instrument != i || lr->side != side || lr->qty != r.leaves_qty ||
            (side == ledger::Side::buy && o.type == OrderType::limit && lr->limit_fen != r.price_fen)) {
          out.push_back("order " + std::to_string(r.id) + ": the ledger's reservation differs from the book");
        }
      });
    }
    if (resting != orders_.size()) {
      out.push_back("the core knows " + std::to_string(orders_.size()) + " open orders, the books hold " +
                    std::to_string(resting));
    }
    if (resting != ledger_->open_orders()) {
      out.push_back("the ledger holds " + std::to_string(ledger_->open_orders()) + " reservations, the books " +
                    std::to_string(resting) + " orders");
    }
    std::size_t live = 0;
    for (const auto& [key, id] : clords_) {  // (a check: the order of the walk does not matter)
      if (id == 0) continue;
      ++live;
      const auto it = orders_.find(id);
      if (it == orders_.end() || it->second.cl_ord_id != key.id) {
        out.push_back("ClOrdID index entry for order " + std::to_string(id) + " is stale");
        break;
      }
    }
    if (live != orders_.size()) out.push_back("ClOrdID index: " + std::to_string(live) + " open, the core knows " + std::to_string(orders_.size()));
    for (auto& v : ledger_->check_invariants()) out.push_back(std::move(v));
    return out;
  }

  std::string books_text() const {
    std::string out;
    for (InstrumentIndex i = 0; i < engine_->instrument_count(); ++i) {
      const auto* book = engine_->book(i);
      const auto m = book->meta();
      out += "book " + std::to_string(i) + " state " + std::string(engine::to_string(m.state)) + " ref " +
             std::to_string(m.reference_fen) + " next_trade " + std::to_string(m.next_trade_id) + " gtd " +
             std::to_string(m.gtd_expired_through) + "\n";
      book->for_each_resting([&](const engine::RestingOrder& r) {
        const auto it = orders_.find(r.id);
        out += "  " + std::to_string(r.id) + " " + std::to_string(r.account) + " " +
               std::string(engine::to_string(r.side)) + " " + std::to_string(r.price_fen) + " " +
               std::to_string(r.leaves_qty) + "/" + std::to_string(r.filled_qty) + " " +
               std::string(engine::to_string(r.tif)) + " " +
               (it != orders_.end() ? std::string(it->second.cl_ord_id.view()) : std::string("?")) + "\n";
      });
    }
    return out;
  }

  // ============================================================ replay

  /// Replay: one stored batch re-executed live against this (fresh) core.
  void replay_batch(const BatchRecord& record, ReplayReport& report, ledger::Seq stored_seq) {
    std::vector<Command> cmds = record.commands;
    for (auto& c : cmds) {
      if (c.kind == CommandKind::new_order || c.kind == CommandKind::replace || c.kind >= CommandKind::issue) {
        c.ledger_outcome = 0;  // recomputed by the ledger
      }
    }
    replay_capture_ = true;
    const auto info = run_live_batch(cmds);
    replay_capture_ = false;
    report.commands += cmds.size();
    report.events_compared += captured_party_.size();
    if (report.events_match) {
      if (info.seq != stored_seq) {
        report.events_match = false;
        report.first_mismatch_batch = stored_seq;
        report.mismatch = "the replay committed it as batch " + std::to_string(info.seq);
      } else if (captured_party_ != record.party_events) {
        report.events_match = false;
        report.first_mismatch_batch = stored_seq;
        report.mismatch = "its execution events differ";
      } else if (captured_digest_ != record.public_digest) {
        report.events_match = false;
        report.first_mismatch_batch = stored_seq;
        report.mismatch = "its public events differ";
      } else if (cmds != record.commands) {
        report.events_match = false;
        report.first_mismatch_batch = stored_seq;
        report.mismatch = "the ledger decided a command differently";
      }
    }
  }

  // ============================================================ state

  CoreOptions options_;
  std::shared_ptr<const rules::MarketRules> rules_;
  SystemClock system_clock_;
  Clock* clock_ = nullptr;
  Listener listener_;
  std::unique_ptr<Engine> engine_;
  std::optional<ledger::Ledger> ledger_;
  std::optional<ledger::Batch> batch_;
  Mode mode_ = Mode::live;
  RecoveryInfo recovery_;

  // Sequencing and the day.
  Seq last_seq_ = 0;
  TimestampNs last_ts_ = 0;
  std::uint32_t current_date_ = 0;
  OrderId next_order_id_ = 1;
  std::vector<Fen> last_trade_px_;
  std::vector<Point> next_point_;
  std::uint64_t commands_since_snapshot_ = 0;
  std::uint64_t snapshot_min_ = 1;

  // Orders (never iterated for output: determinism).
  boost::unordered_flat_map<OrderId, OrderInfo> orders_;
  // (party, ClOrdID) -> the open order with it, or 0: used today, not open.
  // Entries of open orders outlive the day; the others are dropped at the
  // day's first command. used_log_: the keys in first-use order (snapshots).
  boost::unordered_flat_map<PartyClOrd, OrderId, PartyClOrdHash> clords_;
  std::vector<PartyClOrd> used_log_;
  TimestampNs day_begin_ns_ = 0, day_end_ns_ = 0;

  // The batch.
  const Command* cmd_ = nullptr;
  std::vector<Command> batch_cmds_;
  std::vector<Event> events_;
  std::vector<Event> party_events_;
  std::vector<std::byte> journal_;
  EventDigest digest_;
  std::string fatal_;
  std::deque<ledger::TradeRecord> trade_tape_;
  std::uint64_t next_trade_id_ = 1;
  bool replay_capture_ = false;
  std::vector<Event> captured_party_;
  std::array<std::uint8_t, 32> captured_digest_{};

  // Sequencer.
  boost::lockfree::queue<Command, boost::lockfree::fixed_sized<true>> queue_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sleeping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  std::string failure_;  // core thread only
  std::string failure_copy_;  // under subs_mutex_

  // Subscribers.
  mutable std::mutex subs_mutex_;
  std::atomic<bool> subs_dirty_{false};
  std::vector<std::shared_ptr<SubImpl>> new_subs_;
  std::vector<std::shared_ptr<SubImpl>> subs_;
  std::vector<std::vector<SubImpl*>> by_party_;
  std::vector<SubImpl*> market_;
  std::vector<SubImpl*> regulator_;

  // Stats.
  std::atomic<std::uint64_t> stats_commands_{0}, stats_batches_{0}, stats_events_{0}, stats_trades_{0},
      stats_snapshots_{0}, stats_busy_{0}, stats_journal_bytes_{0};
  std::atomic<std::int64_t> stats_ns_[3] = {0, 0, 0};  // execute, commit, publish

  friend class Core;
  friend ReplayReport replay(const std::filesystem::path&, const std::filesystem::path&);
};

// =================================================================== Core

Core::Core(std::unique_ptr<CoreImpl> impl) : impl_(std::move(impl)) {}
Core::~Core() = default;

std::unique_ptr<Core> Core::open(const CoreOptions& options) {
  auto impl = std::make_unique<CoreImpl>(options);
  impl->open();
  return std::unique_ptr<Core>(new Core(std::move(impl)));
}

const rules::MarketRules& Core::rules() const { return *impl_->rules_; }
const RecoveryInfo& Core::recovery() const { return impl_->recovery_; }
SubmitResult Core::submit(const Command& c) { return impl_->submit(c); }
std::shared_ptr<Subscription> Core::subscribe(Audience audience, PartyIndex party, std::size_t capacity) {
  return impl_->subscribe(audience, party, capacity);
}
void Core::start() { impl_->start(); }
void Core::stop() { impl_->stop(); }
std::size_t Core::step() {
  if (!impl_->failure_.empty()) return 0;
  try {
    return impl_->step();
  } catch (const std::exception& e) {
    impl_->fail(e.what());
    throw;
  }
}
const ledger::Ledger& Core::ledger() const { return *impl_->ledger_; }
Seq Core::last_seq() const { return impl_->last_seq_; }
CoreStats Core::stats() const {
  CoreStats s;
  s.commands = impl_->stats_commands_.load(std::memory_order_relaxed);
  s.batches = impl_->stats_batches_.load(std::memory_order_relaxed);
  s.events = impl_->stats_events_.load(std::memory_order_relaxed);
  s.trades = impl_->stats_trades_.load(std::memory_order_relaxed);
  s.snapshots = impl_->stats_snapshots_.load(std::memory_order_relaxed);
  s.busy = impl_->stats_busy_.load(std::memory_order_relaxed);
  s.journal_bytes = impl_->stats_journal_bytes_.load(std::memory_order_relaxed);
  s.execute_ns = impl_->stats_ns_[0].load(std::memory_order_relaxed);
  s.commit_ns = impl_->stats_ns_[1].load(std::memory_order_relaxed);
  s.publish_ns = impl_->stats_ns_[2].load(std::memory_order_relaxed);
  return s;
}
std::string Core::failure() const { return impl_->failure(); }
TradingState Core::state(InstrumentIndex i) const {
  const auto* b = impl_->engine_->book(i);
  return b ? b->state() : TradingState::closed;
}
std::optional<Fen> Core::reference_fen(InstrumentIndex i) const {
  const auto* b = impl_->engine_->book(i);
  if (!b) return std::nullopt;
  return b->reference_fen();
}
std::uint64_t Core::resting_orders() const { return impl_->orders_.size(); }
std::vector<std::string> Core::check() const { return impl_->check(); }
std::string Core::books_text() const { return impl_->books_text(); }

void Core::for_each_stored_event(Seq after_seq, const std::function<void(const Event&)>& fn) const {
  BatchRecord record;
  // Command seqs grow with batch seqs; scan from the batch whose commands
  // may be after `after_seq` (a linear scan of the journal headers is cheap
  // compared with a restart, and bounded by the journal's size).
  impl_->ledger_->read_journal(1, [&](ledger::Seq, ledger::TimestampNs, ledger::Bytes input) {
    if (!decode_batch(input, record)) return;
    if (!record.commands.empty() && record.commands.back().seq <= after_seq) return;
    for (const Event& e : record.party_events) {
      if (e.seq > after_seq) fn(e);
    }
  });
}

// =================================================================== replay

ReplayReport replay(const std::filesystem::path& data_dir, const std::filesystem::path& scratch_dir) {
  ReplayReport report;
  auto reader = ledger::audit::Reader::open(data_dir);
  report.stored_head = reader.head_hash();
  const std::string rules_text = reader.rules_text();
  std::shared_ptr<const rules::MarketRules> rules;
  try {
    rules = rules::load_rules_text(rules_text, (data_dir / "rules").string());
  } catch (const rules::RulesLoadError& e) {
    throw CoreError("the rules stored in " + data_dir.string() + " do not load: " + e.what());
  }
  std::uint64_t image_min = 65536;
  for (const auto& [k, v] : ledger::audit::dump_table(data_dir, "meta")) {
    if (k == "image_min_entries" && v.size() == 8) std::memcpy(&image_min, v.data(), 8);
  }
  std::error_code ec;
  if (std::filesystem::exists(scratch_dir / "data.mdb", ec)) {
    throw CoreError("replay: " + scratch_dir.string() + " already holds a ledger; give an empty directory");
  }
  std::filesystem::create_directories(scratch_dir);

  std::unique_ptr<ManualClock> clock;
  std::unique_ptr<CoreImpl> core;
  BatchRecord record;
  std::string fatal;
  reader.read_journal(1, [&](ledger::Seq seq, ledger::TimestampNs ts, ledger::Bytes input) {
    if (!fatal.empty()) return;
    if (seq == 1) {
      clock = std::make_unique<ManualClock>(ts);
      return;
    }
    if (!decode_batch(input, record)) {
      const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
      if (text.starts_with("haihe amend")) {
        fatal = "batch " + std::to_string(seq) + " amends the rules; replaying across an amendment is not supported";
      }
      return;
    }
    if (!core) {
      CoreOptions o;
      o.data_dir = scratch_dir;
      o.rules = rules;
      o.rules_text = rules_text;
      o.durability = ledger::Durability::none;
      o.clock = clock.get();
      o.run_schedule = false;
      o.snapshot_min_commands = record.snapshot_min_commands;
      o.image_min_entries = image_min;
      core = std::make_unique<CoreImpl>(o);
      core->open();
    }
    core->replay_batch(record, report, seq);
    ++report.batches;
  });
  if (!fatal.empty()) throw CoreError(fatal);
  if (core) {
    report.replayed_head = core->ledger_->head_hash();
    core->ledger_->sync();
  } else if (clock) {
    // Only the genesis batch: the replayed genesis is the stored one iff the heads match.
    CoreOptions o;
    o.data_dir = scratch_dir;
    o.rules = rules;
    o.rules_text = rules_text;
    o.durability = ledger::Durability::none;
    o.clock = clock.get();
    o.run_schedule = false;
    o.image_min_entries = image_min;
    CoreImpl c(o);
    c.open();
    report.replayed_head = c.ledger_->head_hash();
  }
  return report;
}

}  // namespace haihe::exchange
