// Unit tests of the pure FIX -> Command translation (gateway/translate.h).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gateway/codes.h"
#include "gateway/translate.h"
#include "rules/rules.h"

namespace haihe::gateway {
namespace {

const rules::MarketRules& market() {
  static const auto r = rules::load_default_rules();
  return *r;
}

std::string id_text(const exchange::ClOrdId& id) { return std::string(id.chars.data(), strnlen(id.chars.data(), id.chars.size())); }

rules::PartyIndex party(std::string_view id) {
  const auto p = market().find_party(id);
  EXPECT_NE(p, rules::kNone) << id;
  return p;
}

// A FIX string from tag=value pairs (no dictionary: BodyLength/CheckSum are not checked).
std::string fix(const std::string& type, const std::vector<std::pair<int, std::string>>& body) {
  std::string b = "35=" + type + "\x01" "49=BJ_WATERWORKS\x01" "56=HAIHE\x01" "34=2\x01" "52=20270315-01:30:00\x01";
  for (const auto& [t, v] : body) b += std::to_string(t) + "=" + v + "\x01";
  std::string m = "8=FIX.4.4\x01" "9=" + std::to_string(b.size()) + "\x01" + b;
  unsigned sum = 0;
  for (const char c : m) sum += static_cast<unsigned char>(c);
  char cs[8];
  std::snprintf(cs, sizeof cs, "%03u", sum % 256);
  return m + "10=" + cs + "\x01";
}

TEST(Price, ParsesYuanExactly) {
  EXPECT_EQ(parse_price_fen("0.93"), 93);
  EXPECT_EQ(parse_price_fen("5500"), 550000);
  EXPECT_EQ(parse_price_fen("95.96"), 9596);
  EXPECT_EQ(parse_price_fen("95.9"), 9590);
  EXPECT_EQ(parse_price_fen("1."), 100);
  EXPECT_EQ(parse_price_fen(".5"), 50);
  EXPECT_EQ(parse_price_fen("0.930"), 93);
  EXPECT_EQ(parse_price_fen("0"), 0);
  EXPECT_EQ(parse_price_fen("100000000"), rules::kMaxPriceFen);
  for (const char* bad : {"", ".", "-1", "+1", "1e3", "0.931", "1,5", " 1", "1 ", "abc", "1.2.3", "100000000.01",
                          "99999999999999999999999999"}) {
    EXPECT_EQ(parse_price_fen(bad), std::nullopt) << bad;
  }
}

TEST(Price, FormatsRoundTrip) {
  EXPECT_EQ(format_yuan(93), "0.93");
  EXPECT_EQ(format_yuan(550000), "5500.00");
  EXPECT_EQ(format_yuan(5), "0.05");
  EXPECT_EQ(format_yuan(-150), "-1.50");
  for (Fen f : {Fen{0}, Fen{1}, Fen{99}, Fen{100}, Fen{9596}, rules::kMaxPriceFen}) {
    EXPECT_EQ(parse_price_fen(format_yuan(f)), f);
  }
  EXPECT_EQ(format_avg_px(0, 0), "0.0000");
  EXPECT_EQ(format_avg_px(93 * 1000, 1000), "0.9300");
  EXPECT_EQ(format_avg_px(93 * 1000 + 94 * 2000, 3000), "0.9367");  // 0.936666.. rounds up
  EXPECT_EQ(format_avg_px(1, 8), "0.0013");                          // 0.00125 rounds half up
}

TEST(Qty, IntegersOnly) {
  EXPECT_EQ(parse_qty("1000"), 1000);
  EXPECT_EQ(parse_qty("1000.00"), 1000);
  EXPECT_EQ(parse_qty("0"), 0);
  for (const char* bad : {"", "1000.5", "-1", "1e3", ".0", "10000000000001", "x"}) {
    EXPECT_EQ(parse_qty(bad), std::nullopt) << bad;
  }
}

TEST(Dates, Calendar) {
  EXPECT_EQ(parse_local_date("20270315"), 20270315u);
  EXPECT_EQ(parse_local_date("20280229"), 20280229u);
  EXPECT_EQ(parse_local_date("20270229"), std::nullopt);
  EXPECT_EQ(parse_local_date("20271301"), std::nullopt);
  EXPECT_EQ(parse_local_date("2027031"), std::nullopt);
}

TEST(Translate, NewOrderLimit) {
  const auto p = party("BJ_WATERWORKS");
  const auto t = translate_raw(fix("D", {{11, "A1"}, {55, "WATER.MIYUN_CHAO.MUN.2027"}, {54, "1"}, {60, "20270315-01:30:00"},
                                         {38, "5000"}, {40, "2"}, {44, "0.93"}, {59, "6"}, {432, "20270320"},
                                         {18, "6"}, {20031, "2"}}),
                               market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  const auto& c = t.command;
  EXPECT_EQ(c.kind, exchange::CommandKind::new_order);
  EXPECT_EQ(c.party, p);
  EXPECT_EQ(c.instrument, market().find_instrument("WATER.MIYUN_CHAO.MUN.2027"));
  EXPECT_EQ(c.side, exchange::Side::buy);
  EXPECT_EQ(c.type, exchange::OrderType::limit);
  EXPECT_EQ(c.tif, exchange::TimeInForce::gtd);
  EXPECT_EQ(c.expire_date, 20270320u);
  EXPECT_EQ(c.price_fen, 93);
  EXPECT_EQ(c.qty, 5000);
  EXPECT_EQ(c.post_only, 1);
  EXPECT_EQ(c.stp, exchange::StpMode::cancel_both);
  EXPECT_EQ(id_text(c.cl_ord_id), "A1");
}

TEST(Translate, MarketDefaultsToIoc) {
  const auto t = translate_raw(fix("D", {{11, "M1"}, {55, "CO2.TJ.2027"}, {54, "2"}, {60, "x"}, {38, "10"}, {40, "1"}}),
                               market(), party("TJ_PANSHAN_POWER"));
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.type, exchange::OrderType::market);
  EXPECT_EQ(t.command.tif, exchange::TimeInForce::ioc);
  EXPECT_EQ(t.command.side, exchange::Side::sell);
}

struct BadOrder {
  std::vector<std::pair<int, std::string>> body;
  int code;
};

TEST(Translate, NewOrderRejects) {
  const auto p = party("BJ_WATERWORKS");
  const std::string sym = "WATER.MIYUN_CHAO.MUN.2027";
  const std::vector<BadOrder> cases = {
      {{{55, sym}, {54, "1"}, {38, "1000"}, {40, "2"}, {44, "1"}}, kOrdRejOther},                 // no ClOrdID
      {{{11, "A"}, {55, "NOPE"}, {54, "1"}, {38, "1000"}, {40, "2"}, {44, "1"}}, kOrdRejUnknownSymbol},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "1000.5"}, {40, "2"}, {44, "1"}}, kOrdRejIncorrectQty},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "0"}, {40, "2"}, {44, "1"}}, kOrdRejIncorrectQty},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "1000"}, {40, "2"}, {44, "0.931"}}, kOrdRejPriceIncrement},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "1000"}, {40, "2"}}, kOrdRejPriceIncrement},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "1000"}, {40, "2"}, {44, "0"}}, kOrdRejPriceIncrement},
      {{{11, "A"}, {55, sym}, {54, "3"}, {38, "1000"}, {40, "2"}, {44, "1"}}, kOrdRejUnsupported},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "1000"}, {40, "3"}, {44, "1"}}, kOrdRejUnsupported},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "1000"}, {40, "2"}, {44, "1"}, {59, "6"}}, kOrdRejUnsupported},
      {{{11, "A"}, {55, sym}, {54, "1"}, {38, "1000"}, {40, "2"}, {44, "1"}, {1, "TJ_WATERWORKS"}},
       kOrdRejUnknownAccount},
      {{{11, std::string(33, 'x')}, {55, sym}, {54, "1"}, {38, "1000"}, {40, "2"}, {44, "1"}}, kOrdRejOther},
  };
  for (const auto& bc : cases) {
    const auto t = translate_raw(fix("D", bc.body), market(), p);
    ASSERT_FALSE(t.ok);
    EXPECT_EQ(t.reject.reply, ReplyKind::execution_report);
    EXPECT_EQ(t.reject.code, bc.code) << t.reject.text;
    EXPECT_FALSE(t.reject.text.empty());
  }
}

