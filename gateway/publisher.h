// haihe::gateway (internal) — the publisher: one thread that reads the core's
// ordered event stream and turns events into FIX messages.
//
//     Publisher pub(shared, marks, core.subscribe(Audience::regulator, kNone, cap));
//     marks.recover(core, [&](const Event& e) { pub.party_event(e); });
//     pub.end_recovery();
//     pub.start();      // after core.start()
//     ...
//     pub.stop();       // after core.stop(): drains what is left, joins
//
// Routing, by the event's audience:
//   party      execution reports (8), cancel rejects (9), mass cancel
//              reports (r), position reports (AP), mass status answers
//              (8 with 584/911/912), and market-data snapshots (W) built
//              from the book_level events of a subscription's book_request
//   market     incremental market data (X) to the live subscriptions, one X
//              per (subscription, command); state and reference events keep
//              Shared::instruments current
//   regulator  drop copy: a TradeCaptureReport (AE) per trade to every
//              regulator session
// Every message for a party goes through SentMarks::hand_over (its ExecID is
// SEQ.N); the marks are flushed after each polled batch. Because snapshots and
// incrementals come through the same ordered stream, an incremental is sent
// for every change after the snapshot and none before.
//
// Threads: party_event and end_recovery before start() (the constructor's
// thread), everything else on the publisher's own thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "exchange/core.h"
#include "gateway/quickfix.h"
#include "gateway/sent_marks.h"
#include "gateway/state.h"

namespace haihe::gateway {

class Publisher {
 public:
  Publisher(Shared& shared, SentMarks& marks, std::shared_ptr<exchange::Subscription> stream);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void start();
  /// Reads until the stream is empty (the core has stopped), then joins.
  void stop();

  /// One event addressed to a party (also used by the recovery).
  void party_event(const exchange::Event& e);
  /// After the recovery: forgets partial answers (positions, mass status).
  void end_recovery();

 private:
  // Per party, publisher-only: answers assembled over several events.
  struct PartyAnswers {
    std::vector<exchange::Event> positions;  // position events awaiting their cash event
    // OrderMassStatusRequest (AF): the order_status events of the answer
    // being collected (with their ExecIDs) until its is_last, so that every
    // report can carry TotNumReports (911). Bounded by the party's resting
    // orders, which the engine's pools bound.
    std::uint64_t mass_ref = 0;
    std::vector<std::pair<exchange::Event, std::string>> mass;
  };
  // What a report of a mass status answer carries besides the order.
  struct MassReport {
    const std::string* req_id = nullptr;  // MassStatusReqID (584)
    std::size_t total = 0;                // TotNumReports (911)
    bool last = false;                    // LastRptRequested (912)
  };
  using MdOut = std::vector<std::pair<FIX::SessionID, FIX::Message>>;

  void loop();
  void route(const exchange::Event& e, MdOut& md_out);
  std::string exec_id(const exchange::Event& e);
  void deliver(FIX::Message& m, const FIX::SessionID& sid);

  void execution_report(const exchange::Event& e, const std::string& id, const MassReport* mass = nullptr);
  void mass_status_report(const exchange::Event& e, std::string id, const std::string& req_id);
  void cancel_rejected(const exchange::Event& e);
  void mass_cancel_done(const exchange::Event& e);
  void position_reports(const exchange::Event& cash);
  void snapshot_level(const exchange::Event& e);
  void market_event(const exchange::Event& e, MdOut& md_out);
  void flush_md(MdOut& md_out);
  void drop_copy(const exchange::Event& e);

  Shared& shared_;
  const rules::MarketRules& rules_;
  SentMarks& marks_;
  std::shared_ptr<exchange::Subscription> stream_;
  std::vector<PartyAnswers> answers_;  // by PartyIndex
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace haihe::gateway
