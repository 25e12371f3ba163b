// The FIX gateway against a real `haihe serve` process, with QuickFIX
// initiators as participants (gateway/README.md is the contract tested).
#include <gtest/gtest.h>

// GCC 12 reports a false -Wrestrict inside std::string's operator+ (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <map>
#include <memory>

#include "tests/gateway/fix_harness.h"

namespace haihe::gateway::test {
namespace {

const std::string kCo2 = "CO2.TJ.2027";
const std::string kMiyun = "WATER.MIYUN_CHAO.MUN.2027";

struct Account {
  std::string party, comp_id, password;
};
const std::vector<Account> kAccounts = {
    {"TJ_PANSHAN_POWER", "TJ_PANSHAN", "pw-panshan"}, {"TJ_BINHAI_STEEL", "TJ_BINHAI_STEEL", "pw-binhai"},
    {"BJ_WATERWORKS", "BJ_WATERWORKS", "pw-bjw"},     {"CHENGDE_GOV", "CHENGDE_GOV", "pw-chengde"},
    {"REG_ECOLOGY", "REG_ECOLOGY", "pw-reg"},         {"CD_FENGNING_IRRIGATION", "CD_FENGNING_IRR", "pw-feng"},
    {"TJ_GOV", "TJ_GOV", "pw-tjgov"},
};

std::vector<std::pair<std::string, std::string>> passwords() {
  std::vector<std::pair<std::string, std::string>> v;
  for (const auto& a : kAccounts) v.emplace_back(a.party, a.password);
  return v;
}
void set_passwords(const fs::path& data) { test::set_passwords(data, passwords()); }

class Gateway : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = temp_dir("suite");
    server_ = start_server(dir_ / "data", passwords());
    ASSERT_TRUE(server_);
  }
  static void TearDownTestSuite() {
    clients_.clear();
    EXPECT_EQ(stop_server(server_, dir_), "");
  }

