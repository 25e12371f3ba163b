// The admin socket's pure parts: amounts, the line protocol and the
// translation of requests into core commands (gateway/admin.h).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>

#include "gateway/admin.h"
#include "rules/rules.h"

namespace {

using namespace haihe;
namespace admin = haihe::gateway::admin;

// ------------------------------------------------------------------ amounts

TEST(AdminAmounts, ParseYuanExact) {
  EXPECT_EQ(admin::parse_yuan("0"), 0);
  EXPECT_EQ(admin::parse_yuan("12"), 1200);
  EXPECT_EQ(admin::parse_yuan("12.3"), 1230);
  EXPECT_EQ(admin::parse_yuan("12.34"), 1234);
  EXPECT_EQ(admin::parse_yuan("0.01"), 1);
  EXPECT_EQ(admin::parse_yuan("0.93"), 93);
  EXPECT_EQ(admin::parse_yuan("1000000.07"), 100000007);
  EXPECT_EQ(admin::parse_yuan("007.50"), 750);
  // 0.29 is not exact in binary floating point; here it is 29 fen.
  EXPECT_EQ(admin::parse_yuan("0.29"), 29);
  EXPECT_EQ(admin::parse_yuan("10000000000000"), 1000000000000000);  // kMaxCashFen
}

TEST(AdminAmounts, ParseYuanRejects) {
  for (const char* bad : {"", ".", "1.", ".5", "1.234", "-1", "+1", "1e3", "1,000", "1 000", " 1", "1 ", "0x10",
                          "1.2.3", "12a", "１"}) {
    EXPECT_FALSE(admin::parse_yuan(bad).has_value()) << bad;
  }
  EXPECT_FALSE(admin::parse_yuan("10000000000000.01").has_value());  // above kMaxCashFen
  EXPECT_FALSE(admin::parse_yuan("99999999999999999999").has_value());
  EXPECT_FALSE(admin::parse_yuan("5.01", 500).has_value());
  EXPECT_EQ(admin::parse_yuan("5", 500), 500);
}

TEST(AdminAmounts, ParseUint) {
  EXPECT_EQ(admin::parse_uint("0", 10), 0);
  EXPECT_EQ(admin::parse_uint("10", 10), 10);
  EXPECT_FALSE(admin::parse_uint("11", 10).has_value());
  EXPECT_EQ(admin::parse_uint("9223372036854775807", INT64_MAX), INT64_MAX);
  EXPECT_FALSE(admin::parse_uint("9223372036854775808", INT64_MAX).has_value());
  EXPECT_FALSE(admin::parse_uint("", 10).has_value());
  EXPECT_FALSE(admin::parse_uint("-1", 10).has_value());
  EXPECT_FALSE(admin::parse_uint("1.0", 10).has_value());
}

TEST(AdminAmounts, Format) {
  EXPECT_EQ(admin::format_yuan_grouped(0), "0.00");
  EXPECT_EQ(admin::format_yuan_grouped(5), "0.05");
  EXPECT_EQ(admin::format_yuan_grouped(123456789), "1,234,567.89");
  EXPECT_EQ(admin::format_yuan_grouped(-100), "-1.00");
  EXPECT_EQ(admin::format_yuan_grouped(INT64_MIN), "-92,233,720,368,547,758.08");
  EXPECT_EQ(admin::format_grouped(0), "0");
  EXPECT_EQ(admin::format_grouped(999), "999");
  EXPECT_EQ(admin::format_grouped(1000), "1,000");
  EXPECT_EQ(admin::format_grouped(-1234567), "-1,234,567");
}

RC_GTEST_PROP(AdminAmounts, YuanRoundTrip, ()) {
  const auto fen = *rc::gen::inRange<std::int64_t>(0, rules::kMaxCashFen + 1);
  const std::string text = std::to_string(fen / 100) + "." + (fen % 100 < 10 ? "0" : "") + std::to_string(fen % 100);
  RC_ASSERT(admin::parse_yuan(text) == std::optional<rules::Fen>(fen));
  std::string grouped = admin::format_yuan_grouped(fen);
  std::erase(grouped, ',');
  RC_ASSERT(grouped == text);
}

// ------------------------------------------------------------------ lines

TEST(AdminLine, PercentCoding) {
  EXPECT_EQ(admin::percent_encode("abc_XYZ.09-"), "abc_XYZ.09-");
  EXPECT_EQ(admin::percent_encode("a b=c%d\n"), "a%20b%3Dc%25d%0A");
  EXPECT_EQ(admin::percent_decode("a%20b%3Dc%25d%0A"), "a b=c%d\n");
  EXPECT_EQ(admin::percent_decode("%e4%b8%ad"), "\xe4\xb8\xad");
  EXPECT_FALSE(admin::percent_decode("%").has_value());
  EXPECT_FALSE(admin::percent_decode("%4").has_value());
  EXPECT_FALSE(admin::percent_decode("%zz").has_value());
}

RC_GTEST_PROP(AdminLine, RoundTrip, ()) {
  const auto n = *rc::gen::inRange<std::size_t>(1, admin::kMaxFields + 1);
  admin::Fields f;
  for (std::size_t i = 0; i < n; ++i) {
    std::string key = *rc::gen::container<std::string>(*rc::gen::inRange<std::size_t>(1, 8),
                                                        rc::gen::elementOf(std::string("abcxyz_")));
    key += 'k';  // unique: the only 'k', then i + 1 'q's
    key.append(i + 1, 'q');
    const std::string value = *rc::gen::container<std::string>(*rc::gen::inRange<std::size_t>(0, 20),
                                                               rc::gen::arbitrary<char>());
    f.add(key, value);
  }
  const std::string line = admin::format_line(f);
  RC_ASSERT(line.find('\n') == std::string::npos);
  if (line.size() > admin::kMaxLineBytes) return;
  std::string error;
  const auto back = admin::parse_line(line, &error);
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->items == f.items);
}

