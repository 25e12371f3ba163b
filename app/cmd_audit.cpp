// placeholder: replaced by the issue that builds this subcommand
#include <cstdio>
#include "app/commands.h"
namespace haihe::app {
int cmd_audit(Args) {
  std::fprintf(stderr, "haihe audit: not built yet\n");
  return kExitUsage;
}
}  // namespace haihe::app