  /// The party's client, logged on (one per party for the whole suite: its store keeps the sequence numbers).
  static Client& client(const std::string& party) {
    auto it = clients_.find(party);
    if (it == clients_.end()) {
      const Account* a = nullptr;
      for (const auto& acc : kAccounts) {
        if (acc.party == party) {
          a = &acc;
        }
      }
      EXPECT_NE(a, nullptr);
      auto c = std::make_unique<Client>(a->comp_id, a->party, a->password, server_->port(), dir_ / ("store-" + party),
                                        dir_ / "data" / "haihe-fix44.xml");
      c->start();
      EXPECT_TRUE(c->wait_logon()) << party << ": " << c->logout_text() << server_->output();
      it = clients_.emplace(party, std::move(c)).first;
    }
    return *it->second;
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<Server> server_;
  static inline std::map<std::string, std::unique_ptr<Client>> clients_;
};

TEST_F(Gateway, LogonRefusedWithText) {
  const auto dict = dir_ / "data" / "haihe-fix44.xml";
  {
    Client wrong("TJ_GOV", "TJ_GOV", "not-the-password", server_->port(), dir_ / "store-wrong", dict);
    wrong.start();
    ASSERT_TRUE(wrong.wait_for(of_type("5"), 10s));
    EXPECT_FALSE(wrong.logged_on());
    EXPECT_EQ(wrong.logout_text(), std::string("Rejected Logon Attempt: ") + "logon refused: wrong username or password");
    wrong.stop();
  }
  {
    Client other_user("TJ_GOV", "TJ_PANSHAN_POWER", "pw-panshan", server_->port(), dir_ / "store-wrong", dict);
    other_user.start();
    ASSERT_TRUE(other_user.wait_for(of_type("5"), 10s));
    EXPECT_EQ(other_user.logout_text(), std::string("Rejected Logon Attempt: ") + "logon refused: wrong username or password");
    other_user.stop();
  }
  {
    Client missing("TJ_GOV", "", "", server_->port(), dir_ / "store-wrong", dict);
    missing.start();
    ASSERT_TRUE(missing.wait_for(of_type("5"), 10s));
    EXPECT_EQ(missing.logout_text(), std::string("Rejected Logon Attempt: ") + "logon refused: Username (553) and Password (554) are required");
    missing.stop();
  }
  {
    Client nopw("BJ_GOV", "BJ_GOV", "anything", server_->port(), dir_ / "store-nopw", dict);
    nopw.start();
    ASSERT_TRUE(nopw.wait_for(of_type("5"), 10s));
    EXPECT_EQ(nopw.logout_text(), std::string("Rejected Logon Attempt: ") + "logon refused: no password set for this party (haihe passwd)");
    nopw.stop();
  }
  {
    // An unknown CompID has no session: the connection is closed, nothing is answered.
    RawConn raw(server_->port());
    ASSERT_TRUE(raw.connected());
    raw.send(raw_fix("35=A|49=NOBODY|56=HAIHE|34=1|52=20270315-01:30:00|98=0|108=30|553=NOBODY|554=x|"));
    const auto got = raw.read(2s);
    EXPECT_TRUE(got.empty());
    EXPECT_TRUE(raw.closed());
    EXPECT_TRUE(server_->output_has("refused: unknown CompID 'NOBODY'"));
  }
}

TEST_F(Gateway, OrderLifecycle) {
  auto& seller = client("TJ_PANSHAN_POWER");
  auto& buyer = client("TJ_BINHAI_STEEL");
  ASSERT_TRUE(seller.send(new_order("S1", kCo2, "2", "100", "96.00")));
  auto ack = seller.wait_for(er("S1", "0"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(get(*ack, 39), "0");
  EXPECT_EQ(get(*ack, 44), "96.00");
  EXPECT_EQ(get(*ack, 151), "100");
  EXPECT_EQ(get(*ack, 1), "TJ_PANSHAN_POWER");
  const std::string order_id = get(*ack, 37);

  ASSERT_TRUE(buyer.send(new_order("B1", kCo2, "1", "40", "96.00")));
  ASSERT_TRUE(buyer.wait_for(er("B1", "0")));
  auto fill = buyer.wait_for(er("B1", "F"));
  ASSERT_TRUE(fill);
  EXPECT_EQ(get(*fill, 39), "2");
  EXPECT_EQ(get(*fill, 32), "40");
  EXPECT_EQ(get(*fill, 31), "96.00");
  EXPECT_EQ(get(*fill, 6), "96.0000");
  EXPECT_EQ(get(*fill, 13), "3");
  EXPECT_EQ(get(*fill, 12), "1.92");  // 5 bps of 3840.00 yuan
  auto sfill = seller.wait_for(er("S1", "F"));
  ASSERT_TRUE(sfill);
  EXPECT_EQ(get(*sfill, 39), "1");
  EXPECT_EQ(get(*sfill, 151), "60");
  EXPECT_EQ(get(*sfill, 14), "40");
  EXPECT_EQ(get(*sfill, 880), get(*fill, 880));

  // Replace: new total 80 at 96.50.
  ASSERT_TRUE(seller.send(msg("G", {{41, "S1"}, {11, "S1b"}, {55, kCo2}, {54, "2"}, {60, kNow}, {38, "80"},
                                    {40, "2"}, {44, "96.50"}})));
  auto rep = seller.wait_for(er("S1b", "5"));
  ASSERT_TRUE(rep);
  EXPECT_EQ(get(*rep, 41), "S1");
  EXPECT_EQ(get(*rep, 39), "1");
  EXPECT_EQ(get(*rep, 151), "40");
  EXPECT_EQ(get(*rep, 37), order_id);

  // Status by the current ClOrdID.
  ASSERT_TRUE(seller.send(msg("H", {{11, "S1b"}, {790, "ST1"}, {55, kCo2}, {54, "2"}})));
  auto st = seller.wait_for(er("S1b", "I"));
  ASSERT_TRUE(st);
  EXPECT_EQ(get(*st, 39), "1");
  EXPECT_EQ(get(*st, 790), "ST1");
  EXPECT_EQ(get(*st, 14), "40");

  // Cancel: the report echoes the cancel's ClOrdID, OrigClOrdID = the order's.
  ASSERT_TRUE(seller.send(msg("F", {{41, "S1b"}, {11, "C1"}, {55, kCo2}, {54, "2"}, {60, kNow}})));
  auto cxl = seller.wait_for(er("C1", "4"));
  ASSERT_TRUE(cxl);
  EXPECT_EQ(get(*cxl, 41), "S1b");
  EXPECT_EQ(get(*cxl, 39), "4");
  EXPECT_EQ(get(*cxl, 151), "0");

  // Cancel again: unknown order.
  ASSERT_TRUE(seller.send(msg("F", {{41, "S1b"}, {11, "C2"}, {55, kCo2}, {54, "2"}, {60, kNow}})));
  auto rej = seller.wait_for(of_type("9"));
  ASSERT_TRUE(rej);
  EXPECT_EQ(get(*rej, 102), "1");
  EXPECT_EQ(get(*rej, 434), "1");
  EXPECT_EQ(get(*rej, 11), "C2");
  EXPECT_FALSE(get(*rej, 58).empty());

  // A market IOC against an empty side is cancelled (ioc remainder).
  ASSERT_TRUE(buyer.send(msg("D", {{11, "B2"}, {55, kCo2}, {54, "1"}, {60, kNow}, {38, "5"}, {40, "1"}})));
  auto ioc = buyer.wait_for(er("B2", "4"));
  ASSERT_TRUE(ioc);
  EXPECT_EQ(get(*ioc, 58), "cancel: ioc_remainder");
}

TEST_F(Gateway, RejectCodes) {
  auto& c = client("TJ_BINHAI_STEEL");
  const auto rejected = [&](const std::string& cl) {
    auto m = c.wait_for(er(cl, "8"));
    EXPECT_TRUE(m) << cl;
    return m ? std::make_pair(get(*m, 103), get(*m, 58)) : std::make_pair(std::string(), std::string());
  };
  ASSERT_TRUE(c.send(new_order("R1", "NO.SUCH", "1", "1", "96.00")));
  EXPECT_EQ(rejected("R1").first, "1");
  ASSERT_TRUE(c.send(new_order("R2", kCo2, "1", "1", "96.001")));
  EXPECT_EQ(rejected("R2").first, "18");
  ASSERT_TRUE(c.send(new_order("R3", kCo2, "1", "1", "200.00")));
  const auto band = rejected("R3");
  EXPECT_EQ(band.first, "16");
  EXPECT_EQ(band.second.rfind("engine: price", 0), 0u) << band.second;
  ASSERT_TRUE(c.send(new_order("R4", kCo2, "1", "1.5", "96.00")));
  EXPECT_EQ(rejected("R4").first, "13");
  ASSERT_TRUE(c.send(new_order("R5", kMiyun, "1", "1000", "0.93")));  // may not trade it
  const auto perm = rejected("R5");
  EXPECT_EQ(perm.first, "0");
  EXPECT_EQ(perm.second.rfind("core: not", 0), 0u) << perm.second;
  ASSERT_TRUE(c.send(new_order("R6", kCo2, "1", "1000000000", "96.00")));  // far beyond its cash
  const auto cash = rejected("R6");
  EXPECT_EQ(cash.first, "3");
  EXPECT_EQ(cash.second.rfind("ledger: insufficient", 0), 0u) << cash.second;
  // Duplicate ClOrdID (R1 was used today, even though it was rejected by the gateway? no: the
  // gateway refused R1 before the core; use an accepted one).
  ASSERT_TRUE(c.send(new_order("R7", kCo2, "1", "1", "90.00")));
  ASSERT_TRUE(c.wait_for(er("R7", "0")));
  ASSERT_TRUE(c.send(new_order("R7", kCo2, "1", "1", "90.00")));
  const auto dup = rejected("R7");
  EXPECT_EQ(dup.first, "6");
  EXPECT_EQ(dup.second.rfind("core: duplicate", 0), 0u) << dup.second;
  ASSERT_TRUE(c.send(new_order("R8", kCo2, "1", "1", "90.00", "6")));  // GTD without ExpireDate
  EXPECT_EQ(rejected("R8").first, "11");
  ASSERT_TRUE(c.send(msg("D", {{11, "R9"}, {1, "TJ_PANSHAN_POWER"}, {55, kCo2}, {54, "1"}, {60, kNow}, {38, "1"},
                               {40, "2"}, {44, "90.00"}})));
  EXPECT_EQ(rejected("R9").first, "15");
  // Mass cancel: R7 is the only open order.
  ASSERT_TRUE(c.send(msg("q", {{11, "MC1"}, {530, "7"}, {60, kNow}})));
  auto r = c.wait_for(of_type("r"));
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 11), "MC1");
  EXPECT_EQ(get(*r, 531), "7");
  EXPECT_EQ(get(*r, 533), "1");
  ASSERT_TRUE(c.wait_for(er("R7", "4")));
  ASSERT_TRUE(c.send(msg("q", {{11, "MC2"}, {530, "1"}, {55, "NO.SUCH"}, {60, kNow}})));
  r = c.wait_for(of_type("r"));
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 531), "0");
  EXPECT_EQ(get(*r, 532), "1");
}