TEST(AdminLine, ParseErrors) {
  std::string error;
  auto bad = [&](const std::string& line) {
    error.clear();
    const bool failed = !admin::parse_line(line, &error).has_value();
    EXPECT_TRUE(failed) << line;
    EXPECT_FALSE(error.empty()) << line;
    return error;
  };
  bad("");
  bad("action");
  bad("action=ping  as=X");
  bad(" action=ping");
  bad("action=ping ");
  bad("Action=ping");
  bad("act-ion=ping");
  bad("action=a=b");
  bad("action=%zz");
  bad("action=ping action=ping");
  EXPECT_NE(bad(std::string(admin::kMaxLineBytes + 1, 'a')).find("longer"), std::string::npos);
  std::string many = "action=x";
  for (std::size_t i = 0; i < admin::kMaxFields; ++i) many += " k" + std::string(i + 1, 'a') + "=1";
  bad(many);
  // A trailing CR is tolerated; an empty value is allowed.
  const auto ok = admin::parse_line("action=ping as=\r", &error);
  ASSERT_TRUE(ok.has_value()) << error;
  EXPECT_EQ(*ok->find("as"), "");
}

// ------------------------------------------------------------------ translate

class AdminTranslate : public ::testing::Test {
 protected:
  std::shared_ptr<const rules::MarketRules> r = rules::load_default_rules();
  rules::PartyIndex exch = r->exchange_party();

  std::optional<admin::Request> tr(const std::string& line, std::string* error,
                                   rules::PartyIndex def = rules::kNone) {
    const auto f = admin::parse_line(line, error);
    if (!f) return std::nullopt;
    return admin::translate(*f, *r, def, error);
  }
};

TEST_F(AdminTranslate, Deposit) {
  std::string error;
  const auto req = tr("action=deposit as=HAIHE_EXCHANGE party=BJ_GOV fen=123456", &error);
  ASSERT_TRUE(req) << error;
  EXPECT_FALSE(req->ping);
  EXPECT_EQ(req->command.kind, exchange::CommandKind::deposit);
  EXPECT_EQ(req->command.party, exch);
  EXPECT_EQ(req->command.target, r->find_party("BJ_GOV"));
  EXPECT_EQ(req->command.qty, 123456);
  EXPECT_EQ(req->summary, "deposit 1,234.56 yuan to BJ_GOV");
}

