// haihe::engine — the non-template parts: parameter checks and names.
#include "engine/engine.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace haihe::engine {

namespace detail {

namespace {
[[noreturn]] void bad(const InstrumentParams& p, const std::string& what) {
  throw std::invalid_argument("engine: instrument " + std::to_string(p.id) + ": " + what);
}
}  // namespace

Geometry check_params(const InstrumentParams& p) {
  // Bounds that keep every intermediate value of the book inside int64 and
  // the exact-division preconditions of Divider true.
  constexpr PriceFen kMaxPriceFen = std::numeric_limits<PriceFen>::max() / 10000;
  constexpr std::uint32_t kMaxLevels = 1u << 30;
  constexpr std::uint32_t kMaxOrders = 1u << 28;
  if (p.tick_fen <= 0) bad(p, "tick_fen must be > 0, is " + std::to_string(p.tick_fen));
  if (p.lot_qty <= 0) bad(p, "lot_qty must be > 0, is " + std::to_string(p.lot_qty));
  if (p.floor_fen < p.tick_fen) {
    bad(p, "floor_fen (" + std::to_string(p.floor_fen) + ") must be >= tick_fen (" +
               std::to_string(p.tick_fen) + ")");
  }
  if (p.ceiling_fen < p.floor_fen) {
    bad(p, "ceiling_fen (" + std::to_string(p.ceiling_fen) + ") must be >= floor_fen (" +
               std::to_string(p.floor_fen) + ")");
  }
  if (p.ceiling_fen > kMaxPriceFen) {
    bad(p, "ceiling_fen must be <= " + std::to_string(kMaxPriceFen));
  }
  if (p.band_bps > 10000) bad(p, "band_bps must be <= 10000, is " + std::to_string(p.band_bps));
  if (p.band_bps != 0 || p.reference_fen != 0) {
    if (p.reference_fen < p.floor_fen || p.reference_fen > p.ceiling_fen) {
      bad(p, "reference_fen (" + std::to_string(p.reference_fen) + ") must lie in [floor_fen, ceiling_fen]" +
                 (p.band_bps != 0 ? " when band_bps > 0" : ""));
    }
  }
  const PriceFen base = (p.floor_fen + p.tick_fen - 1) / p.tick_fen * p.tick_fen;
  if (base > p.ceiling_fen) bad(p, "no price on tick lies in [floor_fen, ceiling_fen]");
  const PriceFen span_ticks = (p.ceiling_fen - base) / p.tick_fen;
  if (p.max_levels == 0 || p.max_levels > kMaxLevels) {
    bad(p, "max_levels must be in [1, " + std::to_string(kMaxLevels) + "]");
  }
  if (span_ticks + 1 > static_cast<PriceFen>(p.max_levels)) {
    bad(p, "(ceiling_fen - floor_fen) / tick_fen + 1 = " + std::to_string(span_ticks + 1) +
               " price levels exceed max_levels (" + std::to_string(p.max_levels) +
               "); raise max_levels or the tick, or narrow floor/ceiling");
  }
  // Divider exactness for prices: (ceiling - base) * tick < 2^63.
  if (p.ceiling_fen - base > std::numeric_limits<PriceFen>::max() / p.tick_fen) {
    bad(p, "ceiling_fen - floor_fen too large for tick_fen");
  }
  if (p.max_orders == 0 || p.max_orders > kMaxOrders) {
    bad(p, "max_orders must be in [1, " + std::to_string(kMaxOrders) + "]");
  }
  if (p.max_order_qty < p.lot_qty) bad(p, "max_order_qty must be >= lot_qty");
  // Divider exactness for quantities, and level totals inside int64.
  if (p.max_order_qty > std::numeric_limits<Qty>::max() / p.lot_qty) {
    bad(p, "max_order_qty too large for lot_qty");
  }
  if (p.max_order_qty > (std::numeric_limits<Qty>::max() / 2) / static_cast<Qty>(p.max_orders)) {
    bad(p, "max_order_qty * max_orders must stay below 2^62");
  }
  return Geometry{base, static_cast<std::int32_t>(span_ticks + 1)};
}

void throw_bad_instrument_id(InstrumentId got, std::size_t index) {
  throw std::invalid_argument("engine: params[" + std::to_string(index) + "].id is " +
                              std::to_string(got) + "; instrument ids must equal their index");
}

}  // namespace detail

