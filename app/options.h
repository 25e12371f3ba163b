// Command-line parsing shared by the subcommands that take words after
// their options (haihe admin, haihe client): Boost.Program_options with every
// positional argument collected in order.
#pragma once

#include <boost/program_options.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/commands.h"

namespace haihe::app {

/// Parses `args` with `opts` and collects the positional words in `words`.
/// Returns the exit code to return at once (usage error: kExitUsage after a
/// message; --help: kExitOk after the usage), or nullopt to go on.
inline std::optional<int> parse_command_line(Args args, const boost::program_options::options_description& opts,
                                             std::vector<std::string>& words,
                                             boost::program_options::variables_map& vm, std::string_view name,
                                             const char* usage) {
  namespace po = boost::program_options;
  po::options_description hidden;
  hidden.add_options()("args", po::value(&words));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description p;
  p.add("args", -1);
  try {
    po::store(po::command_line_parser(static_cast<int>(args.size()), args.data()).options(all).positional(p).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "haihe " << name << ": " << e.what() << " (haihe " << name << " --help)\n";
    return kExitUsage;
  }
  if (vm.count("help") != 0) {
    std::cout << usage << "\n" << opts;
    return kExitOk;
  }
  return std::nullopt;
}

}  // namespace haihe::app
