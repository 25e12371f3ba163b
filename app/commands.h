// The `haihe` subcommands. Each takes the arguments after its name
// (args[0] is the subcommand's name) and returns the process exit code:
// 0 success, 1 rejected input or failed check, 2 wrong usage.
// Options are parsed with Boost.Program_options; every subcommand answers
// --help with its usage and exits 0.
#pragma once

#include <span>
#include <string_view>

namespace haihe::app {

using Args = std::span<char* const>;

struct Subcommand {
  std::string_view name;     // e.g. "rules"
  std::string_view summary;  // one line for `haihe --help`
  int (*run)(Args args);
};

int cmd_rules(Args args);  // haihe rules check FILE  (app/cmd_rules.cpp)
int cmd_audit(Args args);  // haihe audit verify|report (app/cmd_audit.cpp)
int cmd_replay(Args args); // haihe replay --data DIR (app/cmd_replay.cpp)
// --- FIX gateway (issue 6)
int cmd_serve(Args args);   // haihe serve (app/cmd_serve.cpp)
int cmd_passwd(Args args);  // haihe passwd (app/cmd_passwd.cpp)
// --- FIX tools
int cmd_client(Args args);  // haihe client (app/cmd_client.cpp)
int cmd_admin(Args args);   // haihe admin (app/cmd_admin.cpp)
// --- market-design lab (issue 7)
int cmd_sim(Args args);     // haihe sim SCENARIO | --replay DIR (app/cmd_sim.cpp)

/// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;

}  // namespace haihe::app
