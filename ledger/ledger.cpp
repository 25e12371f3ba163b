// haihe::ledger — implementation. See ledger.h for the contract and
// format.h for the bytes.
#include "ledger/ledger.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <string>
#include <bit>
#include <utility>

#include "ledger/format.h"
#include "ledger/lmdb_raii.h"
#include "ledger/sha256.h"
#include "ledger/state_check.h"
#include "ledger/wal.h"

namespace haihe::ledger {

namespace {

__extension__ typedef __int128 i128;  // checked products (qty x price, x bps)
using format::Table;
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr i128 kBps = 10000;

// Non-negative amount that fits int64.
inline bool fits(i128 v) { return v >= 0 && v <= kI64Max; }
inline bool add_ok(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  return !__builtin_add_overflow(a, b, &r);
}
// floor(value * bps / 10000) for value >= 0.
inline i128 bps_of(i128 value, std::uint32_t bps) { return value * bps / kBps; }

constexpr std::uint64_t kImageFactor = 8;  // reservation image policy (ledger.h)

// Rules, turned into dense tables once at open.
struct Policy {
  std::uint32_t nP = 0, nI = 0, nR = 0, nZ = 0;
  std::vector<rules::PartyKind> kind;
  std::vector<RegionIndex> region;  // per party
  std::vector<std::uint8_t> may_trade;  // nP * nI
  std::vector<Qty> party_limit;         // nP * nI; 0: none
  std::vector<Qty> region_cap;          // nR * nI; -1: none
  struct Inst {
    bool water = false;
    ZoneIndex zone = rules::kNone;
    RegionIndex zone_city = rules::kNone;
    std::uint16_t vintage = 0;
    std::uint32_t zone_key = rules::kNone;  // index into zone_keys
    std::uint32_t buyer_fee_bps = 0, seller_fee_bps = 0;
    PartyIndex levy_fund = rules::kNone;
    std::uint32_t levy_bps = 0;
  };
  std::vector<Inst> inst;
  struct Transfer {
    std::int64_t num = 0, den = 0;  // den 0: no rule
  };
  std::vector<Transfer> transfer;  // nZ * nR
  struct Comp {
    PartyIndex beneficiary = rules::kNone;  // kNone: no route
    Fen fen_per_unit = 0;
    std::uint32_t bps = 0;
  };
  std::vector<Comp> comp;  // nZ * nR
  std::vector<std::pair<ZoneIndex, std::uint16_t>> zone_keys;  // sorted
  std::vector<Qty> zone_cap;                                    // per zone key; -1: none
  PartyIndex exchange = rules::kNone;

  std::size_t pi(PartyIndex p, InstrumentIndex i) const { return std::size_t{p} * nI + i; }
  std::size_t ri(RegionIndex r, InstrumentIndex i) const { return std::size_t{r} * nI + i; }
};

[[noreturn]] void config_error(const std::string& msg) { throw LedgerError(msg); }

Policy build_policy(const rules::MarketRules& r) {
  Policy p;
  auto u32 = [](std::size_t n, const char* what) {
    if (n >= rules::kNone) config_error(std::string("market rules: too many ") + what);
    return static_cast<std::uint32_t>(n);
  };
  p.nP = u32(r.parties.size(), "parties");
  p.nI = u32(r.instruments.size(), "instruments");
  p.nR = u32(r.regions.size(), "regions");
  p.nZ = u32(r.zones.size(), "zones");
  std::vector<std::string> errs;
  auto err = [&](std::string s) { errs.push_back(std::move(s)); };

  p.kind.resize(p.nP);
  p.region.resize(p.nP);
  p.may_trade.assign(std::size_t{p.nP} * p.nI, 0);
  p.party_limit.assign(std::size_t{p.nP} * p.nI, 0);
  for (std::uint32_t i = 0; i < p.nP; ++i) {
    const auto& party = r.parties[i];
    p.kind[i] = party.kind;
    p.region[i] = party.region;
    if (party.region != rules::kNone && party.region >= p.nR) err("party " + party.id + ": region index out of range");
    if (party.kind == rules::PartyKind::exchange && p.exchange == rules::kNone) p.exchange = i;
    for (const InstrumentIndex in : party.may_trade) {
      if (in < p.nI) p.may_trade[p.pi(i, in)] = 1;
    }
  }
  for (std::uint32_t in = 0; in < p.nI; ++in) {
    for (std::uint32_t i = 0; i < p.nP; ++i) p.party_limit[p.pi(i, in)] = r.instruments[in].party_limit_qty;
  }
  for (auto it = r.party_caps.rbegin(); it != r.party_caps.rend(); ++it) {  // first one wins
    if (it->party >= p.nP || it->instrument >= p.nI) {
      err("party_caps: index out of range");
      continue;
    }
    p.party_limit[p.pi(it->party, it->instrument)] = it->limit_qty;
  }
  p.region_cap.assign(std::size_t{p.nR} * p.nI, -1);
  for (auto it = r.region_caps.rbegin(); it != r.region_caps.rend(); ++it) {
    if (it->region >= p.nR || it->instrument >= p.nI) {
      err("region_caps: index out of range");
      continue;
    }
    p.region_cap[p.ri(it->region, it->instrument)] = it->cap_qty;
  }

  std::set<std::pair<ZoneIndex, std::uint16_t>> keys;
  for (const auto& c : r.zone_caps) {
    if (c.zone >= p.nZ) err("zone_caps: zone index out of range");
    else keys.emplace(c.zone, c.vintage);
  }
  for (const auto& in : r.instruments) {
    if (in.kind == rules::InstrumentKind::water) {
      if (in.zone >= p.nZ) err("instrument " + in.symbol + ": water without a valid source zone");
      else keys.emplace(in.zone, in.vintage);
    }
  }
  p.zone_keys.assign(keys.begin(), keys.end());
  p.zone_cap.assign(p.zone_keys.size(), -1);
  for (std::size_t k = 0; k < p.zone_keys.size(); ++k) {
    if (const auto* c = r.zone_cap(p.zone_keys[k].first, p.zone_keys[k].second)) p.zone_cap[k] = c->cap_qty;
  }

  bool any_fee = false;
  p.inst.resize(p.nI);
  for (std::uint32_t i = 0; i < p.nI; ++i) {
    const auto& in = r.instruments[i];
    auto& x = p.inst[i];
    x.water = in.kind == rules::InstrumentKind::water;
    x.vintage = in.vintage;
    if (x.water && in.zone < p.nZ) {
      x.zone = in.zone;
      x.zone_city = r.zones[in.zone].region;
      const auto key = std::pair{in.zone, in.vintage};
      x.zone_key = static_cast<std::uint32_t>(
          std::lower_bound(p.zone_keys.begin(), p.zone_keys.end(), key) - p.zone_keys.begin());
    }
    x.buyer_fee_bps = in.buyer_fee_bps;
    x.seller_fee_bps = in.seller_fee_bps;
    if (in.buyer_fee_bps > kBps || in.seller_fee_bps > kBps) err("instrument " + in.symbol + ": fee above 10000 bps");
    if (in.buyer_fee_bps != 0 || in.seller_fee_bps != 0) any_fee = true;
    if (const rules::Levy* l = r.levy_for(in)) {
      if (l->fund >= p.nP) err("levy " + l->id + ": fund index out of range");
      x.levy_fund = l->fund;
      x.levy_bps = l->bps;
    }
    if (std::uint64_t{x.seller_fee_bps} + x.levy_bps > 10000) {
      err("instrument " + in.symbol + ": seller fee plus levy exceed 10000 bps");
    }
  }
  if (any_fee && p.exchange == rules::kNone) err("fees are charged but no party is of kind exchange");

  p.transfer.resize(std::size_t{p.nZ} * p.nR);
  p.comp.resize(std::size_t{p.nZ} * p.nR);
  for (ZoneIndex z = 0; z < p.nZ; ++z) {
    for (RegionIndex g = 0; g < p.nR; ++g) {
      const std::size_t k = std::size_t{z} * p.nR + g;
      if (const auto* t = r.transfer(z, g)) {
        if (t->num <= 0 || t->den <= 0 || t->num > t->den) err("transfer rule: need 0 < num <= den");
        else p.transfer[k] = {t->num, t->den};
      }
      if (const auto* c = r.compensation_for(z, g)) {
        if (c->beneficiary >= p.nP) err("compensation " + c->id + ": beneficiary out of range");
        if (c->fen_per_unit < 0 || c->bps > kBps) err("compensation " + c->id + ": negative or above 10000 bps");
        p.comp[k] = {c->beneficiary, c->fen_per_unit, c->bps};
      }
    }
  }
  if (!errs.empty()) {
    std::string msg = "the market rules cannot be used by the ledger:";
    for (const auto& e : errs) msg += "\n  " + e;
    config_error(msg);
  }
  return p;
}

// What the stored records' keys mean: every region, zone, party and
// instrument with the attributes that keys and usage sums depend on, one per
// line. Stored at genesis; an amendment may only append to it.
std::string layout_of(const rules::MarketRules& r) {
  std::string out;
  auto line = [&](std::initializer_list<std::string> parts) {
    bool first = true;
    for (const auto& part : parts) {
      if (!first) out += ' ';
      out += part;
      first = false;
    }
    out += '\n';
  };
  auto n = [](std::uint64_t v) { return std::to_string(v); };
  for (std::size_t i = 0; i < r.regions.size(); ++i) line({"region", n(i), r.regions[i].id});
  for (std::size_t i = 0; i < r.zones.size(); ++i) line({"zone", n(i), r.zones[i].id, n(r.zones[i].region)});
  for (std::size_t i = 0; i < r.parties.size(); ++i) {
    const auto& p = r.parties[i];
    line({"party", n(i), p.id, n(static_cast<std::uint64_t>(p.kind)), n(p.region)});
  }
  for (std::size_t i = 0; i < r.instruments.size(); ++i) {
    const auto& in = r.instruments[i];
    line({"instrument", n(i), in.symbol, n(static_cast<std::uint64_t>(in.kind)), n(in.zone), n(in.vintage)});
  }
  return out;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// A state array whose changes in the current batch are tracked: the first
// touch of an element in a batch records its old value and its index (the
// undo log, which is also the list of records to write at commit).
template <class T>
struct Tracked {
  std::vector<T> v, old;
  std::vector<std::uint64_t> stamp;
  std::vector<std::uint32_t> dirty;
  void init(std::size_t n) {
    v.assign(n, T{});
    old.assign(n, T{});
    stamp.assign(n, 0);
    dirty.clear();
  }
  T& touch(std::size_t i, std::uint64_t epoch) {
    if (stamp[i] != epoch) {
      stamp[i] = epoch;
      old[i] = v[i];
      dirty.push_back(static_cast<std::uint32_t>(i));
    }
    return v[i];
  }
  void rollback() {
    for (const std::uint32_t i : dirty) v[i] = old[i];
    dirty.clear();
  }
  /// The dirty indices in ascending order (a scan of the stamps when many are).
  void sort_dirty(std::uint64_t epoch) {
    if (dirty.size() * 8 > v.size()) {
      dirty.clear();
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (stamp[i] == epoch) dirty.push_back(static_cast<std::uint32_t>(i));
      }
    } else {
      std::sort(dirty.begin(), dirty.end());
    }
  }
};

struct ZoneHeld {
  Qty held_qty = 0;
  friend bool operator==(const ZoneHeld&, const ZoneHeld&) = default;
};
struct LossQty {
  Qty qty = 0;
  friend bool operator==(const LossQty&, const LossQty&) = default;
};

struct OrderSlot {
  OrderReservation o;
  std::uint64_t stamp = 0;
};

// The open orders: an open-addressing hash table (linear probing, Fibonacci
// hashing, backward-shift deletion) — one cache miss per lookup where a node
// map takes several. Keys are stored as id + 1 (0: empty), so the id
// 2^64 - 1 is not usable (Reason::invalid_order). Inserting may move every
// entry and erasing may move others: do not keep pointers across either.
// Iteration order is the table's, never used for stored bytes unsorted.
class OrderTable {
 public:
  OrderTable() { rehash(1u << 10); }
  std::size_t size() const { return size_; }
  void clear() {
    std::fill(keys_.begin(), keys_.end(), 0);
    size_ = 0;
  }
  void reserve(std::size_t n) {
    std::size_t cap = keys_.size();
    while (n * 2 > cap) cap *= 2;
    if (cap != keys_.size()) rehash(cap);
  }
  OrderSlot* find(OrderId id) {
    if (id == kInvalid) return nullptr;
    const std::uint64_t k = id + 1;
    for (std::size_t i = home(k);; i = (i + 1) & mask_) {
      if (keys_[i] == k) return &vals_[i];
      if (keys_[i] == 0) return nullptr;
    }
  }
  const OrderSlot* find(OrderId id) const { return const_cast<OrderTable*>(this)->find(id); }
  bool contains(OrderId id) const { return find(id) != nullptr; }
  /// Inserts or overwrites.
  void put(OrderId id, const OrderSlot& v) {
    assert(id != kInvalid);
    if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
    const std::uint64_t k = id + 1;
    std::size_t i = home(k);
    for (; keys_[i] != 0; i = (i + 1) & mask_) {
      if (keys_[i] == k) {
        vals_[i] = v;
        return;
      }
    }
    keys_[i] = k;
    vals_[i] = v;
    ++size_;
  }
  bool erase(OrderId id) {
    if (id == kInvalid) return false;
    const std::uint64_t k = id + 1;
    std::size_t i = home(k);
    for (; keys_[i] != k; i = (i + 1) & mask_) {
      if (keys_[i] == 0) return false;
    }
    // Backward-shift: pull later entries of the cluster into the hole.
    for (std::size_t j = (i + 1) & mask_; keys_[j] != 0; j = (j + 1) & mask_) {
      const std::size_t h = home(keys_[j]);
      // Entry j may move to i if its home is not in the cyclic range (i, j].
      const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (stays) continue;
      keys_[i] = keys_[j];
      vals_[i] = vals_[j];
      i = j;
    }
    keys_[i] = 0;
    --size_;
    return true;
  }
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] != 0) fn(keys_[i] - 1, vals_[i]);
    }
  }
  static constexpr OrderId kInvalid = ~OrderId{0};

 private:
  std::size_t home(std::uint64_t k) const {
    return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void rehash(std::size_t cap) {
    std::vector<std::uint64_t> keys(cap, 0);
    std::vector<OrderSlot> vals(cap);
    keys.swap(keys_);
    vals.swap(vals_);
    mask_ = cap - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(cap));
    size_ = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] != 0) put(keys[i] - 1, vals[i]);
    }
  }
  std::vector<std::uint64_t> keys_;
  std::vector<OrderSlot> vals_;
  std::size_t mask_ = 0, size_ = 0;
  unsigned shift_ = 64;
};