std::string_view to_string(Side v) noexcept {
  switch (v) {
    case Side::buy: return "buy";
    case Side::sell: return "sell";
  }
  return "?";
}

std::string_view to_string(OrderType v) noexcept {
  switch (v) {
    case OrderType::limit: return "limit";
    case OrderType::market: return "market";
  }
  return "?";
}

std::string_view to_string(TimeInForce v) noexcept {
  switch (v) {
    case TimeInForce::day: return "day";
    case TimeInForce::gtc: return "gtc";
    case TimeInForce::gtd: return "gtd";
    case TimeInForce::ioc: return "ioc";
    case TimeInForce::fok: return "fok";
  }
  return "?";
}

std::string_view to_string(StpMode v) noexcept {
  switch (v) {
    case StpMode::cancel_newest: return "cancel_newest";
    case StpMode::cancel_oldest: return "cancel_oldest";
    case StpMode::cancel_both: return "cancel_both";
  }
  return "?";
}

std::string_view to_string(TradingState v) noexcept {
  switch (v) {
    case TradingState::closed: return "closed";
    case TradingState::pre_open: return "pre_open";
    case TradingState::open: return "open";
    case TradingState::midday_break: return "midday_break";
    case TradingState::halted: return "halted";
    case TradingState::call: return "call";
  }
  return "?";
}

std::string_view to_string(CommandKind v) noexcept {
  switch (v) {
    case CommandKind::new_order: return "new_order";
    case CommandKind::cancel: return "cancel";
    case CommandKind::replace: return "replace";
  }
  return "?";
}

std::string_view to_string(RejectReason v) noexcept {
  switch (v) {
    case RejectReason::none: return "none";
    case RejectReason::unknown_instrument: return "unknown_instrument";
    case RejectReason::invalid_side: return "invalid_side";
    case RejectReason::invalid_order_type: return "invalid_order_type";
    case RejectReason::invalid_time_in_force: return "invalid_time_in_force";
    case RejectReason::invalid_stp_mode: return "invalid_stp_mode";
    case RejectReason::instrument_closed: return "instrument_closed";
    case RejectReason::instrument_halted: return "instrument_halted";
    case RejectReason::trading_break: return "trading_break";
    case RejectReason::not_allowed_in_pre_open: return "not_allowed_in_pre_open";
    case RejectReason::invalid_post_only: return "invalid_post_only";
    case RejectReason::invalid_expire_date: return "invalid_expire_date";
    case RejectReason::invalid_quantity: return "invalid_quantity";
    case RejectReason::quantity_not_lot_multiple: return "quantity_not_lot_multiple";
    case RejectReason::price_below_floor: return "price_below_floor";
    case RejectReason::price_above_ceiling: return "price_above_ceiling";
    case RejectReason::price_not_on_tick: return "price_not_on_tick";
    case RejectReason::price_outside_band: return "price_outside_band";
    case RejectReason::duplicate_order_id: return "duplicate_order_id";
    case RejectReason::book_full: return "book_full";
    case RejectReason::post_only_would_cross: return "post_only_would_cross";
    case RejectReason::crosses_in_pre_open: return "crosses_in_pre_open";
    case RejectReason::fok_not_fillable: return "fok_not_fillable";
    case RejectReason::unknown_order: return "unknown_order";
    case RejectReason::account_mismatch: return "account_mismatch";
    case RejectReason::invalid_state: return "invalid_state";
    case RejectReason::restore_invalid: return "restore_invalid";
    case RejectReason::restore_crosses: return "restore_crosses";
    case RejectReason::not_allowed_in_call: return "not_allowed_in_call";
    case RejectReason::book_crossed: return "book_crossed";
  }
  return "?";
}

std::string_view to_string(CancelCause v) noexcept {
  switch (v) {
    case CancelCause::requested: return "requested";
    case CancelCause::ioc_remainder: return "ioc_remainder";
    case CancelCause::self_trade: return "self_trade";
    case CancelCause::halt: return "halt";
    case CancelCause::mass_cancel: return "mass_cancel";
    case CancelCause::replaced_to_filled: return "replaced_to_filled";
  }
  return "?";
}

}  // namespace haihe::engine
