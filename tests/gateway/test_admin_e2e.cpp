// `haihe admin` against a real `haihe serve` (default market, temp data
// directory, free port): the socket's permissions, every action's happy path,
// the rejections (not permitted, unknown party, insufficient funds) with
// their exit codes, and the effect seen over FIX by `haihe client positions`.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "tests/gateway/test_client_support.h"

namespace {

using namespace haihe::fixtools::test;

class AdminE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = new TempDir();
    const std::string data = (dir->path / "data").string();
    ASSERT_EQ(run_haihe({"passwd", "--data", data, "--party", "TJ_PANSHAN_POWER", "--password-stdin"}, "pw-panshan").code,
              0);
    server = new Serve(dir->path / "data");
    ASSERT_TRUE(server->ready()) << server->log();
  }
  static void TearDownTestSuite() {
    delete server;
    delete dir;
  }
  static Result admin(std::vector<std::string> args) {
    args.insert(args.begin(), {"admin", "--data", server->data().string()});
    return run_haihe(args);
  }

  static TempDir* dir;
  static Serve* server;
};
TempDir* AdminE2E::dir = nullptr;
Serve* AdminE2E::server = nullptr;

TEST_F(AdminE2E, SocketIsOwnerOnlyAndAnswers) {
  struct stat st {};
  ASSERT_EQ(::lstat((server->data() / "admin.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto r = admin({"ping"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("pong"), std::string::npos) << r.out;
}

TEST_F(AdminE2E, DepositShowsInPositions) {
  auto r = admin({"deposit", "TJ_PANSHAN_POWER", "1000.50"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("done: deposit 1,000.50 yuan to TJ_PANSHAN_POWER (as HAIHE_EXCHANGE, seq "), std::string::npos)
      << r.out;
  r = admin({"--fen", "withdraw", "TJ_PANSHAN_POWER", "50"});
  EXPECT_EQ(r.code, 0) << r.out;
  r = run_haihe({"client", "--port", std::to_string(server->port()), "--as", "TJ_PANSHAN_POWER", "--password-stdin",
             "positions"},
            "pw-panshan");
  EXPECT_EQ(r.code, 0) << r.out;
  // 200,000,000.00 at genesis + 1,000.50 - 0.50.
  EXPECT_NE(r.out.find("200,001,000.00"), std::string::npos) << r.out;
}

TEST_F(AdminE2E, Rejections) {
  auto r = admin({"withdraw", "NGO_CLEAR_RIVERS", "99999999"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("rejected: withdraw 99,999,999.00 yuan from NGO_CLEAR_RIVERS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ledger: insufficient cash"), std::string::npos) << r.out;
  r = admin({"--as", "BJ_WATERWORKS", "deposit", "BJ_WATERWORKS", "100"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("core: not_permitted"), std::string::npos) << r.out;
  r = admin({"--as", "NOBODY", "deposit", "BJ_GOV", "100"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("unknown party 'NOBODY'"), std::string::npos) << r.out;
  r = admin({"deposit", "GHOST", "100"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("unknown party 'GHOST'"), std::string::npos) << r.out;
  r = admin({"retire", "TS_FENGRUN_STEEL", "SO2.TANGSHAN.2027", "999999"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("insufficient holdings"), std::string::npos) << r.out;
  r = admin({"--as", "TS_FENGRUN_STEEL", "grant", "JJJ_AIR_FUND", "CHENGDE_GOV", "1"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("not_permitted"), std::string::npos) << r.out;
}

TEST_F(AdminE2E, IssueRetireGrantHaltResumeReference) {
  auto ok = [](const Result& r, const std::string& needle) {
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
  };
  ok(admin({"issue", "TS_FENGRUN_STEEL", "SO2.TANGSHAN.2027", "10"}),
     "done: issue 10 t of SO2.TANGSHAN.2027 to TS_FENGRUN_STEEL");
  ok(admin({"--as", "REG_ECOLOGY", "retire", "TS_FENGRUN_STEEL", "SO2.TANGSHAN.2027", "10"}),
     "done: retire 10 t of SO2.TANGSHAN.2027 from TS_FENGRUN_STEEL (as REG_ECOLOGY");
  ok(admin({"--as", "JJJ_AIR_FUND", "grant", "JJJ_AIR_FUND", "CHENGDE_GOV", "2500"}),
     "done: grant 2,500.00 yuan from JJJ_AIR_FUND to CHENGDE_GOV (as JJJ_AIR_FUND");
  ok(admin({"halt", "NOX.BJ.2027", "--cancel-orders"}), "done: halt NOX.BJ.2027 and cancel its resting orders");
  auto r = admin({"halt", "NOX.BJ.2027"});
  EXPECT_EQ(r.code, 0) << r.out;  // halting a halted instrument is allowed
  ok(admin({"resume", "NOX.BJ.2027"}), "done: resume NOX.BJ.2027");
  r = admin({"resume", "NOX.BJ.2027"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("core: invalid_state"), std::string::npos) << r.out;
  ok(admin({"set-reference", "NOX.BJ.2027", "8100"}), "done: set the reference price of NOX.BJ.2027 to 8,100.00 yuan");
  ok(admin({"session-open", "NOX.BJ.2027"}), "done: open NOX.BJ.2027 now");
  ok(admin({"session-close"}), "done: end the trading day of every instrument now");
}

TEST_F(AdminE2E, UsageErrorsExitTwo) {
  EXPECT_EQ(admin({}).code, 2);
  EXPECT_EQ(admin({"deposit", "BJ_GOV"}).code, 2);
  EXPECT_EQ(admin({"deposit", "BJ_GOV", "1.234"}).code, 2);
  EXPECT_EQ(admin({"deposit", "BJ_GOV", "-5"}).code, 2);
  EXPECT_EQ(admin({"explode"}).code, 2);
  EXPECT_EQ(admin({"resume", "X", "--cancel-orders"}).code, 2);
  EXPECT_EQ(run_haihe({"admin", "--data", "x", "--socket", "y", "ping"}).code, 2);  // both --data and --socket
  const auto help = run_haihe({"admin", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: haihe admin"), std::string::npos);
  // No server there: a failure, not a usage error.
  const auto none = run_haihe({"admin", "--data", (dir->path / "nowhere").string(), "ping"});
  EXPECT_EQ(none.code, 1) << none.out;
  EXPECT_NE(none.out.find("cannot connect"), std::string::npos) << none.out;
}

}  // namespace