struct MapFull {};  // a write transaction found the map full (commit grows it)

struct ExtraWrite {  // genesis: meta and accounts
  Table table;
  std::vector<std::byte> key, value;
};

std::vector<std::byte> to_bytes(std::string_view s) {
  const auto* b = reinterpret_cast<const std::byte*>(s.data());
  return {b, b + s.size()};
}

}  // namespace

// =============================================================== LedgerImpl

struct LedgerImpl {
  std::filesystem::path dir;
  std::shared_ptr<const rules::MarketRules> rules;
  Options options;
  Policy pol;
  int lock_fd = -1;
  lmdb::Env env;
  std::uint64_t map_bytes = 0;
  MDB_dbi dbi_state[10] = {};  // by Table number
  MDB_dbi dbi_journal = 0, dbi_chain = 0, dbi_trades = 0, dbi_movements = 0, dbi_snapshots = 0,
          dbi_reservations = 0;

  // State.
  Tracked<Holding> hold;       // nP * nI
  Tracked<Cash> cash;          // nP
  Tracked<RegionUsage> reg;    // nR * nI
  Tracked<ZoneHeld> zone;      // zone keys
  Tracked<LossQty> loss;       // nI
  Tracked<Supply> supply;      // nI + 1 (cash last)
  OrderTable orders;
  std::vector<std::pair<OrderId, std::optional<OrderReservation>>> order_undo;

  // History.
  Seq head = 0;
  Hash head_hash{};
  TradeId next_trade = 1;
  std::uint64_t next_movement = 1;
  std::uint64_t entries_since_image = 0;
  std::uint64_t image_min_entries = 65536;

  // Batch.
  bool batch_open = false;
  std::uint64_t epoch = 0;
  TradeId batch_first_trade = 1;
  std::uint64_t batch_first_movement = 1;
  std::vector<std::byte> trade_buf;     // (key, u8 length, value) per trade
  std::vector<MovementRecord> movements;  // of this batch
  std::vector<std::byte> movement_buf;  // (key, u8 length, value) per movement
  std::vector<std::byte> snapshot;
  bool has_snapshot = false;
  std::vector<ExtraWrite> extra;
  std::vector<std::byte> jbuf;     // journal record being built
  std::vector<std::byte> image;    // reservation image being built
  Sha256 sha;

  // Write-ahead log and checkpoints (ledger/wal.h). Once open() is done, a
  // batch commits by appending its record to `ring`; the applier thread owns
  // every LMDB write transaction from then on: it puts the records into one
  // open transaction and commits it (a checkpoint) when the records since
  // the last one reach a quarter of the ring, when none arrived for
  // kIdleCheckpoint, after kMaxCheckpointGap, or when the writer asks.
  std::unique_ptr<wal::Ring> ring;
  std::uint64_t redone = 0;  // batches re-applied from the log by open()
  std::thread applier;
  std::mutex amu;
  std::condition_variable a_work, a_done;
  struct Job {
    Seq seq = 0;
    bool logged = true;  // in the log; else durable only once its own checkpoint commits
    std::vector<std::byte> bytes;  // wal::encode
  };
  std::deque<Job> a_jobs;           // in seq order (amu)
  Seq a_want = 0;                   // checkpoint wanted through (amu)
  Seq a_checkpointed = 0;           // LMDB holds up to (amu)
  std::uint64_t a_used_bytes = 0;   // LMDB's pages in use at the last checkpoint (amu)
  std::uint64_t a_pending_bytes = 0;  // records not checkpointed yet (amu)
  Seq a_failed_seq = 0;             // an unlogged batch LMDB refused, and why (amu)
  std::string a_failed_why;
  bool a_stop = false;              // (amu)
  bool a_parked = false;            // waiting for a record with no timeout (amu)
  std::string a_error;              // the applier failed and stopped (amu)

  ~LedgerImpl() {
    stop_applier();
    env.reset();
    if (lock_fd >= 0) ::close(lock_fd);
  }

  // ---------------------------------------------------------------- open
  bool open_env();  // true: no batch yet (genesis needed)
  void init_state();
  void load_record(Table t, std::span<const std::byte> key, std::span<const std::byte> value);
  void load_state();
  void recover_orders();
  void genesis(std::string_view rules_text, const std::string& sha_hex);
  void write_accounts(PartyIndex from);
  void amend(std::string_view rules_text, const std::string& sha_hex, const std::string& old_sha,
             std::string_view old_layout);

  // ---------------------------------------------------------------- ops
  Holding& th(PartyIndex p, InstrumentIndex i) { return hold.touch(pol.pi(p, i), epoch); }
  Cash& tc(PartyIndex p) { return cash.touch(p, epoch); }
  RegionUsage& tr(RegionIndex r, InstrumentIndex i) { return reg.touch(pol.ri(r, i), epoch); }

  OrderSlot* find_order(OrderId id) { return orders.find(id); }
  OrderReservation& touch_order(OrderSlot& s, OrderId id) {
    if (s.stamp != epoch) {
      s.stamp = epoch;
      order_undo.emplace_back(id, s.o);
    }
    return s.o;
  }
  void insert_order(OrderId id, const OrderReservation& o) {
    order_undo.emplace_back(id, std::nullopt);
    orders.put(id, OrderSlot{o, epoch});
  }
  void erase_order(OrderId id) {
    OrderSlot* s = orders.find(id);
    assert(s != nullptr);
    touch_order(*s, id);
    orders.erase(id);
  }

  void add_movement(MovementKind kind, PartyIndex party, PartyIndex counter, InstrumentIndex inst,
                    std::int64_t amount) {
    MovementRecord m;
    m.id = next_movement++;
    m.seq = head + 1;
    m.kind = kind;
    m.party = party;
    m.counterparty = counter;
    m.instrument = inst;
    m.amount = amount;
    movements.push_back(m);  // encoded at commit, with the batch's timestamp
  }

  BuyQuote need_buy(PartyIndex party, InstrumentIndex inst, Qty qty, Fen limit) const;
  Delivery delivery(PartyIndex seller, PartyIndex buyer, InstrumentIndex inst) const;
  bool may_receive_from_any(PartyIndex buyer, InstrumentIndex inst) const;
  Reason check_headroom(PartyIndex p, InstrumentIndex i, Qty q) const;
  Reason issue(PartyIndex p, InstrumentIndex i, Qty q);
  Reason retire(PartyIndex p, InstrumentIndex i, Qty q);
  Reason deposit(PartyIndex p, Fen f);
  Reason withdraw(PartyIndex p, Fen f);
  Reason grant(PartyIndex fund, PartyIndex city, Fen f);
  Reason reserve_sell(OrderId id, PartyIndex p, InstrumentIndex i, Qty q);
  Reason reserve_buy(OrderId id, PartyIndex p, InstrumentIndex i, Qty q, Fen limit);
  Reason release(OrderId id, Qty keep);
  Reason settle(const Fill& f, TradeRecord* out);
  Reason put_snapshot(Bytes b);

  void begin();
  CommitInfo commit(Bytes input, TimestampNs ts);
  void abort();
  void build_journal(Bytes input, TimestampNs ts, format::JournalHeader& h);
  Hash chain_next(const Hash& prev, const wal::Parts& p, std::uint8_t flags);
  void put_batch(MDB_txn* t, const wal::Parts& p);
  void put_records(lmdb::Txn& txn, const std::vector<Job>& records, std::size_t from = 0);
  void commit_records(lmdb::Txn& txn, const std::vector<Job>& records);
  void apply_direct(const std::vector<Job>& records);
  void publish_checkpoint(Seq through, std::uint64_t bytes);
  void grow_map(std::size_t need);
  void redo_wal();
  void start_applier();
  void stop_applier() noexcept;
  void applier_loop();
  void checkpoint_through(Seq seq);
  void settle() {
    if (applier.joinable()) checkpoint_through(head);
  }

  std::vector<std::string> check_invariants(bool rules_dependent = true) const;
};

// ---------------------------------------------------------------- rules math

BuyQuote LedgerImpl::need_buy(PartyIndex party, InstrumentIndex inst, Qty qty, Fen limit) const {
  BuyQuote q;
  if (party >= pol.nP) return {Reason::unknown_account};
  if (inst >= pol.nI) return {Reason::unknown_instrument};
  if (qty <= 0) return {Reason::invalid_quantity};
  if (limit <= 0) return {Reason::invalid_price};
  const i128 value = i128{qty} * limit;
  if (!fits(value)) return {Reason::overflow};  // keeps value * bps far inside i128
  const auto& in = pol.inst[inst];
  const i128 fee = bps_of(value, in.buyer_fee_bps);
  i128 comp = 0;
  const RegionIndex br = pol.region[party];
  if (in.water && br != rules::kNone) {
    const auto& c = pol.comp[std::size_t{in.zone} * pol.nR + br];
    if (c.beneficiary != rules::kNone) comp = i128{c.fen_per_unit} * qty + bps_of(value, c.bps);
  }
  const i128 total = value + fee + comp;
  if (!fits(total)) return {Reason::overflow};
  q.cash_fen = static_cast<Fen>(total);
  q.compensation_fen = static_cast<Fen>(comp);
  q.buyer_fee_fen = static_cast<Fen>(fee);
  return q;
}

bool LedgerImpl::may_receive_from_any(PartyIndex buyer, InstrumentIndex inst) const {
  if (buyer >= pol.nP || inst >= pol.nI) return false;
  const auto& in = pol.inst[inst];
  if (!in.water) return true;
  const RegionIndex br = pol.region[buyer];
  if (br == rules::kNone) return false;
  return br == in.zone_city || pol.transfer[std::size_t{in.zone} * pol.nR + br].den != 0;
}

