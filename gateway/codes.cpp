#include "gateway/codes.h"

#include "engine/engine.h"
#include "ledger/ledger.h"

namespace haihe::gateway {

namespace {

int engine_103(engine::RejectReason r) {
  using R = engine::RejectReason;
  switch (r) {
    case R::unknown_instrument: return kOrdRejUnknownSymbol;
    case R::invalid_side:
    case R::invalid_order_type:
    case R::invalid_time_in_force:
    case R::invalid_stp_mode:
    case R::invalid_post_only:
    case R::invalid_expire_date:
    case R::not_allowed_in_pre_open:
    case R::not_allowed_in_call: return kOrdRejUnsupported;
    case R::instrument_closed:
    case R::instrument_halted:
    case R::trading_break: return kOrdRejExchangeClosed;
    case R::invalid_quantity:
    case R::quantity_not_lot_multiple: return kOrdRejIncorrectQty;
    case R::price_below_floor:
    case R::price_above_ceiling:
    case R::price_outside_band: return kOrdRejPriceBand;
    case R::price_not_on_tick: return kOrdRejPriceIncrement;
    case R::duplicate_order_id: return kOrdRejDuplicate;
    case R::book_full:
    case R::post_only_would_cross:
    case R::crosses_in_pre_open:
    case R::fok_not_fillable: return kOrdRejExchangeOption;
    case R::unknown_order:
    case R::account_mismatch: return kOrdRejUnknownOrder;
    case R::none:
    case R::invalid_state:
    case R::restore_invalid:
    case R::restore_crosses:
    case R::book_crossed: return kOrdRejOther;
    default: return kOrdRejOther;  // a reason added later
  }
}

int ledger_103(ledger::Reason r) {
  using R = ledger::Reason;
  switch (r) {
    case R::unknown_account: return kOrdRejUnknownAccount;
    case R::unknown_instrument: return kOrdRejUnknownSymbol;
    case R::unknown_order: return kOrdRejUnknownOrder;
    case R::duplicate_order: return kOrdRejDuplicate;
    case R::invalid_quantity: return kOrdRejIncorrectQty;
    case R::insufficient_holdings:
    case R::insufficient_cash:
    case R::party_cap:
    case R::region_cap:
    case R::zone_cap: return kOrdRejExceedsLimit;
    case R::transfer_not_allowed:
    case R::not_permitted: return kOrdRejExchangeOption;
    case R::ok:
    case R::invalid_order:
    case R::invalid_price:
    case R::order_mismatch:
    case R::overflow:
    case R::snapshot_exists: return kOrdRejOther;
    default: return kOrdRejOther;
  }
}

int core_103(exchange::CoreReject r) {
  using R = exchange::CoreReject;
  switch (r) {
    case R::unknown_party: return kOrdRejUnknownAccount;
    case R::unknown_instrument: return kOrdRejUnknownSymbol;
    case R::not_permitted: return kOrdRejExchangeOption;
    case R::duplicate_cl_ord_id: return kOrdRejDuplicate;
    case R::unknown_order: return kOrdRejUnknownOrder;
    case R::invalid_command: return kOrdRejUnsupported;
    case R::invalid_amount: return kOrdRejIncorrectQty;
    case R::none:
    case R::invalid_cl_ord_id:
    case R::invalid_state: return kOrdRejOther;
    default: return kOrdRejOther;
  }
}

}  // namespace

int ord_rej_reason(exchange::RejectSource source, std::uint8_t code) {
  switch (source) {
    case exchange::RejectSource::engine: return engine_103(static_cast<engine::RejectReason>(code));
    case exchange::RejectSource::ledger: return ledger_103(static_cast<ledger::Reason>(code));
    case exchange::RejectSource::core: return core_103(static_cast<exchange::CoreReject>(code));
    case exchange::RejectSource::none: return kOrdRejOther;
  }
  return kOrdRejOther;
}

int cxl_rej_reason(exchange::RejectSource source, std::uint8_t code) {
  if (source == exchange::RejectSource::core) {
    switch (static_cast<exchange::CoreReject>(code)) {
      case exchange::CoreReject::unknown_order:
      case exchange::CoreReject::unknown_party: return kCxlRejUnknownOrder;
      case exchange::CoreReject::duplicate_cl_ord_id: return kCxlRejDuplicate;
      case exchange::CoreReject::invalid_cl_ord_id:
      case exchange::CoreReject::none: return kCxlRejOther;
      default: return kCxlRejExchangeOption;
    }
  }
  if (source == exchange::RejectSource::engine) {
    const auto r = static_cast<engine::RejectReason>(code);
    if (r == engine::RejectReason::unknown_order || r == engine::RejectReason::account_mismatch) {
      return kCxlRejUnknownOrder;
    }
    return kCxlRejExchangeOption;
  }
  if (source == exchange::RejectSource::ledger) {
    const auto r = static_cast<ledger::Reason>(code);
    if (r == ledger::Reason::unknown_order) return kCxlRejUnknownOrder;
    return kCxlRejExchangeOption;
  }
  return kCxlRejOther;
}

}  // namespace haihe::gateway
