// haihe::engine — order books: continuous price-time matching and
// uniform-price call auctions.
//
// A pure component: commands in, events out. No I/O, no clock, no random
// numbers, no floating point, and no allocation after start-up (every pool is
// sized from InstrumentParams when a book is built). Same commands in, same
// events out, in the order documented below.
//
// Overview
// --------
//   Book<Listener>    one instrument's book (limit order book + trading state).
//   Engine<Listener>  the books of several instruments, keyed by InstrumentId
//                     (dense, 0..n-1), plus mass cancel across them.
//   Listener          any type with the on_* member functions of NullListener.
//                     It is a template parameter: events are direct, inlined
//                     calls, not virtual ones. Derive from NullListener and
//                     hide only the events you need.
//
// Units: prices are integers in fen per base unit (PriceFen), quantities
// integers in the instrument's base unit (Qty). Every price must be a
// multiple of tick_fen, every quantity a multiple of lot_qty.
//
// Threading: none. A Book or Engine belongs to one thread (the core's single
// writer); listeners are called synchronously, inside the command, and must
// not call back into the book.
//
// Order ids are assigned by the caller and must be unique per book; the
// engine can only detect a collision with an order that is still resting
// (duplicate_order_id). Books start in state closed.
//
// Layout (why it is fast): one price level per tick over [floor, ceiling]
// (so resting orders stay valid wherever the band moves), an intrusive FIFO
// per level, a hierarchical bitmap per side to find the next best level,
// a pool of order slots and an id -> slot open-addressing table, all sized
// from InstrumentParams at construction. See bench/lob_w1.cpp for figures.
//
// Trading states and call phases
// ------------------------------
// open is continuous trading. pre_open (the opening call) and call (any
// other call auction: intraday, closing, periodic batch) are the two CALL
// PHASES: they behave identically. In a call phase limit DAY/GTC/GTD orders
// are collected without matching, and the book MAY BE CROSSED (a bid at or
// above an ask); the caller runs the auction with uncross() and then sets
// the next state. The book can be crossed only after a call phase, and in
// the states entered from one without an uncross (midday_break, halted,
// closed); set_state(open) refuses a crossed book (book_crossed): uncross
// first. In open the book is never crossed.
//
// Call auction (uncross)
// ----------------------
// Candidate prices are the distinct limit prices resting in the book. At a
// price p, demand D(p) = total leaves of buys with limit >= p, supply S(p) =
// total leaves of sells with limit <= p, executable volume min(D, S),
// imbalance D - S (buy surplus > 0). The clearing price is the candidate
// that
//   1. maximises the volume, then
//   2. minimises |imbalance|, then
//   3. minimises |p - reference_fen()| (the book's reference price), then
//   4. is the LOWER price (final tie-break).
// When the volume is 0 at every candidate (the book is not crossed) there is
// no clearing price: price 0, volume 0, imbalance 0. (The maximum is always
// reached inside [best ask, best bid], so only those levels are evaluated.)
// Allocation: every buy with limit >= p and every sell with limit <= p is
// eligible; each side fills in priority order (better price first, then
// time priority within a price) until the volume is reached, so the short
// side fills completely and on the long side the last order reached may
// fill partially. Every fill is at the clearing price. Pairs are formed by
// walking the eligible buys and the eligible sells in that order together
// (the current buy trades with the current sell for the smaller of their
// leaves; whichever is exhausted is replaced by the next of its side).
// After an uncross the book is not crossed.
//
// Self-trades in call phases: the book never holds a buy and a sell of the
// same account that cross each other. When an order entering a call phase
// (new order, or replace to a new price) would cross resting orders of its
// own account on the other side, its StpMode is applied to them at entry,
// as if it had met them in continuous matching (see new_order below). So
// every eligible pair in an uncross is of two different accounts, and an
// uncross never self-trades. Cost: a crossing order entering a call phase
// visits the other side's orders it crosses (O(those orders)).
//
// Indicative: in a call phase, indicative() is what uncross() would do now
// (clearing price, volume, imbalance); outside call phases, and when
// nothing crosses, it is all zeros. Every command after which indicative()
// differs from before emits an Indicative event as its LAST event. Cost:
// O(1) when the book is not crossed, else O(non-empty price levels in
// [best ask, best bid]) per command that changes the book in a call phase;
// a passive order that does not cross (in any state) costs nothing extra.
// Measured (bench/engine_micro BM_CallAdd, books of up to 4096 orders, 2
// cores shared): ~1.7 us per order with 10 overlapping levels, ~2.6 us with
// 100, ~10 us with 1000; ~3.2 us with 100 levels and up to 32768 orders.
// An uncross of 4000 orders takes ~85 us (BM_Uncross).
//
// Commands and their checks (first failing check wins, in this order)
// ------------------------------------------------------------------
// new_order(NewOrder):
//   unknown_instrument (Engine only); invalid_side; invalid_order_type;
//   invalid_time_in_force; invalid_stp_mode; state: closed ->
//   instrument_closed, halted -> instrument_halted, midday_break ->
//   trading_break, pre_open and (market or IOC or FOK) ->
//   not_allowed_in_pre_open, call and (market or IOC or FOK) ->
//   not_allowed_in_call; market with TIF other than IOC/FOK ->
//   invalid_time_in_force; post-only with market/IOC/FOK -> invalid_post_only;
//   GTD with expire_date <= the last date passed to expire_gtd (or 0) ->
//   invalid_expire_date; qty <= 0 or > max_order_qty -> invalid_quantity;
//   qty % lot -> quantity_not_lot_multiple; limit price < floor ->
//   price_below_floor; > ceiling -> price_above_ceiling; off tick ->
//   price_not_on_tick; outside the band -> price_outside_band; id of a
//   resting order -> duplicate_order_id; an order that could rest (limit
//   DAY/GTC/GTD) when max_orders rest -> book_full; post-only whose limit
//   crosses the other side's best price -> post_only_would_cross (in call
//   phases too: a post-only order never enters crossed); FOK that cannot
//   fill completely now (counting self-trade prevention) -> fok_not_fillable.
//   In a call phase a crossing limit order is accepted and rests without
//   matching (crosses_in_pre_open is no longer produced).
//   Market orders are protected: their limit is the band edge (ceiling/floor
//   when there is no band); they never rest (the remainder is cancelled,
//   cause ioc_remainder). Their price_fen is ignored.
//
// cancel(CancelOrder): unknown_order (not resting here); account_mismatch.
//   Allowed in every trading state.
//
// replace(ReplaceOrder) — new price and new total quantity (filled included,
//   as FIX OrderQty): unknown_order; account_mismatch; closed/halted/break
//   rejected as for new orders (pre-open allowed); quantity and price checks
//   as for new orders, except that the band is checked only when the price
//   changes; post_only_would_cross when a post-only order's new price would
//   cross. Then:
//   - qty <= filled: the order is cancelled (cause replaced_to_filled);
//   - same price, qty not above the current one: keeps time priority;
//   - same price, qty up: goes to the back of its level;
//   - new price: leaves its level and is matched like a new order with
//     leaves = qty - filled (it may trade); the remainder rests at the back.
//     In a call phase there is no matching; self-trade prevention at entry
//     applies as for a new order (below), then it rests at the back.
//
// Bulk and admin commands return a count or a reason and emit no Rejected:
//   mass_cancel(account[, instrument]) cancels that account's resting orders
//     (cause mass_cancel);
//   set_state(state, cancel_resting) changes the trading state; with
//     cancel_resting (only allowed with halted) every resting order is
//     cancelled (cause halt). Breaks and halts keep resting orders.
//     Reasons: invalid_state (not a state, or cancel_resting without
//     halted); book_crossed (state open while the book is crossed: run
//     uncross() first; nothing changes);
//   uncross() runs the call auction (see above); only in pre_open and call
//     (reason invalid_state otherwise, unknown_instrument from Engine for an
//     unknown id). It does not change the state. Returns UncrossResult;
//   end_of_day() expires every DAY order and sets the state to closed;
//   expire_gtd(date) expires GTD orders whose expire_date <= date, and from
//     then on refuses new GTD orders expiring on or before that date;
//   set_reference(price) moves the reference the band is computed from:
//     band = [ref - ref*band_bps/10000, ref + ref*band_bps/10000] (integer
//     division), clipped to [floor, ceiling]. Resting orders outside a new
//     band stay valid and tradable. The reference is also the third
//     tie-break of the auction price.
//
// Events, in order
// ----------------
// new_order: Rejected, or: Accepted; then matching; then the disposition.
//   Matching walks the opposite side best price first, oldest first, while
//   the aggressor has quantity and the level's price is within its limit.
//   Per resting order, in priority order: a Trade, or (same account) the
//   self-trade prevention of the aggressor's StpMode:
//     cancel_oldest: Cancelled(resting, self_trade), matching continues;
//     cancel_newest: matching stops; the aggressor is cancelled (below);
//     cancel_both:   Cancelled(resting, self_trade), matching stops, the
//                    aggressor is cancelled (below).
//   When matching leaves a level whose total changed: LevelChanged(that
//   level). A fully filled resting order leaves silently (its last Trade
//   has resting_leaves_qty == 0).
//   Disposition of an aggressor with quantity left: stopped by self-trade
//   prevention -> Cancelled(self_trade); market/IOC -> Cancelled
//   (ioc_remainder); else it rests at the back of its level ->
//   LevelChanged(its level). A fully filled aggressor gets nothing more.
// new_order in a call phase, crossing the other side: Accepted; then
//   self-trade prevention at entry: the resting orders of the same account
//   on the other side whose price crosses the new limit are visited in
//   priority order (best price first, oldest first):
//     cancel_newest: at the first one, nothing is touched and the new order
//                    is cancelled: Cancelled(new, self_trade), qty = all;
//     cancel_oldest: each is cancelled: Cancelled(resting, self_trade), and
//                    LevelChanged(level) when leaving a level it changed;
//                    then the new order rests: LevelChanged(its level);
//     cancel_both:   the first is cancelled: Cancelled(resting, self_trade),
//                    LevelChanged(its level); then Cancelled(new, self_trade).
//   Without such orders: it rests, LevelChanged(its level). Then Indicative
//   if it changed. (A call-phase order that does not cross rests exactly as
//   in open: Accepted, LevelChanged.)
// uncross: one Trade per pair, in allocation order, all at the clearing
//   price. In an auction trade the BUY order is reported as the aggressor
//   (aggressor_side buy, aggressor_* = the buy order, resting_* = the sell
//   order; leaves after the trade on both). Then LevelChanged for every level
//   it changed, bids best to worst, then asks best to worst; then Indicative
//   (normally to zeros). No events when nothing crosses.
// Indicative: after any command (including cancels, replaces, bulk and admin
//   commands and uncross) after which indicative() changed, as its last event.
// cancel: Rejected, or Cancelled(requested), LevelChanged.
// replace: Rejected, or: to qty <= filled: Cancelled(replaced_to_filled),
//   LevelChanged; same price: Replaced, LevelChanged (if the total changed);
//   new price: Replaced, LevelChanged(old level), then matching and
//   disposition exactly as for a new order.
// Bulk operations (mass cancel, halt with cancel, end of day, expire_gtd)
//   visit bids best to worst, then asks best to worst, oldest first within a
//   level: Cancelled or Expired per order, LevelChanged per level touched
//   when leaving it.
// set_state: StateChanged (if the state changed), then any halt
//   cancellations. end_of_day: expirations, then StateChanged.
// set_reference: ReferenceChanged.
//
// Snapshots: for_each_resting() visits resting orders in the same canonical
// order (bids best to worst, then asks, oldest first); restoring them in that
// order with restore() (plus restore_meta()) rebuilds an identical book,
// crossed books of call phases included, and the same indicative().
//
// Trade ids are per book, 1, 2, 3, ... (restored by restore_meta).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/detail/level_bitmap.h"
#include "engine/detail/order_index.h"
#include "engine/detail/storage.h"
#include "engine/params.h"