TEST_F(Gateway, PartiesAreIsolated) {
  auto& a = client("TJ_PANSHAN_POWER");
  auto& b = client("TJ_BINHAI_STEEL");
  ASSERT_TRUE(a.send(new_order("ISO1", kCo2, "2", "10", "105.00")));
  ASSERT_TRUE(a.wait_for(er("ISO1", "0")));
  // b names a's order: unknown to it.
  ASSERT_TRUE(b.send(msg("F", {{41, "ISO1"}, {11, "ISOC"}, {55, kCo2}, {54, "2"}, {60, kNow}})));
  auto rej = b.wait_for(of_type("9"));
  ASSERT_TRUE(rej);
  EXPECT_EQ(get(*rej, 102), "1");
  ASSERT_TRUE(b.send(msg("H", {{11, "ISO1"}, {54, "2"}})));
  auto st = b.wait_for(er("ISO1", "I"));
  ASSERT_TRUE(st);
  EXPECT_EQ(get(*st, 39), "8");
  EXPECT_EQ(get(*st, 103), "5");
  // Nor does b ever see a's execution reports.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(b.count([](const FIX::Message& m) { return type_of(m) == "8" && get(m, 1) == "TJ_PANSHAN_POWER"; }), 0u);
  ASSERT_TRUE(a.send(msg("F", {{41, "ISO1"}, {11, "ISOC2"}, {55, kCo2}, {54, "2"}, {60, kNow}})));
  ASSERT_TRUE(a.wait_for(er("ISOC2", "4")));
}