Delivery LedgerImpl::delivery(PartyIndex seller, PartyIndex buyer, InstrumentIndex inst) const {
  Delivery d;
  if (seller >= pol.nP || buyer >= pol.nP) return {Reason::unknown_account};
  if (inst >= pol.nI) return {Reason::unknown_instrument};
  const auto& in = pol.inst[inst];
  if (!in.water) return d;
  d.loss_zone = in.zone;
  const RegionIndex br = pol.region[buyer], sr = pol.region[seller];
  if (br == sr) return d;
  if (br == rules::kNone) return {Reason::transfer_not_allowed};
  if (br == in.zone_city) return d;
  const auto& t = pol.transfer[std::size_t{in.zone} * pol.nR + br];
  if (t.den == 0) return {Reason::transfer_not_allowed};
  d.num = t.num;
  d.den = t.den;
  return d;
}

// ---------------------------------------------------------------- operations

// The party's and its region's headroom for q more of instrument i: what they
// hold (free + reserved) plus what resting buys could still bring in, plus q,
// stays within the party limit and the region cap.
Reason LedgerImpl::check_headroom(PartyIndex p, InstrumentIndex i, Qty q) const {
  const Holding& h = hold.v[pol.pi(p, i)];
  const i128 after = i128{h.free_qty} + h.reserved_qty + h.incoming_qty + q;
  if (!fits(after)) return Reason::overflow;
  const Qty limit = pol.party_limit[pol.pi(p, i)];
  if (limit > 0 && after > limit) return Reason::party_cap;
  const RegionIndex r = pol.region[p];
  if (r != rules::kNone) {
    const RegionUsage& u = reg.v[pol.ri(r, i)];
    const i128 ra = i128{u.held_qty} + u.incoming_qty + q;
    if (!fits(ra)) return Reason::overflow;
    const Qty cap = pol.region_cap[pol.ri(r, i)];
    if (cap >= 0 && ra > cap) return Reason::region_cap;
  }
  return Reason::ok;
}

Reason LedgerImpl::issue(PartyIndex p, InstrumentIndex i, Qty q) {
  if (p >= pol.nP) return Reason::unknown_account;
  if (i >= pol.nI) return Reason::unknown_instrument;
  if (q <= 0) return Reason::invalid_quantity;
  if (pol.kind[p] == rules::PartyKind::regulator) return Reason::not_permitted;
  if (const Reason cr = check_headroom(p, i, q); cr != Reason::ok) return cr;
  const auto& in = pol.inst[i];
  if (in.water) {
    const i128 za = i128{zone.v[in.zone_key].held_qty} + q;
    if (!fits(za)) return Reason::overflow;
    const Qty cap = pol.zone_cap[in.zone_key];
    if (cap >= 0 && za > cap) return Reason::zone_cap;
  }
  const Supply& s = supply.v[i];
  if (!add_ok(s.issued_qty, q)) return Reason::overflow;
  // apply
  th(p, i).free_qty += q;
  if (const RegionIndex r = pol.region[p]; r != rules::kNone) tr(r, i).held_qty += q;
  if (in.water) zone.touch(in.zone_key, epoch).held_qty += q;
  supply.touch(i, epoch).issued_qty += q;
  add_movement(MovementKind::issue, p, rules::kNone, i, q);
  return Reason::ok;
}

Reason LedgerImpl::retire(PartyIndex p, InstrumentIndex i, Qty q) {
  if (p >= pol.nP) return Reason::unknown_account;
  if (i >= pol.nI) return Reason::unknown_instrument;
  if (q <= 0) return Reason::invalid_quantity;
  if (hold.v[pol.pi(p, i)].free_qty < q) return Reason::insufficient_holdings;
  if (!add_ok(supply.v[i].retired_qty, q)) return Reason::overflow;
  th(p, i).free_qty -= q;
  const RegionIndex r = pol.region[p];
  if (r != rules::kNone) tr(r, i).held_qty -= q;
  const auto& in = pol.inst[i];
  if (in.water) zone.touch(in.zone_key, epoch).held_qty -= q;
  supply.touch(i, epoch).retired_qty += q;
  add_movement(MovementKind::retire, p, rules::kNone, i, q);
  return Reason::ok;
}

Reason LedgerImpl::deposit(PartyIndex p, Fen f) {
  if (p >= pol.nP) return Reason::unknown_account;
  if (f <= 0) return Reason::invalid_quantity;
  if (pol.kind[p] == rules::PartyKind::regulator) return Reason::not_permitted;
  const Cash& c = cash.v[p];
  if (!fits(i128{c.free_fen} + c.reserved_fen + f)) return Reason::overflow;
  if (!add_ok(supply.v[pol.nI].issued_qty, f)) return Reason::overflow;
  tc(p).free_fen += f;
  supply.touch(pol.nI, epoch).issued_qty += f;
  add_movement(MovementKind::deposit, p, rules::kNone, rules::kNone, f);
  return Reason::ok;
}

Reason LedgerImpl::withdraw(PartyIndex p, Fen f) {
  if (p >= pol.nP) return Reason::unknown_account;
  if (f <= 0) return Reason::invalid_quantity;
  if (cash.v[p].free_fen < f) return Reason::insufficient_cash;
  if (!add_ok(supply.v[pol.nI].retired_qty, f)) return Reason::overflow;
  tc(p).free_fen -= f;
  supply.touch(pol.nI, epoch).retired_qty += f;
  add_movement(MovementKind::withdraw, p, rules::kNone, rules::kNone, f);
  return Reason::ok;
}

Reason LedgerImpl::grant(PartyIndex fund, PartyIndex city, Fen f) {
  if (fund >= pol.nP || city >= pol.nP) return Reason::unknown_account;
  if (f <= 0) return Reason::invalid_quantity;
  if (pol.kind[fund] != rules::PartyKind::fund || pol.kind[city] != rules::PartyKind::city_government) {
    return Reason::not_permitted;
  }
  if (cash.v[fund].free_fen < f) return Reason::insufficient_cash;
  const Cash& c = cash.v[city];
  if (!fits(i128{c.free_fen} + c.reserved_fen + f)) return Reason::overflow;
  tc(fund).free_fen -= f;
  tc(city).free_fen += f;
  add_movement(MovementKind::grant, city, fund, rules::kNone, f);
  return Reason::ok;
}

Reason LedgerImpl::reserve_sell(OrderId id, PartyIndex p, InstrumentIndex i, Qty q) {
  if (p >= pol.nP) return Reason::unknown_account;
  if (i >= pol.nI) return Reason::unknown_instrument;
  if (q <= 0) return Reason::invalid_quantity;
  if (!pol.may_trade[pol.pi(p, i)]) return Reason::not_permitted;
  if (id == OrderTable::kInvalid) return Reason::invalid_order;
  if (orders.contains(id)) return Reason::duplicate_order;
  if (hold.v[pol.pi(p, i)].free_qty < q) return Reason::insufficient_holdings;
  Holding& h = th(p, i);
  h.free_qty -= q;
  h.reserved_qty += q;
  insert_order(id, OrderReservation{p, i, Side::sell, 0, q, 0});
  return Reason::ok;
}

Reason LedgerImpl::reserve_buy(OrderId id, PartyIndex p, InstrumentIndex i, Qty q, Fen limit) {
  const BuyQuote need = need_buy(p, i, q, limit);
  if (need.reason != Reason::ok) return need.reason;
  if (!pol.may_trade[pol.pi(p, i)]) return Reason::not_permitted;
  if (id == OrderTable::kInvalid) return Reason::invalid_order;
  if (orders.contains(id)) return Reason::duplicate_order;
  if (const Reason cr = check_headroom(p, i, q); cr != Reason::ok) return cr;
  const RegionIndex r = pol.region[p];
  if (cash.v[p].free_fen < need.cash_fen) return Reason::insufficient_cash;
  Cash& c = tc(p);
  c.free_fen -= need.cash_fen;
  c.reserved_fen += need.cash_fen;
  th(p, i).incoming_qty += q;
  if (r != rules::kNone) tr(r, i).incoming_qty += q;
  insert_order(id, OrderReservation{p, i, Side::buy, limit, q, need.cash_fen});
  return Reason::ok;
}

Reason LedgerImpl::release(OrderId id, Qty keep) {
  OrderSlot* s = find_order(id);
  if (s == nullptr) return Reason::unknown_order;
  if (keep < 0 || keep > s->o.qty) return Reason::invalid_quantity;
  const OrderReservation o = s->o;
  const Qty give = o.qty - keep;
  if (o.side == Side::sell) {
    Holding& h = th(o.party, o.instrument);
    h.reserved_qty -= give;
    h.free_qty += give;
  } else {
    Fen keep_cash = 0;
    if (keep > 0) {
      const BuyQuote need = need_buy(o.party, o.instrument, keep, o.limit_fen);
      assert(need.reason == Reason::ok);  // keep <= qty, which was reservable
      keep_cash = std::min(o.cash_fen, need.cash_fen);
    }
    const Fen back = o.cash_fen - keep_cash;
    Cash& c = tc(o.party);
    c.reserved_fen -= back;
    c.free_fen += back;
    th(o.party, o.instrument).incoming_qty -= give;
    const RegionIndex r = pol.region[o.party];
    if (r != rules::kNone && give != 0) tr(r, o.instrument).incoming_qty -= give;
    if (keep > 0) touch_order(*s, id).cash_fen = keep_cash;
  }
  if (keep == 0) {
    erase_order(id);
  } else if (give != 0) {
    touch_order(*s, id).qty = keep;
  }
  return Reason::ok;
}

