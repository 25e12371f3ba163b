// haihe rules — validate market-rules files; print the default market.
//
//   haihe rules check FILE...        validate, print a summary (exit 0) or
//                                    every error as FILE:LINE:COLUMN: field: message (exit 1)
//   haihe rules check --default      the same for the built-in default market
//   haihe rules show-default         print the built-in default rules file
#include <boost/program_options.hpp>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "app/commands.h"
#include "rules/rules.h"
#include "rules/summary.h"

namespace haihe::app {

namespace {

namespace po = boost::program_options;

constexpr const char* kRulesUsage =
    "usage: haihe rules <action> [<args>]\n"
    "\n"
    "The market-rules file (TOML) defines regions, water source zones, parties,\n"
    "instruments, caps, water transfers, ecological compensation, levies, fees,\n"
    "the trading day and the genesis allocations. Schema: rules/README.md.\n"
    "\n"
    "actions:\n"
    "  check FILE...     validate rules files; print a summary of each, or every\n"
    "                    error as FILE:LINE:COLUMN: field: message\n"
    "  check --default   validate the built-in Beijing-Tianjin-Hebei default market\n"
    "  show-default      print the built-in default rules file (a starting point)\n"
    "\n"
    "Run 'haihe rules <action> --help' for an action's options.\n";

constexpr const char* kCheckUsage =
    "usage: haihe rules check [--quiet] FILE...\n"
    "       haihe rules check [--quiet] --default\n"
    "\n"
    "Validates each market-rules file. A valid file: prints a short summary\n"
    "(regions, zones, parties by kind, instruments, caps, transfer rules,\n"
    "compensation routes, levies, genesis totals). An invalid one: prints every\n"
    "error found, one per line, as FILE:LINE:COLUMN: field.path: message.\n"
    "\n"
    "exit status: 0 all files valid, 1 some file invalid, 2 wrong usage\n"
    "\noptions:\n";

int print_result(std::string_view label, const auto& load, bool quiet) {
  try {
    const auto rules = load();
    if (quiet) {
      std::printf("%.*s: ok\n", static_cast<int>(label.size()), label.data());
    } else {
      std::printf("%.*s: ok\n%s", static_cast<int>(label.size()), label.data(),
                  rules::format_summary(*rules).c_str());
    }
    return kExitOk;
  } catch (const rules::RulesLoadError& e) {
    for (const auto& err : e.errors()) std::fprintf(stderr, "%s\n", err.to_string().c_str());
    std::fprintf(stderr, "%.*s: %zu error%s\n", static_cast<int>(label.size()), label.data(),
                 e.errors().size(), e.errors().size() == 1 ? "" : "s");
    return kExitRejected;
  }
}

int cmd_check(Args args) {
  po::options_description opts;
  opts.add_options()("help,h", "print this help")("default", "check the built-in default market")(
      "quiet,q", "print only ok or the errors, no summary");
  po::options_description hidden;
  hidden.add_options()("file", po::value<std::vector<std::string>>(), "rules file");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("file", -1);
  auto usage = [&](std::FILE* out) {
    std::ostringstream s;
    s << opts;
    std::fprintf(out, "%s%s", kCheckUsage, s.str().c_str());
  };
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(static_cast<int>(args.size()), args.data())
                  .options(all)
                  .positional(pos)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "haihe rules check: %s\n\n", e.what());
    usage(stderr);
    return kExitUsage;
  }
  if (vm.count("help") != 0) {
    usage(stdout);
    return kExitOk;
  }
  const bool quiet = vm.count("quiet") != 0;
  const bool use_default = vm.count("default") != 0;
  const auto files =
      vm.count("file") != 0 ? vm["file"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.empty() == !use_default) {
    std::fprintf(stderr, "haihe rules check: %s\n\n",
                 use_default ? "give either FILE... or --default, not both"
                             : "no rules file given");
    usage(stderr);
    return kExitUsage;
  }
  if (use_default) {
    return print_result("<default>", [] { return rules::load_default_rules(); }, quiet);
  }
  int rc = kExitOk;
  for (const auto& f : files) {
    if (print_result(f, [&] { return rules::load_rules_file(f); }, quiet) != kExitOk) {
      rc = kExitRejected;
    }
  }
  return rc;
}

int cmd_show_default(Args args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: haihe rules show-default\n\n"
          "Prints the built-in Beijing-Tianjin-Hebei default rules file, e.g. to\n"
          "start your own: haihe rules show-default > my-market.toml\n");
      return kExitOk;
    }
    std::fprintf(stderr, "haihe rules show-default: unexpected argument '%s'\n", args[i]);
    return kExitUsage;
  }
  const std::string_view text = rules::default_rules_text();
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace

int cmd_rules(Args args) {
  try {
    if (args.size() < 2) {
      std::fprintf(stderr, "%s", kRulesUsage);
      return kExitUsage;
    }
    const std::string_view action = args[1];
    if (action == "--help" || action == "-h" || action == "help") {
      std::printf("%s", kRulesUsage);
      return kExitOk;
    }
    if (action == "check") return cmd_check(args.subspan(1));
    if (action == "show-default") return cmd_show_default(args.subspan(1));
    std::fprintf(stderr, "haihe rules: unknown action '%.*s'\n\n%s", static_cast<int>(action.size()),
                 action.data(), kRulesUsage);
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe rules: %s\n", e.what());
    return kExitRejected;
  }
}

}  // namespace haihe::app