TEST_F(Gateway, MarketDataSnapshotThenIncrementals) {
  auto& watcher = client("BJ_WATERWORKS");
  auto& trader = client("TJ_PANSHAN_POWER");
  auto& other = client("TJ_BINHAI_STEEL");
  ASSERT_TRUE(trader.send(new_order("MD1", kCo2, "2", "7", "99.00")));
  ASSERT_TRUE(trader.wait_for(er("MD1", "0")));
  FIX::Message v = msg("V", {{262, "MDR1"}, {263, "1"}, {264, "0"}, {265, "1"}});
  for (const char* t : {"0", "1", "2"}) {
    FIX::Group g(267, 269);
    g.setField(269, t);
    v.addGroup(g);
  }
  FIX::Group s(146, 55);
  s.setField(55, kCo2);
  v.addGroup(s);
  ASSERT_TRUE(watcher.send(v));
  auto w = watcher.wait_for(of_type("W"));
  ASSERT_TRUE(w);
  EXPECT_EQ(get(*w, 55), kCo2);
  bool saw_offer = false;
  const int n = std::stoi(get(*w, 268));
  for (int k = 1; k <= n; ++k) {
    FIX::Group g(268, 269);
    w->getGroup(static_cast<unsigned>(k), g);
    if (get(g, 269) == "1" && get(g, 270) == "99.00") saw_offer = get(g, 271) == "7";
  }
  EXPECT_TRUE(saw_offer);
  // A new level, then a trade against it.
  ASSERT_TRUE(trader.send(new_order("MD2", kCo2, "2", "3", "98.00")));
  auto x = watcher.wait_for(of_type("X"));
  ASSERT_TRUE(x);
  FIX::Group g(268, 279);
  x->getGroup(1, g);
  EXPECT_EQ(get(g, 279), "1");
  EXPECT_EQ(get(g, 269), "1");
  EXPECT_EQ(get(g, 270), "98.00");
  EXPECT_EQ(get(g, 271), "3");
  ASSERT_TRUE(other.send(new_order("MD3", kCo2, "1", "3", "98.00")));
  bool saw_trade = false, saw_delete = false;
  for (int tries = 0; tries < 4 && !(saw_trade && saw_delete); ++tries) {
    auto x2 = watcher.wait_for(of_type("X"), 5s);
    if (!x2) break;
    const int m = std::stoi(get(*x2, 268));
    for (int k = 1; k <= m; ++k) {
      FIX::Group e(268, 279);
      x2->getGroup(static_cast<unsigned>(k), e);
      if (get(e, 269) == "2" && get(e, 270) == "98.00" && get(e, 271) == "3") saw_trade = true;
      if (get(e, 279) == "2" && get(e, 270) == "98.00") saw_delete = true;
    }
  }
  EXPECT_TRUE(saw_trade);
  EXPECT_TRUE(saw_delete);
  // Unknown symbol, duplicate MDReqID, unsubscribe.
  FIX::Message bad = msg("V", {{262, "MDR2"}, {263, "1"}, {264, "0"}});
  FIX::Group t(267, 269);
  t.setField(269, "0");
  bad.addGroup(t);
  FIX::Group u(146, 55);
  u.setField(55, "NO.SUCH");
  bad.addGroup(u);
  ASSERT_TRUE(watcher.send(bad));
  auto y = watcher.wait_for(of_type("Y"));
  ASSERT_TRUE(y);
  EXPECT_EQ(get(*y, 281), "0");
  ASSERT_TRUE(watcher.send(v));
  y = watcher.wait_for(of_type("Y"));
  ASSERT_TRUE(y);
  EXPECT_EQ(get(*y, 281), "1");
  ASSERT_TRUE(watcher.send(msg("V", {{262, "MDR1"}, {263, "2"}, {264, "0"}})));
  ASSERT_TRUE(trader.send(msg("q", {{11, "MDMC"}, {530, "7"}, {60, kNow}})));
  ASSERT_TRUE(trader.wait_for(of_type("r")));
  std::this_thread::sleep_for(300ms);
  watcher.take_all();
}

TEST_F(Gateway, SecurityListAndPositions) {
  auto& c = client("TJ_PANSHAN_POWER");
  ASSERT_TRUE(c.send(msg("x", {{320, "SL1"}, {559, "4"}})));
  auto y = c.wait_for(of_type("y"));
  ASSERT_TRUE(y);
  EXPECT_EQ(get(*y, 560), "0");
  EXPECT_EQ(get(*y, 393), "13");
  bool found = false;
  for (int k = 1; k <= std::stoi(get(*y, 146)); ++k) {
    FIX::Group g(146, 55);
    y->getGroup(static_cast<unsigned>(k), g);
    if (get(g, 55) != kCo2) continue;
    found = true;
    EXPECT_EQ(get(g, 969), "0.01");
    EXPECT_EQ(get(g, 561), "1");
    EXPECT_EQ(get(g, 20001), "t");
    EXPECT_EQ(get(g, 20007), "2");  // open
    EXPECT_EQ(get(g, 20006), "95.96");
    EXPECT_EQ(get(g, 20011), "1000");
    EXPECT_EQ(get(g, 20002), "86.37");
    EXPECT_EQ(get(g, 20003), "105.55");
  }
  EXPECT_TRUE(found);

  ASSERT_TRUE(c.send(msg("AN", {{710, "POS1"}, {724, "0"}, {1, "TJ_PANSHAN_POWER"}, {581, "1"}, {715, "20270315"},
                                {60, kNow}})));
  bool co2 = false, cash = false;
  for (int k = 0; k < 2; ++k) {
    auto ap = c.wait_for(of_type("AP"));
    ASSERT_TRUE(ap);
    EXPECT_EQ(get(*ap, 710), "POS1");
    EXPECT_EQ(get(*ap, 727), "2");
    EXPECT_EQ(get(*ap, 1), "TJ_PANSHAN_POWER");
    if (get(*ap, 55) == kCo2) {
      co2 = true;
      FIX::Group g(702, 703);
      ap->getGroup(1, g);
      EXPECT_EQ(get(g, 703), "FREE");
      EXPECT_GT(std::stoll(get(g, 704)), 3'000'000);
    } else if (ap->isSetField(753)) {
      cash = true;
      FIX::Group g(753, 707);
      ap->getGroup(1, g);
      EXPECT_EQ(get(g, 707), "CASH");
      EXPECT_NE(get(g, 708).find('.'), std::string::npos);
    }
  }
  EXPECT_TRUE(co2);
  EXPECT_TRUE(cash);
}

