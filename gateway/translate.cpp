#include "gateway/translate.h"

#include <cassert>
#include <cstring>

#include "gateway/codes.h"
#include "gateway/quickfix.h"

namespace haihe::gateway {

namespace {

constexpr int kTagAccount = 1;
constexpr int kTagClOrdID = 11;
constexpr int kTagExecInst = 18;
constexpr int kTagOrderID = 37;
constexpr int kTagOrderQty = 38;
constexpr int kTagOrdType = 40;
constexpr int kTagOrigClOrdID = 41;
constexpr int kTagPrice = 44;
constexpr int kTagSide = 54;
constexpr int kTagSymbol = 55;
constexpr int kTagTimeInForce = 59;
constexpr int kTagExpireDate = 432;
constexpr int kTagMassCancelRequestType = 530;
constexpr int kTagMassStatusReqID = 584;
constexpr int kTagMassStatusReqType = 585;
constexpr int kTagPosReqType = 724;
constexpr int kTagStpMode = 20031;
constexpr int kTagMsgType = 35;

std::optional<std::string_view> field(const FIX::FieldMap& m, int tag) {
  if (!m.isSetField(tag)) return std::nullopt;
  return std::string_view(m.getField(tag));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Translation reject(ReplyKind reply, int code, std::string text) {
  Translation t;
  t.ok = false;
  t.reject = Rejection{reply, code, std::move(text)};
  return t;
}

Translation accept(const exchange::Command& c) {
  Translation t;
  t.ok = true;
  t.command = c;
  return t;
}

// The session's own party id must match Account (1) when it is present.
bool account_ok(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party) {
  const auto account = field(msg, kTagAccount);
  return !account || *account == rules.parties[party].id;
}

// NewOrderSingle (D) and OrderCancelReplaceRequest (G): the order
// attributes FIX 4.4 offers and the exchange does not (gateway/README.md).
constexpr UnofferedField kOrderUnoffered[] = {
    {152, "", "CashOrderQty (152) is not offered: give the quantity in OrderQty (38)"},
    {516, "", "OrderPercent (516) is not offered: give the quantity in OrderQty (38)"},
    {192, "", "OrderQty2 (192) (forex swaps) is not offered"},
    {110, "=0", "MinQty (110) is not offered: an order may fill in any quantity"},
    {111, "", "MaxFloor (111) (reserve orders) is not offered: the whole quantity is shown"},
    {210, "", "MaxShow (210) (reserve orders) is not offered: the whole quantity is shown"},
    {168, "", "EffectiveTime (168) is not offered: orders are effective on arrival"},
    {126, "", "ExpireTime (126) is not offered: GTD orders expire at the end of ExpireDate (432)"},
    {388, "", "discretionary orders (DiscretionInst 388) are not offered"},
    {389, "", "discretionary orders (DiscretionOffsetValue 389) are not offered"},
    {847, "", "TargetStrategy (847) is not offered"},
    {849, "", "ParticipationRate (849) is not offered"},
    {423, "2", "PriceType (423) must be 2 (per unit): prices are yuan per base unit"},
    {854, "0", "QtyType (854) must be 0 (units): quantities are in the instrument's base unit"},
    {15, "CNY", "Currency (15) must be CNY"},
    {120, "CNY", "SettlCurrency (120) must be CNY"},
    {121, "N", "ForexReq (121) is not offered"},
    {63, "0 1", "SettlType (63) must be 0 (regular) or 1 (cash): trades settle at once on the ledger"},
    {544, "1", "CashMargin (544) must be 1 (cash): orders are fully reserved, margin is not offered"},
    {78, "=0", "pre-trade allocation (NoAllocs 78) is not offered: a session trades for its own party"},
};

// OrderMassCancelRequest (q): a one-sided mass cancel.
constexpr UnofferedField kMassCancelUnoffered[] = {
    {54, "", "Side (54) is not offered on a mass cancel: leave it out to cancel the orders of both sides"},
};

// RequestForPositions (AN): subscriptions and out-of-band answers.
constexpr UnofferedField kPositionsUnoffered[] = {
    {263, "0", "SubscriptionRequestType (263) must be 0: positions are answered as a snapshot"},
    {725, "0", "ResponseTransportType (725) must be 0 (inband)"},
};

/// The Text of the first unoffered field of `msg` in `fields`, if any.
std::optional<std::string> unoffered(const FIX::Message& msg, std::span<const UnofferedField> fields) {
  for (const UnofferedField& f : fields) {
    const auto value = field(msg, f.tag);
    if (!value) continue;
    const std::string_view accepted = f.accepted;
    if (accepted == "=0") {
      if (parse_qty(*value) == Qty{0}) continue;
      return std::string(f.text);
    }
    bool ok = false;
    for (std::size_t at = 0; at < accepted.size() && !ok;) {
      const auto sp = accepted.find(' ', at);
      const auto tok = accepted.substr(at, sp == std::string_view::npos ? std::string_view::npos : sp - at);
      ok = !tok.empty() && tok == *value;
      at = sp == std::string_view::npos ? accepted.size() : sp + 1;
    }
    if (!ok) return std::string(f.text);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_order_id(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v == 0) return std::nullopt;
  return v;
}

Translation new_order(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party) {
  const auto rej = [](int code, std::string text) {
    return reject(ReplyKind::execution_report, code, std::move(text));
  };
  exchange::Command c{};
  c.kind = exchange::CommandKind::new_order;
  c.party = party;
  const auto cl = field(msg, kTagClOrdID);
  const auto cl_id = cl ? make_cl_ord_id(*cl) : std::nullopt;
  if (!cl_id) return rej(kOrdRejOther, "invalid ClOrdID (11): 1 to 32 printable ASCII characters");
  c.cl_ord_id = *cl_id;
  if (!account_ok(msg, rules, party)) return rej(kOrdRejUnknownAccount, "Account (1) is not this session's party");
  const auto symbol = field(msg, kTagSymbol);
  if (!symbol) return rej(kOrdRejUnknownSymbol, "Symbol (55) missing");
  c.instrument = rules.find_instrument(*symbol);
  if (c.instrument == rules::kNone) return rej(kOrdRejUnknownSymbol, "unknown symbol");
  const auto side = field(msg, kTagSide);
  if (side == "1") {
    c.side = exchange::Side::buy;
  } else if (side == "2") {
    c.side = exchange::Side::sell;
  } else {
    return rej(kOrdRejUnsupported, "Side (54) must be 1 (buy) or 2 (sell)");
  }
  const auto type = field(msg, kTagOrdType);
  if (type == "1") {
    c.type = exchange::OrderType::market;
  } else if (type == "2") {
    c.type = exchange::OrderType::limit;
  } else {
    return rej(kOrdRejUnsupported, "OrdType (40) must be 1 (market) or 2 (limit)");
  }
  const auto qty_text = field(msg, kTagOrderQty);
  const auto qty = qty_text ? parse_qty(*qty_text) : std::nullopt;
  if (!qty || *qty <= 0) return rej(kOrdRejIncorrectQty, "OrderQty (38) must be a positive integer");
  c.qty = *qty;
  if (c.type == exchange::OrderType::limit) {
    const auto px_text = field(msg, kTagPrice);
    if (!px_text) return rej(kOrdRejPriceIncrement, "Price (44) required for a limit order");
    const auto px = parse_price_fen(*px_text);
    if (!px || *px <= 0) {
      return rej(kOrdRejPriceIncrement, "Price (44) must be a positive yuan amount with at most 2 decimals");
    }
    c.price_fen = *px;
  }
  const auto tif = field(msg, kTagTimeInForce);
  if (!tif) {
    c.tif = c.type == exchange::OrderType::market ? exchange::TimeInForce::ioc : exchange::TimeInForce::day;
  } else if (*tif == "0") {
    c.tif = exchange::TimeInForce::day;
  } else if (*tif == "1") {
    c.tif = exchange::TimeInForce::gtc;
  } else if (*tif == "3") {
    c.tif = exchange::TimeInForce::ioc;
  } else if (*tif == "4") {
    c.tif = exchange::TimeInForce::fok;
  } else if (*tif == "6") {
    c.tif = exchange::TimeInForce::gtd;
  } else {
    return rej(kOrdRejUnsupported, "TimeInForce (59) must be 0, 1, 3, 4 or 6");
  }
  if (c.tif == exchange::TimeInForce::gtd) {
    const auto d = field(msg, kTagExpireDate);
    const auto date = d ? parse_local_date(*d) : std::nullopt;
    if (!date) return rej(kOrdRejUnsupported, "GTD needs ExpireDate (432) as YYYYMMDD");
    c.expire_date = *date;
  }
  if (const auto inst = field(msg, kTagExecInst)) {
    // MULTIPLEVALUESTRING: space-separated; only '6' (post-only) is known.
    std::string_view rest = *inst;
    while (!rest.empty()) {
      const auto sp = rest.find(' ');
      const auto tok = rest.substr(0, sp);
      if (tok == "6") {
        c.post_only = 1;
      } else if (!tok.empty()) {
        return rej(kOrdRejUnsupported, "ExecInst (18): only 6 (post-only) is supported");
      }
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
  }
  if (const auto stp = field(msg, kTagStpMode)) {
    if (*stp == "0") {
      c.stp = exchange::StpMode::cancel_newest;
    } else if (*stp == "1") {
      c.stp = exchange::StpMode::cancel_oldest;
    } else if (*stp == "2") {
      c.stp = exchange::StpMode::cancel_both;
    } else {
      return rej(kOrdRejUnsupported, "HaiheStpMode (20031) must be 0, 1 or 2");
    }
  }
  if (auto why = unoffered(msg, kOrderUnoffered)) return rej(kOrdRejUnsupported, std::move(*why));
  return accept(c);
}

// F and G share the identification of the order.
Translation cancel_or_replace(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party,
                              bool replace) {
  const auto rej = [](int code, std::string text) {
    return reject(ReplyKind::cancel_reject, code, std::move(text));
  };
  exchange::Command c{};
  c.kind = replace ? exchange::CommandKind::replace : exchange::CommandKind::cancel;
  c.party = party;
  const auto cl = field(msg, kTagClOrdID);
  const auto cl_id = cl ? make_cl_ord_id(*cl) : std::nullopt;
  if (!cl_id) return rej(kCxlRejOther, "invalid ClOrdID (11): 1 to 32 printable ASCII characters");
  c.cl_ord_id = *cl_id;
  const auto orig = field(msg, kTagOrigClOrdID);
  const auto orig_id = orig ? make_cl_ord_id(*orig) : std::nullopt;
  if (!orig_id) return rej(kCxlRejUnknownOrder, "invalid OrigClOrdID (41)");
  c.orig_cl_ord_id = *orig_id;
  if (const auto oid = field(msg, kTagOrderID)) {
    const auto id = parse_order_id(*oid);
    if (!id) return rej(kCxlRejUnknownOrder, "unknown OrderID (37)");
    c.order_id = *id;
  }
  if (!account_ok(msg, rules, party)) return rej(kCxlRejUnknownOrder, "Account (1) is not this session's party");
  const auto symbol = field(msg, kTagSymbol);
  if (!symbol) return rej(kCxlRejUnknownOrder, "Symbol (55) missing");
  c.instrument = rules.find_instrument(*symbol);
  if (c.instrument == rules::kNone) return rej(kCxlRejUnknownOrder, "unknown symbol");
  const auto side = field(msg, kTagSide);
  if (side == "1") {
    c.side = exchange::Side::buy;
  } else if (side == "2") {
    c.side = exchange::Side::sell;
  } else {
    return rej(kCxlRejOther, "Side (54) must be 1 (buy) or 2 (sell)");
  }
  if (!replace) return accept(c);
  if (field(msg, kTagOrdType) != "2") return rej(kCxlRejExchangeOption, "replace: OrdType (40) must be 2 (limit)");
  const auto qty_text = field(msg, kTagOrderQty);
  const auto qty = qty_text ? parse_qty(*qty_text) : std::nullopt;
  if (!qty || *qty <= 0) return rej(kCxlRejExchangeOption, "OrderQty (38) must be a positive integer");
  c.qty = *qty;
  const auto px_text = field(msg, kTagPrice);
  const auto px = px_text ? parse_price_fen(*px_text) : std::nullopt;
  if (!px || *px <= 0) {
    return rej(kCxlRejExchangeOption, "Price (44) must be a positive yuan amount with at most 2 decimals");
  }
  c.price_fen = *px;
  if (auto why = unoffered(msg, kOrderUnoffered)) return rej(kCxlRejExchangeOption, std::move(*why));
  return accept(c);
}

Translation order_status(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party) {
  const auto rej = [](int code, std::string text) {
    return reject(ReplyKind::execution_report, code, std::move(text));
  };
  exchange::Command c{};
  c.kind = exchange::CommandKind::order_status;
  c.party = party;
  const auto cl = field(msg, kTagClOrdID);
  const auto cl_id = cl ? make_cl_ord_id(*cl) : std::nullopt;
  if (!cl_id) return rej(kOrdRejUnknownOrder, "invalid ClOrdID (11)");
  c.orig_cl_ord_id = *cl_id;
  if (const auto oid = field(msg, kTagOrderID)) {
    const auto id = parse_order_id(*oid);
    if (!id) return rej(kOrdRejUnknownOrder, "unknown OrderID (37)");
    c.order_id = *id;
  }
  if (!account_ok(msg, rules, party)) return rej(kOrdRejUnknownAccount, "Account (1) is not this session's party");
  if (const auto symbol = field(msg, kTagSymbol)) {
    c.instrument = rules.find_instrument(*symbol);
    if (c.instrument == rules::kNone) return rej(kOrdRejUnknownSymbol, "unknown symbol");
  }
  return accept(c);
}

Translation mass_cancel(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party) {
  const auto rej = [](int code, std::string text) {
    return reject(ReplyKind::mass_cancel_report, code, std::move(text));
  };
  constexpr int kOther = 99;
  constexpr int kUnknownSecurity = 1;
  exchange::Command c{};
  c.kind = exchange::CommandKind::mass_cancel;
  c.party = party;
  const auto cl = field(msg, kTagClOrdID);
  const auto cl_id = cl ? make_cl_ord_id(*cl) : std::nullopt;
  if (!cl_id) return rej(kOther, "invalid ClOrdID (11)");
  c.cl_ord_id = *cl_id;
  const auto type = field(msg, kTagMassCancelRequestType);
  if (type == "1") {
    const auto symbol = field(msg, kTagSymbol);
    if (!symbol) return rej(kUnknownSecurity, "MassCancelRequestType 1 needs Symbol (55)");
    c.instrument = rules.find_instrument(*symbol);
    if (c.instrument == rules::kNone) return rej(kUnknownSecurity, "unknown symbol");
  } else if (type == "7") {
    c.instrument = rules::kNone;
  } else {
    return rej(kOther, "MassCancelRequestType (530) must be 1 or 7");
  }
  if (auto why = unoffered(msg, kMassCancelUnoffered)) return rej(kOther, std::move(*why));
  return accept(c);
}

// OrderMassStatusRequest (AF): every open order of the party (585=7) or of
// one instrument (585=1 with Symbol). FIX 4.4 has no reject message of its
// own for AF: refusals are BusinessMessageReject (j).
Translation mass_status(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party) {
  const auto rej = [](int code, std::string text) {
    return reject(ReplyKind::business_reject, code, std::move(text));
  };
  const auto req_id = field(msg, kTagMassStatusReqID);
  if (!req_id || req_id->empty()) return rej(kBizFieldMissing, "MassStatusReqID (584) missing");
  if (!account_ok(msg, rules, party)) return rej(kBizNotAuthorized, "Account (1) is not this session's party");
  exchange::Command c{};
  c.kind = exchange::CommandKind::order_status;
  c.party = party;
  c.order_id = 0;  // neither order_id nor orig_cl_ord_id: every open order
  const auto type = field(msg, kTagMassStatusReqType);
  if (type == "7") {
    c.instrument = rules::kNone;
  } else if (type == "1") {
    const auto symbol = field(msg, kTagSymbol);
    if (!symbol) return rej(kBizFieldMissing, "MassStatusReqType 1 needs Symbol (55)");
    c.instrument = rules.find_instrument(*symbol);
    if (c.instrument == rules::kNone) return rej(kBizUnknownSecurity, "unknown symbol");
  } else {
    return rej(kBizOther, "MassStatusReqType (585) must be 1 (one security) or 7 (all orders)");
  }
  assert(c.orig_cl_ord_id.empty());
  return accept(c);
}

Translation positions(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party) {
  if (field(msg, kTagPosReqType) != "0") {
    return reject(ReplyKind::business_reject, kBizOther, "PosReqType (724) must be 0 (positions)");
  }
  if (!account_ok(msg, rules, party)) {
    return reject(ReplyKind::business_reject, kBizNotAuthorized, "Account (1) is not this session's party");
  }
  if (auto why = unoffered(msg, kPositionsUnoffered)) {
    return reject(ReplyKind::business_reject, kBizOther, std::move(*why));
  }
  exchange::Command c{};
  c.kind = exchange::CommandKind::position_request;
  c.party = party;
  return accept(c);
}

}  // namespace

std::optional<Fen> parse_price_fen(std::string_view s) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  std::int64_t whole = 0;
  std::size_t i = 0;
  std::size_t int_digits = 0;
  while (i < s.size() && is_digit(s[i])) {
    if (whole > rules::kMaxPriceFen) return std::nullopt;  // keeps the product below 2^63
    whole = whole * 10 + (s[i] - '0');
    ++i;
    ++int_digits;
  }
  std::int64_t frac = 0;
  std::size_t frac_digits = 0;
  if (i < s.size()) {
    if (s[i] != '.') return std::nullopt;
    ++i;
    while (i < s.size() && is_digit(s[i])) {
      if (frac_digits < 2) {
        frac = frac * 10 + (s[i] - '0');
      } else if (s[i] != '0') {
        return std::nullopt;  // a fraction of a fen
      }
      ++frac_digits;
      ++i;
    }
    if (i != s.size()) return std::nullopt;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (frac_digits == 1) frac *= 10;
  if (whole > rules::kMaxPriceFen / 100) return std::nullopt;
  const Fen fen = whole * 100 + frac;
  if (fen > rules::kMaxPriceFen) return std::nullopt;
  return fen;
}

std::optional<Qty> parse_qty(std::string_view s) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  Qty v = 0;
  std::size_t i = 0;
  while (i < s.size() && is_digit(s[i])) {
    if (v > rules::kMaxQty) return std::nullopt;
    v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  if (i < s.size()) {
    if (s[i] != '.') return std::nullopt;
    ++i;
    for (; i < s.size(); ++i) {
      if (s[i] != '0') return std::nullopt;
    }
  }
  if (v > rules::kMaxQty) return std::nullopt;
  return v;
}

std::string format_yuan(Fen fen) {
  const bool neg = fen < 0;
  // |INT64_MIN| does not fit: fen never gets there (kMaxCashFen), but stay safe.
  const std::uint64_t a = neg ? 0 - static_cast<std::uint64_t>(fen) : static_cast<std::uint64_t>(fen);
  std::string out = neg ? "-" : "";
  out += std::to_string(a / 100);
  out += '.';
  const auto cents = a % 100;
  out += static_cast<char>('0' + cents / 10);
  out += static_cast<char>('0' + cents % 10);
  return out;
}

std::string format_avg_px(Fen value_fen, Qty qty) {
  if (qty <= 0 || value_fen < 0) return "0.0000";
  // yuan with 4 decimals = value_fen * 100 / qty ten-thousandths of a yuan,
  // rounded half up, computed as quotient and remainder so nothing overflows.
  const auto v = static_cast<std::uint64_t>(value_fen);
  const auto q = static_cast<std::uint64_t>(qty);
  const std::uint64_t whole = v / q;  // fen per unit
  std::uint64_t rem = v % q;          // < q
  // Two more decimal digits of fen (-> 4 decimals of yuan), then round.
  std::uint64_t units = whole;
  for (int i = 0; i < 2; ++i) {
    // rem < q <= kMaxQty (1e13), so rem * 10 fits.
    rem *= 10;
    units = units * 10 + rem / q;
    rem %= q;
  }
  if (2 * rem >= q) ++units;
  std::string out = std::to_string(units / 10000);
  out += '.';
  std::string frac = std::to_string(units % 10000);
  out.append(4 - frac.size(), '0');
  out += frac;
  return out;
}

std::optional<exchange::ClOrdId> make_cl_ord_id(std::string_view s) {
  if (s.empty() || s.size() > exchange::ClOrdId::kMaxLen) return std::nullopt;
  exchange::ClOrdId id{};
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x21 || u > 0x7e) return std::nullopt;
    id.chars[i] = s[i];
  }
  return id;
}

std::optional<std::uint32_t> parse_local_date(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  const std::uint32_t y = v / 10000, m = v / 100 % 100, d = v % 100;
  if (y < 2000 || y > 2999 || m < 1 || m > 12 || d < 1) return std::nullopt;
  static constexpr std::uint32_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const std::uint32_t max_d = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  if (d > max_d) return std::nullopt;
  return v;
}

std::span<const UnofferedField> unoffered_fields(std::string_view msg_type) {
  if (msg_type == "D" || msg_type == "G") return kOrderUnoffered;
  if (msg_type == "q") return kMassCancelUnoffered;
  if (msg_type == "AN") return kPositionsUnoffered;
  return {};
}

Translation translate(const FIX::Message& msg, const rules::MarketRules& rules, PartyIndex party) {
  assert(party < rules.parties.size());
  try {
    const auto type = field(msg.getHeader(), kTagMsgType);
    if (!type) return reject(ReplyKind::business_reject, kBizOther, "MsgType (35) missing");
    const bool order_entry =
        *type == "D" || *type == "F" || *type == "G" || *type == "H" || *type == "q" || *type == "AN" ||
                             *type == "AF";
    if (!order_entry) {
      return reject(ReplyKind::business_reject, kBizUnsupportedMsgType,
                    "unsupported message type: the exchange does not accept MsgType (35) " + std::string(*type));
    }
    if (rules.parties[party].kind == rules::PartyKind::regulator) {
      return reject(ReplyKind::business_reject, kBizNotAuthorized,
                    "drop-copy session: order entry and positions are not allowed");
    }
    if (*type == "D") return new_order(msg, rules, party);
    if (*type == "F") return cancel_or_replace(msg, rules, party, false);
    if (*type == "G") return cancel_or_replace(msg, rules, party, true);
    if (*type == "H") return order_status(msg, rules, party);
    if (*type == "q") return mass_cancel(msg, rules, party);
    if (*type == "AF") return mass_status(msg, rules, party);
    return positions(msg, rules, party);
  } catch (const std::exception& e) {
    return reject(ReplyKind::business_reject, kBizOther, std::string("malformed message: ") + e.what());
  }
}

Translation translate_raw(std::string_view fix, const rules::MarketRules& rules, PartyIndex party) {
  try {
    FIX::Message msg(std::string(fix), false);
    return translate(msg, rules, party);
  } catch (const std::exception& e) {
    return reject(ReplyKind::business_reject, kBizOther, std::string("malformed message: ") + e.what());
  } catch (...) {
    return reject(ReplyKind::business_reject, kBizOther, "malformed message");
  }
}

}  // namespace haihe::gateway
