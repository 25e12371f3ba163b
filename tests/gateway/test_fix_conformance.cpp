// FIX 4.4 conformance of the gateway against a real `haihe serve` process:
// what a stock FIX 4.4 counterparty sends is never refused at the session
// level (35=3). Messages are built from the STANDARD FIX 4.4 dictionary
// (fix44-standard.xml, generated from QuickFIX's headers like the
// exchange's own), driven by the dictionary itself: every field the
// dictionary puts in the message type, each with a valid value of its type
// or enumeration, and validated by QuickFIX against that dictionary before
// it is sent. gateway/README.md is the contract: for each supported type,
// the required-fields-only message, the every-field message, and the
// every-field message without the fields the exchange does not offer get
// their documented answers; every other FIX 4.4 application message type
// gets BusinessMessageReject 380=3 and the session stays up, on order-entry
// and drop-copy sessions alike; a Logon and a TestRequest with every field
// are accepted.
#include <gtest/gtest.h>

// GCC 12 reports a false -Wrestrict inside std::string's operator+ (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "gateway/translate.h"
#include "tests/gateway/fix_harness.h"

namespace haihe::gateway::test {
namespace {

const std::string kCo2 = "CO2.TJ.2027";

// ---------------------------------------------------------------- the standard dictionary

std::string unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) {
      s.replace(at, std::strlen(from), to);
    }
  }
  return s;
}

std::string attribute(const std::string& line, const std::string& name) {
  const auto at = line.find(" " + name + "=\"");
  if (at == std::string::npos) return {};
  const auto from = at + name.size() + 3;
  return unescape(line.substr(from, line.find('"', from) - from));
}

/// QuickFIX's DataDictionary of the standard FIX 4.4 dictionary, plus what its
/// API does not list: the enumerated values of each field and the message types.
struct Standard {
  FIX::DataDictionary dd;
  std::map<int, std::vector<std::string>> values;  // tag -> enumeration, in dictionary order
  std::vector<std::string> app_types;              // msgcat="app"

  explicit Standard(const std::string& path) : dd(path) {
    std::ifstream in(path);
    std::string line;
    int field = 0;
    while (std::getline(in, line)) {
      if (line.find("<message ") != std::string::npos && attribute(line, "msgcat") == "app") {
        app_types.push_back(attribute(line, "msgtype"));
      }
      if (line.find("<field number=") != std::string::npos) field = std::stoi(attribute(line, "number"));
      if (line.find("<value ") != std::string::npos && field != 0) values[field].push_back(attribute(line, "enum"));
      if (line.find("</field>") != std::string::npos) field = 0;
    }
  }
};

const Standard& standard() {
  static const Standard s(HAIHE_FIX44_STANDARD_XML);
  return s;
}

constexpr int kMaxTag = 20100;

/// A valid value of `tag`: its first enumerated value, else one of its type.
std::string valid_value(int tag) {
  const FIX::DataDictionary& dd = standard().dd;  // a group's dictionary has no field types
  const auto& values = standard().values;
  if (const auto it = values.find(tag); it != values.end() && !it->second.empty()) return it->second.front();
  FIX::TYPE::Type t = FIX::TYPE::Unknown;
  dd.getFieldType(tag, t);
  switch (t) {
    case FIX::TYPE::Char: return "A";
    case FIX::TYPE::Price:
    case FIX::TYPE::Amt:
    case FIX::TYPE::Qty:
    case FIX::TYPE::Float:
    case FIX::TYPE::PriceOffset: return "1";
    case FIX::TYPE::Percentage: return "0.5";
    case FIX::TYPE::Int:
    case FIX::TYPE::SeqNum:
    case FIX::TYPE::NumInGroup: return "1";
    case FIX::TYPE::Length: return "3";  // every DATA field is "abc"
    case FIX::TYPE::Data: return "abc";
    case FIX::TYPE::UtcTimeStamp: return "20270315-01:30:00.000";
    case FIX::TYPE::UtcTimeOnly: return "01:30:00";
    case FIX::TYPE::UtcDate:
    case FIX::TYPE::LocalMktDate: return "20270315";
    case FIX::TYPE::MonthYear: return "202703";
    case FIX::TYPE::DayOfMonth: return "15";
    case FIX::TYPE::Boolean: return "N";
    case FIX::TYPE::Currency: return "CNY";
    case FIX::TYPE::Country: return "CN";
    case FIX::TYPE::Exchange: return "XSHG";
    default: return "ABC";
  }
}