// Sends an OrderMassStatusRequest (AF) and collects its ExecutionReports
// (matched by MassStatusReqID 584) up to the one with LastRptRequested 912=Y.
std::vector<FIX::Message> mass_status(Client& c, const std::string& req,
                                      std::vector<std::pair<int, std::string>> fields) {
  fields.insert(fields.begin(), {584, req});
  EXPECT_TRUE(c.send(msg("AF", fields)));
  std::vector<FIX::Message> out;
  for (std::size_t k = 0; k < 100; ++k) {
    auto m = c.wait_for([&](const FIX::Message& x) { return type_of(x) == "8" && get(x, 584) == req; });
    if (!m) {
      ADD_FAILURE() << req << ": no report with 912=Y after " << out.size();
      break;
    }
    out.push_back(*m);
    if (get(*m, 912) == "Y") break;
  }
  return out;
}

TEST_F(Gateway, OrderMassStatus) {
  auto& c = client("TJ_BINHAI_STEEL");  // may trade CO2.TJ.2027 and WATER.LUAN.IND.2027
  const std::string kLuan = "WATER.LUAN.IND.2027";
  // Start with no open order (the suite's other tests may have left some).
  ASSERT_TRUE(c.send(msg("q", {{11, "MS-CLR"}, {530, "7"}, {60, kNow}})));
  ASSERT_TRUE(c.wait_for([](const FIX::Message& m) { return type_of(m) == "r" && get(m, 11) == "MS-CLR"; }));
  c.take_all();

  // No open order: one report, 911=0, 912=Y, no ClOrdID.
  auto none = mass_status(c, "MS0", {{585, "7"}});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(get(none[0], 150), "I");
  EXPECT_EQ(get(none[0], 39), "8");
  EXPECT_EQ(get(none[0], 37), "NONE");
  EXPECT_EQ(get(none[0], 911), "0");
  EXPECT_EQ(get(none[0], 912), "Y");
  EXPECT_FALSE(none[0].isSetField(11));
  EXPECT_EQ(get(none[0], 58), "no open orders");

  // Three open orders on two instruments.
  ASSERT_TRUE(c.send(new_order("MS-B1", kCo2, "1", "10", "86.50")));
  auto ack1 = c.wait_for(er("MS-B1", "0"));
  ASSERT_TRUE(ack1);
  ASSERT_TRUE(c.send(new_order("MS-B2", kCo2, "1", "20", "86.60", "1")));
  ASSERT_TRUE(c.wait_for(er("MS-B2", "0")));
  ASSERT_TRUE(c.send(new_order("MS-B3", kLuan, "1", "1000", "0.90")));
  ASSERT_TRUE(c.wait_for(er("MS-B3", "0")));

  auto all = mass_status(c, "MS1", {{585, "7"}});
  ASSERT_EQ(all.size(), 3u);
  std::map<std::string, FIX::Message> by_cl;
  for (std::size_t k = 0; k < all.size(); ++k) {
    EXPECT_EQ(get(all[k], 150), "I");
    EXPECT_EQ(get(all[k], 911), "3");
    EXPECT_EQ(get(all[k], 912), k + 1 == all.size() ? "Y" : "N");
    EXPECT_EQ(get(all[k], 1), "TJ_BINHAI_STEEL");
    by_cl.emplace(get(all[k], 11), all[k]);
  }
  ASSERT_EQ(by_cl.size(), 3u);
  ASSERT_TRUE(by_cl.count("MS-B1") && by_cl.count("MS-B2") && by_cl.count("MS-B3"));
  const FIX::Message& b1 = by_cl.at("MS-B1");
  EXPECT_EQ(get(b1, 37), get(*ack1, 37));
  EXPECT_EQ(get(b1, 55), kCo2);
  EXPECT_EQ(get(b1, 54), "1");
  EXPECT_EQ(get(b1, 39), "0");
  EXPECT_EQ(get(b1, 38), "10");
  EXPECT_EQ(get(b1, 44), "86.50");
  EXPECT_EQ(get(b1, 151), "10");
  EXPECT_EQ(get(b1, 14), "0");
  EXPECT_EQ(get(b1, 6), "0.0000");
  EXPECT_EQ(get(b1, 59), "0");
  EXPECT_EQ(get(by_cl.at("MS-B2"), 59), "1");
  EXPECT_EQ(get(by_cl.at("MS-B3"), 55), kLuan);
  EXPECT_EQ(get(by_cl.at("MS-B3"), 44), "0.90");

  // MassStatusReqType 1: one instrument only.
  auto co2 = mass_status(c, "MS2", {{585, "1"}, {55, kCo2}});
  ASSERT_EQ(co2.size(), 2u);
  for (const auto& m : co2) {
    EXPECT_EQ(get(m, 55), kCo2);
    EXPECT_EQ(get(m, 911), "2");
  }
  EXPECT_EQ(get(co2[0], 11), "MS-B2");  // book priority: the better bid first
  EXPECT_EQ(get(co2[1], 11), "MS-B1");
  EXPECT_EQ(get(co2[1], 912), "Y");
  auto miyun = mass_status(c, "MS3", {{585, "1"}, {55, kMiyun}});
  ASSERT_EQ(miyun.size(), 1u);
  EXPECT_EQ(get(miyun[0], 911), "0");
  EXPECT_EQ(get(miyun[0], 55), kMiyun);

  // Refusals: BusinessMessageReject naming the request.
  const auto refused = [&](const std::string& req, std::vector<std::pair<int, std::string>> fields) {
    fields.insert(fields.begin(), {584, req});
    EXPECT_TRUE(c.send(msg("AF", fields)));
    auto j = c.wait_for([&](const FIX::Message& m) { return type_of(m) == "j" && get(m, 379) == req; });
    EXPECT_TRUE(j) << req;
    if (j) {
      EXPECT_EQ(get(*j, 372), "AF");
    }
    return j ? std::make_pair(get(*j, 380), get(*j, 58)) : std::make_pair(std::string(), std::string());
  };
  EXPECT_EQ(refused("MS4", {{585, "2"}}),
            std::make_pair(std::string("0"),
                           std::string("MassStatusReqType (585) must be 1 (one security) or 7 (all orders)")));
  EXPECT_EQ(refused("MS5", {{585, "1"}, {55, "NO.SUCH"}}).first, "2");
  EXPECT_EQ(refused("MS6", {{585, "1"}}).first, "5");
  EXPECT_EQ(refused("MS7", {{585, "7"}, {1, "TJ_PANSHAN_POWER"}}).first, "6");
  EXPECT_EQ(c.count([](const FIX::Message& m) { return type_of(m) == "8" && m.isSetField(584); }), 0u);

  ASSERT_TRUE(c.send(msg("q", {{11, "MS-CLR2"}, {530, "7"}, {60, kNow}})));
  auto r = c.wait_for([](const FIX::Message& m) { return type_of(m) == "r" && get(m, 11) == "MS-CLR2"; });
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 533), "3");
}

