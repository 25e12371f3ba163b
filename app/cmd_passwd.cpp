// haihe passwd — set a party's FIX logon password (gateway/README.md, Logon).
// Stored only as a salted PBKDF2-HMAC-SHA256 hash in DATA/fix-passwords.
#include <termios.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "app/commands.h"
#include "gateway/passwords.h"
#include "rules/rules.h"

namespace haihe::app {

namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "usage: haihe passwd [--data DIR] --party PARTY_ID [--password-stdin] [--rules FILE] [--iterations N]\n";

// One line from the terminal without echo.
bool read_hidden(const char* prompt, std::string& out) {
  std::fprintf(stderr, "%s", prompt);
  std::fflush(stderr);
  termios old{};
  const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  const bool ok = static_cast<bool>(std::getline(std::cin, out));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return ok;
}

}  // namespace

int cmd_passwd(Args args) {
  po::options_description opts("options");
  opts.add_options()("help,h", "this help")("data", po::value<std::string>()->default_value("haihe-data"), "data directory (holds fix-passwords; default as haihe serve)")(
      "party", po::value<std::string>(), "party id from the rules, e.g. BJ_WATERWORKS")(
      "password-stdin", "read the password from the first line of standard input")(
      "rules", po::value<std::string>(), "market rules file (default: the embedded default market)")(
      "iterations", po::value<std::uint32_t>()->default_value(gateway::kDefaultIterations),
      "PBKDF2 iterations (>= 100000)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(static_cast<int>(args.size()), args.data()).options(opts).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe passwd: %s\n%s", e.what(), kUsage);
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << kUsage << "\nSets the FIX logon password (Password 554, with Username 553 = the party id)\n"
              << "of a party. Only a salted PBKDF2-HMAC-SHA256 hash is stored, in DATA/fix-passwords.\n"
              << "A running `haihe serve` reads the file at start: restart it to apply.\n\n"
              << opts;
    return kExitOk;
  }
  if (!vm.count("party")) {
    std::fprintf(stderr, "haihe passwd: --party is required\n%s", kUsage);
    return kExitUsage;
  }
  const std::string party = vm["party"].as<std::string>();
  const auto iterations = vm["iterations"].as<std::uint32_t>();
  if (iterations < gateway::kMinIterations) {
    std::fprintf(stderr, "haihe passwd: --iterations must be at least %u\n", gateway::kMinIterations);
    return kExitUsage;
  }
  std::shared_ptr<const rules::MarketRules> market;
  try {
    market = vm.count("rules") ? rules::load_rules_file(vm["rules"].as<std::string>()) : rules::load_default_rules();
  } catch (const rules::RulesLoadError& e) {
    for (const auto& err : e.errors()) std::fprintf(stderr, "%s\n", err.to_string().c_str());
    return kExitRejected;
  }
  const auto p = market->find_party(party);
  if (p == rules::kNone) {
    std::fprintf(stderr, "haihe passwd: no party '%s' in the rules '%s'\n", party.c_str(), market->name.c_str());
    return kExitRejected;
  }
  if (market->parties[p].fix_comp_id.empty()) {
    std::fprintf(stderr, "haihe passwd: party '%s' has no fix_comp_id in the rules: it cannot log on\n",
                 party.c_str());
    return kExitRejected;
  }
  std::string password;
  if (vm.count("password-stdin")) {
    if (!std::getline(std::cin, password)) {
      std::fprintf(stderr, "haihe passwd: no password on standard input\n");
      return kExitRejected;
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
  } else {
    std::string again;
    if (!read_hidden("new FIX password: ", password) || !read_hidden("again: ", again)) {
      std::fprintf(stderr, "haihe passwd: no password given\n");
      return kExitRejected;
    }
    if (password != again) {
      std::fprintf(stderr, "haihe passwd: the passwords differ; nothing changed\n");
      return kExitRejected;
    }
  }
  if (password.empty() || password.size() > gateway::kMaxPasswordLen) {
    std::fprintf(stderr, "haihe passwd: the password must be 1 to %zu bytes\n", gateway::kMaxPasswordLen);
    return kExitRejected;
  }
  try {
    const std::filesystem::path dir = vm["data"].as<std::string>();
    std::filesystem::create_directories(dir);
    const auto path = dir / "fix-passwords";
    auto file = gateway::PasswordFile::load(path);
    file.set(party, password, iterations);
    file.save(path);
    std::printf("haihe passwd: password of %s (CompID %s) set in %s\n", party.c_str(),
                market->parties[p].fix_comp_id.c_str(), path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe passwd: %s\n", e.what());
    return kExitRejected;
  }
  return kExitOk;
}

}  // namespace haihe::app