Reason LedgerImpl::settle(const Fill& f, TradeRecord* out) {
  OrderSlot* bs = find_order(f.buy_order);
  OrderSlot* ss = find_order(f.sell_order);
  if (bs == nullptr || ss == nullptr) return Reason::unknown_order;
  if (f.buy_order == f.sell_order) return Reason::order_mismatch;
  const OrderReservation b = bs->o, s = ss->o;
  if (b.side != Side::buy || s.side != Side::sell || b.instrument != s.instrument) return Reason::order_mismatch;
  if (f.qty <= 0) return Reason::invalid_quantity;
  if (f.price_fen <= 0) return Reason::invalid_price;
  if (f.qty > b.qty || f.qty > s.qty || f.price_fen > b.limit_fen) return Reason::order_mismatch;
  const InstrumentIndex i = b.instrument;
  const auto& in = pol.inst[i];
  const Delivery d = delivery(s.party, b.party, i);
  if (d.reason != Reason::ok) return d.reason;
  const Qty q = f.qty;
  const Qty delivered = static_cast<Qty>(i128{q} * d.num / d.den);
  const Qty lost = q - delivered;
  const i128 value = i128{q} * f.price_fen;  // <= q * limit, which fit when reserved
  const Fen buyer_fee = static_cast<Fen>(bps_of(value, in.buyer_fee_bps));
  const Fen seller_fee = static_cast<Fen>(bps_of(value, in.seller_fee_bps));
  const Fen levy = static_cast<Fen>(bps_of(value, in.levy_bps));
  Fen comp = 0;
  PartyIndex beneficiary = rules::kNone;
  const RegionIndex br = pol.region[b.party], sr = pol.region[s.party];
  if (in.water && br != rules::kNone) {
    const auto& c = pol.comp[std::size_t{in.zone} * pol.nR + br];
    if (c.beneficiary != rules::kNone) {
      beneficiary = c.beneficiary;
      comp = static_cast<Fen>(i128{c.fen_per_unit} * q + bps_of(value, c.bps));
    }
  }
  const i128 charge = value + buyer_fee + comp;
  if (charge > b.cash_fen) return Reason::insufficient_cash;  // cannot happen: reserved at the limit
  const Fen proceeds = static_cast<Fen>(value) - seller_fee - levy;
  assert(proceeds >= 0);
  // Receivers must not overflow (free + reserved of each cash record).
  auto cash_room = [&](PartyIndex p, i128 add) {
    const Cash& c = cash.v[p];
    return fits(i128{c.free_fen} + c.reserved_fen + add);
  };
  if (!cash_room(s.party, proceeds) || (pol.exchange != rules::kNone && !cash_room(pol.exchange, i128{buyer_fee} + seller_fee)) ||
      (beneficiary != rules::kNone && !cash_room(beneficiary, comp)) ||
      (in.levy_fund != rules::kNone && !cash_room(in.levy_fund, levy))) {
    return Reason::overflow;
  }
  // Caps again: a fill never raises the buyer's holding + reach (delivered <=
  // qty), so these hold unless the rules were amended since the reservation.
  {
    const Holding& h = hold.v[pol.pi(b.party, i)];
    const i128 before = i128{h.free_qty} + h.reserved_qty + h.incoming_qty;
    const i128 after = before + delivered - q;
    const Qty limit = pol.party_limit[pol.pi(b.party, i)];
    if (limit > 0 && after > limit && after > before) return Reason::party_cap;
  }
  if (!add_ok(loss.v[i].qty, lost)) return Reason::overflow;

  // ---- apply: nothing below can fail ----
  OrderReservation& bo = touch_order(*bs, f.buy_order);
  OrderReservation& so = touch_order(*ss, f.sell_order);
  so.qty -= q;
  bo.qty -= q;
  bo.cash_fen -= static_cast<Fen>(charge);
  {
    Holding& hs = th(s.party, i);
    hs.reserved_qty -= q;
    assert(hs.reserved_qty >= 0);
  }
  {
    Holding& hb = th(b.party, i);
    hb.free_qty += delivered;
    hb.incoming_qty -= q;
    assert(hb.incoming_qty >= 0);
  }
  if (sr != rules::kNone) tr(sr, i).held_qty -= q;
  if (br != rules::kNone) {
    RegionUsage& u = tr(br, i);
    u.held_qty += delivered;
    u.incoming_qty -= q;
  }
  if (lost != 0) {
    loss.touch(i, epoch).qty += lost;
    zone.touch(in.zone_key, epoch).held_qty -= lost;
  }
  tc(b.party).reserved_fen -= static_cast<Fen>(charge);
  assert(cash.v[b.party].reserved_fen >= 0 && bo.cash_fen >= 0);
  tc(s.party).free_fen += proceeds;
  if (buyer_fee + seller_fee != 0) tc(pol.exchange).free_fen += buyer_fee + seller_fee;
  if (comp != 0) tc(beneficiary).free_fen += comp;
  if (levy != 0) tc(in.levy_fund).free_fen += levy;
  // Close what is done (erasing moves table entries: no pointers after this).
  const bool close_sell = so.qty == 0, close_buy = bo.qty == 0;
  if (close_buy && bo.cash_fen != 0) {
    Cash& c = tc(b.party);
    c.reserved_fen -= bo.cash_fen;
    c.free_fen += bo.cash_fen;
  }
  if (close_sell) erase_order(f.sell_order);
  if (close_buy) erase_order(f.buy_order);

  TradeRecord t;
  t.id = next_trade++;
  t.seq = head + 1;
  t.ts_ns = f.ts_ns;
  t.instrument = i;
  t.buyer = b.party;
  t.seller = s.party;
  t.buy_order = f.buy_order;
  t.sell_order = f.sell_order;
  t.qty = q;
  t.delivered_qty = delivered;
  t.price_fen = f.price_fen;
  t.value_fen = static_cast<Fen>(value);
  t.buyer_fee_fen = buyer_fee;
  t.seller_fee_fen = seller_fee;
  t.compensation_fen = comp;
  t.beneficiary = beneficiary;
  t.levy_fen = levy;
  t.fund = levy != 0 ? in.levy_fund : rules::kNone;
  t.zone = in.zone;
  const std::size_t off = trade_buf.size();
  trade_buf.resize(off + 9 + format::kMaxTradeSize);
  std::byte* p = trade_buf.data() + off;
  format::put_u64be(p, t.id);
  const std::size_t len = format::encode_trade(t, p + 1);
  *p = std::byte{static_cast<std::uint8_t>(len)};
  trade_buf.resize(off + 9 + len);
  if (out != nullptr) *out = t;
  return Reason::ok;
}

Reason LedgerImpl::put_snapshot(Bytes b) {
  if (has_snapshot) return Reason::snapshot_exists;
  snapshot.assign(b.begin(), b.end());
  has_snapshot = true;
  return Reason::ok;
}

// ---------------------------------------------------------------- batch

void LedgerImpl::begin() {
  if (batch_open) throw std::logic_error("haihe::ledger: begin() while a batch is open");
  batch_open = true;
  ++epoch;
  batch_first_trade = next_trade;
  batch_first_movement = next_movement;
  trade_buf.clear();
  movements.clear();
  movement_buf.clear();
  has_snapshot = false;
  snapshot.clear();
}

void LedgerImpl::abort() {
  if (!batch_open) return;
  hold.rollback();
  cash.rollback();
  reg.rollback();
  zone.rollback();
  loss.rollback();
  supply.rollback();
  for (auto it = order_undo.rbegin(); it != order_undo.rend(); ++it) {
    if (it->second) {
      orders.put(it->first, OrderSlot{*it->second, 0});
    } else {
      orders.erase(it->first);
    }
  }
  order_undo.clear();
  next_trade = batch_first_trade;
  next_movement = batch_first_movement;
  movements.clear();
  extra.clear();
  batch_open = false;
  ++epoch;  // stamps of this batch are stale from here on
}

namespace {

// Appends one write-set entry.
void put_entry(std::vector<std::byte>& buf, Table t, const std::byte* key, std::size_t klen,
               const std::byte* val, std::size_t vlen, bool deleted) {
  const std::size_t off = buf.size();
  buf.resize(off + 2 + klen + 4 + (deleted ? 0 : vlen));
  std::byte* p = buf.data() + off;
  format::put_u8(p, static_cast<std::uint8_t>(t));
  format::put_u8(p, static_cast<std::uint8_t>(klen));
  std::memcpy(p, key, klen);
  p += klen;
  format::put_le<std::uint32_t>(p, deleted ? format::kDeleted : static_cast<std::uint32_t>(vlen));
  if (!deleted) std::memcpy(p, val, vlen);
}

// Appends the batch's changed records of one table (dirty indices already in
// key order); unchanged ones are skipped, all-zero ones deleted.
template <class T, class KeyFn, class ValFn>
std::uint32_t emit_table(std::vector<std::byte>& buf, Table t, const Tracked<T>& tr, KeyFn&& keyfn,
                         ValFn&& valfn) {
  std::uint32_t n = 0;
  std::byte key[16];
  std::byte val[64];
  for (const std::uint32_t idx : tr.dirty) {
    const T& cur = tr.v[idx];
    if (cur == tr.old[idx]) continue;
    std::byte* kp = key;
    keyfn(kp, idx);
    std::byte* vp = val;
    valfn(vp, cur);
    put_entry(buf, t, key, static_cast<std::size_t>(kp - key), val, static_cast<std::size_t>(vp - val),
              cur == T{});
    ++n;
  }
  return n;
}

}  // namespace

