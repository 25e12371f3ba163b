// haihe::gateway — FIX to exchange::Command translation (pure, fuzzed).
//
// `translate` turns one inbound application message of a session into either
// an exchange::Command for Core::submit, or a rejection saying which FIX
// answer to send (ExecutionReport 103, OrderCancelReject 102, mass cancel
// report 532 or BusinessMessageReject 380) with a readable Text. It reads
// nothing but the message and the rules: no clock, no I/O, no core. The
// conventions (yuan prices, integer quantities, custom tags) are documented in
// gateway/README.md.
//
// Numbers never go through floating point: Price (44) is parsed from its
// string, "0.93" -> 93 fen, at most 2 decimals (further digits must be zeros);
// quantities are integers ("1000", "1000.00"; "1000.5" is rejected).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "exchange/core.h"
#include "rules/rules.h"

namespace FIX {
class Message;
}

namespace haihe::gateway {

using exchange::Fen;
using exchange::PartyIndex;
using exchange::Qty;

// ---------------------------------------------------------------- numbers

/// "12.34" yuan -> 1234 fen. Digits, at most one '.', at most 2 decimals that
/// are not zero; no sign, no exponent, no spaces; <= rules::kMaxPriceFen.
/// nullopt when malformed or out of range. 0 is returned for "0" (callers
/// check positivity).
std::optional<Fen> parse_price_fen(std::string_view yuan);

/// Non-negative integer quantity: digits, optionally '.' followed by zeros.
/// nullopt when malformed, fractional or above rules::kMaxQty.
std::optional<Qty> parse_qty(std::string_view s);

/// fen -> yuan with exactly 2 decimals: 93 -> "0.93", -150 -> "-1.50".
std::string format_yuan(Fen fen);

/// value_fen / qty as yuan with exactly 4 decimals, rounded half up; "0.0000"
/// when qty == 0. value_fen >= 0, qty >= 0.
std::string format_avg_px(Fen value_fen, Qty qty);

/// Checks a ClOrdID (1..32 printable ASCII 0x21..0x7e) and packs it.
std::optional<exchange::ClOrdId> make_cl_ord_id(std::string_view s);

/// YYYYMMDD with a valid calendar date (years 2000..2999) -> yyyymmdd.
std::optional<std::uint32_t> parse_local_date(std::string_view s);

// ---------------------------------------------------------------- translation

/// Which FIX message answers a rejection.
enum class ReplyKind : std::uint8_t {
  execution_report = 1,  // ExecType 8 (D) or I (H); code is OrdRejReason (103)
  cancel_reject = 2,     // OrderCancelReject (9) to F/G; code is CxlRejReason (102)
  mass_cancel_report = 3,  // OrderMassCancelReport (r) with 531=0; code is 532
  business_reject = 4,   // BusinessMessageReject (j); code is BusinessRejectReason (380)
};

struct Rejection {
  ReplyKind reply = ReplyKind::business_reject;
  int code = 0;
  std::string text;
};

struct Translation {
  bool ok = false;
  exchange::Command command{};  // valid when ok
  Rejection reject;             // valid when !ok
};

// BusinessRejectReason (380) values used.
inline constexpr int kBizOther = 0;
inline constexpr int kBizUnknownSecurity = 2;
inline constexpr int kBizUnsupportedMsgType = 3;
inline constexpr int kBizNotAvailable = 4;
inline constexpr int kBizFieldMissing = 5;  // conditionally required field missing
inline constexpr int kBizNotAuthorized = 6;

/// A standard FIX 4.4 field whose value changes what a request means in a
/// way the exchange does not offer (a reserve quantity, a minimum fill, a
/// later effective time, ...). Present with a value outside `accepted`, it
/// refuses the request with `text` (gateway/README.md lists them per
/// message). Every other standard field the exchange does not read is
/// accepted and ignored.
struct UnofferedField {
  int tag = 0;
  /// Values that mean what the exchange does anyway, space-separated ("":
  /// none); "=0" accepts any quantity equal to zero.
  const char* accepted = "";
  const char* text = "";
};

/// The unoffered fields of an order-entry message type (D, G, q, AN; none
/// for the others). The answer is the message type's reject: D 103=11,
/// G 102=2, q 532=99, AN 380=0.
std::span<const UnofferedField> unoffered_fields(std::string_view msg_type);

/// Translates an inbound application message of the session of `party`
/// (D, F, G, H, q, AN, AF). Every other message type -> business reject
/// 380=3 (unsupported message type). A regulator's order entry -> business
/// reject 380=6. The message is assumed to have passed the data dictionary,
/// but nothing here relies on it: any field may be missing or malformed.
/// Never throws.
Translation translate(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party);

/// Same, from the raw FIX string (parsed without a dictionary). For the fuzzer
/// and tests; a string that does not parse -> business reject 380=0.
Translation translate_raw(std::string_view fix, const rules::MarketRules& rules, PartyIndex party);

}  // namespace haihe::gateway
