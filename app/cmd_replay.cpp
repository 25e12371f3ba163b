// haihe replay --data DIR — law 6 of DESIGN.md: re-executes the command
// journal stored in a data directory against an empty ledger and engine (in
// a scratch directory) and reports whether every batch's events and the
// final chain head match what was stored. Reads DIR only; safe while serving.
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "app/commands.h"
#include "exchange/core.h"
#include "ledger/ledger.h"

namespace haihe::app {

namespace {
namespace po = boost::program_options;
constexpr const char* kUsage =
    "usage: haihe replay --data DIR [--scratch DIR] [--keep]\n\n"
    "Re-executes the command journal of DIR against an empty ledger and engine and\n"
    "compares every batch's events and the final chain head with what DIR stores.\n"
    "Exit 0: identical; 1: a difference (printed) or an unreadable directory; 2: usage.\n";
}  // namespace

int cmd_replay(Args args) {
  po::options_description opts("options");
  std::string data, scratch;
  opts.add_options()("help,h", "show this help")("data", po::value(&data), "the exchange's data directory")(
      "scratch", po::value(&scratch), "where to build the replayed ledger (default: a new temporary directory)")(
      "keep", "keep the scratch directory");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(static_cast<int>(args.size()), args.data()).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "haihe replay: %s\n\n%s", e.what(), kUsage);
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << kUsage << "\n" << opts;
    return kExitOk;
  }
  if (data.empty()) {
    std::fprintf(stderr, "haihe replay: --data DIR is required\n\n%s", kUsage);
    return kExitUsage;
  }
  bool made_scratch = false;
  if (scratch.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "haihe-replay-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "haihe replay: cannot create a temporary directory\n");
      return kExitRejected;
    }
    scratch = tmpl;
    made_scratch = true;
  }
  const auto started = std::chrono::steady_clock::now();
  int rc = kExitOk;
  bool replayed = false;
  try {
    const auto r = exchange::replay(data, scratch);
    replayed = true;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    fmt::print("replayed {} batches, {} commands in {:.2f} s\n", r.batches, r.commands, s);
    fmt::print("events:     {} execution events compared: {}\n", r.events_compared,
               r.events_match ? "all match" : fmt::format("DIFFER at batch {}: {}", r.first_mismatch_batch, r.mismatch));
    fmt::print("chain head: stored   {}\n            replayed {}  {}\n", ledger::to_hex(r.stored_head),
               ledger::to_hex(r.replayed_head), r.heads_match() ? "match" : "DIFFER");
    rc = r.events_match && r.heads_match() ? kExitOk : kExitRejected;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe replay: %s\n", e.what());
    rc = kExitRejected;
  }
  if (made_scratch && !vm.count("keep")) {
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
  } else if (replayed) {
    fmt::print("replayed ledger kept in {}\n", scratch);
  }
  return rc;
}

}  // namespace haihe::app