namespace haihe::engine {

using TradeId = std::uint64_t;
using Date = std::uint32_t;  // local calendar date as yyyymmdd, e.g. 20270315

enum class Side : std::uint8_t { buy = 0, sell = 1 };
enum class OrderType : std::uint8_t { limit = 0, market = 1 };
enum class TimeInForce : std::uint8_t { day = 0, gtc = 1, gtd = 2, ioc = 3, fok = 4 };
/// Self-trade prevention, applied when an aggressor meets a resting order of
/// the same account. Self-trades never happen.
enum class StpMode : std::uint8_t { cancel_newest = 0, cancel_oldest = 1, cancel_both = 2 };
enum class TradingState : std::uint8_t {
  closed = 0,        // initial; no new orders or replaces; cancels allowed
  pre_open = 1,      // opening call: limit DAY/GTC/GTD orders collected, no matching
  open = 2,          // continuous trading
  midday_break = 3,  // new orders and replaces rejected, cancels allowed
  halted = 4,        // likewise, until set to another state
  call = 5,          // call auction (any but the opening one): as pre_open
};
inline constexpr int kTradingStateCount = static_cast<int>(TradingState::call) + 1;
/// pre_open and call: orders collect without matching, uncross() allowed.
constexpr bool is_call_phase(TradingState s) noexcept {
  return s == TradingState::pre_open || s == TradingState::call;
}
enum class CommandKind : std::uint8_t { new_order = 0, cancel = 1, replace = 2 };

enum class RejectReason : std::uint8_t {
  none = 0,
  unknown_instrument,
  invalid_side,
  invalid_order_type,
  invalid_time_in_force,
  invalid_stp_mode,
  instrument_closed,
  instrument_halted,
  trading_break,
  not_allowed_in_pre_open,
  invalid_post_only,
  invalid_expire_date,
  invalid_quantity,
  quantity_not_lot_multiple,
  price_below_floor,
  price_above_ceiling,
  price_not_on_tick,
  price_outside_band,
  duplicate_order_id,
  book_full,
  post_only_would_cross,
  crosses_in_pre_open,  // no longer produced (pre_open accepts crossing orders); kept for numbering
  fok_not_fillable,
  unknown_order,
  account_mismatch,
  invalid_state,      // set_state: not a state, or cancel_resting without halted
  restore_invalid,    // restore: an order that could not have rested
  restore_crosses,    // restore: an order crossing the book in open, or crossing
                      // an order of its own account in any state
  not_allowed_in_call,  // market/IOC/FOK order in state call
  book_crossed,         // set_state(open) while the book is crossed: uncross first
};
inline constexpr int kRejectReasonCount = static_cast<int>(RejectReason::book_crossed) + 1;

/// Why an order left the book without trading (expiry is reported by Expired).
enum class CancelCause : std::uint8_t {
  requested = 0,       // cancel command
  ioc_remainder,       // unfilled rest of an IOC or market order
  self_trade,          // self-trade prevention
  halt,                // set_state(halted, cancel_resting = true)
  mass_cancel,         // mass_cancel command
  replaced_to_filled,  // replace to a quantity at or below the filled quantity
};

std::string_view to_string(Side) noexcept;
std::string_view to_string(OrderType) noexcept;
std::string_view to_string(TimeInForce) noexcept;
std::string_view to_string(StpMode) noexcept;
std::string_view to_string(TradingState) noexcept;
std::string_view to_string(CommandKind) noexcept;
std::string_view to_string(RejectReason) noexcept;
std::string_view to_string(CancelCause) noexcept;

constexpr Side opposite(Side s) noexcept { return s == Side::buy ? Side::sell : Side::buy; }

// ---------------------------------------------------------------- commands

struct NewOrder {
  InstrumentId instrument = 0;
  OrderId id = 0;  // caller-assigned, unique per book
  AccountId account = 0;
  Side side = Side::buy;
  OrderType type = OrderType::limit;
  TimeInForce tif = TimeInForce::day;
  StpMode stp = StpMode::cancel_newest;
  bool post_only = false;  // reject rather than trade on entry
  PriceFen price_fen = 0;  // limit price; ignored for market orders
  Qty qty = 0;
  Date expire_date = 0;  // GTD only: good through the end of this date
};

struct CancelOrder {
  InstrumentId instrument = 0;
  OrderId id = 0;
  AccountId account = 0;  // must own the order
};

struct ReplaceOrder {
  InstrumentId instrument = 0;
  OrderId id = 0;
  AccountId account = 0;  // must own the order
  PriceFen price_fen = 0;  // new limit price
  Qty qty = 0;             // new total quantity, filled part included
};

// ------------------------------------------------------------------ events

struct Accepted {
  InstrumentId instrument;
  OrderId order;
  AccountId account;
  Side side;
  OrderType type;
  TimeInForce tif;
  StpMode stp;
  bool post_only;
  PriceFen price_fen;  // as given (market: whatever was given)
  Qty qty;
  Date expire_date;
  friend bool operator==(const Accepted&, const Accepted&) = default;
};

struct Rejected {
  InstrumentId instrument;
  OrderId order;
  AccountId account;
  CommandKind command;
  RejectReason reason;
  friend bool operator==(const Rejected&, const Rejected&) = default;
};

struct Trade {
  InstrumentId instrument;
  TradeId trade_id;
  PriceFen price_fen;  // the resting order's price
  Qty qty;
  Side aggressor_side;
  OrderId aggressor_order;
  AccountId aggressor_account;
  Qty aggressor_leaves_qty;  // after this trade
  OrderId resting_order;
  AccountId resting_account;
  Qty resting_leaves_qty;  // after this trade; 0: it left the book
  friend bool operator==(const Trade&, const Trade&) = default;
};

struct Cancelled {
  InstrumentId instrument;
  OrderId order;
  AccountId account;
  Side side;
  PriceFen price_fen;  // the order's limit price (market: as given)
  Qty cancelled_qty;   // the leaves that were cancelled
  Qty filled_qty;      // cumulative filled quantity of the order
  CancelCause cause;
  friend bool operator==(const Cancelled&, const Cancelled&) = default;
};

struct Replaced {
  InstrumentId instrument;
  OrderId order;
  AccountId account;
  Side side;
  PriceFen old_price_fen;
  PriceFen price_fen;
  Qty qty;         // new total quantity
  Qty leaves_qty;  // qty - filled_qty, before any matching at a new price
  Qty filled_qty;
  bool priority_kept;
  friend bool operator==(const Replaced&, const Replaced&) = default;
};

struct Expired {
  InstrumentId instrument;
  OrderId order;
  AccountId account;
  Side side;
  PriceFen price_fen;
  Qty expired_qty;  // the leaves that expired
  Qty filled_qty;
  TimeInForce tif;  // day (end_of_day) or gtd (expire_gtd)
  friend bool operator==(const Expired&, const Expired&) = default;
};

/// Market data: the total resting quantity at one price level (0: empty).
struct LevelChanged {
  InstrumentId instrument;
  Side side;
  PriceFen price_fen;
  Qty qty;
  friend bool operator==(const LevelChanged&, const LevelChanged&) = default;
};

struct StateChanged {
  InstrumentId instrument;
  TradingState previous;
  TradingState state;
  friend bool operator==(const StateChanged&, const StateChanged&) = default;
};

struct ReferenceChanged {
  InstrumentId instrument;
  PriceFen reference_fen;
  PriceFen band_low_fen;   // max(floor, ref - ref * band_bps / 10000): lowest limit accepted
  PriceFen band_high_fen;  // min(ceiling, ref + ref * band_bps / 10000): highest limit accepted
  friend bool operator==(const ReferenceChanged&, const ReferenceChanged&) = default;
};

/// Market data of a call phase: what uncross() would do now. All zeros
/// when nothing crosses and outside call phases.
struct Indicative {
  InstrumentId instrument;
  PriceFen price_fen;  // clearing price, 0: none
  Qty volume_qty;      // executable volume at that price
  Qty imbalance_qty;   // D - S at that price: buy surplus > 0, sell surplus < 0
  friend bool operator==(const Indicative&, const Indicative&) = default;
};

/// What uncross() did. reason != none: nothing was done.
struct UncrossResult {
  RejectReason reason = RejectReason::none;  // invalid_state, unknown_instrument
  PriceFen price_fen = 0;   // the clearing price, 0 when nothing crossed
  Qty volume_qty = 0;       // quantity executed (the sum of the trades' qty)
  Qty imbalance_qty = 0;    // D - S at the clearing price, before execution
  std::uint32_t trades = 0; // Trade events emitted
  friend bool operator==(const UncrossResult&, const UncrossResult&) = default;
};

/// The listener interface: derive and hide the events you need.
struct NullListener {
  void on_accepted(const Accepted&) noexcept {}
  void on_rejected(const Rejected&) noexcept {}
  void on_trade(const Trade&) noexcept {}
  void on_cancelled(const Cancelled&) noexcept {}
  void on_replaced(const Replaced&) noexcept {}
  void on_expired(const Expired&) noexcept {}
  void on_level(const LevelChanged&) noexcept {}
  void on_state(const StateChanged&) noexcept {}
  void on_reference(const ReferenceChanged&) noexcept {}
  void on_indicative(const Indicative&) noexcept {}
};

// ------------------------------------------------------- snapshot records

/// A resting order as for_each_resting() shows it and restore() takes it.
struct RestingOrder {
  OrderId id = 0;
  AccountId account = 0;
  Side side = Side::buy;
  TimeInForce tif = TimeInForce::day;  // day, gtc or gtd
  StpMode stp = StpMode::cancel_newest;
  bool post_only = false;
  PriceFen price_fen = 0;
  Qty leaves_qty = 0;
  Qty filled_qty = 0;
  Date expire_date = 0;
  friend bool operator==(const RestingOrder&, const RestingOrder&) = default;
};

/// The rest of a book's state, for snapshots.
struct BookMeta {
  TradingState state = TradingState::closed;
  PriceFen reference_fen = 0;
  TradeId next_trade_id = 1;
  Date gtd_expired_through = 0;  // last date given to expire_gtd
  friend bool operator==(const BookMeta&, const BookMeta&) = default;
};

namespace detail {
/// Checked geometry of a book, computed once (engine.cpp). Throws
/// std::invalid_argument naming the instrument and the bad field.
struct Geometry {
  PriceFen base_fen;      // the lowest price on tick >= floor_fen: level 0
  std::int32_t levels;    // (ceiling - base) / tick + 1
};
Geometry check_params(const InstrumentParams& p);
[[noreturn]] void throw_bad_instrument_id(InstrumentId got, std::size_t index);

struct Level {
  std::uint32_t head;  // oldest order's slot, 0: empty
  std::uint32_t tail;  // newest order's slot
  Qty qty;             // total leaves at this level
};

struct alignas(64) Slot {  // one resting order, one cache line
  OrderId id;
  Qty leaves_qty;
  Qty filled_qty;
  std::uint32_t next;  // FIFO links (slot indexes, 0: none); free-list link
  std::uint32_t prev;
  std::int32_t level;
  AccountId account;
  Date expire_date;
  std::uint32_t cell;  // its cell in the OrderIndex (kept current on moves)
  Side side;
  TimeInForce tif;
  StpMode stp;
  bool post_only;
};
}  // namespace detail

// ------------------------------------------------------------------- book

template <class Listener>
class Book {
 public:
  /// Builds an empty book in state closed. Throws std::invalid_argument for
  /// inconsistent parameters, std::bad_alloc if the pools cannot be reserved.
  Book(const InstrumentParams& params, Listener& listener);
  Book(const Book&) = delete;
  Book& operator=(const Book&) = delete;