void LedgerImpl::build_journal(Bytes input, TimestampNs ts, format::JournalHeader& h) {
  using namespace format;
  jbuf.resize(kJournalHeader);
  if (input.size() > 0xFFFF0000u) throw LedgerError("journal input larger than 4 GiB");
  jbuf.insert(jbuf.end(), input.begin(), input.end());
  std::uint32_t n = 0;
  // Genesis records first (tables meta=1, accounts=2), sorted by key.
  std::sort(extra.begin(), extra.end(), [](const ExtraWrite& a, const ExtraWrite& b) {
    return std::tie(a.table, a.key) < std::tie(b.table, b.key);
  });
  for (const auto& e : extra) {
    put_entry(jbuf, e.table, e.key.data(), e.key.size(), e.value.data(), e.value.size(), false);
    ++n;
  }
  extra.clear();
  const std::uint32_t nI = pol.nI;
  hold.sort_dirty(epoch);
  cash.sort_dirty(epoch);
  reg.sort_dirty(epoch);
  zone.sort_dirty(epoch);
  supply.sort_dirty(epoch);
  n += emit_table(jbuf, Table::holdings, hold,
                  [&](std::byte*& p, std::uint32_t idx) {
                    put_u32be(p, idx / nI);
                    put_u32be(p, idx % nI);
                  },
                  [](std::byte*& p, const Holding& v) { p += encode_holding(v, p); });
  n += emit_table(jbuf, Table::cash, cash, [](std::byte*& p, std::uint32_t idx) { put_u32be(p, idx); },
                  [](std::byte*& p, const Cash& v) { p += encode_cash(v, p); });
  n += emit_table(jbuf, Table::region_usage, reg,
                  [&](std::byte*& p, std::uint32_t idx) {
                    put_u32be(p, idx / nI);
                    put_u32be(p, idx % nI);
                  },
                  [](std::byte*& p, const RegionUsage& v) { p += encode_region_usage(v, p); });
  n += emit_table(jbuf, Table::zone_usage, zone,
                  [&](std::byte*& p, std::uint32_t idx) {
                    put_u32be(p, pol.zone_keys[idx].first);
                    put_u16be(p, pol.zone_keys[idx].second);
                  },
                  [](std::byte*& p, const ZoneHeld& v) { p += encode_qty(v.held_qty, p); });
  std::sort(loss.dirty.begin(), loss.dirty.end(), [&](std::uint32_t a, std::uint32_t b) {
    return std::pair{pol.inst[a].zone, a} < std::pair{pol.inst[b].zone, b};
  });
  n += emit_table(
      jbuf, Table::loss, loss,
      [&](std::byte*& p, std::uint32_t idx) {
        put_u32be(p, pol.inst[idx].zone);
        put_u32be(p, idx);
      },
      [](std::byte*& p, const LossQty& v) { p += encode_qty(v.qty, p); });
  n += emit_table(jbuf, Table::supply, supply,
                  [&](std::byte*& p, std::uint32_t idx) { put_u32be(p, idx == nI ? kCashKey : idx); },
                  [](std::byte*& p, const Supply& v) { p += encode_supply(v, p); });
  // Orders: the first undo entry of an id holds its value before the batch.
  std::stable_sort(order_undo.begin(), order_undo.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::uint32_t order_entries = 0;
  for (std::size_t k = 0; k < order_undo.size();) {
    const OrderId id = order_undo[k].first;
    const std::optional<OrderReservation>& before = order_undo[k].second;
    while (k < order_undo.size() && order_undo[k].first == id) ++k;
    const OrderSlot* cur = orders.find(id);
    const bool now = cur != nullptr;
    if (!now && !before) continue;
    if (now && before && cur->o == *before) continue;
    std::byte key[8];
    std::byte* kp = key;
    put_u64be(kp, id);
    std::byte val[kMaxOrderSize];
    const std::size_t vlen = now ? encode_order(cur->o, val) : 0;
    put_entry(jbuf, Table::orders, key, 8, val, vlen, !now);
    ++order_entries;
  }
  n += order_entries;

  h.seq = head + 1;
  h.ts_ns = ts;
  h.first_trade = batch_first_trade;
  h.trade_count = static_cast<std::uint32_t>(next_trade - batch_first_trade);
  h.first_movement = batch_first_movement;
  h.movement_count = static_cast<std::uint32_t>(next_movement - batch_first_movement);
  h.flags = has_snapshot ? kFlagSnapshot : 0;
  h.input_len = static_cast<std::uint32_t>(input.size());
  h.write_count = n;

  // Reservation image (deterministic policy, ledger.h).
  entries_since_image += order_entries;
  image.clear();
  if (entries_since_image >= kImageFactor * std::max<std::uint64_t>(orders.size(), image_min_entries)) {
    std::vector<std::pair<OrderId, const OrderSlot*>> all;
    all.reserve(orders.size());
    orders.for_each([&](OrderId id, const OrderSlot& s) { all.emplace_back(id, &s); });
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    image.resize(8 + all.size() * (9 + kMaxOrderSize));
    std::byte* p = image.data();
    put_le<std::uint64_t>(p, all.size());
    for (const auto& [id, slot] : all) {
      put_u64be(p, id);
      const std::size_t len = encode_order(slot->o, p + 1);
      *p = std::byte{static_cast<std::uint8_t>(len)};
      p += 1 + len;
    }
    image.resize(static_cast<std::size_t>(p - image.data()));
    h.flags |= kFlagReservations;
    entries_since_image = 0;
  }
  encode_journal_header(h, jbuf.data());
  // Movements carry the batch's timestamp.
  movement_buf.resize(movements.size() * (9 + kMaxMovementSize));
  std::byte* mp = movement_buf.data();
  for (MovementRecord& m : movements) {
    m.ts_ns = ts;
    put_u64be(mp, m.id);
    const std::size_t len = encode_movement(m, mp + 1);
    *mp = std::byte{static_cast<std::uint8_t>(len)};
    mp += 1 + len;
  }
  movement_buf.resize(static_cast<std::size_t>(mp - movement_buf.data()));
}

void LedgerImpl::grow_map(std::size_t need) {
  const std::uint64_t want = std::max<std::uint64_t>(map_bytes * 2, map_bytes + 2 * std::uint64_t{need});
  if (map_bytes >= options.max_map_bytes) {
    throw LedgerError("the ledger in " + dir.string() + " is full: it reached max_map_bytes = " +
                      std::to_string(options.max_map_bytes) +
                      " bytes; raise Options::max_map_bytes (and make sure the disk has room)");
  }
  const std::uint64_t next = std::min(want, options.max_map_bytes);
  lmdb::check(mdb_env_set_mapsize(env.get(), static_cast<std::size_t>(next)), "growing the map");
  map_bytes = next;
}

Hash LedgerImpl::chain_next(const Hash& prev, const wal::Parts& p, std::uint8_t flags) {
  return wal::chain_next(sha, prev, p, flags);
}

/// Puts one batch into an open write transaction. Throws MapFull.
void LedgerImpl::put_batch(MDB_txn* t, const wal::Parts& p) {
  using namespace format;
  auto ck = [](int rc, const char* what) {
    if (rc == MDB_MAP_FULL) throw MapFull{};  // the caller grows the map and retries
    lmdb::check(rc, what);
  };
  JournalView j;
  if (!parse_journal(p.journal, j) || j.header.seq != p.seq) {
    throw LedgerError("internal error: a batch's journal record does not parse");
  }
  const JournalHeader& h = j.header;
  // State tables, from the write-set itself (the same bytes verify folds).
  bool bad = false;
  const bool ok = for_each_write(j.writes, h.write_count, [&](const WriteEntry& e) {
    if (e.table == Table::orders || bad) return;
    const MDB_dbi dbi = dbi_state[static_cast<int>(e.table)];
    MDB_val k = lmdb::val(e.key);
    if (e.deleted) {
      const int rc = mdb_del(t, dbi, &k, nullptr);
      if (rc == MDB_NOTFOUND) bad = true;
      else ck(rc, "deleting a record");
    } else {
      MDB_val v = lmdb::val(e.value);
      ck(mdb_put(t, dbi, &k, &v, 0), "writing a record");
    }
  });
  if (!ok || bad) throw LedgerError("internal error: the batch's write-set does not match the stored tables");
  auto append_all = [&](MDB_dbi dbi, std::span<const std::byte> buf) {
    if (buf.empty()) return;
    lmdb::Cursor c(t, dbi);
    for (std::size_t off = 0; off < buf.size();) {
      const auto len = static_cast<std::size_t>(buf[off + 8]);
      MDB_val k = lmdb::val(buf.data() + off, 8);
      MDB_val v = lmdb::val(buf.data() + off + 9, len);
      ck(mdb_cursor_put(c.get(), &k, &v, MDB_APPEND), "appending a record");
      off += 9 + len;
    }
  };
  append_all(dbi_trades, p.trades);
  append_all(dbi_movements, p.movements);
  std::byte seqkey[8];
  {
    std::byte* q = seqkey;
    put_u64be(q, h.seq);
  }
  MDB_val k = lmdb::val(seqkey, 8);
  if (h.flags & kFlagSnapshot) {
    MDB_val v = lmdb::val(p.snapshot);
    ck(mdb_put(t, dbi_snapshots, &k, &v, MDB_APPEND), "storing the snapshot");
  }
  if (h.flags & kFlagReservations) {
    MDB_val v = lmdb::val(p.image);
    ck(mdb_put(t, dbi_reservations, &k, &v, MDB_APPEND), "storing the reservation image");
  }
  {
    MDB_val v = lmdb::val(p.journal);
    ck(mdb_put(t, dbi_journal, &k, &v, MDB_APPEND), "appending the journal record");
  }
  {
    MDB_val v = lmdb::val(p.head.data(), p.head.size());
    ck(mdb_put(t, dbi_chain, &k, &v, MDB_APPEND), "appending the chain record");
  }
}

/// Puts records[from..] into `txn` (which holds records[..from]), beginning
/// it if needed; when the map is full, aborts, grows the map and puts them
/// all again.
void LedgerImpl::put_records(lmdb::Txn& txn, const std::vector<Job>& records, std::size_t from) {
  for (;;) {
    try {
      if (txn.get() == nullptr) txn = lmdb::Txn(env.get(), 0, "beginning a ledger transaction");
      for (std::size_t i = from; i < records.size(); ++i) {
        wal::Parts p;
        if (!wal::decode(records[i].bytes, p)) throw LedgerError("internal error: a write-ahead record does not decode");
        put_batch(txn.get(), p);
      }
      return;
    } catch (const MapFull&) {
      txn.abort();
      std::size_t need = 0;
      for (const Job& r : records) need += r.bytes.size();
      grow_map(need);
      from = 0;
    }
  }
}

/// Commits `txn`, which holds `records`; when the map fills up at the commit
/// itself (LMDB's free-page list), grows it and writes them all again.
void LedgerImpl::commit_records(lmdb::Txn& txn, const std::vector<Job>& records) {
  for (;;) {
    const int rc = txn.commit();
    if (rc != MDB_MAP_FULL) {
      lmdb::check(rc, "committing the ledger transaction");
      return;
    }
    std::size_t need = 0;
    for (const Job& r : records) need += r.bytes.size();
    grow_map(need);
    put_records(txn, records);
  }
}

/// Writes records as one LMDB transaction of their own.
void LedgerImpl::apply_direct(const std::vector<Job>& records) {
  lmdb::Txn txn;
  put_records(txn, records);
  commit_records(txn, records);
}

CommitInfo LedgerImpl::commit(Bytes input, TimestampNs ts) {
  if (!batch_open) throw std::logic_error("haihe::ledger: commit() without an open batch");
  // The undo logs stay until the batch is durable, so that a failure can
  // still roll it back in memory.
  const auto entries_before = entries_since_image;
  format::JournalHeader h;
  Hash new_head;
  try {
    build_journal(input, ts, h);
    wal::Parts parts{h.seq, jbuf, trade_buf, movement_buf, {}, {}, {}};
    if (h.flags & format::kFlagSnapshot) parts.snapshot = snapshot;
    if (h.flags & format::kFlagReservations) parts.image = image;
    new_head = chain_next(head_hash, parts, h.flags);
    parts.head = new_head;
    std::vector<Job> rec;
    rec.push_back(Job{h.seq, true, wal::encode(parts)});
    if (!applier.joinable()) {
      apply_direct(rec);
    } else {
      Job& job = rec.front();
      const std::uint64_t size = job.bytes.size();
      // A batch too big for the log (a huge snapshot or image), or one that
      // might not fit LMDB's map at max_map_bytes, is committed unlogged: it
      // is durable once its own checkpoint commits, and if LMDB refuses it
      // the batch is undone like any failed commit.
      job.logged = size <= ring->capacity() / 2;
      {
        std::lock_guard lock(amu);
        if (!a_error.empty()) throw LedgerError(a_error);
        if (a_used_bytes + 2 * (a_pending_bytes + size) + (std::uint64_t{1} << 20) > options.max_map_bytes) {
          job.logged = false;
        }
      }
      if (job.logged) {
        while (const auto b = ring->blocked_by(size)) checkpoint_through(*b);
        ring->append(h.seq, job.bytes);  // the commit point
      }
      const bool logged = job.logged;
      bool wake = false;
      {
        std::lock_guard lock(amu);
        a_pending_bytes += size;
        a_failed_seq = 0;  // that of a refused batch is this seq again
        a_jobs.push_back(std::move(job));
        // A busy applier collects the records on its next poll: no wake-up
        // (a context switch on the writer's CPU) per batch.
        wake = a_parked || !logged;
      }
      if (wake) a_work.notify_one();
      if (!logged) checkpoint_through(h.seq);
    }
  } catch (...) {
    entries_since_image = entries_before;
    abort();
    throw;
  }
  head = h.seq;
  head_hash = new_head;
  batch_open = false;
  hold.dirty.clear();
  cash.dirty.clear();
  reg.dirty.clear();
  zone.dirty.clear();
  loss.dirty.clear();
  supply.dirty.clear();
  order_undo.clear();
  CommitInfo ci{h.seq, new_head, jbuf.size()};
  if (jbuf.capacity() > (std::size_t{64} << 20)) std::vector<std::byte>().swap(jbuf);
  if (image.capacity() > (std::size_t{64} << 20)) std::vector<std::byte>().swap(image);
  return ci;
}

// ---------------------------------------------------------------- checkpoints

namespace {
constexpr auto kIdleCheckpoint = std::chrono::milliseconds(2);
constexpr auto kMaxCheckpointGap = std::chrono::milliseconds(20);
}  // namespace

void LedgerImpl::start_applier() {
  {
    std::lock_guard lock(amu);
    a_checkpointed = head;
    a_want = head;
    a_stop = false;
    a_pending_bytes = 0;
  }
  publish_checkpoint(head, 0);
  applier = std::thread([this] { applier_loop(); });
}

void LedgerImpl::stop_applier() noexcept {
  if (!applier.joinable()) return;
  {
    std::lock_guard lock(amu);
    a_stop = true;
  }
  a_work.notify_one();
  applier.join();
}

void LedgerImpl::checkpoint_through(Seq seq) {
  std::unique_lock lock(amu);
  a_want = std::max(a_want, seq);
  a_work.notify_one();
  a_done.wait(lock, [&] { return a_checkpointed >= seq || !a_error.empty() || a_failed_seq == seq; });
  if (a_checkpointed < seq) throw LedgerError(a_failed_seq == seq ? a_failed_why : a_error);
  const Seq done = a_checkpointed;
  lock.unlock();
  ring->checkpointed(done);
}

/// The applier: LMDB holds everything through `through` now.
void LedgerImpl::publish_checkpoint(Seq through, std::uint64_t bytes) {
  MDB_envinfo info;
  mdb_env_info(env.get(), &info);
  MDB_stat st;
  mdb_env_stat(env.get(), &st);
  {
    std::lock_guard lock(amu);
    a_checkpointed = through;
    a_pending_bytes -= bytes;
    a_used_bytes = (info.me_last_pgno + 1) * std::uint64_t{st.ms_psize};
  }
  a_done.notify_all();
}

void LedgerImpl::applier_loop() {
  using Clock = std::chrono::steady_clock;
  lmdb::Txn txn;
  std::vector<Job> held;  // the logged records in `txn`
  std::uint64_t held_bytes = 0;
  auto opened_at = Clock::now();
  std::vector<Job> fresh;
  const std::uint64_t checkpoint_bytes = ring->capacity() / 4;
  auto checkpoint = [&] {
    if (held.empty()) return;
    commit_records(txn, held);
    const Seq through = held.back().seq;
    const std::uint64_t bytes = held_bytes;
    held.clear();
    held_bytes = 0;
    int dead = 0;
    mdb_reader_check(env.get(), &dead);  // slots of crashed readers would pin old pages
    publish_checkpoint(through, bytes);
  };
  try {
    for (;;) {
      bool want = false, stop = false, idle = false;
      {
        std::unique_lock lock(amu);
        while (a_jobs.empty()) {
          want = !held.empty() && a_want > a_checkpointed;
          stop = a_stop;
          if (want || stop) break;
          if (held.empty() || options.defer_checkpoints) {
            a_parked = true;
            a_work.wait(lock);
            a_parked = false;
          } else if (a_work.wait_for(lock, kIdleCheckpoint) == std::cv_status::timeout && a_jobs.empty()) {
            idle = true;
            break;
          }
        }
        while (!a_jobs.empty()) {
          fresh.push_back(std::move(a_jobs.front()));
          a_jobs.pop_front();
        }
      }
      for (Job& j : fresh) {
        if (!j.logged) {
          checkpoint();
          const std::uint64_t size = j.bytes.size();
          try {
            std::vector<Job> one;
            one.push_back(std::move(j));
            apply_direct(one);
          } catch (const std::exception& e) {
            {
              std::lock_guard lock(amu);
              a_failed_seq = j.seq;
              a_failed_why = e.what();
              a_pending_bytes -= size;
            }
            a_done.notify_all();
            continue;
          }
          publish_checkpoint(j.seq, size);
          continue;
        }
        if (held.empty()) opened_at = Clock::now();
        held_bytes += j.bytes.size();
        held.push_back(std::move(j));
        put_records(txn, held, held.size() - 1);
      }
      fresh.clear();
      {
        std::lock_guard lock(amu);
        want = want || a_want > a_checkpointed;
        stop = stop || a_stop;
      }
      const bool due = !options.defer_checkpoints &&
                       (idle || held_bytes >= checkpoint_bytes || Clock::now() - opened_at >= kMaxCheckpointGap);
      if (want || stop || due) {
        checkpoint();
      }
      if (stop && held.empty()) {
        std::lock_guard lock(amu);
        if (a_jobs.empty()) return;
      }
    }
  } catch (const std::exception& e) {
    txn.abort();
    {
      std::lock_guard lock(amu);
      a_error = std::string("the ledger could not write its checkpoint: ") + e.what() +
                "; committed batches are in the write-ahead log and are applied when the ledger is next opened";
    }
    a_done.notify_all();
  }
}

/// Re-applies the write-ahead records LMDB does not hold yet (a crash after
/// their commit, before their checkpoint), then erases the ones that do not
/// chain.
void LedgerImpl::redo_wal() {
  Seq h = 0;
  Hash prev{};
  {
    lmdb::Txn txn(env.get(), MDB_RDONLY, "reading the chain");
    lmdb::Cursor c(txn.get(), dbi_chain);
    MDB_val k, v;
    if (c.get(k, v, MDB_LAST) == MDB_SUCCESS) {
      if (k.mv_size != 8 || v.mv_size != 32) throw LedgerError("damaged chain record in " + dir.string());
      h = format::get_u64be(lmdb::bytes(k).data());
      std::memcpy(prev.data(), v.mv_data, 32);
    }
  }
  auto followed = ring->follow(h, prev);
  std::vector<Job> records;
  for (auto& r : followed.records) records.push_back(Job{h + records.size() + 1, true, std::move(r)});
  if (!records.empty()) {
    apply_direct(records);
    if (options.durability == Durability::none) lmdb::check(mdb_env_sync(env.get(), 1), "flushing the ledger");
  }
  redone = records.size();
  // What is left past the new head did not chain (torn, or an earlier lap):
  // make sure no later batch of the same seq and head could revive it.
  for (const auto& f : followed.leftovers) ring->erase(f);
}

// ---------------------------------------------------------------- open

bool LedgerImpl::open_env() {
  MDB_env* e = nullptr;
  lmdb::check(mdb_env_create(&e), "creating the environment");
  env = lmdb::Env(e);
  lmdb::check(mdb_env_set_maxdbs(e, 16), "mdb_env_set_maxdbs");
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(dir / "data.mdb", ec);
  map_bytes = std::max<std::uint64_t>(options.map_bytes, ec ? 0 : file_size);
  map_bytes = (map_bytes + 0xFFFFF) & ~std::uint64_t{0xFFFFF};
  lmdb::check(mdb_env_set_mapsize(e, static_cast<std::size_t>(map_bytes)), "mdb_env_set_mapsize");
  unsigned flags = MDB_NORDAHEAD;
  if (options.durability == Durability::none) flags |= MDB_NOSYNC;
  const int rc = mdb_env_open(e, dir.c_str(), flags, 0644);
  if (rc != MDB_SUCCESS) lmdb::fail(rc, "opening " + dir.string());
  MDB_envinfo info;
  mdb_env_info(e, &info);
  map_bytes = info.me_mapsize;
  int dead = 0;
  mdb_reader_check(e, &dead);  // slots of crashed readers would pin old pages
  lmdb::Txn txn(e, 0, "opening the tables");
  MDB_dbi meta = 0;
  bool fresh = false;
  if (!lmdb::open_dbi(txn.get(), format::table_name(Table::meta), false, meta)) {
    // No meta table: a new directory, or someone else's LMDB environment.
    MDB_dbi main = 0;
    lmdb::check(mdb_dbi_open(txn.get(), nullptr, 0, &main), "opening the main table");
    MDB_stat st;
    lmdb::check(mdb_stat(txn.get(), main, &st), "mdb_stat");
    if (st.ms_entries != 0) {
      throw LedgerError(dir.string() + " holds an LMDB environment that is not a haihe ledger; "
                        "use an empty directory for a new ledger");
    }
    fresh = true;
  }
  for (const Table t : format::kStateTables) {
    lmdb::open_dbi(txn.get(), format::table_name(t), true, dbi_state[static_cast<int>(t)]);
  }
  lmdb::open_dbi(txn.get(), format::kJournal, true, dbi_journal);
  lmdb::open_dbi(txn.get(), format::kChain, true, dbi_chain);
  lmdb::open_dbi(txn.get(), format::kTrades, true, dbi_trades);
  lmdb::open_dbi(txn.get(), format::kMovements, true, dbi_movements);
  lmdb::open_dbi(txn.get(), format::kSnapshots, true, dbi_snapshots);
  lmdb::open_dbi(txn.get(), format::kReservations, true, dbi_reservations);
  if (!fresh) {
    // Created but the genesis batch never committed (a crash at creation).
    MDB_stat st;
    lmdb::check(mdb_stat(txn.get(), dbi_chain, &st), "mdb_stat");
    MDB_stat ms;
    lmdb::check(mdb_stat(txn.get(), dbi_state[static_cast<int>(Table::meta)], &ms), "mdb_stat");
    fresh = st.ms_entries == 0 && ms.ms_entries == 0;
  }
  lmdb::check(txn.commit(), "creating the tables");
  return fresh;
}

void LedgerImpl::init_state() {
  hold.init(std::size_t{pol.nP} * pol.nI);
  cash.init(pol.nP);
  reg.init(std::size_t{pol.nR} * pol.nI);
  zone.init(pol.zone_keys.size());
  loss.init(pol.nI);
  supply.init(pol.nI + 1);
  orders.clear();
}

void LedgerImpl::load_record(Table tb, std::span<const std::byte> k, std::span<const std::byte> v) {
  using namespace format;
  auto mismatch = [&] {
    throw LedgerError(std::string("the data in ") + dir.string() + " does not fit the market rules: table " +
                      table_name(tb) + " has a record (" + describe_key(tb, k) +
                      ") the rules do not define or cannot be read; open it with the rules it was created with, "
                      "or run haihe audit verify");
  };
  switch (tb) {
    case Table::meta:
    case Table::accounts:
    case Table::orders:
      return;
    case Table::holdings: {
      if (k.size() != 8) mismatch();
      const auto p = get_u32be(k.data()), i = get_u32be(k.data() + 4);
      if (p >= pol.nP || i >= pol.nI || !decode_holding(v, hold.v[pol.pi(p, i)])) mismatch();
      return;
    }
    case Table::cash: {
      if (k.size() != 4 || get_u32be(k.data()) >= pol.nP || !decode_cash(v, cash.v[get_u32be(k.data())])) mismatch();
      return;
    }
    case Table::region_usage: {
      if (k.size() != 8) mismatch();
      const auto r = get_u32be(k.data()), i = get_u32be(k.data() + 4);
      if (r >= pol.nR || i >= pol.nI || !decode_region_usage(v, reg.v[pol.ri(r, i)])) mismatch();
      return;
    }
    case Table::zone_usage: {
      if (k.size() != 6) mismatch();
      const auto key = std::pair{get_u32be(k.data()), get_u16be(k.data() + 4)};
      const auto it = std::lower_bound(pol.zone_keys.begin(), pol.zone_keys.end(), key);
      if (it == pol.zone_keys.end() || *it != key) mismatch();
      if (!decode_qty(v, zone.v[static_cast<std::size_t>(it - pol.zone_keys.begin())].held_qty)) mismatch();
      return;
    }
    case Table::loss: {
      if (k.size() != 8) mismatch();
      const auto i = get_u32be(k.data() + 4);
      if (i >= pol.nI || pol.inst[i].zone != get_u32be(k.data()) || !decode_qty(v, loss.v[i].qty)) mismatch();
      return;
    }
    case Table::supply: {
      if (k.size() != 4) mismatch();
      const auto i = get_u32be(k.data());
      if (i != kCashKey && i >= pol.nI) mismatch();
      if (!decode_supply(v, supply.v[i == kCashKey ? pol.nI : i])) mismatch();
      return;
    }
  }
}

void LedgerImpl::load_state() {
  using namespace format;
  init_state();
  lmdb::Txn txn(env.get(), MDB_RDONLY, "reading the ledger");
  MDB_txn* t = txn.get();
  for (const Table tb : kStateTables) {
    lmdb::Cursor c(t, dbi_state[static_cast<int>(tb)]);
    MDB_val k, v;
    for (int rc = c.get(k, v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.get(k, v, MDB_NEXT)) {
      load_record(tb, lmdb::bytes(k), lmdb::bytes(v));
    }
  }
  MDB_val k, v;
  {
    lmdb::Cursor c(t, dbi_chain);
    if (c.get(k, v, MDB_LAST) == MDB_SUCCESS) {
      head = get_u64be(lmdb::bytes(k).data());
      if (v.mv_size != 32) throw LedgerError("damaged chain record in " + dir.string() + ": run haihe audit verify");
      std::memcpy(head_hash.data(), v.mv_data, 32);
    }
  }
  {
    lmdb::Cursor c(t, dbi_journal);
    const Seq jhead = c.get(k, v, MDB_LAST) == MDB_SUCCESS ? get_u64be(lmdb::bytes(k).data()) : 0;
    if (jhead != head) {
      throw LedgerError("the journal (last batch " + std::to_string(jhead) + ") and the chain (last batch " +
                        std::to_string(head) + ") of " + dir.string() + " disagree: run haihe audit verify");
    }
  }
  {
    lmdb::Cursor c(t, dbi_trades);
    if (c.get(k, v, MDB_LAST) == MDB_SUCCESS) next_trade = get_u64be(lmdb::bytes(k).data()) + 1;
  }
  {
    lmdb::Cursor c(t, dbi_movements);
    if (c.get(k, v, MDB_LAST) == MDB_SUCCESS) next_movement = get_u64be(lmdb::bytes(k).data()) + 1;
  }
}

void LedgerImpl::recover_orders() {
  using namespace format;
  orders.clear();
  lmdb::Txn txn(env.get(), MDB_RDONLY, "reading the reservations");
  MDB_txn* t = txn.get();
  MDB_val k, v;
  Seq from = 1;
  {
    lmdb::Cursor c(t, dbi_reservations);
    if (c.get(k, v, MDB_LAST) == MDB_SUCCESS) {
      const Seq at = get_u64be(lmdb::bytes(k).data());
      const auto img = lmdb::bytes(v);
      auto damaged = [&] {
        return LedgerError("damaged reservation image at batch " + std::to_string(at) + " in " + dir.string() +
                           ": run haihe audit verify");
      };
      if (img.size() < 8) throw damaged();
      const std::byte* p = img.data();
      const std::byte* const end = img.data() + img.size();
      const std::uint64_t n = get_le<std::uint64_t>(p);
      if (n > img.size()) throw damaged();
      orders.reserve(static_cast<std::size_t>(n));
      for (std::uint64_t j = 0; j < n; ++j) {
        if (end - p < 9) throw damaged();
        const OrderId id = get_u64be(p);
        const auto len = static_cast<std::size_t>(p[8]);
        if (static_cast<std::size_t>(end - p) < 9 + len) throw damaged();
        OrderSlot slot;
        if (!decode_order({p + 9, len}, slot.o)) throw damaged();
        orders.put(id, slot);
        p += 9 + len;
      }
      if (p != end) throw damaged();
      from = at + 1;
    }
  }
  entries_since_image = 0;
  lmdb::Cursor c(t, dbi_journal);
  std::byte key[8];
  std::byte* kp = key;
  put_u64be(kp, from);
  k = lmdb::val(key, 8);
  for (int rc = c.get(k, v, MDB_SET_RANGE); rc == MDB_SUCCESS; rc = c.get(k, v, MDB_NEXT)) {
    JournalView j;
    if (!parse_journal(lmdb::bytes(v), j)) {
      throw LedgerError("damaged journal record in " + dir.string() + ": run haihe audit verify");
    }
    const bool ok = for_each_write(j.writes, j.header.write_count, [&](const WriteEntry& e) {
      if (e.table != Table::orders) return;
      ++entries_since_image;
      const OrderId id = get_u64be(e.key.data());
      if (e.deleted) {
        orders.erase(id);
      } else {
        OrderSlot slot;
        if (!decode_order(e.value, slot.o)) {
          throw LedgerError("damaged journal record in " + dir.string() + ": run haihe audit verify");
        }
        orders.put(id, slot);
      }
    });
    if (!ok) throw LedgerError("damaged journal record in " + dir.string() + ": run haihe audit verify");
  }
}

void LedgerImpl::write_accounts(PartyIndex from) {
  using namespace format;
  for (PartyIndex i = from; i < pol.nP; ++i) {
    const auto& party = rules->parties[i];
    std::vector<std::byte> key(4), val(5 + party.id.size());
    std::byte* p = key.data();
    put_u32be(p, i);
    p = val.data();
    put_le<std::uint8_t>(p, static_cast<std::uint8_t>(party.kind));
    put_le<std::uint32_t>(p, party.region);
    std::memcpy(p, party.id.data(), party.id.size());
    extra.push_back(ExtraWrite{Table::accounts, std::move(key), std::move(val)});
  }
}

void LedgerImpl::amend(std::string_view rules_text, const std::string& sha_hex, const std::string& old_sha,
                       std::string_view old_layout) {
  // Ledger::open checked that only entities were appended; new parties need accounts.
  PartyIndex old_parties = 0;
  for (const auto& l : lines_of(old_layout)) {
    if (l.rfind("party ", 0) == 0) ++old_parties;
  }
  begin();
  extra.push_back(ExtraWrite{Table::meta, to_bytes("rules_sha256"), to_bytes(sha_hex)});
  extra.push_back(ExtraWrite{Table::meta, to_bytes("rules_toml"), to_bytes(rules_text)});
  extra.push_back(ExtraWrite{Table::meta, to_bytes("layout"), to_bytes(layout_of(*rules))});
  write_accounts(old_parties);
  const std::string input = "haihe amend rules-sha256 " + sha_hex + " replaces " + old_sha + "\n";
  commit({reinterpret_cast<const std::byte*>(input.data()), input.size()}, options.amend_ts_ns);
}

void LedgerImpl::genesis(std::string_view rules_text, const std::string& sha_hex) {
  using namespace format;
  begin();
  auto meta = [&](std::string_view key, std::vector<std::byte> value) {
    extra.push_back(ExtraWrite{Table::meta, to_bytes(key), std::move(value)});
  };
  {
    std::vector<std::byte> v(4);
    std::byte* p = v.data();
    put_le<std::uint32_t>(p, kVersion);
    meta("format_version", std::move(v));
  }
  {
    std::vector<std::byte> v(8);
    std::byte* p = v.data();
    image_min_entries = std::max<std::uint64_t>(1, options.image_min_entries);
    put_le<std::uint64_t>(p, image_min_entries);
    meta("image_min_entries", std::move(v));
  }
  meta("rules_sha256", to_bytes(sha_hex));
  meta("rules_toml", to_bytes(rules_text));
  meta("layout", to_bytes(layout_of(*rules)));
  write_accounts(0);
  for (const auto& g : rules->genesis_holdings) {
    const Reason r = issue(g.party, g.instrument, g.qty);
    if (r != Reason::ok) {
      abort();
      throw LedgerError("the rules' genesis holding of " + std::to_string(g.qty) + " to party " +
                        std::to_string(g.party) + " of instrument " + std::to_string(g.instrument) +
                        " is rejected: " + std::string(to_string(r)) + "; fix [genesis] in the rules file");
    }
  }
  for (const auto& g : rules->genesis_cash) {
    if (g.fen == 0) continue;
    const Reason r = deposit(g.party, g.fen);
    if (r != Reason::ok) {
      abort();
      throw LedgerError("the rules' genesis cash of party " + std::to_string(g.party) + " is rejected: " +
                        std::string(to_string(r)) + "; fix [genesis] in the rules file");
    }
  }
  const std::string input = "haihe genesis rules-sha256 " + sha_hex + "\n";
  commit({reinterpret_cast<const std::byte*>(input.data()), input.size()}, options.genesis_ts_ns);
}

// ---------------------------------------------------------------- invariants

std::vector<std::string> LedgerImpl::check_invariants(bool rules_dependent) const {
  std::vector<std::string> out;
  auto bad = [&](std::string s) {
    if (out.size() < 50) out.push_back(std::move(s));
  };
  const auto& P = pol;
  std::vector<Holding> sum_h(hold.v.size());
  std::vector<Fen> sum_cash(P.nP, 0);
  orders.for_each([&](OrderId id, const OrderSlot& s) {
    const auto& o = s.o;
    if (o.party >= P.nP || o.instrument >= P.nI || o.qty <= 0 || o.cash_fen < 0) {
      bad("order " + std::to_string(id) + " is malformed");
      return;
    }
    Holding& h = sum_h[P.pi(o.party, o.instrument)];
    if (o.side == Side::sell) {
      h.reserved_qty += o.qty;
    } else {
      h.incoming_qty += o.qty;
      sum_cash[o.party] += o.cash_fen;
      const BuyQuote need = need_buy(o.party, o.instrument, o.qty, o.limit_fen);
      if (rules_dependent && (need.reason != Reason::ok || need.cash_fen > o.cash_fen)) {
        bad("order " + std::to_string(id) + " reserves " + std::to_string(o.cash_fen) +
            " fen, less than its open qty needs");
      }
    }
  });
  std::vector<RegionUsage> sum_r(reg.v.size());
  std::vector<Qty> sum_z(zone.v.size(), 0);
  for (PartyIndex p = 0; p < P.nP; ++p) {
    const Cash& c = cash.v[p];
    if (c.free_fen < 0 || c.reserved_fen < 0) bad("cash of party " + std::to_string(p) + " is negative");
    if (c.reserved_fen != sum_cash[p]) {
      bad("party " + std::to_string(p) + " has " + std::to_string(c.reserved_fen) +
          " fen reserved but its open orders hold " + std::to_string(sum_cash[p]));
    }
    for (InstrumentIndex i = 0; i < P.nI; ++i) {
      const Holding& h = hold.v[P.pi(p, i)];
      const std::string at = "party " + std::to_string(p) + " instrument " + std::to_string(i);
      if (h.free_qty < 0 || h.reserved_qty < 0 || h.incoming_qty < 0) bad("holding of " + at + " is negative");
      const Holding& s = sum_h[P.pi(p, i)];
      if (h.reserved_qty != s.reserved_qty || h.incoming_qty != s.incoming_qty) {
        bad("holding of " + at + ": reserved/incoming differ from its open orders");
      }
      const Qty held = h.free_qty + h.reserved_qty;
      const Qty limit = P.party_limit[P.pi(p, i)];
      if (rules_dependent && limit > 0 && held + h.incoming_qty > limit) bad("party cap exceeded: " + at);
      if (P.region[p] != rules::kNone) {
        RegionUsage& u = sum_r[P.ri(P.region[p], i)];
        u.held_qty += held;
        u.incoming_qty += h.incoming_qty;
      }
      if (P.inst[i].water) sum_z[P.inst[i].zone_key] += held;
    }
  }
  for (RegionIndex r = 0; r < P.nR; ++r) {
    for (InstrumentIndex i = 0; i < P.nI; ++i) {
      const RegionUsage& u = reg.v[P.ri(r, i)];
      const std::string at = "region " + std::to_string(r) + " instrument " + std::to_string(i);
      if (!(u == sum_r[P.ri(r, i)])) bad("region usage of " + at + " differs from its parties' holdings");
      const Qty cap = P.region_cap[P.ri(r, i)];
      if (rules_dependent && cap >= 0 && u.held_qty + u.incoming_qty > cap) bad("region cap exceeded: " + at);
    }
  }
  for (std::size_t z = 0; z < zone.v.size(); ++z) {
    const std::string at = "zone " + std::to_string(P.zone_keys[z].first) + " vintage " +
                           std::to_string(P.zone_keys[z].second);
    if (zone.v[z].held_qty != sum_z[z]) bad("zone usage of " + at + " differs from the holdings");
    if (rules_dependent && P.zone_cap[z] >= 0 && zone.v[z].held_qty > P.zone_cap[z]) bad("zone cap exceeded: " + at);
  }
  for (InstrumentIndex i = 0; i < P.nI; ++i) {
    i128 total = loss.v[i].qty;
    if (loss.v[i].qty < 0) bad("loss of instrument " + std::to_string(i) + " is negative");
    for (PartyIndex p = 0; p < P.nP; ++p) total += hold.v[P.pi(p, i)].free_qty + hold.v[P.pi(p, i)].reserved_qty;
    const Supply& s = supply.v[i];
    if (total != i128{s.issued_qty} - s.retired_qty) {
      bad("conservation broken for instrument " + std::to_string(i) + ": holdings + loss != issued - retired");
    }
  }
  i128 total_cash = 0;
  for (PartyIndex p = 0; p < P.nP; ++p) total_cash += i128{cash.v[p].free_fen} + cash.v[p].reserved_fen;
  const Supply& cs = supply.v[P.nI];
  if (total_cash != i128{cs.issued_qty} - cs.retired_qty) bad("conservation broken for cash");
  return out;
}

// =============================================================== Batch

Batch::Batch(Batch&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}
Batch::~Batch() {
  if (impl_ != nullptr) impl_->abort();
}
Reason Batch::issue(PartyIndex p, InstrumentIndex i, Qty q) { return impl_->issue(p, i, q); }
Reason Batch::retire(PartyIndex p, InstrumentIndex i, Qty q) { return impl_->retire(p, i, q); }
Reason Batch::deposit(PartyIndex p, Fen f) { return impl_->deposit(p, f); }
Reason Batch::withdraw(PartyIndex p, Fen f) { return impl_->withdraw(p, f); }
Reason Batch::grant(PartyIndex fund, PartyIndex city, Fen f) { return impl_->grant(fund, city, f); }
Reason Batch::reserve_sell(OrderId id, PartyIndex p, InstrumentIndex i, Qty q) {
  return impl_->reserve_sell(id, p, i, q);
}
Reason Batch::reserve_buy(OrderId id, PartyIndex p, InstrumentIndex i, Qty q, Fen limit) {
  return impl_->reserve_buy(id, p, i, q, limit);
}
Reason Batch::release(OrderId id, Qty keep) { return impl_->release(id, keep); }
Reason Batch::settle(const Fill& f, TradeRecord* out) { return impl_->settle(f, out); }
Reason Batch::put_snapshot(Bytes b) { return impl_->put_snapshot(b); }
CommitInfo Batch::commit(Bytes input, TimestampNs ts) {
  if (impl_ == nullptr) throw std::logic_error("haihe::ledger: commit() on a finished batch");
  LedgerImpl* impl = std::exchange(impl_, nullptr);
  return impl->commit(input, ts);
}
void Batch::abort() {
  if (impl_ != nullptr) std::exchange(impl_, nullptr)->abort();
}
Seq Batch::seq() const { return impl_ != nullptr ? impl_->head + 1 : 0; }

// =============================================================== Ledger

Ledger::Ledger(std::unique_ptr<LedgerImpl> impl) : impl_(std::move(impl)) {}
Ledger::Ledger(Ledger&&) noexcept = default;
Ledger& Ledger::operator=(Ledger&&) noexcept = default;
Ledger::~Ledger() = default;

Ledger Ledger::open(const std::filesystem::path& dir, std::shared_ptr<const rules::MarketRules> rules,
                    std::string_view rules_text, const Options& options) {
  if (!rules) throw LedgerError("Ledger::open: no market rules given");
  auto impl = std::make_unique<LedgerImpl>();
  impl->dir = dir;
  impl->rules = rules;
  impl->options = options;
  impl->pol = build_policy(*rules);
  const std::string sha_hex =
      to_hex(sha256({reinterpret_cast<const std::byte*>(rules_text.data()), rules_text.size()}));
  if (!rules->source_sha256_hex.empty() && rules->source_sha256_hex != sha_hex) {
    throw LedgerError("Ledger::open: the rules given were not loaded from the rules text given (SHA-256 differs)");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw LedgerError("cannot use " + dir.string() + " as the data directory: " +
                      (ec ? ec.message() : std::string("not a directory")));
  }
  // One writer per data directory: the in-memory state assumes it.
  const auto lock_path = dir / "writer.lock";
  impl->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->lock_fd < 0) {
    throw LedgerError("cannot create " + lock_path.string() + ": " + std::strerror(errno));
  }
  if (::flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    throw LedgerError("another process has the ledger in " + dir.string() +
                      " open for writing; stop it first (read-only tools such as haihe audit may run alongside)");
  }
  const bool fresh = impl->open_env();
  impl->ring = std::make_unique<wal::Ring>(dir / "wal", options.wal_bytes, options.durability == Durability::full);
  if (fresh) {
    impl->ring->clear();  // no batch is committed: whatever the log holds belongs to no chain here
    impl->load_state();
    impl->genesis(rules_text, sha_hex);
  } else {
    impl->redo_wal();
    // Format and rules first, with messages a person can act on.
    lmdb::Txn txn(impl->env.get(), MDB_RDONLY, "reading the ledger's meta data");
    auto get = [&](std::string_view key) -> std::optional<std::string> {
      MDB_val k = lmdb::val(key.data(), key.size()), v;
      const int rc = mdb_get(txn.get(), impl->dbi_state[static_cast<int>(Table::meta)], &k, &v);
      if (rc == MDB_NOTFOUND) return std::nullopt;
      lmdb::check(rc, "reading meta");
      return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
    };
    const auto version = get("format_version");
    if (!version) {
      throw LedgerError(dir.string() + " holds an LMDB environment that is not a haihe ledger (no format_version); "
                        "use an empty directory for a new ledger");
    }
    std::uint32_t ver = 0;
    if (version->size() == 4) std::memcpy(&ver, version->data(), 4);
    if (ver != format::kVersion) {
      throw LedgerError("the ledger in " + dir.string() + " has storage format " + std::to_string(ver) +
                        "; this haihe reads format " + std::to_string(format::kVersion) +
                        ": use the haihe version that wrote it, or migrate the data");
    }
    const auto stored_sha = get("rules_sha256");
    const bool amending = stored_sha != sha_hex;
    if (amending && !options.amend_rules) {
      throw LedgerError("the ledger in " + dir.string() + " was created with other market rules (SHA-256 " +
                        stored_sha.value_or("?") + "), not the rules given (" + sha_hex +
                        "); start it with the rules file it was created with, or amend the rules explicitly");
    }
    const std::string old_layout = get("layout").value_or("");
    const auto image_min = get("image_min_entries");
    if (!image_min || image_min->size() != 8) {
      throw LedgerError("the ledger in " + dir.string() + " lacks meta image_min_entries: run haihe audit verify");
    }
    std::memcpy(&impl->image_min_entries, image_min->data(), 8);
    txn.abort();
    if (amending) {  // the amendment must keep every stored key's meaning before anything is read
      const auto old_lines = lines_of(old_layout);
      const auto new_lines = lines_of(layout_of(*rules));
      const std::set<std::string> now(new_lines.begin(), new_lines.end());
      for (const auto& l : old_lines) {
        if (now.count(l) == 0) {
          throw LedgerError("the amended rules change what the ledger in " + dir.string() + " already holds (\"" +
                            l + "\" is gone or different): an amendment may only append regions, zones, parties "
                            "and instruments and change caps, fees, transfers, compensation and levies");
        }
      }
    }
    impl->load_state();
    impl->recover_orders();
    // Structure only: caps lowered by an amendment do not make a ledger unreadable.
    const auto problems = impl->check_invariants(/*rules_dependent=*/false);
    if (!problems.empty()) {
      throw LedgerError("the ledger in " + dir.string() + " is inconsistent (" + problems.front() +
                        "); run haihe audit verify --data " + dir.string());
    }
    if (amending) impl->amend(rules_text, sha_hex, stored_sha.value_or(""), old_layout);
  }
  impl->start_applier();
  return Ledger(std::move(impl));
}

Batch Ledger::begin() {
  impl_->begin();
  return Batch(impl_.get());
}

const rules::MarketRules& Ledger::rules() const { return *impl_->rules; }
Holding Ledger::holding(PartyIndex p, InstrumentIndex i) const {
  if (p >= impl_->pol.nP || i >= impl_->pol.nI) return {};
  return impl_->hold.v[impl_->pol.pi(p, i)];
}
Cash Ledger::cash(PartyIndex p) const { return p < impl_->pol.nP ? impl_->cash.v[p] : Cash{}; }
RegionUsage Ledger::region_usage(RegionIndex r, InstrumentIndex i) const {
  if (r >= impl_->pol.nR || i >= impl_->pol.nI) return {};
  return impl_->reg.v[impl_->pol.ri(r, i)];
}
Qty Ledger::zone_held(ZoneIndex z, std::uint16_t vintage) const {
  const auto& keys = impl_->pol.zone_keys;
  const auto it = std::lower_bound(keys.begin(), keys.end(), std::pair{z, vintage});
  if (it == keys.end() || *it != std::pair{z, vintage}) return 0;
  return impl_->zone.v[static_cast<std::size_t>(it - keys.begin())].held_qty;
}
Qty Ledger::loss_qty(InstrumentIndex i) const { return i < impl_->pol.nI ? impl_->loss.v[i].qty : 0; }
Supply Ledger::supply(InstrumentIndex i) const { return i < impl_->pol.nI ? impl_->supply.v[i] : Supply{}; }
Supply Ledger::cash_supply() const { return impl_->supply.v[impl_->pol.nI]; }
std::optional<OrderReservation> Ledger::order(OrderId id) const {
  const OrderSlot* s = impl_->orders.find(id);
  if (s == nullptr) return std::nullopt;
  return s->o;
}
std::size_t Ledger::open_orders() const { return impl_->orders.size(); }
void Ledger::for_each_order(const std::function<void(OrderId, const OrderReservation&)>& fn) const {
  std::vector<std::pair<OrderId, OrderReservation>> all;
  all.reserve(impl_->orders.size());
  impl_->orders.for_each([&](OrderId id, const OrderSlot& s) { all.emplace_back(id, s.o); });
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [id, o] : all) fn(id, o);
}
BuyQuote Ledger::quote_buy(PartyIndex p, InstrumentIndex i, Qty q, Fen limit) const {
  return impl_->need_buy(p, i, q, limit);
}
bool Ledger::may_receive_from_any(PartyIndex buyer, InstrumentIndex i) const {
  return impl_->may_receive_from_any(buyer, i);
}
Delivery Ledger::delivery(PartyIndex seller, PartyIndex buyer, InstrumentIndex i) const {
  return impl_->delivery(seller, buyer, i);
}
Qty Ledger::party_headroom(PartyIndex p, InstrumentIndex i) const {
  if (p >= impl_->pol.nP || i >= impl_->pol.nI) return 0;
  const Qty limit = impl_->pol.party_limit[impl_->pol.pi(p, i)];
  if (limit <= 0) return kI64Max;
  const Holding& h = impl_->hold.v[impl_->pol.pi(p, i)];
  return std::max<Qty>(0, limit - h.free_qty - h.reserved_qty - h.incoming_qty);
}
Seq Ledger::head_seq() const { return impl_->head; }
Hash Ledger::head_hash() const { return impl_->head_hash; }
TradeId Ledger::next_trade_id() const { return impl_->next_trade; }

