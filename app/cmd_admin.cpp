// haihe admin — operator and regulator actions on a running exchange, over
// its admin socket (<data>/admin.sock; protocol in gateway/admin.h). Every
// action is submitted to the core as a command with the asking party, so it
// is journaled with who asked for it.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/options.h"
#include "gateway/admin.h"

namespace haihe::app {

namespace {

namespace po = boost::program_options;
namespace admin = haihe::gateway::admin;

constexpr const char* kUsage =
    "usage: haihe admin [--data DIR | --socket PATH] [--as PARTY] ACTION ARGS...\n"
    "\n"
    "actions (parties by rules id, instruments by symbol):\n"
    "  deposit PARTY AMOUNT          put cash into PARTY's account\n"
    "  withdraw PARTY AMOUNT         take cash out of PARTY's account\n"
    "  issue PARTY SYMBOL QTY        issue new rights to PARTY (QTY in base units)\n"
    "  retire PARTY SYMBOL QTY       retire PARTY's rights\n"
    "  grant FUND CITY AMOUNT        a grant from a fund to a city government\n"
    "  halt SYMBOL [--cancel-orders] stop trading SYMBOL (and cancel its resting orders)\n"
    "  resume SYMBOL                 end a halt\n"
    "  set-reference SYMBOL PRICE    the reference price (per base unit)\n"
    "  session-open [SYMBOL]         open trading now (every instrument without SYMBOL)\n"
    "  session-close [SYMBOL]        end the trading day now\n"
    "  ping                          is the exchange answering?\n"
    "\n"
    "AMOUNT and PRICE are yuan with up to two decimals (1000, 0.93, 12.5), or\n"
    "integer fen with --fen. --as names who asks (default: the server's\n"
    "operator party); most actions need the exchange party or a regulator,\n"
    "a grant may also come from the fund itself.\n"
    "Exit: 0 done, 1 rejected or failed, 2 wrong usage.\n";

// Builds the request fields from the positional arguments; nullopt + message
// on wrong usage.
std::optional<admin::Fields> build_request(const std::vector<std::string>& pos, bool fen_units, bool cancel_orders,
                                           const std::string& as, std::string* error) {
  if (pos.empty()) {
    *error = "no action given";
    return std::nullopt;
  }
  const std::string& a = pos[0];
  auto need = [&](std::size_t min_args, std::size_t max_args, const char* usage) {
    if (pos.size() - 1 < min_args || pos.size() - 1 > max_args) {
      *error = fmt::format("usage: haihe admin {}", usage);
      return false;
    }
    return true;
  };
  auto amount = [&](const std::string& text, const char* what, std::string& out) {
    const auto fen = fen_units ? admin::parse_uint(text, rules::kMaxCashFen) : admin::parse_yuan(text);
    if (!fen) {
      *error = fen_units ? fmt::format("{} '{}' is not a whole number of fen", what, text)
                         : fmt::format("{} '{}' is not yuan with at most two decimals (e.g. 1000 or 12.50)", what, text);
      return false;
    }
    out = std::to_string(*fen);
    return true;
  };
  auto quantity = [&](const std::string& text, std::string& out) {
    const auto q = admin::parse_uint(text, rules::kMaxQty);
    if (!q) {
      *error = fmt::format("quantity '{}' is not a whole number of base units", text);
      return false;
    }
    out = std::to_string(*q);
    return true;
  };

  admin::Fields f;
  std::string v;
  if (a == "ping") {
    if (!need(0, 0, "ping")) return std::nullopt;
    f.add("action", "ping");
  } else if (a == "deposit" || a == "withdraw") {
    if (!need(2, 2, (a + " PARTY AMOUNT").c_str()) || !amount(pos[2], "amount", v)) return std::nullopt;
    f.add("action", a).add("party", pos[1]).add("fen", v);
  } else if (a == "issue" || a == "retire") {
    if (!need(3, 3, (a + " PARTY SYMBOL QTY").c_str()) || !quantity(pos[3], v)) return std::nullopt;
    f.add("action", a).add("party", pos[1]).add("instrument", pos[2]).add("qty", v);
  } else if (a == "grant") {
    if (!need(3, 3, "grant FUND CITY AMOUNT") || !amount(pos[3], "amount", v)) return std::nullopt;
    f.add("action", "grant").add("fund", pos[1]).add("city", pos[2]).add("fen", v);
  } else if (a == "halt") {
    if (!need(1, 1, "halt SYMBOL [--cancel-orders]")) return std::nullopt;
    f.add("action", "halt").add("instrument", pos[1]).add("cancel_orders", cancel_orders ? "1" : "0");
  } else if (a == "resume") {
    if (!need(1, 1, "resume SYMBOL")) return std::nullopt;
    f.add("action", "resume").add("instrument", pos[1]);
  } else if (a == "set-reference" || a == "set_reference") {
    if (!need(2, 2, "set-reference SYMBOL PRICE")) return std::nullopt;
    const auto fen = fen_units ? admin::parse_uint(pos[2], rules::kMaxPriceFen)
                               : admin::parse_yuan(pos[2], rules::kMaxPriceFen);
    if (!fen) {
      *error = fmt::format("price '{}' is not {}", pos[2],
                           fen_units ? "a whole number of fen" : "yuan with at most two decimals");
      return std::nullopt;
    }
    f.add("action", "set_reference").add("instrument", pos[1]).add("price_fen", std::to_string(*fen));
  } else if (a == "session-open" || a == "session_open" || a == "session-close" || a == "session_close") {
    const bool open = a == "session-open" || a == "session_open";
    if (!need(0, 1, open ? "session-open [SYMBOL]" : "session-close [SYMBOL]")) return std::nullopt;
    f.add("action", open ? "session_open" : "session_close");
    if (pos.size() == 2) f.add("instrument", pos[1]);
  } else {
    *error = fmt::format("unknown action '{}'", a);
    return std::nullopt;
  }
  if (cancel_orders && a != "halt") {
    *error = "--cancel-orders goes with halt only";
    return std::nullopt;
  }
  if (!as.empty()) f.add("as", as);
  return f;
}

// Sends one line, reads one line. nullopt + message when the exchange cannot
// be reached or does not answer in time.
std::optional<std::string> exchange_line(const std::filesystem::path& socket_path, const std::string& line,
                                         std::chrono::milliseconds timeout, std::string* error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.native().size() >= sizeof(addr.sun_path)) {
    *error = fmt::format("socket path {} is too long", socket_path.string());
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.native().size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = fmt::format("socket: {}", std::strerror(errno));
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    *error = fmt::format("cannot connect to {}: {}; is `haihe serve` running on this data directory?",
                         socket_path.string(), std::strerror(errno));
    return std::nullopt;
  }
  const std::string out = line + "\n";
  std::size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = fmt::format("send: {}", std::strerror(errno));
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[512];
  while (in.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      *error = "no reply in time; the action may still be applied: check with haihe audit report";
      return std::nullopt;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      *error = fmt::format("poll: {}", std::strerror(errno));
      return std::nullopt;
    }
    if (r == 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "the exchange closed the connection before replying; the action may or may not have been applied";
      return std::nullopt;
    }
    in.append(buf, static_cast<std::size_t>(n));
    if (in.size() > 4 * admin::kMaxLineBytes) {
      *error = "reply too long";
      return std::nullopt;
    }
  }
  in.resize(in.find('\n'));
  return in;
}

}  // namespace