TEST_F(AdminTranslate, EveryAction) {
  std::string error;
  auto ok = [&](const std::string& line) {
    auto req = tr(line, &error);
    EXPECT_TRUE(req) << line << ": " << error;
    return req ? *req : admin::Request{};
  };
  const auto so2 = r->find_instrument("SO2.TANGSHAN.2027");
  auto w = ok("action=withdraw as=REG_ECOLOGY party=BJ_GOV fen=5");
  EXPECT_EQ(w.command.kind, exchange::CommandKind::withdraw);
  EXPECT_EQ(w.command.party, r->find_party("REG_ECOLOGY"));
  auto i = ok("action=issue as=HAIHE_EXCHANGE party=TS_FENGRUN_STEEL instrument=SO2.TANGSHAN.2027 qty=10");
  EXPECT_EQ(i.command.kind, exchange::CommandKind::issue);
  EXPECT_EQ(i.command.instrument, so2);
  EXPECT_EQ(i.command.qty, 10);
  EXPECT_EQ(i.summary, "issue 10 t of SO2.TANGSHAN.2027 to TS_FENGRUN_STEEL");
  auto rt = ok("action=retire as=HAIHE_EXCHANGE party=TS_FENGRUN_STEEL instrument=SO2.TANGSHAN.2027 qty=3");
  EXPECT_EQ(rt.command.kind, exchange::CommandKind::retire);
  auto g = ok("action=grant as=JJJ_AIR_FUND fund=JJJ_AIR_FUND city=CHENGDE_GOV fen=100");
  EXPECT_EQ(g.command.kind, exchange::CommandKind::grant);
  EXPECT_EQ(g.command.party, r->find_party("JJJ_AIR_FUND"));
  EXPECT_EQ(g.command.target, r->find_party("JJJ_AIR_FUND"));
  EXPECT_EQ(g.command.counterparty, r->find_party("CHENGDE_GOV"));
  auto h = ok("action=halt as=HAIHE_EXCHANGE instrument=SO2.TANGSHAN.2027 cancel_orders=1");
  EXPECT_EQ(h.command.kind, exchange::CommandKind::halt);
  EXPECT_EQ(h.command.post_only, 1);
  auto h0 = ok("action=halt as=HAIHE_EXCHANGE instrument=SO2.TANGSHAN.2027");
  EXPECT_EQ(h0.command.post_only, 0);
  auto rs = ok("action=resume as=HAIHE_EXCHANGE instrument=SO2.TANGSHAN.2027");
  EXPECT_EQ(rs.command.kind, exchange::CommandKind::resume);
  auto ref = ok("action=set_reference as=HAIHE_EXCHANGE instrument=CO2.TJ.2027 price_fen=9700");
  EXPECT_EQ(ref.command.kind, exchange::CommandKind::set_reference);
  EXPECT_EQ(ref.command.price_fen, 9700);
  EXPECT_EQ(ref.summary, "set the reference price of CO2.TJ.2027 to 97.00 yuan");
  auto so = ok("action=session_open as=HAIHE_EXCHANGE");
  EXPECT_EQ(so.command.kind, exchange::CommandKind::session_open);
  EXPECT_EQ(so.command.instrument, rules::kNone);
  auto sc = ok("action=session_close as=HAIHE_EXCHANGE instrument=CO2.TJ.2027");
  EXPECT_EQ(sc.command.kind, exchange::CommandKind::session_close);
  EXPECT_EQ(sc.command.instrument, r->find_instrument("CO2.TJ.2027"));
  auto p = ok("action=ping");
  EXPECT_TRUE(p.ping);
}

TEST_F(AdminTranslate, DefaultParty) {
  std::string error;
  EXPECT_FALSE(tr("action=deposit party=BJ_GOV fen=1", &error));
  EXPECT_NE(error.find("as=PARTY is required"), std::string::npos);
  const auto req = tr("action=deposit party=BJ_GOV fen=1", &error, exch);
  ASSERT_TRUE(req) << error;
  EXPECT_EQ(req->command.party, exch);
}

TEST_F(AdminTranslate, Errors) {
  std::string error;
  auto fails = [&](const std::string& line, const std::string& needle) {
    error.clear();
    EXPECT_FALSE(tr(line, &error)) << line;
    EXPECT_NE(error.find(needle), std::string::npos) << line << " -> " << error;
  };
  fails("as=HAIHE_EXCHANGE action=ping", "first field");
  fails("action=explode as=HAIHE_EXCHANGE", "unknown action");
  fails("action=deposit as=NOBODY party=BJ_GOV fen=1", "unknown party 'NOBODY'");
  fails("action=deposit as=HAIHE_EXCHANGE party=NOBODY fen=1", "unknown party 'NOBODY' (party=)");
  fails("action=deposit as=HAIHE_EXCHANGE party=BJ_GOV", "needs fen=");
  fails("action=deposit as=HAIHE_EXCHANGE party=BJ_GOV fen=1.5", "fen= must be");
  fails("action=deposit as=HAIHE_EXCHANGE party=BJ_GOV fen=-1", "fen= must be");
  fails("action=deposit as=HAIHE_EXCHANGE party=BJ_GOV fen=1 qty=2", "takes no field 'qty'");
  fails("action=issue as=HAIHE_EXCHANGE party=BJ_GOV instrument=GOLD qty=1", "unknown instrument 'GOLD'");
  fails("action=halt as=HAIHE_EXCHANGE instrument=CO2.TJ.2027 cancel_orders=yes", "cancel_orders");
  fails("action=ping x=1", "ping takes no fields");
  fails("action=set_reference as=HAIHE_EXCHANGE instrument=CO2.TJ.2027 price_fen=10000000001", "price_fen=");
}

}  // namespace
