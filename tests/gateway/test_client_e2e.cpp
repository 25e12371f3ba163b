// `haihe client` against a real `haihe serve` (default market, temp data
// directory, free port): two parties place a buy and a sell that cross, the
// fill shows in both parties' positions; orders, cancel, watch, instruments;
// rejections and usage errors with their exit codes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/gateway/test_client_support.h"

namespace {

using namespace haihe::fixtools::test;

class ClientE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = new TempDir();
    const std::string data = (dir->path / "data").string();
    for (const auto& [party, pw] : {std::pair{"TJ_PANSHAN_POWER", "pw-panshan"}, {"TJ_BINHAI_STEEL", "pw-binhai"}}) {
      ASSERT_EQ(run_haihe({"passwd", "--data", data, "--party", party, "--password-stdin"}, pw).code, 0);
    }
    server = new Serve(dir->path / "data");
    ASSERT_TRUE(server->ready()) << server->log();
    const auto r = run_haihe({"admin", "--data", data, "session-open"});
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() {
    delete server;
    delete dir;
  }
  static Result client(const std::string& party, std::vector<std::string> args) {
    const std::string pw = party == "TJ_PANSHAN_POWER" ? "pw-panshan" : "pw-binhai";
    args.insert(args.begin(),
                {"client", "--port", std::to_string(server->port()), "--as", party, "--password-stdin"});
    return run_haihe(args, pw);
  }
  static bool has(const Result& r, const std::string& s) { return r.out.find(s) != std::string::npos; }

  static TempDir* dir;
  static Serve* server;
};
TempDir* ClientE2E::dir = nullptr;
Serve* ClientE2E::server = nullptr;

TEST_F(ClientE2E, CrossingOrdersFillAndShowInPositions) {
  const std::string buyer = "TJ_PANSHAN_POWER", seller = "TJ_BINHAI_STEEL";
  auto r = client(buyer, {"buy", "CO2.TJ.2027", "100", "95.90", "--id", "E2E-B1"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "accepted: buy 100 t CO2.TJ.2027 @ 95.90 yuan (day)")) << r.out;
  EXPECT_TRUE(has(r, "ClOrdID E2E-B1")) << r.out;

  r = client(seller, {"sell", "CO2.TJ.2027", "30", "95.80"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "accepted: sell 30 t CO2.TJ.2027 @ 95.80 yuan")) << r.out;
  // The resting buy's price: 30 t at 95.90; seller fee 5 bps of 2,877.00 = 1.43.
  EXPECT_TRUE(has(r, "fill: sell 30 t @ 95.90 yuan")) << r.out;
  EXPECT_TRUE(has(r, "fee 1.43 yuan")) << r.out;
  EXPECT_TRUE(has(r, "filled 30 of 30, 0 left")) << r.out;

  r = client(buyer, {"cancel", "E2E-B1"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "cancelled: buy 100 t CO2.TJ.2027 @ 95.90 yuan (ClOrdID E2E-B1): 30 had filled, 70 cancelled"))
      << r.out;
  r = client(buyer, {"cancel", "E2E-B1"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "rejected: cancel E2E-B1")) << r.out;

  // Buyer: 3,800,000 + 30 t; cash 200,000,000.00 - 2,877.00 - fee 1.43.
  r = client(buyer, {"positions"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "positions of TJ_PANSHAN_POWER")) << r.out;
  EXPECT_TRUE(has(r, "3,800,030")) << r.out;
  EXPECT_TRUE(has(r, "199,997,121.57")) << r.out;
  // Seller: 5,200,000 - 30 t; cash 30,000,000.00 + 2,877.00 - fee 1.43.
  r = client(seller, {"positions"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "5,199,970")) << r.out;
  EXPECT_TRUE(has(r, "30,002,875.57")) << r.out;
}