enum class Fill { required, every };

/// Fills `map` (a message body or a group entry of message type `type`, its
/// fields known to `dd`) from the dictionary: the required fields or every
/// field, `values` overriding the generic value of a tag wherever it occurs,
/// `leave_out` never set. Repeating groups get one entry, filled the same way.
void fill(FIX::FieldMap& map, const FIX::DataDictionary& dd, const std::string& type, Fill how,
          const std::map<int, std::string>& values, const std::set<int>& leave_out, bool group = false) {
  for (int tag = 1; tag < kMaxTag; ++tag) {
    // A group's dictionary knows its fields as fields, and its nested groups under the message type.
    if (!(group ? dd.isField(tag) : dd.isMsgField(type, tag)) || leave_out.count(tag) != 0) continue;
    if (how == Fill::required && !dd.isRequiredField(type, tag)) continue;
    int delim = 0;
    const FIX::DataDictionary* group_dd = nullptr;
    if (dd.getGroup(type, tag, delim, group_dd)) {
      FIX::Group g(tag, delim, group_dd->getOrderedFields());
      fill(g, *group_dd, type, how, values, leave_out, true);
      if (!g.isSetField(delim)) g.setField(delim, valid_value(delim));  // every entry starts with it
      map.addGroup(tag, g);
      continue;
    }
    const auto v = values.find(tag);
    map.setField(tag, v != values.end() ? v->second : valid_value(tag));
  }
}

/// A message of `type` built from the standard dictionary, checked valid by it.
FIX::Message build(const std::string& type, Fill how, const std::map<int, std::string>& values = {},
                   const std::set<int>& leave_out = {}) {
  FIX::Message m;
  m.getHeader().setField(8, "FIX.4.4");
  m.getHeader().setField(35, type);
  fill(m, standard().dd, type, how, values, leave_out);
  try {
    FIX::DataDictionary::validate(m, nullptr, &standard().dd);
  } catch (const FIX::Exception& e) {
    ADD_FAILURE() << type << ": the message built is not valid FIX 4.4: " << e.what() << "\n" << m.toString();
  }
  return m;
}

std::set<int> unoffered_tags(const std::string& type) {
  std::set<int> tags;
  for (const auto& f : unoffered_fields(type)) tags.insert(f.tag);
  return tags;
}

std::size_t field_count(const FIX::FieldMap& m) { return m.totalFields(); }

// ---------------------------------------------------------------- the server

struct Party {
  std::string party, comp_id, password;
};
const Party kTrader{"TJ_BINHAI_STEEL", "TJ_BINHAI_STEEL", "pw-binhai"};  // 50 messages/s
const Party kRegulator{"REG_HAIHE_COMMISSION", "REG_HAIHE", "pw-reg"};   // 20 messages/s
const Party kRaw{"TJ_GOV", "TJ_GOV", "pw-tjgov"};

class Conformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = temp_dir("conformance");
    std::vector<std::pair<std::string, std::string>> accounts;
    for (const auto& p : {kTrader, kRegulator, kRaw}) accounts.emplace_back(p.party, p.password);
    server_ = start_server(dir_ / "data", accounts);
    ASSERT_TRUE(server_);
  }
  static void TearDownTestSuite() {
    clients_.clear();
    EXPECT_EQ(stop_server(server_, dir_), "");
  }

  static Client& client(const Party& p) {
    auto it = clients_.find(p.party);
    if (it == clients_.end()) {
      // Receives with the exchange's dictionary: what is under test is what it sends.
      auto c = std::make_unique<Client>(p.comp_id, p.party, p.password, server_->port(), dir_ / ("store-" + p.party),
                                        dir_ / "data" / "haihe-fix44.xml");
      c->start();
      EXPECT_TRUE(c->wait_logon()) << p.party << ": " << c->logout_text() << server_->output();
      it = clients_.emplace(p.party, std::move(c)).first;
    }
    return *it->second;
  }

  /// The answer to a request: the first message of one of `types` whose `tag` is `id`.
  static std::optional<FIX::Message> answer(Client& c, const std::set<std::string>& types, int tag,
                                            const std::string& id) {
    return c.wait_for([&](const FIX::Message& m) { return types.count(type_of(m)) != 0 && get(m, tag) == id; });
  }

  static void expect_no_session_reject(Client& c) {
    if (const auto m = c.wait_for(of_type("3"), 300ms)) ADD_FAILURE() << "session-level Reject: " << m->toString();
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<Server> server_;
  static inline std::map<std::string, std::unique_ptr<Client>> clients_;
};