int cmd_admin(Args args) {
  po::options_description opts("options");
  std::string data_dir, socket_opt, as;
  bool fen_units = false, cancel_orders = false, raw = false;
  unsigned timeout_s = 30;
  opts.add_options()("help,h", "show this help")
      ("data", po::value(&data_dir), "the exchange's data directory (its admin socket is DIR/admin.sock; default haihe-data, as haihe serve)")
      ("socket", po::value(&socket_opt), "the admin socket path (instead of --data)")
      ("as", po::value(&as), "who asks: a rules party id (default: the server's operator party)")
      ("fen", po::bool_switch(&fen_units), "AMOUNT and PRICE are integer fen, not yuan")
      ("cancel-orders", po::bool_switch(&cancel_orders), "halt: also cancel the resting orders")
      ("raw", po::bool_switch(&raw), "print the protocol reply line as it came")
      ("timeout", po::value(&timeout_s), "seconds to wait for the reply (default 30)");
  std::vector<std::string> pos;
  po::variables_map vm;
  if (const auto done = parse_command_line(args, opts, pos, vm, "admin", kUsage)) return *done;
  std::string error;
  const auto request = build_request(pos, fen_units, cancel_orders, as, &error);
  if (!request) {
    std::cerr << "haihe admin: " << error << " (haihe admin --help)\n";
    return kExitUsage;
  }
  if (!data_dir.empty() && !socket_opt.empty()) {
    std::cerr << "haihe admin: give one of --data DIR and --socket PATH\n";
    return kExitUsage;
  }
  if (data_dir.empty() && socket_opt.empty()) data_dir = "haihe-data";  // as haihe serve
  if (timeout_s == 0 || timeout_s > 3600) {
    std::cerr << "haihe admin: --timeout must be 1..3600 seconds\n";
    return kExitUsage;
  }
  const std::filesystem::path socket_path =
      socket_opt.empty() ? std::filesystem::path(data_dir) / "admin.sock" : std::filesystem::path(socket_opt);

  const auto reply_line =
      exchange_line(socket_path, admin::format_line(*request), std::chrono::seconds(timeout_s), &error);
  if (!reply_line) {
    std::cerr << "haihe admin: " << error << "\n";
    return kExitRejected;
  }
  if (raw) std::cout << *reply_line << "\n";
  const auto reply = admin::parse_line(*reply_line, &error);
  const std::string* status = reply ? reply->find("status") : nullptr;
  if (status == nullptr) {
    std::cerr << "haihe admin: malformed reply from the exchange: " << *reply_line << "\n";
    return kExitRejected;
  }
  auto field = [&](std::string_view k) {
    const std::string* v = reply->find(k);
    return v != nullptr ? *v : std::string();
  };
  if (*status == "done") {
    if (!raw) {
      if (field("action") == "ping") {
        std::cout << "the exchange answers (pong)\n";
      } else {
        std::cout << fmt::format("done: {} (as {}, seq {})\n", field("message"), field("as"), field("seq"));
      }
    }
    return kExitOk;
  }
  if (*status == "rejected") {
    if (!raw) {
      std::cout << fmt::format("rejected: {} (as {}, seq {}): {}\n", field("message"), field("as"), field("seq"),
                               field("reason"));
    }
    return kExitRejected;
  }
  std::cerr << "haihe admin: " << field("reason") << "\n";
  return kExitRejected;
}

}  // namespace haihe::app