TEST_F(Gateway, DropCopySeesEveryTradeAndCannotTrade) {
  auto& reg = client("REG_ECOLOGY");
  auto& seller = client("CHENGDE_GOV");
  auto& buyer = client("BJ_WATERWORKS");
  ASSERT_TRUE(seller.send(new_order("DC1", kMiyun, "2", "2000", "0.93")));
  ASSERT_TRUE(seller.wait_for(er("DC1", "0")));
  ASSERT_TRUE(buyer.send(new_order("DC2", kMiyun, "1", "2000", "0.93")));
  ASSERT_TRUE(buyer.wait_for(er("DC2", "F")));
  auto ae = reg.wait_for([](const FIX::Message& m) { return type_of(m) == "AE" && get(m, 55) == kMiyun; });
  ASSERT_TRUE(ae);
  EXPECT_EQ(get(*ae, 32), "2000");
  EXPECT_EQ(get(*ae, 31), "0.93");
  EXPECT_EQ(get(*ae, 20022), "400.00");  // 0.20 yuan per m3 to Chengde
  EXPECT_EQ(get(*ae, 20025), "CHENGDE_GOV");
  EXPECT_EQ(get(*ae, 20024), "1900");  // 19/20 arrives in Beijing
  FIX::Group s1(552, 54), s2(552, 54);
  ae->getGroup(1, s1);
  ae->getGroup(2, s2);
  EXPECT_EQ(get(s1, 1), "BJ_WATERWORKS");
  EXPECT_EQ(get(s2, 1), "CHENGDE_GOV");
  ASSERT_TRUE(reg.send(new_order("REG1", kCo2, "1", "1", "96.00")));
  auto j = reg.wait_for(of_type("j"));
  ASSERT_TRUE(j);
  EXPECT_EQ(get(*j, 380), "6");
  EXPECT_EQ(get(*j, 372), "D");
}

