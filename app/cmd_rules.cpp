// placeholder: replaced by the issue that builds this subcommand
#include <cstdio>
#include "app/commands.h"
namespace haihe::app {
int cmd_rules(Args) {
  std::fprintf(stderr, "haihe rules: not built yet\n");
  return kExitUsage;
}
}  // namespace haihe::app