  // Commands (the instrument fields of commands are not checked here).
  RejectReason new_order(const NewOrder& order);
  RejectReason cancel(const CancelOrder& cancel);
  RejectReason replace(const ReplaceOrder& replace);
  std::uint32_t mass_cancel(AccountId account);
  RejectReason set_state(TradingState state, bool cancel_resting = false);
  std::uint32_t end_of_day();
  std::uint32_t expire_gtd(Date date);
  /// Reject reasons: price_below_floor, price_above_ceiling.
  RejectReason set_reference(PriceFen reference_fen);
  /// Runs the call auction (pre_open and call only, else invalid_state).
  /// Allocation-free; O(levels and orders it fills + levels in the overlap).
  UncrossResult uncross();

  // Queries.
  const InstrumentParams& params() const noexcept { return params_; }
  InstrumentId instrument() const noexcept { return params_.id; }
  TradingState state() const noexcept { return state_; }
  /// The current indicative auction result (zeros outside call phases).
  Indicative indicative() const noexcept { return indicative_; }
  PriceFen reference_fen() const noexcept { return reference_fen_; }
  /// The band: limit prices accepted on entry lie in [band_low_fen,
  /// band_high_fen] (floor and ceiling when there is no band).
  PriceFen band_low_fen() const noexcept { return band_low_fen_; }
  PriceFen band_high_fen() const noexcept { return band_high_fen_; }
  /// The limit a market order on `side` gets: the highest price on tick in
  /// the band for a buy, the lowest for a sell (what a buyer's cash
  /// reservation must cover). If the band holds no price on tick the two
  /// cross and market orders cannot trade.
  PriceFen market_limit_fen(Side side) const noexcept {
    return price_of(side == Side::buy ? band_high_ : band_low_);
  }
  std::optional<PriceFen> best_bid() const noexcept;
  std::optional<PriceFen> best_ask() const noexcept;
  /// Total resting quantity at a price on one side (0 if none or off-grid).
  Qty level_qty(Side side, PriceFen price_fen) const noexcept;
  std::uint32_t resting_count() const noexcept { return resting_; }
  std::optional<RestingOrder> find(OrderId id) const noexcept;
  BookMeta meta() const noexcept;