TEST_F(ClientE2E, OrdersListsTheOpenOrders) {
  auto r = client("TJ_PANSHAN_POWER", {"buy", "CO2.TJ.2027", "12", "90.00", "--id", "E2E-O1"});
  ASSERT_EQ(r.code, 0) << r.out;
  r = client("TJ_PANSHAN_POWER", {"orders"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "E2E-O1")) << r.out;
  EXPECT_TRUE(has(r, "90.00")) << r.out;
  EXPECT_EQ(client("TJ_PANSHAN_POWER", {"cancel", "E2E-O1"}).code, 0);
  r = client("TJ_PANSHAN_POWER", {"orders"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(has(r, "E2E-O1")) << r.out;
}

TEST_F(ClientE2E, WatchShowsTheBookAndInstrumentsTheirState) {
  auto r = client("TJ_BINHAI_STEEL", {"sell", "CO2.TJ.2027", "7", "99.00", "--tif", "gtc"});
  ASSERT_EQ(r.code, 0) << r.out;
  r = client("TJ_PANSHAN_POWER", {"watch", "CO2.TJ.2027", "--once"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "CO2.TJ.2027  (quantities in t, prices in yuan)")) << r.out;
  EXPECT_TRUE(has(r, "99.00        7")) << r.out;
  r = client("TJ_PANSHAN_POWER", {"instruments"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r, "CO2.TJ.2027")) << r.out;
  EXPECT_TRUE(has(r, "open")) << r.out;
}

TEST_F(ClientE2E, Rejections) {
  auto r = client("TJ_PANSHAN_POWER", {"buy", "CO2.TJ.2027", "1", "200"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "rejected: buy 1 t CO2.TJ.2027 @ 200.00: engine: price_outside_band")) << r.out;
  r = client("TJ_PANSHAN_POWER", {"buy", "NO.SUCH.SYMBOL", "1", "1"});
  EXPECT_EQ(r.code, 1) << r.out;
  r = client("TJ_PANSHAN_POWER", {"buy", "WATER.LUAN.IND.2027", "1000", "0.93"});
  EXPECT_EQ(r.code, 1) << r.out;  // may not trade it
  r = client("TJ_PANSHAN_POWER", {"cancel", "NEVER-SENT"});
  EXPECT_EQ(r.code, 1) << r.out;
  r = run_haihe({"client", "--port", std::to_string(server->port()), "--as", "TJ_PANSHAN_POWER", "--password-stdin",
             "positions"},
            "wrong");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(has(r, "wrong username or password")) << r.out;
}

TEST_F(ClientE2E, UsageErrorsExitTwo) {
  EXPECT_EQ(run_haihe({"client", "positions"}, "pw").code, 2);  // no --as
  EXPECT_EQ(client("TJ_PANSHAN_POWER", {}).code, 2);
  EXPECT_EQ(client("TJ_PANSHAN_POWER", {"buy", "CO2.TJ.2027", "1"}).code, 2);
  EXPECT_EQ(client("TJ_PANSHAN_POWER", {"buy", "CO2.TJ.2027", "1", "9.999"}).code, 2);
  EXPECT_EQ(client("TJ_PANSHAN_POWER", {"buy", "CO2.TJ.2027", "0", "9.99"}).code, 2);
  EXPECT_EQ(client("TJ_PANSHAN_POWER", {"buy", "CO2.TJ.2027", "1", "9.99", "--tif", "forever"}).code, 2);
  EXPECT_EQ(client("TJ_PANSHAN_POWER", {"buy", "CO2.TJ.2027", "1", "market"}).code, 2);  // needs ioc/fok
  EXPECT_EQ(client("NOBODY", {"positions"}).code, 2);
  EXPECT_EQ(run_haihe({"client", "--as", "TJ_PANSHAN_POWER", "positions"}).code, 2);  // no password
  const auto help = run_haihe({"client", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(has(help, "usage: haihe client")) << help.out;
}

// TLS: the client verifies the server's certificate chain and name itself.
TEST(ClientTlsE2E, VerifiesTheServersCertificate) {
  TempDir dir;
  const auto cert = dir.path / "cert.pem", key = dir.path / "key.pem";
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                          quote(key.string()) + " -out " + quote(cert.string()) + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "no openssl command to make a test certificate";
  const std::string data = (dir.path / "data").string();
  ASSERT_EQ(run_haihe({"passwd", "--data", data, "--party", "TJ_PANSHAN_POWER", "--password-stdin"}, "pw").code, 0);
  const int tls_port = free_port();
  Serve server(dir.path / "data",
               {"--tls-cert", cert.string(), "--tls-key", key.string(), "--tls-port", std::to_string(tls_port)});
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"client", "--tls", "--port", std::to_string(tls_port), "--as",
                                     "TJ_PANSHAN_POWER", "--password-stdin", "--timeout", "5"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("positions");
    return run_haihe(args, "pw");
  };
  auto r = client({"--tls-ca", cert.string()});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("200,000,000.00"), std::string::npos) << r.out;
  r = client({"--tls-ca", cert.string(), "--host", "localhost"});
  EXPECT_EQ(r.code, 0) << r.out;
  // Not signed by a CA the client trusts.
  r = client({});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("self-signed certificate"), std::string::npos) << r.out;
  // The right CA, the wrong name.
  r = client({"--tls-ca", cert.string(), "--host", "127.0.0.2"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("not for '127.0.0.2'"), std::string::npos) << r.out;
  // Explicitly unverified.
  r = client({"--tls-insecure"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("not verified"), std::string::npos) << r.out;
}

}  // namespace
