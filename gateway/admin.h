// haihe::gateway admin — the operator's and regulator's control channel of a
// running exchange (`haihe admin`), and the text helpers it shares with the
// FIX tools (`haihe client`).
//
// Channel
// -------
// A Unix-domain stream socket, by default `<data>/admin.sock`, mode 0600:
// whoever can connect to it is the operating-system account that runs the
// exchange (or root). The socket is bound in a private 0700 temporary
// directory beside it, set to 0600 and renamed into place, so it is never
// reachable with wider permissions. start() refuses a parent directory that
// is not a directory, not owned by this user, or writable by others without
// the sticky bit; it removes a stale socket file (nobody answers on it) and
// refuses to start when another server answers on it.
//
// Protocol (one request line, one reply line, any number per connection)
// ----------------------------------------------------------------------
// A line is at most kMaxLineBytes bytes before its '\n': fields `key=value`
// separated by single spaces. Keys are [a-z_]{1,32}, each at most once.
// Values are percent-encoded: '%', ' ', '=', and bytes outside 0x21..0x7e are
// written %XX (upper-case hex); an empty value is allowed.
//
// Request: `action=NAME` first, then the action's fields; `as=PARTY` (a rules
// party id) names who asks; without it the server's default party acts (if
// it has one). Parties are rules party ids, instruments rules symbols,
// amounts positive decimal integers (fen for cash and prices, base units for
// quantities):
//
//   action=ping                                    (no command: liveness)
//   action=deposit   party=P fen=N
//   action=withdraw  party=P fen=N
//   action=issue     party=P instrument=S qty=N
//   action=retire    party=P instrument=S qty=N
//   action=grant     fund=F city=C fen=N
//   action=halt      instrument=S [cancel_orders=0|1]
//   action=resume    instrument=S
//   action=set_reference instrument=S price_fen=N
//   action=session_open  [instrument=S]            (none: every instrument)
//   action=session_close [instrument=S]
//
// Every action but ping becomes one exchange::Command with `party` = who
// asks, so the journal records who asked for it; the core decides whether
// that party may do it (CoreReject::not_permitted). The server waits for the
// command's admin_done / admin_rejected event and replies:
//
//   status=done action=A seq=N ts_ns=T as=P message=TEXT
//   status=rejected action=A seq=N ts_ns=T as=P reason=TEXT message=TEXT
//   status=error reason=TEXT              (bad request, unknown party, busy,
//                                          timeout: nothing was applied, or,
//                                          for timeout, see the journal)
//
// Threading: AdminServer runs one Boost.Asio thread; the Core is used only
// through submit() and subscribe(), which are thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exchange/core.h"
#include "rules/rules.h"

namespace haihe::gateway {

// ------------------------------------------------------------- line protocol

namespace admin {

// amounts (the exact yuan format of the FIX prices is gateway/translate.h)

/// "12", "12.3", "12.34" yuan -> fen, exactly (no floating point). No sign,
/// no exponent, no separators, at most two decimals; nullopt when malformed
/// or above max_fen.
std::optional<rules::Fen> parse_yuan(std::string_view text, rules::Fen max_fen = rules::kMaxCashFen);
/// A decimal integer 0..max without sign or separators; nullopt otherwise.
std::optional<std::int64_t> parse_uint(std::string_view text, std::int64_t max);
/// fen -> "1,234.56" for people.
std::string format_yuan_grouped(rules::Fen fen);
/// 1234567 -> "1,234,567".
std::string format_grouped(std::int64_t v);

inline constexpr std::size_t kMaxLineBytes = 1024;
inline constexpr std::size_t kMaxKeyBytes = 32;
inline constexpr std::size_t kMaxFields = 16;

std::string percent_encode(std::string_view raw);
/// nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view encoded);

/// The fields of one line, in order.
struct Fields {
  std::vector<std::pair<std::string, std::string>> items;  // decoded values
  /// The value of `key`, or nullptr.
  const std::string* find(std::string_view key) const;
  Fields& add(std::string key, std::string value);
};

/// Parses one line (without its '\n'). On failure returns nullopt and says
/// why in *error.
std::optional<Fields> parse_line(std::string_view line, std::string* error);
/// The line for `fields` (without '\n'). Keys must be valid.
std::string format_line(const Fields& fields);

/// A request translated for the core.
struct Request {
  std::string action;        // as given
  bool ping = false;         // no command
  exchange::Command command{};  // party, kind and fields set (not user_ref)
  std::string summary;       // e.g. "deposit 1,000.00 yuan to BJ_GOV"
};

/// Translates request fields into a Command against `rules`. default_party
/// acts when the request has no `as` (kNone: `as` is required). On failure
/// returns nullopt and says why in *error (unknown action, party,
/// instrument, missing or malformed field, unexpected field).
std::optional<Request> translate(const Fields& fields, const rules::MarketRules& rules,
                                 rules::PartyIndex default_party, std::string* error);

/// The reply line's fields for an admin_done / admin_rejected event.
Fields reply_for(const Request& request, const exchange::Event& event, const rules::MarketRules& rules);
/// The reply line's fields for an error.
Fields error_reply(std::string_view reason);

}  // namespace admin

// ------------------------------------------------------------- server

/// Start-up problems of the admin socket (path too long, bad directory,
/// another server answering). The message says what to do.
class AdminError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AdminServer {
 public:
  /// `core` must outlive the server. default_party acts for requests without
  /// `as` (kNone: requests must name who asks).
  AdminServer(exchange::Core& core, std::filesystem::path socket_path,
              rules::PartyIndex default_party = rules::kNone);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Creates the socket (see the header comment) and starts the server's
  /// thread. Throws AdminError. Call once.
  void start();
  /// Closes the socket and every connection, removes the socket file, joins
  /// the thread. Idempotent. Requests in flight are answered with an error.
  void stop();

  const std::filesystem::path& socket_path() const;

  /// Bounds.
  static constexpr std::size_t kMaxConnections = 16;
  static constexpr std::chrono::seconds kIdleTimeout{60};
  static constexpr std::chrono::seconds kResultTimeout{10};

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace haihe::gateway
