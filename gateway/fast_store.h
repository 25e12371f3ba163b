// haihe::gateway::FastStore — a QuickFIX MessageStore with one syscall per
// stored message and one per sequence-number change (QuickFIX's FileStore
// spends about six: stdio fseek, fwrite x2, fflush x2, fprintf).
//
// Guarantee: the same as FileStore against a PROCESS crash (SIGKILL): every
// write() has reached the page cache when the call returns, so it survives
// the process. Like FileStore there is no fsync: a machine crash may lose
// the tail.
//
// Files, per session, in the store directory (`<data>/fix-store/`), named
// `<BeginString>-<SenderCompID>-<TargetCompID>[-<Qualifier>]` plus:
//
//   .fmsg  append-only message log, a sequence of records, little-endian:
//            u32 magic   0x4D534648 ("HFSM")
//            u32 len     bytes of the message (<= kMaxMessageBytes)
//            u64 seq     MsgSeqNum the message was sent with (>= 1)
//            u32 check   FNV-1a 32 of the message bytes
//            u32 zero    reserved, 0
//            len bytes   the message as sent
//          Each set() is ONE write() of one whole record. At open the file
//          is scanned; a torn or corrupt tail (crash mid-write) is cut off
//          (ftruncate to the end of the last whole record). A later record
//          for the same seq replaces the earlier one.
//   .fseq  32 bytes:
//            [0, 8)   magic "HHFSEQ1\0"
//            [8, 16)  i64 creation time, microseconds since the Unix epoch, UTC
//            [16, 20) u32 next sender MsgSeqNum, as last written
//            [20, 24) u32 next target MsgSeqNum
//            [24, 32) u64 mark: bytes of .fmsg when these were written
//          A sequence-number change is ONE pwrite() of bytes [16, 32)
//          (16-byte aligned, inside one page: not torn by a process crash).
//          The next sender number is derived: max(the stored one, 1 + the
//          largest seq of the records at or after the mark), so QuickFIX's
//          incrNextSenderMsgSeqNum() right after set(n) writes nothing (the
//          record says "next is n + 1"): one syscall per sent message.
//          Lowering it (setNextSenderMsgSeqNum) writes a new mark, so older
//          records no longer count. A crash between set(n) and the incr
//          therefore resumes at n + 1 with n stored (FileStore would reuse
//          n); the counterparty sees n on its ResendRequest.
//
// reset() truncates .fmsg, sets both numbers to 1 and a new creation time;
// refresh() re-reads both files. A missing or short .fseq is a new session
// (numbers 1, creation time now). Errors throw FIX::IOException, as
// FileStore does. Not thread-safe: QuickFIX calls a session's store under
// that session's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gateway/quickfix.h"

namespace haihe::gateway {

class FastStore final : public FIX::MessageStore {
 public:
  static constexpr std::uint32_t kRecordMagic = 0x4D534648u;  // "HFSM" little-endian
  static constexpr std::size_t kRecordHeaderBytes = 24;
  static constexpr std::uint32_t kMaxMessageBytes = 16u * 1024u * 1024u;
  static constexpr std::size_t kSeqFileBytes = 32;

  // Opens (creating if missing) `dir/<prefix>.fmsg` and `.fseq`.
  FastStore(const std::filesystem::path& dir, const FIX::SessionID& sid);
  ~FastStore() override;
  FastStore(const FastStore&) = delete;
  FastStore& operator=(const FastStore&) = delete;

  bool set(int seq, const std::string& message) override;
  void get(int begin, int end, std::vector<std::string>& out) const override;

  int getNextSenderMsgSeqNum() const override { return next_sender_; }
  int getNextTargetMsgSeqNum() const override { return next_target_; }
  void setNextSenderMsgSeqNum(int value) override;
  void setNextTargetMsgSeqNum(int value) override;
  void incrNextSenderMsgSeqNum() override;
  void incrNextTargetMsgSeqNum() override;

  FIX::UtcTimeStamp getCreationTime() const override;

  void reset() override;
  void refresh() override;

  // For tests and diagnostics.
  std::size_t stored_count() const { return index_.size(); }
  const std::filesystem::path& messages_path() const { return msg_path_; }
  const std::filesystem::path& seqnums_path() const { return seq_path_; }

  // `<BeginString>-<SenderCompID>-<TargetCompID>[-<Qualifier>]`.
  static std::string file_prefix(const FIX::SessionID& sid);

 private:
  struct Location {
    std::uint64_t offset;  // of the message bytes (after the record header)
    std::uint32_t len;
  };

  void open_files();
  void close_files();
  void load();  // (re)reads both files into memory, cutting a torn tail
  void write_seqnums();
  void write_seq_file_whole();

  std::filesystem::path msg_path_;
  std::filesystem::path seq_path_;
  int msg_fd_ = -1;
  int seq_fd_ = -1;
  std::uint64_t msg_end_ = 0;  // bytes of whole records in .fmsg
  std::uint64_t seq_mark_ = 0;  // msg_end_ when the numbers were last written
  int implied_sender_ = 1;      // the next sender number a reopen would derive
  std::map<int, Location> index_;
  int next_sender_ = 1;
  int next_target_ = 1;
  std::int64_t creation_us_ = 0;
  std::vector<char> record_;  // scratch for one record, reused
};

class FastStoreFactory final : public FIX::MessageStoreFactory {
 public:
  explicit FastStoreFactory(std::filesystem::path dir);
  FIX::MessageStore* create(const FIX::SessionID& sid) override;
  void destroy(FIX::MessageStore* store) override;

 private:
  std::filesystem::path dir_;
};

}  // namespace haihe::gateway
