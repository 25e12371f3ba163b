// haihe::gateway (internal) — the sent-mark store: DATA/fix-sent and the
// recovery of what was committed but not handed to QuickFIX.
//
// Per party the store knows how far into the core's committed stream the
// gateway has handed that party's events to QuickFIX (which stores them in
// the session's FastStore, logged on or not): every event with seq < mark.seq,
// and the first mark.count events of mark.seq. The publisher counts each
// event it hands over (`hand_over`, which also numbers the ExecID `SEQ.N`) and
// writes the marks after each batch (`flush`). At start-up, before the core
// runs, `recover` hands over again every stored event past the marks, with
// the same ExecIDs, so that a crash between the commit and QuickFIX's store
// loses nothing:
//
//     SentMarks marks(data / "fix-sent", sessions, core.last_seq());
//     marks.recover(core, [&](const Event& e) { publisher.party_event(e); });
//     ...                                      // publisher: hand_over + flush
//     marks.close(core.last_seq());            // at stop: all handed over
//
// File: 8 bytes magic "HAIHEFS1", then per party (PartyIndex order) two
// native u64 (seq, count). A missing or foreign file starts with nothing
// pending. One thread at a time (the constructor's, then the publisher's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "exchange/core.h"
#include "gateway/state.h"

namespace haihe::gateway {

class SentMarks {
 public:
  /// Opens or creates the file. Throws GatewayError when it cannot.
  SentMarks(const std::filesystem::path& path, const Sessions& sessions, exchange::Seq last_seq);
  ~SentMarks();
  SentMarks(const SentMarks&) = delete;
  SentMarks& operator=(const SentMarks&) = delete;

  /// Counts one event of `party` with sequence `seq` as handed over; returns
  /// its index among the party's events of that seq (the N of ExecID SEQ.N).
  std::uint64_t hand_over(exchange::PartyIndex party, exchange::Seq seq);

  /// Writes the marks of the parties counted since the last flush.
  void flush();

  /// Hands over again, through `deliver` (which must call hand_over once per
  /// event it is given), every stored party event past the marks; then marks
  /// everything stored as handed over. Returns how many were handed over.
  std::uint64_t recover(exchange::Core& core, const std::function<void(const exchange::Event&)>& deliver);

  /// Everything up to `last_seq` was handed over: marks it and syncs the file.
  void close(exchange::Seq last_seq);

 private:
  struct Mark {  // the file's record
    std::uint64_t seq = 0;
    std::uint64_t count = 0;
  };
  struct Cursor {  // the publisher's position, ahead of the durable mark until flush
    exchange::Seq seq = 0;
    std::uint64_t count = 0;
    bool dirty = false;
  };

  void write(std::size_t party);
  void mark_all_handed(exchange::Seq last_seq);

  const Sessions& sessions_;
  int fd_ = -1;
  std::vector<Mark> marks_;
  std::vector<Cursor> cursors_;
};

}  // namespace haihe::gateway