TEST_F(Gateway, UnsupportedMessagesAndThrottle) {
  auto& c = client("CD_FENGNING_IRRIGATION");  // 10 messages per second
  ASSERT_TRUE(c.send(msg("AD", {{568, "TR1"}, {569, "0"}})));
  auto j = c.wait_for(of_type("j"));
  ASSERT_TRUE(j);
  EXPECT_EQ(get(*j, 380), "3");
  EXPECT_EQ(get(*j, 372), "AD");
  std::this_thread::sleep_for(1100ms);  // refill
  for (int k = 0; k < 40; ++k) ASSERT_TRUE(c.send(msg("H", {{11, "T" + std::to_string(k)}, {54, "1"}})));
  int answered = 0, throttled = 0;
  for (int k = 0; k < 40; ++k) {
    auto m = c.wait_for([](const FIX::Message& x) { return type_of(x) == "8" || type_of(x) == "j"; }, 5s);
    if (!m) break;
    if (type_of(*m) == "j") {
      EXPECT_EQ(get(*m, 58), "throttle exceeded");
      ++throttled;
    } else {
      EXPECT_EQ(get(*m, 150), "I");
      ++answered;
    }
  }
  EXPECT_EQ(answered + throttled, 40);
  EXPECT_GE(throttled, 25);
  EXPECT_LE(answered, 15);
}

TEST_F(Gateway, MalformedInputOverRawSocket) {
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.connected());
  const auto hdr = [](int seq) { return "49=TJ_GOV|56=HAIHE|34=" + std::to_string(seq) + "|52=20270315-01:30:00|"; };
  // Sequence numbers continue from any earlier TJ_GOV logon attempts: reset on this logon.
  raw.send(raw_fix("35=A|" + hdr(1) + "98=0|108=30|141=Y|553=TJ_GOV|554=pw-tjgov|"));
  auto got = raw.read(3s);
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got[0].find("35=A|"), std::string::npos) << got[0];
  // Garbage and a bad checksum are ignored.
  raw.send("this is not FIX\x01garbage=1\x01");
  std::string bad = raw_fix("35=1|" + hdr(2) + "112=BAD|");
  bad[bad.size() - 2] = bad[bad.size() - 2] == '0' ? '1' : '0';
  raw.send(bad);
  got = raw.read(800ms);
  for (const auto& m : got) EXPECT_EQ(m.find("112=BAD"), std::string::npos) << m;
  // Missing required tag (Side), wrong type (OrderQty), a Side no FIX version has: session Reject.
  raw.send(raw_fix("35=D|" + hdr(2) + "11=X1|55=CO2.TJ.2027|60=20270315-01:30:00|38=1|40=2|44=1|"));
  raw.send(raw_fix("35=D|" + hdr(3) + "11=X2|55=CO2.TJ.2027|54=1|60=20270315-01:30:00|38=abc|40=2|44=1|"));
  raw.send(raw_fix("35=D|" + hdr(4) + "11=X3|55=CO2.TJ.2027|54=Z|60=20270315-01:30:00|38=1|40=2|44=1|"));
  raw.send(raw_fix("35=D|" + hdr(5) + "11=X4|55=CO2.TJ.2027|54=1|60=20270315-01:30:00|38=1|40=2|44=1|9999=1|"));
  raw.send(raw_fix("35=1|" + hdr(6) + "112=ALIVE|"));
  got = raw.read(2s);
  std::map<std::string, std::string> rejects;  // RefSeqNum -> reason
  bool alive = false;
  for (const auto& m : got) {
    if (m.find("|35=3|") != std::string::npos) {
      const auto ref = m.substr(m.find("|45=") + 4, m.find('|', m.find("|45=") + 1) - m.find("|45=") - 4);
      const auto r = m.substr(m.find("|373=") + 5, m.find('|', m.find("|373=") + 1) - m.find("|373=") - 5);
      rejects[ref] = r;
    }
    if (m.find("|35=0|") != std::string::npos && m.find("112=ALIVE") != std::string::npos) alive = true;
    EXPECT_EQ(m.find("|35=8|"), std::string::npos) << "nothing may reach the core: " << m;
  }
  EXPECT_EQ(rejects["2"], "1");  // required tag missing
  EXPECT_EQ(rejects["3"], "6");  // incorrect data format
  EXPECT_EQ(rejects["4"], "5");  // value out of range
  EXPECT_TRUE(rejects["5"] == "0" || rejects["5"] == "2") << rejects["5"];  // undefined tag
  EXPECT_TRUE(alive);
  // Other sessions are unaffected.
  auto& other = client("TJ_BINHAI_STEEL");
  ASSERT_TRUE(other.send(new_order("MAL1", kCo2, "1", "1", "90.00")));
  ASSERT_TRUE(other.wait_for(er("MAL1", "0")));
  ASSERT_TRUE(other.send(msg("F", {{41, "MAL1"}, {11, "MAL1C"}, {55, kCo2}, {54, "1"}, {60, kNow}})));
  ASSERT_TRUE(other.wait_for(er("MAL1C", "4")));
}

// ---------------------------------------------------------------- restart

