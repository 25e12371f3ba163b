// haihe::gateway (internal) — the inbound side: the QuickFIX Application
// that QuickFIX's session threads call for every message a party sends.
//
//   fromAdmin  Logon (A): Username (553) must be the session's party id and
//              Password (554) its password (gateway/passwords.h), else
//              FIX::RejectLogon (a Logout with the Text of the README).
//   fromApp    per message, in order: the session's throttle (a token bucket
//              of the party's max_msgs_per_s), "exchange stopping", then by
//              MsgType: V (market-data subscriptions, gateway/state.h),
//              x (SecurityList answered here from the rules and
//              Shared::instruments), the order-entry types (translated by
//              gateway/translate.h and submitted to the core, never
//              blocking), and a BusinessMessageReject (380=3) for every other
//              type; a BusinessMessageReject (j) from the party is logged,
//              never answered.
//   onLogout   drops the party's market-data subscriptions.
// Every refusal is an answer on the session (execution report, cancel
// reject, mass cancel report, MarketDataRequestReject or BusinessMessageReject,
// as gateway/README.md says), sent at once from the session thread; nothing
// refused reaches the core.
//
// The answers to accepted requests come from the publisher
// (gateway/publisher.h); what it needs of the request is left in
// Shared::pending under the command's user_ref.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exchange/core.h"
#include "gateway/passwords.h"
#include "gateway/quickfix.h"
#include "gateway/state.h"
#include "gateway/throttle.h"

namespace haihe::gateway {

class Inbound final : public FIX::Application {
 public:
  Inbound(Shared& shared, PasswordFile passwords);

  /// From now on every application message is refused ("exchange stopping").
  void stop_accepting() { accepting_.store(false); }

  /// Parties with a password set.
  std::size_t passwords_set() const { return passwords_count_; }

  // FIX::Application
  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& sid) override;
  void onLogout(const FIX::SessionID& sid) override;
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) override {}
  void fromAdmin(const FIX::Message& msg, const FIX::SessionID& sid) override;
  void fromApp(const FIX::Message& msg, const FIX::SessionID& sid) override;

 private:
  struct ThrottleSlot {
    std::mutex mutex;  // one connection at a time, but plain and TLS may race on logon
    Throttle throttle;
  };

  void order_entry(const FIX::Message& msg, const FIX::SessionID& sid, exchange::PartyIndex p,
                   const std::string& type);
  void market_data_request(const FIX::Message& msg, const FIX::SessionID& sid, exchange::PartyIndex p);
  void security_list(const FIX::Message& msg, const FIX::SessionID& sid);

  // The gateway's own answers (before the core).
  void refuse_generic(const FIX::Message& msg, const FIX::SessionID& sid, const std::string& type,
                      const std::string& text, int biz, int ord_rej, int cxl_rej);
  void send_business_reject(const FIX::Message& msg, const FIX::SessionID& sid, int reason, const std::string& text);
  void send_order_reject(const FIX::Message& msg, const FIX::SessionID& sid, int code, const std::string& text,
                         const char* exec_type);
  void send_cancel_reject(const FIX::Message& msg, const FIX::SessionID& sid, const std::string& type, int code,
                          const std::string& text);
  void send_mass_cancel_reject(const FIX::Message& msg, const FIX::SessionID& sid, int code, const std::string& text);
  void md_reject(const FIX::Message& msg, const FIX::SessionID& sid, const char* reason, const std::string& text);

  Shared& shared_;
  const rules::MarketRules& rules_;
  PasswordFile passwords_;
  std::size_t passwords_count_ = 0;
  std::vector<std::unique_ptr<ThrottleSlot>> throttles_;  // by PartyIndex
  std::atomic<bool> accepting_{true};
};

}  // namespace haihe::gateway