TEST(Translate, CancelReplaceStatusMassCancelPositions) {
  const auto p = party("BJ_WATERWORKS");
  const std::string sym = "WATER.MIYUN_CHAO.MUN.2027";
  auto t = translate_raw(fix("F", {{41, "A1"}, {11, "C1"}, {55, sym}, {54, "1"}, {37, "42"}}), market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.kind, exchange::CommandKind::cancel);
  EXPECT_EQ(id_text(t.command.orig_cl_ord_id), "A1");
  EXPECT_EQ(id_text(t.command.cl_ord_id), "C1");
  EXPECT_EQ(t.command.order_id, 42u);

  t = translate_raw(fix("G", {{41, "A1"}, {11, "R1"}, {55, sym}, {54, "1"}, {38, "3000"}, {40, "2"}, {44, "0.95"}}),
                    market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.kind, exchange::CommandKind::replace);
  EXPECT_EQ(t.command.qty, 3000);
  EXPECT_EQ(t.command.price_fen, 95);
  EXPECT_EQ(t.command.order_id, 0u);

  t = translate_raw(fix("G", {{41, "A1"}, {11, "R1"}, {55, sym}, {54, "1"}, {38, "3000"}, {40, "1"}}), market(), p);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.reply, ReplyKind::cancel_reject);

  t = translate_raw(fix("F", {{41, "A1"}, {11, "C1"}, {55, sym}, {54, "1"}, {1, "SOMEONE_ELSE"}}), market(), p);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.code, kCxlRejUnknownOrder);

  t = translate_raw(fix("H", {{11, "A1"}}), market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.kind, exchange::CommandKind::order_status);
  EXPECT_EQ(id_text(t.command.orig_cl_ord_id), "A1");

  t = translate_raw(fix("q", {{11, "MC1"}, {530, "7"}}), market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.kind, exchange::CommandKind::mass_cancel);
  EXPECT_EQ(t.command.instrument, rules::kNone);
  t = translate_raw(fix("q", {{11, "MC1"}, {530, "1"}, {55, "NOPE"}}), market(), p);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.reply, ReplyKind::mass_cancel_report);
  EXPECT_EQ(t.reject.code, 1);

  t = translate_raw(fix("AN", {{710, "P1"}, {724, "0"}}), market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.kind, exchange::CommandKind::position_request);
  EXPECT_EQ(t.command.party, p);
}