  /// Checks every internal invariant (levels, FIFO links, bitmaps, best
  /// prices, the id index, counts; O(levels + orders)). Returns nullptr, or
  /// what is broken. For tests and debugging, not for the hot path.
  const char* audit() const noexcept;

  /// Calls f(const RestingOrder&) for each resting order in canonical order.
  template <class F>
  void for_each_resting(F&& f) const;

  // Restore from a snapshot: restore_meta once, then restore() each order in
  // for_each_resting order. Emit no events. restore() checks the order could
  // have rested here (restore_invalid, duplicate_order_id, book_full,
  // restore_crosses: crossing the book in state open, or crossing an order
  // of its own account in any state) but not the band, which may have moved
  // since. Both keep indicative() current (silently); in a call phase with a
  // crossed book restore() costs O(levels in the overlap) per order.
  RejectReason restore_meta(const BookMeta& meta);
  RejectReason restore(const RestingOrder& order);

 private:
  using Level = detail::Level;
  using Slot = detail::Slot;

  struct Aggressor {
    OrderId id;
    AccountId account;
    StpMode stp;
    bool stp_stop;  // self-trade prevention cancelled the aggressor
    Qty leaves;
    Qty filled;
  };

  PriceFen price_of(std::int32_t level) const noexcept {
    return base_fen_ + static_cast<PriceFen>(level) * params_.tick_fen;
  }
  RejectReason check_qty(Qty qty) const noexcept;
  [[gnu::noinline]] RejectReason check_new_slow(const NewOrder& o, std::int32_t& level) const noexcept;
  RejectReason check_price(PriceFen price, std::int32_t& level) const noexcept;
  bool crosses(Side side, std::int32_t limit) const noexcept {
    return side == Side::buy ? best_[1] <= limit : best_[0] >= limit;
  }
  template <Side kSide>
  void match(Aggressor& a, std::int32_t limit);
  bool fok_fillable(Side side, const Aggressor& a, std::int32_t limit) const noexcept;
  [[gnu::always_inline]] std::uint32_t alloc_slot() noexcept;
  [[gnu::always_inline]] void free_slot(std::uint32_t s) noexcept;
  [[gnu::always_inline]] void link_back(std::uint32_t s) noexcept;  // append to its level (no events)
  [[gnu::always_inline]] void unlink(std::uint32_t s) noexcept;     // remove from its level (no events)
  void emit_level(Side side, std::int32_t level) noexcept;
  [[gnu::noinline]] RejectReason reject(const NewOrder& o, RejectReason r) noexcept;
  [[gnu::noinline]] RejectReason new_marketable(const NewOrder& o, std::int32_t level, bool immediate);
  template <bool kHaveCell>
  [[gnu::always_inline]] void rest_new(const NewOrder& o, std::int32_t level, Qty leaves, Qty filled,
                                       std::uint32_t cell) noexcept;
  template <class Visit>
  std::uint32_t sweep(Visit&& visit);  // bulk removal in canonical order
  void update_band() noexcept;
  void update_fast() noexcept {
    fast_open_ = state_ == TradingState::open && band_low_ <= band_high_;
    call_phase_ = is_call_phase(state_);
  }
  RejectReason replace_body(const ReplaceOrder& replace);
  // Call auctions (book_impl.h, "call auction").
  struct Clearing {
    std::int32_t level;  // -1: nothing crosses
    Qty volume;
    Qty imbalance;
  };
  Clearing clearing() const noexcept;
  Indicative compute_indicative() const noexcept;
  void refresh_indicative() noexcept;  // emits Indicative if it changed
  [[gnu::noinline]] RejectReason new_in_call(const NewOrder& o, std::int32_t level);
  bool stp_in_call(Side side, AccountId account, StpMode stp, std::int32_t limit) noexcept;
  bool crosses_own(Side side, AccountId account, std::int32_t limit) const noexcept;
  void fill_side(Side side, Qty volume) noexcept;

