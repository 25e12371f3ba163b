// haihe serve — run the exchange: the core (exchange/), the FIX gateway
// (gateway/) and the admin socket. SIGINT/SIGTERM: stop accepting, drain,
// commit, exit 0.
#include <pthread.h>
#include <signal.h>

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "app/commands.h"
#include "exchange/core.h"
#include "gateway/admin.h"
#include "gateway/gateway.h"
#include "ledger/ledger.h"
#include "rules/rules.h"

namespace haihe::app {

namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "usage: haihe serve [--rules FILE] [--data DIR] [--port N] [--sync full|none]\n"
    "                   [--tls-cert FILE --tls-key FILE [--tls-port N]] [--fix-log] [--comp-id ID]\n"
    "                   [--admin-socket PATH | --no-admin] [--amend-rules] [--no-schedule] [--open]\n";

bool port_ok(int p) { return p >= 0 && p <= 65535; }

}  // namespace

int cmd_serve(Args args) {
  po::options_description opts("options");
  opts.add_options()("help,h", "this help")(
      "rules", po::value<std::string>(), "market rules file (default: the embedded default market)")(
      "data", po::value<std::string>()->default_value("haihe-data"), "data directory (created if missing)")(
      "port", po::value<int>()->default_value(9878), "FIX port (plain TCP; 0: none, TLS only)")(
      "sync", po::value<std::string>()->default_value("full"),
      "full: every batch is fsynced before anyone is told; none: the OS decides (faster, a power cut may lose "
      "the last batches)")("tls-cert", po::value<std::string>(), "PEM certificate: also serve FIX over TLS")(
      "tls-key", po::value<std::string>(), "PEM private key of --tls-cert")(
      "tls-port", po::value<int>()->default_value(9879), "FIX over TLS port")(
      "fix-log", "log every FIX message to DATA/fix-log/ (slow; for debugging)")(
      "comp-id", po::value<std::string>()->default_value("HAIHE"), "the exchange's FIX CompID")(
      "admin-socket", po::value<std::string>(), "admin control socket (default DATA/admin.sock)")(
      "no-admin", "no admin socket")("amend-rules",
                                      "serve an existing data directory with different rules (journaled amendment)")(
      "no-schedule", "do not run the trading-day schedule (states change only by admin commands)")(
      "open", "open every instrument for trading at start (demos and tests outside trading hours)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(static_cast<int>(args.size()), args.data()).options(opts).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe serve: %s\n%s", e.what(), kUsage);
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << kUsage
              << "\nRuns the exchange: FIX 4.4 gateway (gateway/README.md), core and ledger in DATA.\n"
                 "Set FIX passwords first with `haihe passwd`. SIGINT or SIGTERM stops it cleanly.\n\n"
              << opts;
    return kExitOk;
  }
  const std::string sync = vm["sync"].as<std::string>();
  if (sync != "full" && sync != "none") {
    std::fprintf(stderr, "haihe serve: --sync must be full or none\n%s", kUsage);
    return kExitUsage;
  }
  const int port = vm["port"].as<int>();
  const int tls_port = vm["tls-port"].as<int>();
  if (!port_ok(port) || !port_ok(tls_port) || tls_port == 0) {
    std::fprintf(stderr, "haihe serve: ports must be 0..65535 (--tls-port > 0)\n");
    return kExitUsage;
  }
  if (vm.count("tls-cert") != vm.count("tls-key")) {
    std::fprintf(stderr, "haihe serve: --tls-cert and --tls-key go together\n");
    return kExitUsage;
  }
  if (port == 0 && !vm.count("tls-cert")) {
    std::fprintf(stderr, "haihe serve: --port 0 needs --tls-cert/--tls-key\n");
    return kExitUsage;
  }

  // Rules: the exact bytes are journaled with the ledger.
  exchange::CoreOptions core_options;
  try {
    if (vm.count("rules")) {
      const std::string file = vm["rules"].as<std::string>();
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "haihe serve: cannot read the rules file '%s'\n", file.c_str());
        return kExitRejected;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      core_options.rules_text = ss.str();
      core_options.rules = rules::load_rules_text(core_options.rules_text, file);
    } else {
      core_options.rules_text = std::string(rules::default_rules_text());
      core_options.rules = rules::load_default_rules();
    }
  } catch (const rules::RulesLoadError& e) {
    for (const auto& err : e.errors()) std::fprintf(stderr, "%s\n", err.to_string().c_str());
    return kExitRejected;
  }
  const auto& market = *core_options.rules;
  const std::filesystem::path data = vm["data"].as<std::string>();
  core_options.data_dir = data;
  core_options.durability = sync == "full" ? ledger::Durability::full : ledger::Durability::none;
  core_options.amend_rules = vm.count("amend-rules") != 0;
  core_options.run_schedule = vm.count("no-schedule") == 0;

  // Signals go to sigwait below only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::printf("haihe serve: rules '%s' sha256 %s: %zu instruments, %zu parties\n", market.name.c_str(),
              market.source_sha256_hex.c_str(), market.instruments.size(), market.parties.size());
  std::fflush(stdout);

  std::unique_ptr<exchange::Core> core;
  try {
    core = exchange::Core::open(core_options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe serve: %s\n", e.what());
    return kExitRejected;
  }
  const auto& rec = core->recovery();
  std::printf("haihe serve: data %s (sync %s): last seq %llu, re-applied %llu batches from the log, recovered from "
              "snapshot seq %llu, re-ran %llu batches (%llu commands), %llu resting orders, %.3f s\n",
              std::filesystem::absolute(data).c_str(), sync.c_str(), static_cast<unsigned long long>(core->last_seq()),
              static_cast<unsigned long long>(rec.redone_batches),
              static_cast<unsigned long long>(rec.snapshot_seq), static_cast<unsigned long long>(rec.rerun_batches),
              static_cast<unsigned long long>(rec.rerun_commands), static_cast<unsigned long long>(rec.resting_orders),
              rec.seconds);

  gateway::GatewayOptions gw_options;
  gw_options.data_dir = data;
  gw_options.comp_id = vm["comp-id"].as<std::string>();
  gw_options.port = static_cast<std::uint16_t>(port);
  gw_options.fix_log = vm.count("fix-log") != 0;
  if (vm.count("tls-cert")) {
    gw_options.tls = gateway::TlsOptions{vm["tls-cert"].as<std::string>(), vm["tls-key"].as<std::string>(),
                                         static_cast<std::uint16_t>(tls_port)};
  }
  std::unique_ptr<gateway::Gateway> gw;
  std::unique_ptr<gateway::AdminServer> admin;
  try {
    gw = std::make_unique<gateway::Gateway>(*core, gw_options);
    std::printf("haihe serve: %zu FIX sessions (%zu with a password set), %llu undelivered events handed over\n",
                gw->sessions(), gw->passwords_set(), static_cast<unsigned long long>(gw->recovered_events()));
    if (gw->passwords_set() == 0) {
      std::printf("haihe serve: no FIX password is set: nobody can log on (haihe passwd --data %s --party ID)\n",
                  data.c_str());
    }
    core->start();
    gw->start();
    if (vm.count("open")) {
      exchange::Command c{};
      c.kind = exchange::CommandKind::session_open;
      c.party = market.exchange_party();
      c.instrument = rules::kNone;
      if (core->submit(c) != exchange::SubmitResult::ok) {
        std::fprintf(stderr, "haihe serve: --open: could not submit session_open\n");
      }
    }
    if (!vm.count("no-admin")) {
      const std::filesystem::path sock =
          vm.count("admin-socket") ? std::filesystem::path(vm["admin-socket"].as<std::string>()) : data / "admin.sock";
      admin = std::make_unique<gateway::AdminServer>(*core, sock, market.exchange_party());
      admin->start();
      std::printf("haihe serve: admin socket %s\n", sock.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe serve: %s\n", e.what());
    if (admin) admin->stop();
    if (gw) gw->stop_accepting();
    core->stop();
    if (gw) gw->stop();
    return kExitRejected;
  }
  if (port != 0) {
    std::printf("haihe serve: FIX 4.4 listening on port %d (CompID %s)\n", port, gw_options.comp_id.c_str());
  }
  if (gw_options.tls) std::printf("haihe serve: FIX 4.4 over TLS listening on port %d\n", tls_port);
  std::printf("haihe serve: ready\n");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("haihe serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  if (admin) admin->stop();
  gw->stop_accepting();
  core->stop();
  gw->stop();
  const auto st = gw->stats();
  const auto cs = core->stats();
  std::printf("haihe serve: stopped at seq %llu: %llu commands, %llu trades; FIX: %llu submitted, %llu refused "
              "(%llu throttled, %llu busy), %llu messages sent\n",
              static_cast<unsigned long long>(core->last_seq()), static_cast<unsigned long long>(cs.commands),
              static_cast<unsigned long long>(cs.trades), static_cast<unsigned long long>(st.submitted),
              static_cast<unsigned long long>(st.rejected), static_cast<unsigned long long>(st.throttled),
              static_cast<unsigned long long>(st.busy), static_cast<unsigned long long>(st.sent));
  if (cs.batches > 0 && cs.commands > 0) {
    std::printf("haihe serve: core: %llu batches (%.1f commands each), %.2f us per command executing, "
                "%.3f ms per batch committing, %.2f us per command publishing, %.0f journal bytes per command\n",
                static_cast<unsigned long long>(cs.batches),
                static_cast<double>(cs.commands) / static_cast<double>(cs.batches),
                static_cast<double>(cs.execute_ns) / 1e3 / static_cast<double>(cs.commands),
                static_cast<double>(cs.commit_ns) / 1e6 / static_cast<double>(cs.batches),
                static_cast<double>(cs.publish_ns) / 1e3 / static_cast<double>(cs.commands),
                static_cast<double>(cs.journal_bytes) / static_cast<double>(cs.commands));
  }
  const std::string failure = core->failure();
  if (!failure.empty()) {
    std::fprintf(stderr, "haihe serve: the core failed: %s\n", failure.c_str());
    return kExitRejected;
  }
  return kExitOk;
}

}  // namespace haihe::app
