// haihe::gateway — FIX codes for the core's, engine's and ledger's rejections
// (gateway/README.md, "Reject codes").
#pragma once

#include <cstdint>

#include "exchange/core.h"

namespace haihe::gateway {

// OrdRejReason (103) values used.
inline constexpr int kOrdRejExchangeOption = 0;
inline constexpr int kOrdRejUnknownSymbol = 1;
inline constexpr int kOrdRejExchangeClosed = 2;
inline constexpr int kOrdRejExceedsLimit = 3;
inline constexpr int kOrdRejUnknownOrder = 5;
inline constexpr int kOrdRejDuplicate = 6;
inline constexpr int kOrdRejUnsupported = 11;
inline constexpr int kOrdRejIncorrectQty = 13;
inline constexpr int kOrdRejUnknownAccount = 15;
inline constexpr int kOrdRejPriceBand = 16;
inline constexpr int kOrdRejPriceIncrement = 18;
inline constexpr int kOrdRejOther = 99;

// CxlRejReason (102) values used.
inline constexpr int kCxlRejTooLate = 0;
inline constexpr int kCxlRejUnknownOrder = 1;
inline constexpr int kCxlRejExchangeOption = 2;
inline constexpr int kCxlRejDuplicate = 6;
inline constexpr int kCxlRejOther = 99;

/// OrdRejReason (103) for a rejection of a new order (or a status request).
int ord_rej_reason(exchange::RejectSource source, std::uint8_t code);
/// CxlRejReason (102) for a refused cancel or replace.
int cxl_rej_reason(exchange::RejectSource source, std::uint8_t code);

}  // namespace haihe::gateway