  InstrumentParams params_;
  Listener* listener_;
  PriceFen base_fen_ = 0;
  std::int32_t levels_count_ = 0;
  detail::Divider tick_div_;
  detail::Divider lot_div_;
  detail::ZeroArray<Level> levels_[2];  // [Side]
  detail::LevelBitmap bitmap_[2];       // [Side]
  detail::ZeroArray<Slot> slots_;       // slot 0 is the null slot
  detail::OrderIndex index_;
  // best_[buy]: highest bid level, -1 when none; best_[sell]: lowest ask
  // level, levels_count_ when none.
  std::int32_t best_[2] = {-1, 0};
  std::int32_t band_low_ = 0;   // lowest level accepted on entry
  std::int32_t band_high_ = 0;  // highest level accepted on entry (may be < band_low_)
  // Fast-path validation: open, band not empty, and prices in
  // [fast_lo_fen_, fast_lo_fen_ + fast_span_fen_] pass floor, ceiling and band.
  PriceFen band_low_fen_ = 0;   // max(floor, ref - ref * band_bps / 10000)
  PriceFen band_high_fen_ = 0;  // min(ceiling, ref + ref * band_bps / 10000)
  bool fast_open_ = false;
  PriceFen fast_lo_fen_ = 0;
  std::uint64_t fast_span_fen_ = 0;
  std::uint32_t free_head_ = 0;
  std::uint32_t resting_ = 0;
  TradeId next_trade_id_ = 1;
  PriceFen reference_fen_ = 0;
  Date gtd_expired_through_ = 0;
  TradingState state_ = TradingState::closed;
  bool call_phase_ = false;  // state_ is pre_open or call
  Indicative indicative_{};
};

// ----------------------------------------------------------------- engine

template <class Listener>
class Engine {
 public:
  /// params[i].id must equal i. Throws like Book.
  Engine(std::span<const InstrumentParams> params, Listener& listener);