std::optional<std::pair<Seq, std::vector<std::byte>>> Ledger::latest_snapshot() const {
  impl_->settle();
  lmdb::Txn txn(impl_->env.get(), MDB_RDONLY, "reading the snapshot");
  lmdb::Cursor c(txn.get(), impl_->dbi_snapshots);
  MDB_val k, v;
  if (c.get(k, v, MDB_LAST) != MDB_SUCCESS) return std::nullopt;
  const auto b = lmdb::bytes(v);
  return std::pair{format::get_u64be(lmdb::bytes(k).data()), std::vector<std::byte>(b.begin(), b.end())};
}

void Ledger::read_journal(Seq from, const std::function<void(Seq, TimestampNs, Bytes)>& fn) const {
  impl_->settle();
  lmdb::Txn txn(impl_->env.get(), MDB_RDONLY, "reading the journal");
  lmdb::Cursor c(txn.get(), impl_->dbi_journal);
  std::byte key[8];
  std::byte* kp = key;
  format::put_u64be(kp, from);
  MDB_val k = lmdb::val(key, 8), v;
  for (int rc = c.get(k, v, MDB_SET_RANGE); rc == MDB_SUCCESS; rc = c.get(k, v, MDB_NEXT)) {
    format::JournalView j;
    if (!format::parse_journal(lmdb::bytes(v), j)) {
      throw LedgerError("damaged journal record in " + impl_->dir.string() + ": run haihe audit verify");
    }
    fn(j.header.seq, j.header.ts_ns, j.input);
  }
}

