// haihe::gateway — the FIX 4.4 acceptor in front of the exchange core.
//
// Model (conventions and every message: gateway/README.md):
//
//     auto core = exchange::Core::open(...);
//     gateway::Gateway gw(*core, options);  // before core->start(): subscribes,
//                                           // builds the sessions, hands over
//                                           // what was committed but not sent
//     core->start();
//     gw.start();                           // publisher thread, acceptors
//     ...
//     gw.stop_accepting();                  // log every session out, close ports
//     core->stop();                         // drain and commit what was queued
//     gw.stop();                            // deliver the rest to the FIX stores
//
// Threads. QuickFIX runs one thread per connection: it calls the
// Application, which checks the logon, applies the session's throttle,
// translates (gateway/translate.h) and submits to the core (never blocking).
// One publisher thread reads ONE core subscription in commit order and turns
// events into FIX messages: execution reports and the other answers to the
// party's session, market data to the sessions that asked, trade capture
// reports to the regulators. Because snapshots (book_request answers) and
// incremental market data come through the same ordered stream, an
// incremental is sent for every change after the snapshot and none before.
//
// Delivery. After handing a party's events to QuickFIX (which stores them,
// logged on or not), the publisher records (seq, count) per party in
// DATA/fix-sent; at construction every stored event after that point is
// handed over again, so nothing committed is lost by a crash.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "exchange/core.h"

namespace haihe::gateway {

struct TlsOptions {
  std::filesystem::path cert_file;  // PEM certificate (chain)
  std::filesystem::path key_file;   // PEM private key
  std::uint16_t port = 9879;
};

struct GatewayOptions {
  std::filesystem::path data_dir;    // holds fix-store/, fix-passwords, fix-sent, the dictionary
  std::string comp_id = "HAIHE";     // the exchange's SenderCompID
  std::uint16_t port = 9878;         // plain FIX; 0: no plain listener
  std::optional<TlsOptions> tls;     // FIX over TLS as well
  bool fix_log = false;              // QuickFIX FileLog of every message in DATA/fix-log/
  /// Events the publisher's subscription may hold before the core cuts it off.
  std::size_t stream_capacity = std::size_t{1} << 19;
};

struct GatewayStats {
  std::uint64_t submitted = 0;  // commands accepted by core.submit()
  std::uint64_t rejected = 0;   // refused by the gateway itself (translation, throttle, busy)
  std::uint64_t throttled = 0;
  std::uint64_t busy = 0;
  std::uint64_t events = 0;     // core events read
  std::uint64_t sent = 0;       // FIX messages handed to QuickFIX by the publisher
  std::uint64_t recovered = 0;  // events handed over again at start-up
};

/// Start-up problems (bad certificate, port in use, unreadable password file).
class GatewayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GatewayImpl;

class Gateway {
 public:
  /// Call before core.start(). Throws GatewayError.
  Gateway(exchange::Core& core, GatewayOptions options);
  ~Gateway();  // stops
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Starts the publisher and the acceptors (after core.start()). Throws GatewayError.
  void start();
  /// Logs every session out and closes the listeners; submits nothing more.
  void stop_accepting();
  /// After core.stop(): delivers the remaining events, records fix-sent, joins.
  void stop();

  GatewayStats stats() const;
  /// How many stored events were handed over again at construction.
  std::uint64_t recovered_events() const;
  /// Parties with a FIX session, and how many of them have a password set.
  std::size_t sessions() const;
  std::size_t passwords_set() const;

 private:
  std::unique_ptr<GatewayImpl> impl_;
};

}  // namespace haihe::gateway