TEST(GatewayRestart, NoAcknowledgedOrderLostAndSequenceNumbersResume) {
  const auto dir = temp_dir("restart");
  set_passwords(dir / "data");
  const int port = free_port();
  auto server = std::make_unique<Server>(dir / "data", port);
  ASSERT_TRUE(server->start()) << server->output();
  std::this_thread::sleep_for(200ms);
  const auto dict = dir / "data" / "haihe-fix44.xml";
  auto seller = std::make_unique<Client>("TJ_PANSHAN", "TJ_PANSHAN_POWER", "pw-panshan", port, dir / "s1", dict);
  auto buyer = std::make_unique<Client>("TJ_BINHAI_STEEL", "TJ_BINHAI_STEEL", "pw-binhai", port, dir / "s2", dict);
  seller->start();
  buyer->start();
  ASSERT_TRUE(seller->wait_logon());
  ASSERT_TRUE(buyer->wait_logon());
  for (int k = 0; k < 20; ++k) ASSERT_TRUE(seller->send(new_order("RS" + std::to_string(k), kCo2, "2", "5", "100.00")));
  for (int k = 0; k < 20; ++k) ASSERT_TRUE(seller->wait_for(er("RS" + std::to_string(k), "0")));
  // The seller goes away; the buyer trades against its orders; then the server dies.
  seller->stop();
  ASSERT_TRUE(buyer->send(new_order("RB1", kCo2, "1", "12", "100.00")));
  ASSERT_TRUE(buyer->wait_for(er("RB1", "F")));
  const int buyer_seq_before = buyer->session()->getExpectedSenderNum();
  EXPECT_EQ(server->kill(SIGKILL), -1);
  ASSERT_TRUE(buyer->wait_logout());

  server = std::make_unique<Server>(dir / "data", port);
  ASSERT_TRUE(server->start()) << server->output();
  // The buyer's initiator reconnects by itself; sequence numbers continue.
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(buyer->wait_logon(15s)) << server->output();
  EXPECT_GE(buyer->session()->getExpectedSenderNum(), buyer_seq_before);
  EXPECT_EQ(buyer->logons(), 2);
  // The seller logs on again: it receives the fills made while it was away.
  seller.reset();  // QuickFIX keys sessions process-wide: the old one must go first
  seller = std::make_unique<Client>("TJ_PANSHAN", "TJ_PANSHAN_POWER", "pw-panshan", port, dir / "s1", dict);
  seller->start();
  ASSERT_TRUE(seller->wait_logon());
  int fills = 0;
  for (int k = 0; k < 3; ++k) fills += seller->wait_for(er("RS" + std::to_string(k), "F"), 5s) ? 1 : 0;
  EXPECT_EQ(fills, 3);  // 12 = 5 + 5 + 2
  // Every acknowledged order is still there after the crash.
  for (int k = 2; k < 20; ++k) ASSERT_TRUE(seller->send(msg("H", {{11, "RS" + std::to_string(k)}, {54, "2"}})));
  for (int k = 2; k < 20; ++k) {
    auto st = seller->wait_for(er("RS" + std::to_string(k), "I"));
    ASSERT_TRUE(st) << k;
    EXPECT_EQ(get(*st, 39), k == 2 ? "1" : "0") << k;
  }
  EXPECT_EQ(seller->count(of_type("3")), 0u);  // no session-level trouble
  seller->stop();
  buyer->stop();
  EXPECT_EQ(server->kill(SIGTERM), 0) << server->output();
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- TLS

TEST(GatewayTls, LogonAndTradeOverTls) {
  const auto dir = temp_dir("tls");
  set_passwords(dir / "data");
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout '" +
                          (dir / "key.pem").string() + "' -out '" + (dir / "cert.pem").string() +
                          "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const int port = free_port(), tls_port = free_port();
  Server server(dir / "data", port,
                {"--tls-cert", (dir / "cert.pem").string(), "--tls-key", (dir / "key.pem").string(), "--tls-port",
                 std::to_string(tls_port)});
  ASSERT_TRUE(server.start()) << server.output();
  EXPECT_TRUE(server.output_has("over TLS listening on port " + std::to_string(tls_port)));
  Client c("TJ_PANSHAN", "TJ_PANSHAN_POWER", "pw-panshan", tls_port, dir / "s", dir / "data" / "haihe-fix44.xml",
           true);
  c.start();
  ASSERT_TRUE(c.wait_logon()) << server.output();
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(c.send(new_order("TLS1", kCo2, "2", "1", "100.00")));
  ASSERT_TRUE(c.wait_for(er("TLS1", "0")));
  // A wrong password is refused over TLS too.
  Client w("TJ_BINHAI_STEEL", "TJ_BINHAI_STEEL", "nope", tls_port, dir / "w", dir / "data" / "haihe-fix44.xml", true);
  w.start();
  ASSERT_TRUE(w.wait_for(of_type("5"), 10s));
  EXPECT_EQ(w.logout_text(), std::string("Rejected Logon Attempt: ") + "logon refused: wrong username or password");
  w.stop();
  c.stop();
  EXPECT_EQ(server.kill(SIGTERM), 0) << server.output();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace haihe::gateway::test
