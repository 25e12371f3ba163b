// The admin socket server against an in-process core (default market): the
// socket's file and directory checks, every action's happy path and its
// rejections, the bounds. The same actions through `haihe admin` against a
// real `haihe serve` are in test_admin_e2e.cpp.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "exchange/core.h"
#include "gateway/admin.h"
#include "rules/rules.h"

namespace {

using namespace haihe;
namespace admin = haihe::gateway::admin;
namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "haihe-admin-XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A blocking connection to the socket: one line out, one line back.
class Conn {
 public:
  explicit Conn(const fs::path& p) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, p.c_str(), sizeof(a.sun_path) - 1);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    timeval tv{15, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Conn() { ::close(fd_); }
  bool ok() const { return ok_; }
  void send_raw(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  // "" when the server closed the connection (or timed out).
  std::string read_line() {
    for (;;) {
      const auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      char tmp[512];
      const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) return {};
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  admin::Fields ask(const std::string& line) {
    send_raw(line + "\n");
    const std::string reply = read_line();
    std::string error;
    auto f = admin::parse_line(reply, &error);
    EXPECT_TRUE(f.has_value()) << "reply '" << reply << "': " << error;
    return f.value_or(admin::Fields{});
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

std::string get(const admin::Fields& f, const char* key) {
  const std::string* v = f.find(key);
  return v != nullptr ? *v : std::string("<none>");
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data = dir.path / "data";
    fs::create_directory(data);
    fs::permissions(data, fs::perms::owner_all);
    exchange::CoreOptions o;
    o.data_dir = data;
    o.rules = rules::load_default_rules();
    o.rules_text = std::string(rules::default_rules_text());
    o.durability = ledger::Durability::none;
    o.run_schedule = false;
    core = exchange::Core::open(o);
    r = &core->rules();
    core->start();
    server = std::make_unique<gateway::AdminServer>(*core, data / "admin.sock", r->exchange_party());
    server->start();
  }
  void TearDown() override {
    server->stop();
    core->stop();
  }
  // Reads after stopping (Core::ledger() is for the owner, after stop()).
  void stop_all() {
    server->stop();
    core->stop();
  }
  rules::PartyIndex party(const char* id) const { return r->find_party(id); }

  TempDir dir;
  fs::path data;
  std::unique_ptr<exchange::Core> core;
  const rules::MarketRules* r = nullptr;
  std::unique_ptr<gateway::AdminServer> server;
};

TEST_F(AdminServerTest, SocketIsOwnerOnly) {
  struct stat st {};
  ASSERT_EQ(::lstat((data / "admin.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  // No temporary directory is left behind.
  for (const auto& e : fs::directory_iterator(data)) EXPECT_NE(e.path().filename().string().rfind(".adm", 0), 0u);
  Conn c(data / "admin.sock");
  ASSERT_TRUE(c.ok());
  const auto f = c.ask("action=ping");
  EXPECT_EQ(get(f, "status"), "done");
  EXPECT_EQ(get(f, "message"), "pong");
}

TEST_F(AdminServerTest, DepositWithdrawAndInsufficientFunds) {
  const auto bj = party("BJ_GOV");
  Conn c(data / "admin.sock");
  auto f = c.ask("action=deposit as=HAIHE_EXCHANGE party=BJ_GOV fen=150000");
  EXPECT_EQ(get(f, "status"), "done");
  EXPECT_EQ(get(f, "as"), "HAIHE_EXCHANGE");
  EXPECT_EQ(get(f, "message"), "deposit 1,500.00 yuan to BJ_GOV");
  EXPECT_NE(get(f, "seq"), "0");
  // Default party (the server's operator) acts without as=.
  f = c.ask("action=withdraw party=BJ_GOV fen=50000");
  EXPECT_EQ(get(f, "status"), "done");
  EXPECT_EQ(get(f, "as"), "HAIHE_EXCHANGE");
  // A regulator may, too.
  f = c.ask("action=withdraw as=REG_ECOLOGY party=BJ_GOV fen=1");
  EXPECT_EQ(get(f, "status"), "done");
  // More than the party has.
  f = c.ask("action=withdraw as=HAIHE_EXCHANGE party=NGO_CLEAR_RIVERS fen=999999999999");
  EXPECT_EQ(get(f, "status"), "rejected");
  EXPECT_EQ(get(f, "reason"), "ledger: insufficient cash");
  // Zero is refused by the core (journaled), not by the server.
  f = c.ask("action=deposit as=HAIHE_EXCHANGE party=BJ_GOV fen=0");
  EXPECT_EQ(get(f, "status"), "rejected");
  EXPECT_EQ(get(f, "reason"), "core: invalid_amount");
  stop_all();
  EXPECT_EQ(core->ledger().cash(bj).free_fen, 5000000000 + 150000 - 50000 - 1);
}

TEST_F(AdminServerTest, NotPermittedAndUnknown) {
  Conn c(data / "admin.sock");
  auto f = c.ask("action=deposit as=BJ_WATERWORKS party=BJ_WATERWORKS fen=100");
  EXPECT_EQ(get(f, "status"), "rejected");
  EXPECT_EQ(get(f, "reason"), "core: not_permitted");
  EXPECT_EQ(get(f, "as"), "BJ_WATERWORKS");
  f = c.ask("action=halt as=JJJ_AIR_FUND instrument=CO2.TJ.2027");
  EXPECT_EQ(get(f, "reason"), "core: not_permitted");
  // A fund may grant its own money, not another fund's.
  f = c.ask("action=grant as=JJJ_AIR_FUND fund=JJJ_WATER_FUND city=CHENGDE_GOV fen=100");
  EXPECT_EQ(get(f, "status"), "rejected");
  EXPECT_EQ(get(f, "reason"), "core: not_permitted");
  f = c.ask("action=deposit as=NOBODY party=BJ_GOV fen=100");
  EXPECT_EQ(get(f, "status"), "error");
  EXPECT_NE(get(f, "reason").find("unknown party 'NOBODY'"), std::string::npos);
  f = c.ask("action=deposit as=HAIHE_EXCHANGE party=GHOST fen=100");
  EXPECT_EQ(get(f, "status"), "error");
  f = c.ask("action=issue as=HAIHE_EXCHANGE party=BJ_GOV instrument=GOLD qty=1");
  EXPECT_EQ(get(f, "status"), "error");
  f = c.ask("garbage");
  EXPECT_EQ(get(f, "status"), "error");
  // The connection survives bad requests.
  f = c.ask("action=ping");
  EXPECT_EQ(get(f, "status"), "done");
}

TEST_F(AdminServerTest, IssueRetireGrant) {
  const auto fengrun = party("TS_FENGRUN_STEEL");
  const auto so2 = r->find_instrument("SO2.TANGSHAN.2027");
  const auto chengde = party("CHENGDE_GOV");
  const auto fund = party("JJJ_AIR_FUND");
  Conn c(data / "admin.sock");
  auto f = c.ask("action=issue as=HAIHE_EXCHANGE party=TS_FENGRUN_STEEL instrument=SO2.TANGSHAN.2027 qty=100");
  EXPECT_EQ(get(f, "status"), "done") << get(f, "reason");
  f = c.ask("action=retire as=REG_ECOLOGY party=TS_FENGRUN_STEEL instrument=SO2.TANGSHAN.2027 qty=40");
  EXPECT_EQ(get(f, "status"), "done") << get(f, "reason");
  // Beyond the party's limit (4,000 t; 3,060 held now).
  f = c.ask("action=issue as=HAIHE_EXCHANGE party=TS_FENGRUN_STEEL instrument=SO2.TANGSHAN.2027 qty=1000");
  EXPECT_EQ(get(f, "status"), "rejected");
  EXPECT_EQ(get(f, "reason"), "ledger: party holding limit");
  // Within it, beyond the region's cap (5,000 t in Tangshan; 4,660 held now).
  f = c.ask("action=issue as=HAIHE_EXCHANGE party=TS_FENGRUN_STEEL instrument=SO2.TANGSHAN.2027 qty=400");
  EXPECT_EQ(get(f, "status"), "rejected");
  EXPECT_EQ(get(f, "reason"), "ledger: region cap");
  // More than held.
  f = c.ask("action=retire as=HAIHE_EXCHANGE party=TS_FENGRUN_STEEL instrument=SO2.TANGSHAN.2027 qty=999999");
  EXPECT_EQ(get(f, "reason"), "ledger: insufficient holdings");
  // Grants: by the fund itself and by the exchange for the fund.
  f = c.ask("action=grant as=JJJ_AIR_FUND fund=JJJ_AIR_FUND city=CHENGDE_GOV fen=1000000");
  EXPECT_EQ(get(f, "status"), "done") << get(f, "reason");
  f = c.ask("action=grant as=HAIHE_EXCHANGE fund=JJJ_AIR_FUND city=CHENGDE_GOV fen=1");
  EXPECT_EQ(get(f, "status"), "done") << get(f, "reason");
  // To someone who is not a city government.
  f = c.ask("action=grant as=JJJ_AIR_FUND fund=JJJ_AIR_FUND city=BJ_WATERWORKS fen=1");
  EXPECT_EQ(get(f, "status"), "rejected");
  // More than the fund has.
  f = c.ask("action=grant as=JJJ_AIR_FUND fund=JJJ_AIR_FUND city=CHENGDE_GOV fen=100000000000000");
  EXPECT_EQ(get(f, "reason"), "ledger: insufficient cash");
  stop_all();
  EXPECT_EQ(core->ledger().holding(fengrun, so2).free_qty, 3000 + 100 - 40);
  EXPECT_EQ(core->ledger().cash(chengde).free_fen, 100000000 + 1000000 + 1);
  EXPECT_EQ(core->ledger().cash(fund).free_fen, 10000000000 - 1000000 - 1);
}

TEST_F(AdminServerTest, HaltResumeReferenceSessions) {
  const auto co2 = r->find_instrument("CO2.TJ.2027");
  Conn c(data / "admin.sock");
  auto f = c.ask("action=session_open as=HAIHE_EXCHANGE");
  EXPECT_EQ(get(f, "status"), "done");
  EXPECT_EQ(get(f, "message"), "open every instrument now");
  f = c.ask("action=resume as=HAIHE_EXCHANGE instrument=CO2.TJ.2027");
  EXPECT_EQ(get(f, "reason"), "core: invalid_state");  // not halted
  f = c.ask("action=halt as=REG_ECOLOGY instrument=CO2.TJ.2027 cancel_orders=1");
  EXPECT_EQ(get(f, "status"), "done");
  f = c.ask("action=resume as=HAIHE_EXCHANGE instrument=CO2.TJ.2027");
  EXPECT_EQ(get(f, "status"), "done");
  f = c.ask("action=set_reference as=HAIHE_EXCHANGE instrument=CO2.TJ.2027 price_fen=9700");
  EXPECT_EQ(get(f, "status"), "done");
  f = c.ask("action=set_reference as=HAIHE_EXCHANGE instrument=CO2.TJ.2027 price_fen=0");
  EXPECT_EQ(get(f, "status"), "rejected");
  f = c.ask("action=session_close as=HAIHE_EXCHANGE instrument=CO2.TJ.2027");
  EXPECT_EQ(get(f, "status"), "done");
  stop_all();
  EXPECT_EQ(core->reference_fen(co2), 9700);
  EXPECT_EQ(core->state(co2), exchange::TradingState::closed);
  EXPECT_EQ(core->state(r->find_instrument("NOX.BJ.2027")), exchange::TradingState::open);
}

TEST_F(AdminServerTest, LongLineClosesTheConnection) {
  Conn c(data / "admin.sock");
  c.send_raw(std::string(admin::kMaxLineBytes + 10, 'a') + "\n");
  const std::string reply = c.read_line();
  EXPECT_NE(reply.find("status=error"), std::string::npos) << reply;
  EXPECT_EQ(c.read_line(), "");  // closed
  Conn d(data / "admin.sock");
  EXPECT_EQ(get(d.ask("action=ping"), "status"), "done");
}

TEST_F(AdminServerTest, ConnectionsAreBounded) {
  std::vector<std::unique_ptr<Conn>> conns;
  for (std::size_t i = 0; i < gateway::AdminServer::kMaxConnections; ++i) {
    conns.push_back(std::make_unique<Conn>(data / "admin.sock"));
    ASSERT_EQ(get(conns.back()->ask("action=ping"), "status"), "done");
  }
  Conn extra(data / "admin.sock");
  const std::string reply = extra.read_line();
  EXPECT_NE(reply.find("too%20many"), std::string::npos) << reply;
  conns.pop_back();
  // A freed slot is usable again (the server notices the close first).
  for (int attempt = 0; attempt < 100; ++attempt) {
    Conn again(data / "admin.sock");
    const auto f = again.ask("action=ping");
    if (get(f, "status") == "done") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "no slot after closing a connection";
}

TEST_F(AdminServerTest, StopRemovesTheSocketAndASecondServerIsRefused) {
  gateway::AdminServer second(*core, data / "admin.sock");
  EXPECT_THROW(second.start(), gateway::AdminError);
  // The first still answers.
  Conn c(data / "admin.sock");
  EXPECT_EQ(get(c.ask("action=ping"), "status"), "done");
  server->stop();
  EXPECT_FALSE(fs::exists(data / "admin.sock"));
}

// ------------------------------------------------------------------ start-up checks

TEST(AdminServerStart, StaleSocketIsReplacedOtherFilesAndBadDirectoriesRefused) {
  TempDir dir;
  const fs::path data = dir.path / "data";
  fs::create_directory(data);
  exchange::CoreOptions o;
  o.data_dir = data;
  o.rules = rules::load_default_rules();
  o.rules_text = std::string(rules::default_rules_text());
  o.durability = ledger::Durability::none;
  o.run_schedule = false;
  auto core = exchange::Core::open(o);
  core->start();

  // A stale socket file (nobody listens) is removed.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, (data / "admin.sock").c_str(), sizeof(a.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ::close(fd);
  }
  {
    gateway::AdminServer s(*core, data / "admin.sock");
    EXPECT_NO_THROW(s.start());
    Conn c(data / "admin.sock");
    EXPECT_EQ(get(c.ask("action=ping"), "status"), "done");
  }
  // A regular file is not touched.
  { std::ofstream(data / "admin.sock") << "mine"; }
  {
    gateway::AdminServer s(*core, data / "admin.sock");
    EXPECT_THROW(s.start(), gateway::AdminError);
    EXPECT_TRUE(fs::is_regular_file(data / "admin.sock"));
  }
  fs::remove(data / "admin.sock");
  // A directory everyone may write to is refused.
  fs::permissions(data, fs::perms::all);
  {
    gateway::AdminServer s(*core, data / "admin.sock");
    try {
      s.start();
      ADD_FAILURE() << "a world-writable directory was accepted";
    } catch (const gateway::AdminError& e) {
      EXPECT_NE(std::string(e.what()).find("writable by every user"), std::string::npos) << e.what();
    }
  }
  fs::permissions(data, fs::perms::owner_all);
  // A missing directory, and a path too long for a Unix socket.
  {
    gateway::AdminServer s(*core, dir.path / "missing" / "admin.sock");
    EXPECT_THROW(s.start(), gateway::AdminError);
  }
  {
    const fs::path deep = data / std::string(120, 'd');
    fs::create_directory(deep);
    gateway::AdminServer s(*core, deep / "admin.sock");
    EXPECT_THROW(s.start(), gateway::AdminError);
  }
  core->stop();
}

}  // namespace