  std::uint32_t instrument_count() const noexcept {
    return static_cast<std::uint32_t>(books_.size());
  }
  /// nullptr for an unknown instrument.
  Book<Listener>* book(InstrumentId id) noexcept {
    return id < books_.size() ? books_[id].get() : nullptr;
  }
  const Book<Listener>* book(InstrumentId id) const noexcept {
    return id < books_.size() ? books_[id].get() : nullptr;
  }

  RejectReason new_order(const NewOrder& o);
  RejectReason cancel(const CancelOrder& c);
  RejectReason replace(const ReplaceOrder& r);
  /// All instruments in id order, or only `instrument`. Returns the number
  /// of orders cancelled (0 for an unknown instrument).
  std::uint32_t mass_cancel(AccountId account, std::optional<InstrumentId> instrument = {});
  RejectReason set_state(InstrumentId id, TradingState state, bool cancel_resting = false);
  RejectReason end_of_day(InstrumentId id);
  RejectReason expire_gtd(InstrumentId id, Date date);
  RejectReason set_reference(InstrumentId id, PriceFen reference_fen);
  /// Book::uncross of one instrument (reason unknown_instrument if none).
  UncrossResult uncross(InstrumentId id);

 private:
  Listener* listener_;
  std::vector<std::unique_ptr<Book<Listener>>> books_;
};

}  // namespace haihe::engine

#include "engine/book_impl.h"