// The fields the exchange reads, with values it accepts (gateway/README.md).
std::map<int, std::string> order_values(const std::string& cl, const std::string& orig, const std::string& order_id,
                                        const std::string& price) {
  std::map<int, std::string> v = {{11, cl},  {1, kTrader.party}, {55, kCo2}, {54, "1"}, {38, "5"},
                                  {40, "2"}, {44, price},         {59, "0"},  {18, "6"}, {60, kNow}};
  if (!orig.empty()) v[41] = orig;
  if (!order_id.empty()) v[37] = order_id;
  return v;
}

TEST_F(Conformance, OrderEntryWithEveryStandardField) {
  auto& c = client(kTrader);
  // D, required fields only: FIX 4.4 does not require Symbol; the exchange does.
  ASSERT_TRUE(c.send(build("D", Fill::required, order_values("CF-D0", "", "", "90.00"))));
  auto r = answer(c, {"8"}, 11, "CF-D0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "8");
  EXPECT_EQ(get(*r, 103), "1");
  EXPECT_EQ(get(*r, 58), "Symbol (55) missing");

  // D, every field: refused with the first field the exchange does not offer.
  const FIX::Message every = build("D", Fill::every, order_values("CF-D1", "", "", "90.00"));
  EXPECT_GT(field_count(every), 100u);
  ASSERT_TRUE(c.send(every));
  r = answer(c, {"8"}, 11, "CF-D1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "8");
  EXPECT_EQ(get(*r, 103), "11");
  EXPECT_EQ(get(*r, 58), unoffered_fields("D").front().text);

  // D, every field but those: every other standard field is ignored, the order rests.
  ASSERT_TRUE(c.send(build("D", Fill::every, order_values("CF-D2", "", "", "90.00"), unoffered_tags("D"))));
  r = answer(c, {"8"}, 11, "CF-D2");
  ASSERT_TRUE(r);
  ASSERT_EQ(get(*r, 150), "0") << get(*r, 58);
  const std::string order_id = get(*r, 37);

  // H: required fields only (ClOrdID, Side), then every field.
  ASSERT_TRUE(c.send(build("H", Fill::required, {{11, "CF-D2"}, {54, "1"}})));
  r = answer(c, {"8"}, 11, "CF-D2");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "I");
  EXPECT_EQ(get(*r, 39), "0");
  ASSERT_TRUE(c.send(build("H", Fill::every, {{11, "CF-D2"}, {37, order_id}, {790, "CF-H1"}, {1, kTrader.party},
                                              {55, kCo2}, {54, "1"}})));
  r = answer(c, {"8"}, 790, "CF-H1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "I");
  EXPECT_EQ(get(*r, 37), order_id);

  // G: required only (no Symbol: a cancel reject), every field (refused), every offered field (replaced).
  ASSERT_TRUE(c.send(build("G", Fill::required, order_values("CF-G0", "CF-D2", "", "90.50"))));
  r = answer(c, {"9"}, 11, "CF-G0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 434), "2");
  EXPECT_EQ(get(*r, 102), "1");
  ASSERT_TRUE(c.send(build("G", Fill::every, order_values("CF-G1", "CF-D2", order_id, "90.50"))));
  r = answer(c, {"9"}, 11, "CF-G1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 102), "2");
  EXPECT_EQ(get(*r, 58), unoffered_fields("G").front().text);
  ASSERT_TRUE(
      c.send(build("G", Fill::every, order_values("CF-G2", "CF-D2", order_id, "90.50"), unoffered_tags("G"))));
  r = answer(c, {"8"}, 11, "CF-G2");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "5") << get(*r, 58);
  EXPECT_EQ(get(*r, 44), "90.50");

  // AF: required only (585=7), every field.
  ASSERT_TRUE(c.send(build("AF", Fill::required, {{584, "CF-AF0"}, {585, "7"}})));
  r = answer(c, {"8"}, 584, "CF-AF0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "I");
  ASSERT_TRUE(c.send(build("AF", Fill::every, {{584, "CF-AF1"}, {585, "7"}, {1, kTrader.party}, {55, kCo2}})));
  r = answer(c, {"8"}, 584, "CF-AF1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "I");

  // F: required only (no Symbol: a cancel reject), then every field: cancelled.
  ASSERT_TRUE(c.send(build("F", Fill::required, order_values("CF-F0", "CF-G2", "", ""))));
  r = answer(c, {"9"}, 11, "CF-F0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 434), "1");
  ASSERT_TRUE(c.send(build("F", Fill::every, order_values("CF-F1", "CF-G2", order_id, ""))));
  r = answer(c, {"8"}, 11, "CF-F1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 150), "4") << get(*r, 58);

  // q: required only (530=7), every field (Side: refused), every offered field.
  ASSERT_TRUE(c.send(build("q", Fill::required, {{11, "CF-Q0"}, {530, "7"}, {60, kNow}})));
  r = answer(c, {"r"}, 11, "CF-Q0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 531), "7");
  const std::map<int, std::string> q_values = {{11, "CF-Q1"}, {530, "1"}, {55, kCo2}, {54, "1"}, {60, kNow}};
  ASSERT_TRUE(c.send(build("q", Fill::every, q_values)));
  r = answer(c, {"r"}, 11, "CF-Q1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 531), "0");
  EXPECT_EQ(get(*r, 532), "99");
  EXPECT_EQ(get(*r, 58), unoffered_fields("q").front().text);
  auto q2 = q_values;
  q2[11] = "CF-Q2";
  ASSERT_TRUE(c.send(build("q", Fill::every, q2, unoffered_tags("q"))));
  r = answer(c, {"r"}, 11, "CF-Q2");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 531), "1") << get(*r, 58);

  expect_no_session_reject(c);
}

TEST_F(Conformance, PositionsMarketDataAndSecurityListWithEveryStandardField) {
  auto& c = client(kTrader);
  const std::map<int, std::string> an = {{710, "CF-AN0"}, {724, "0"}, {1, kTrader.party}, {60, kNow}};
  ASSERT_TRUE(c.send(build("AN", Fill::required, an)));
  auto r = answer(c, {"AP"}, 710, "CF-AN0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 728), "0");
  auto an1 = an;
  an1[710] = "CF-AN1";
  an1[263] = "1";  // a subscription: not offered
  ASSERT_TRUE(c.send(build("AN", Fill::every, an1)));
  r = answer(c, {"j"}, 379, "CF-AN1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 380), "0");
  EXPECT_EQ(get(*r, 58), unoffered_fields("AN").front().text);
  an1[710] = "CF-AN2";
  an1.erase(263);
  ASSERT_TRUE(c.send(build("AN", Fill::every, an1, unoffered_tags("AN"))));
  r = answer(c, {"AP"}, 710, "CF-AN2");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 728), "0");

  // V: required only (no symbol: a MarketDataRequestReject), every field: a snapshot.
  ASSERT_TRUE(c.send(build("V", Fill::required, {{262, "CF-V0"}, {263, "0"}, {264, "0"}})));
  r = answer(c, {"Y"}, 262, "CF-V0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 281), "0");
  const std::map<int, std::string> v = {{262, "CF-V1"}, {263, "0"}, {264, "0"}, {265, "1"},
                                        {266, "Y"},     {269, "0"}, {55, kCo2}};
  ASSERT_TRUE(c.send(build("V", Fill::every, v)));
  r = answer(c, {"W"}, 262, "CF-V1");
  ASSERT_TRUE(r) << "no snapshot";
  EXPECT_EQ(get(*r, 55), kCo2);

  // x: required only (559=4), every field.
  ASSERT_TRUE(c.send(build("x", Fill::required, {{320, "CF-X0"}, {559, "4"}})));
  r = answer(c, {"y"}, 320, "CF-X0");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 560), "0");
  ASSERT_TRUE(c.send(build("x", Fill::every, {{320, "CF-X1"}, {559, "0"}, {55, kCo2}, {263, "0"}})));
  r = answer(c, {"y"}, 320, "CF-X1");
  ASSERT_TRUE(r);
  EXPECT_EQ(get(*r, 393), "1");
  expect_no_session_reject(c);
}

/// Sends every FIX 4.4 application message type the exchange does not
/// support (required fields only), `per_s` at most per second, and expects a
/// BusinessMessageReject 380=3 naming each.
void unsupported_types_refused(Client& c, int per_s) {
  const std::set<std::string> supported = {"D", "F", "G", "H", "q", "AF", "AN", "V", "x", "j"};
  std::vector<std::string> sent;
  for (const auto& type : standard().app_types) {
    if (supported.count(type) != 0) continue;
    ASSERT_TRUE(c.send(build(type, Fill::required))) << type;
    sent.push_back(type);
    if (static_cast<int>(sent.size()) % per_s == 0) std::this_thread::sleep_for(1100ms);
  }
  EXPECT_GE(sent.size(), 75u);  // FIX 4.4 has 86 application message types
  for (const auto& type : sent) {
    auto j = c.wait_for([&](const FIX::Message& m) { return type_of(m) == "j" && get(m, 372) == type; }, 5s);
    ASSERT_TRUE(j) << "no BusinessMessageReject for " << type;
    EXPECT_EQ(get(*j, 380), "3") << type << ": " << get(*j, 58);
  }
  EXPECT_EQ(c.count(of_type("3")), 0u);
  EXPECT_TRUE(c.logged_on());
}

TEST_F(Conformance, EveryUnsupportedApplicationMessageGetsBusinessRejectAndTheSessionStaysUp) {
  auto& c = client(kTrader);
  std::this_thread::sleep_for(1100ms);  // a full throttle bucket
  unsupported_types_refused(c, 40);
  // A BusinessMessageReject from the party is noted, not answered.
  ASSERT_TRUE(c.send(build("j", Fill::required, {{372, "8"}, {380, "3"}})));
  EXPECT_FALSE(c.wait_for(of_type("j"), 500ms));
  // The session still trades.
  ASSERT_TRUE(c.send(new_order("CF-ALIVE", kCo2, "1", "1", "89.00")));
  ASSERT_TRUE(c.wait_for(er("CF-ALIVE", "0")));
  ASSERT_TRUE(c.send(msg("F", {{41, "CF-ALIVE"}, {11, "CF-ALIVE-X"}, {55, kCo2}, {54, "1"}, {60, kNow}})));
  ASSERT_TRUE(c.wait_for(er("CF-ALIVE-X", "4")));
  expect_no_session_reject(c);
}

TEST_F(Conformance, DropCopySessionTheSame) {
  auto& reg = client(kRegulator);
  std::this_thread::sleep_for(1100ms);
  unsupported_types_refused(reg, 15);
  std::this_thread::sleep_for(1100ms);
  // Market data and reference data with every standard field; order entry refused.
  ASSERT_TRUE(reg.send(build("V", Fill::every,
                             {{262, "CF-RV"}, {263, "0"}, {264, "0"}, {265, "1"}, {266, "Y"}, {269, "1"}, {55, kCo2}})));
  ASSERT_TRUE(answer(reg, {"W"}, 262, "CF-RV"));
  ASSERT_TRUE(reg.send(build("x", Fill::every, {{320, "CF-RX"}, {559, "4"}, {263, "0"}})));
  ASSERT_TRUE(answer(reg, {"y"}, 320, "CF-RX"));
  ASSERT_TRUE(reg.send(build("D", Fill::every, order_values("CF-RD", "", "", "90.00"), unoffered_tags("D"))));
  auto j = answer(reg, {"j"}, 379, "CF-RD");
  ASSERT_TRUE(j);
  EXPECT_EQ(get(*j, 380), "6");
  expect_no_session_reject(reg);
}

TEST_F(Conformance, LogonAndTestRequestWithEveryStandardField) {
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.connected());
  int seq = 1;
  const auto send = [&](FIX::Message m) {
    auto& h = m.getHeader();
    h.setField(8, "FIX.4.4");
    h.setField(49, kRaw.comp_id);
    h.setField(56, "HAIHE");
    h.setField(34, std::to_string(seq++));
    h.setField(52, "20270315-01:30:00.000");
    raw.send(m.toString());
  };
  // Every Logon field; the exchange reads Username and Password, QuickFIX the session ones.
  send(build("A", Fill::every,
             {{98, "0"}, {108, "30"}, {141, "Y"}, {789, "1"}, {383, "65536"}, {464, "N"}, {553, kRaw.party},
              {554, kRaw.password}}));
  auto got = raw.read(3s);
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got[0].find("|35=A|"), std::string::npos) << got[0];
  send(build("1", Fill::every, {{112, "CF-TR"}}));
  got = raw.read(2s);
  bool heartbeat = false;
  for (const auto& m : got) {
    EXPECT_EQ(m.find("|35=3|"), std::string::npos) << m;
    EXPECT_EQ(m.find("|35=5|"), std::string::npos) << m;
    if (m.find("|35=0|") != std::string::npos && m.find("|112=CF-TR|") != std::string::npos) heartbeat = true;
  }
  EXPECT_TRUE(heartbeat);
}

}  // namespace
}  // namespace haihe::gateway::test