std::vector<TradeRecord> Ledger::trades(TradeId from, std::size_t max_count) const {
  impl_->settle();
  std::vector<TradeRecord> out;
  lmdb::Txn txn(impl_->env.get(), MDB_RDONLY, "reading trades");
  lmdb::Cursor c(txn.get(), impl_->dbi_trades);
  std::byte key[8];
  std::byte* kp = key;
  format::put_u64be(kp, from);
  MDB_val k = lmdb::val(key, 8), v;
  for (int rc = c.get(k, v, MDB_SET_RANGE); rc == MDB_SUCCESS && out.size() < max_count;
       rc = c.get(k, v, MDB_NEXT)) {
    TradeRecord t;
    if (k.mv_size != 8 || !format::decode_trade(format::get_u64be(lmdb::bytes(k).data()), lmdb::bytes(v), t)) {
      throw LedgerError("damaged trade record: run haihe audit verify");
    }
    out.push_back(t);
  }
  return out;
}

std::vector<std::string> Ledger::check_invariants() const { return impl_->check_invariants(); }
std::uint64_t Ledger::image_min_entries() const { return impl_->image_min_entries; }
void Ledger::sync() {
  impl_->settle();
  lmdb::check(mdb_env_sync(impl_->env.get(), 1), "flushing the ledger to disk");
}
std::uint64_t Ledger::redone_batches() const { return impl_->redone; }
TimestampNs Ledger::genesis_ts_ns() const {
  impl_->settle();
  lmdb::Txn txn(impl_->env.get(), MDB_RDONLY, "reading the journal");
  std::byte key[8];
  std::byte* kp = key;
  format::put_u64be(kp, 1);
  MDB_val k = lmdb::val(key, 8), v;
  lmdb::check(mdb_get(txn.get(), impl_->dbi_journal, &k, &v), "reading the genesis record");
  format::JournalView j;
  if (!format::parse_journal(lmdb::bytes(v), j)) throw LedgerError("damaged genesis record: run haihe audit verify");
  return j.header.ts_ns;
}

namespace detail {
std::vector<std::string> check_state(const rules::MarketRules& r, const RawState& s) {
  LedgerImpl impl;
  try {
    impl.pol = build_policy(r);
    impl.init_state();
    for (const Table t : format::kStateTables) {
      for (const auto& [k, v] : s.tables[static_cast<int>(t)]) {
        impl.load_record(t, {reinterpret_cast<const std::byte*>(k.data()), k.size()},
                         {reinterpret_cast<const std::byte*>(v.data()), v.size()});
      }
    }
  } catch (const LedgerError& e) {
    return {e.what()};
  }
  for (const auto& [id, o] : s.orders) impl.orders.put(id, OrderSlot{o, 0});
  return impl.check_invariants();
}
}  // namespace detail
const std::filesystem::path& Ledger::dir() const { return impl_->dir; }

}  // namespace haihe::ledger
