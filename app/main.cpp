// haihe — one command for every user-facing program (DESIGN.md §4a).
#include <array>
#include <cstdio>
#include <string_view>

#include "app/commands.h"

namespace {

using haihe::app::Subcommand;

constexpr std::array kSubcommands = {
    Subcommand{"rules", "validate a market-rules file: haihe rules check FILE", haihe::app::cmd_rules},
    Subcommand{"audit", "the regulator's tools: haihe audit verify|report --data DIR", haihe::app::cmd_audit},
    Subcommand{"replay", "re-execute a data directory's journal and compare: haihe replay --data DIR", haihe::app::cmd_replay},
    // --- FIX gateway (issue 6)
    Subcommand{"serve", "run the exchange (FIX gateway, core, ledger): haihe serve [--data DIR]", haihe::app::cmd_serve},
    Subcommand{"passwd", "set a party's FIX password: haihe passwd --data DIR --party ID", haihe::app::cmd_passwd},
    // --- FIX tools
    Subcommand{"client", "a FIX terminal: haihe client --as PARTY buy|sell|cancel|orders|positions|watch", haihe::app::cmd_client},
    Subcommand{"admin", "operator and regulator actions: haihe admin --data DIR deposit|issue|grant|halt|...", haihe::app::cmd_admin},
    // --- market-design lab (issue 7)
    Subcommand{"sim", "the market-design lab: haihe sim SCENARIO [--design D] [--seeds A..B] [--out DIR]", haihe::app::cmd_sim},
};

void print_help(std::FILE* out) {
  std::fprintf(out,
               "usage: haihe [--version] [--help] <command> [<args>]\n\n"
               "Haihe: an exchange for water rights and emission permits in the\n"
               "Beijing-Tianjin-Hebei region.\n\ncommands:\n");
  for (const auto& s : kSubcommands) {
    std::fprintf(out, "  %-8.*s %.*s\n", static_cast<int>(s.name.size()), s.name.data(),
                 static_cast<int>(s.summary.size()), s.summary.data());
  }
  std::fprintf(out, "\nRun 'haihe <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_help(stderr);
    return haihe::app::kExitUsage;
  }
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print_help(stdout);
    return haihe::app::kExitOk;
  }
  if (first == "--version" || first == "-V") {
    std::printf("haihe %s\n", HAIHE_VERSION);
    return haihe::app::kExitOk;
  }
  for (const auto& s : kSubcommands) {
    if (s.name == first) {
      return s.run(haihe::app::Args(argv + 1, static_cast<std::size_t>(argc - 1)));
    }
  }
  std::fprintf(stderr, "haihe: unknown command '%.*s'\n\n", static_cast<int>(first.size()),
               first.data());
  print_help(stderr);
  return haihe::app::kExitUsage;
}
