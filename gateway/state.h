// haihe::gateway (internal) — what the inbound side and the publisher share.
//
// The gateway is three units along the data flow (gateway/README.md, "Source
// map"): the inbound side (gateway/inbound.h, QuickFIX's session threads), the
// publisher (gateway/publisher.h, one thread reading the core's ordered
// stream) and the sent-mark store (gateway/sent_marks.h). They meet only in a
// `Shared`, built once by the gateway before any thread starts:
//
//   sessions     immutable: which party has which FIX session
//   instruments  trading state and band, written by the publisher from the
//                stream, read by the inbound side (SecurityList)
//   pending      texts a request's answer needs that the core does not carry
//                (user_ref -> request ids); inbound puts, publisher takes
//   md           market-data subscriptions: inbound adds and removes, the
//                publisher fills snapshots and sends incrementals
//   counters     GatewayStats, relaxed atomics
//
// Locks: `pending.mutex` and `md.mutex` guard their maps and are never held
// together; nothing else is locked. The inbound side never waits for the
// publisher, and the publisher never waits for a session thread except on
// these two short critical sections.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "exchange/core.h"
#include "gateway/quickfix.h"
#include "rules/rules.h"

namespace haihe::gateway {

/// One party's FIX session, if it has one.
struct PartySession {
  FIX::SessionID sid;
  bool has_session = false;
  bool regulator = false;  // drop copy: receives every trade, may not trade
};

/// The parties' sessions (indexed by PartyIndex). Immutable after construction.
class Sessions {
 public:
  /// One session per party with a fix_comp_id; `comp_id` is the exchange's SenderCompID.
  Sessions(const rules::MarketRules& rules, const std::string& comp_id);

  /// The party of a session (its TargetCompID), or rules::kNone.
  exchange::PartyIndex party_of(const FIX::SessionID& sid) const;
  const PartySession& operator[](exchange::PartyIndex p) const { return parties_[p]; }
  std::size_t size() const { return parties_.size(); }
  /// How many parties have a session.
  std::size_t count() const { return count_; }
  /// Every regulator party with a session, in party order.
  const std::vector<exchange::PartyIndex>& regulators() const { return regulators_; }

 private:
  std::vector<PartySession> parties_;
  std::vector<exchange::PartyIndex> regulators_;
  std::unordered_map<std::string, exchange::PartyIndex> by_comp_id_;
  std::size_t count_ = 0;
};

/// An instrument's state as the stream last said (the core's, before start).
struct InstrumentState {
  std::atomic<std::uint8_t> state{0};  // exchange::TradingState
  std::atomic<exchange::Fen> reference_fen{0};
  std::atomic<exchange::Fen> band_low_fen{0};
  std::atomic<exchange::Fen> band_high_fen{0};
};

/// What the publisher needs to remember of a request to answer it.
struct Pending {
  std::string cl_ord_id;     // F: the cancel request's ClOrdID
  std::string req_id;        // H: OrdStatusReqID; AN: PosReqID; AF: MassStatusReqID
  bool mass_status = false;  // AF: the order_status events are one mass status answer
};

/// user_ref -> Pending. Locked inside; safe from any thread.
class PendingRequests {
 public:
  void put(std::uint64_t ref, Pending p) {
    std::lock_guard lock(mutex_);
    map_.emplace(ref, std::move(p));
  }
  /// The request of `ref` (0: none), removed when `erase`.
  std::optional<Pending> take(std::uint64_t ref, bool erase) {
    if (ref == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    const auto it = map_.find(ref);
    if (it == map_.end()) return std::nullopt;
    Pending p = it->second;
    if (erase) map_.erase(it);
    return p;
  }
  void erase(std::uint64_t ref) {
    std::lock_guard lock(mutex_);
    map_.erase(ref);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, Pending> map_;
};

/// One market-data subscription: one (party, MDReqID, instrument).
struct MdSub {
  exchange::PartyIndex party = rules::kNone;
  FIX::SessionID sid;
  std::string req_id;
  exchange::InstrumentIndex instrument = rules::kNone;
  int depth = 0;  // snapshot levels per side, 0: all
  bool bids = true, offers = true, trades = true;
  bool updates = false;  // 263=1
  bool live = false;     // snapshot sent; incrementals flow
  exchange::Seq snapshot_seq = 0;
  std::vector<exchange::Event> levels;  // snapshot being assembled
};

/// token (the book_request's user_ref) -> MdSub. Lock `mutex` for any access
/// to `subs`; `count` mirrors subs.size() so that the publisher skips the lock
/// when nobody watches.
struct MarketDataSubs {
  static constexpr std::size_t kMaxSubs = 4096;
  static constexpr std::size_t kMaxLevels = 1u << 20;

  std::mutex mutex;
  std::unordered_map<std::uint64_t, MdSub> subs;
  std::atomic<std::size_t> count{0};

  /// Call with `mutex` held after changing `subs`.
  void recount() { count.store(subs.size()); }
  /// Drops every subscription of `party` (its session logged out).
  void drop_party(exchange::PartyIndex party);
};

struct Counters {
  std::atomic<std::uint64_t> submitted{0}, rejected{0}, throttled{0}, busy{0}, events{0}, sent{0};
};

struct Shared {
  Shared(exchange::Core& core, const std::string& comp_id);

  exchange::Core& core;
  const rules::MarketRules& rules;
  const Sessions sessions;
  std::vector<InstrumentState> instruments;  // by InstrumentIndex
  PendingRequests pending;
  MarketDataSubs md;
  Counters counters;

  /// A fresh user_ref / token (never 0; starts at the wall clock so that refs
  /// of a previous run are not reused).
  std::uint64_t next_ref() { return user_ref_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> user_ref_{1};
};

}  // namespace haihe::gateway