TEST(Translate, OrderMassStatusRequest) {
  const auto p = party("TJ_BINHAI_STEEL");
  auto t = translate_raw(fix("AF", {{584, "M1"}, {585, "7"}}), market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.kind, exchange::CommandKind::order_status);
  EXPECT_EQ(t.command.party, p);
  EXPECT_EQ(t.command.order_id, 0u);
  EXPECT_TRUE(t.command.orig_cl_ord_id.empty());
  EXPECT_EQ(t.command.instrument, rules::kNone);

  t = translate_raw(fix("AF", {{584, "M2"}, {585, "1"}, {55, "CO2.TJ.2027"}, {1, "TJ_BINHAI_STEEL"}}), market(), p);
  ASSERT_TRUE(t.ok) << t.reject.text;
  EXPECT_EQ(t.command.instrument, market().find_instrument("CO2.TJ.2027"));
  EXPECT_EQ(t.command.order_id, 0u);
  EXPECT_TRUE(t.command.orig_cl_ord_id.empty());

  const auto refused = [&](const std::vector<std::pair<int, std::string>>& body, int code) {
    const auto r = translate_raw(fix("AF", body), market(), p);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reject.reply, ReplyKind::business_reject);
    EXPECT_EQ(r.reject.code, code) << r.reject.text;
    EXPECT_FALSE(r.reject.text.empty());
  };
  for (const char* type : {"0", "2", "3", "8", "70", ""}) refused({{584, "M3"}, {585, type}}, kBizOther);
  refused({{584, "M3"}}, kBizOther);
  refused({{584, "M4"}, {585, "1"}}, kBizFieldMissing);
  refused({{584, "M5"}, {585, "1"}, {55, "NOPE"}}, kBizUnknownSecurity);
  refused({{585, "7"}}, kBizFieldMissing);
  refused({{584, "M6"}, {585, "7"}, {1, "TJ_PANSHAN_POWER"}}, kBizNotAuthorized);
}

TEST(Translate, RegulatorMayNotTradeAndUnknownTypes) {
  const auto reg = party("REG_ECOLOGY");
  auto t = translate_raw(fix("D", {{11, "A"}, {55, "CO2.TJ.2027"}, {54, "1"}, {38, "1"}, {40, "2"}, {44, "90"}}),
                         market(), reg);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.reply, ReplyKind::business_reject);
  EXPECT_EQ(t.reject.code, kBizNotAuthorized);
  t = translate_raw(fix("AD", {{568, "x"}, {569, "0"}}), market(), party("BJ_WATERWORKS"));
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.code, kBizUnsupportedMsgType);
  t = translate_raw(fix("AF", {{584, "x"}, {585, "7"}}), market(), reg);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.code, kBizNotAuthorized);
  t = translate_raw("garbage", market(), party("BJ_WATERWORKS"));
  EXPECT_FALSE(t.ok);
}

// Each field the exchange does not offer refuses the request with the message
// type's reject and the field's Text; with its accepted value it is ignored.
TEST(Translate, UnofferedFieldsAreRefusedWithTheirText) {
  const auto p = party("TJ_BINHAI_STEEL");
  const std::vector<std::pair<int, std::string>> order = {{11, "U1"}, {55, "CO2.TJ.2027"}, {54, "1"}, {38, "5"},
                                                          {40, "2"},  {44, "90"},          {41, "U0"}};
  ASSERT_FALSE(unoffered_fields("D").empty());
  for (const char* type : {"D", "G"}) {
    for (const auto& f : unoffered_fields(type)) {
      auto body = order;
      body.emplace_back(f.tag, "7");  // a value no field accepts
      auto t = translate_raw(fix(type, body), market(), p);
      ASSERT_FALSE(t.ok) << type << " " << f.tag;
      EXPECT_EQ(t.reject.reply, std::string(type) == "D" ? ReplyKind::execution_report : ReplyKind::cancel_reject);
      EXPECT_EQ(t.reject.code, std::string(type) == "D" ? kOrdRejUnsupported : kCxlRejExchangeOption);
      EXPECT_EQ(t.reject.text, f.text);
      const std::string_view accepted = f.accepted;
      if (accepted.empty()) continue;
      body.back().second = accepted == "=0" ? "0" : std::string(accepted.substr(0, accepted.find(' ')));
      t = translate_raw(fix(type, body), market(), p);
      EXPECT_TRUE(t.ok) << type << " " << f.tag << ": " << t.reject.text;
    }
  }
  auto t = translate_raw(fix("q", {{11, "MC1"}, {530, "7"}, {54, "1"}}), market(), p);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.reply, ReplyKind::mass_cancel_report);
  EXPECT_EQ(t.reject.code, 99);
  t = translate_raw(fix("AN", {{710, "P1"}, {724, "0"}, {263, "1"}}), market(), p);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.reject.reply, ReplyKind::business_reject);
  EXPECT_EQ(t.reject.code, kBizOther);
  EXPECT_TRUE(translate_raw(fix("AN", {{710, "P1"}, {724, "0"}, {263, "0"}, {725, "0"}}), market(), p).ok);
  // Irrelevant standard fields are ignored.
  auto body = order;
  for (const auto& [tag, v] : std::vector<std::pair<int, std::string>>{
           {21, "1"}, {207, "XSHG"}, {100, "XSHG"}, {48, "CN000"}, {22, "4"}, {58, "hello"}, {99, "1"}, {528, "A"}}) {
    body.emplace_back(tag, v);
  }
  EXPECT_TRUE(translate_raw(fix("D", body), market(), p).ok);
}

TEST(Codes, EveryReasonMaps) {
  EXPECT_EQ(ord_rej_reason(exchange::RejectSource::core, static_cast<std::uint8_t>(exchange::CoreReject::duplicate_cl_ord_id)), 6);
  EXPECT_EQ(ord_rej_reason(exchange::RejectSource::engine, static_cast<std::uint8_t>(engine::RejectReason::price_outside_band)), 16);
  EXPECT_EQ(ord_rej_reason(exchange::RejectSource::engine, static_cast<std::uint8_t>(engine::RejectReason::price_not_on_tick)), 18);
  EXPECT_EQ(ord_rej_reason(exchange::RejectSource::ledger, static_cast<std::uint8_t>(ledger::Reason::insufficient_cash)), 3);
  EXPECT_EQ(cxl_rej_reason(exchange::RejectSource::core, static_cast<std::uint8_t>(exchange::CoreReject::unknown_order)), 1);
  for (int c = 0; c < 256; ++c) {  // any code, even unknown, maps to a valid value
    for (auto s : {exchange::RejectSource::none, exchange::RejectSource::core, exchange::RejectSource::engine,
                   exchange::RejectSource::ledger}) {
      const int v = ord_rej_reason(s, static_cast<std::uint8_t>(c));
      EXPECT_TRUE((v >= 0 && v <= 18) || v == 99);
      const int w = cxl_rej_reason(s, static_cast<std::uint8_t>(c));
      EXPECT_TRUE(w == 1 || w == 2 || w == 6 || w == 99);
    }
  }
}

}  // namespace
}  // namespace haihe::gateway
