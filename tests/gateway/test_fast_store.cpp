// haihe::gateway::FastStore: the QuickFIX MessageStore in DATA/fix-store/.
#include "gateway/fast_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using haihe::gateway::FastStore;
using haihe::gateway::FastStoreFactory;

class FastStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("haihe-fast-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<FastStore> open() { return std::make_unique<FastStore>(dir_, sid_); }

  static std::string msg(int seq) {
    // Varying lengths, binary-ish content (SOH) as in real FIX messages.
    return "8=FIX.4.4\x01" "34=" + std::to_string(seq) + "\x01" + std::string(static_cast<std::size_t>(seq % 37), 'x') +
           "\x01" "10=000\x01";
  }

  fs::path dir_;
  FIX::SessionID sid_{"FIX.4.4", "HAIHE", "CLIENT_1"};
};

TEST_F(FastStoreTest, NewStoreStartsAtOneAndIsEmpty) {
  auto s = open();
  EXPECT_EQ(s->getNextSenderMsgSeqNum(), 1);
  EXPECT_EQ(s->getNextTargetMsgSeqNum(), 1);
  std::vector<std::string> out{"stale"};
  s->get(1, 100, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s->messages_path(), dir_ / "FIX.4.4-HAIHE-CLIENT_1.fmsg");
  EXPECT_EQ(s->seqnums_path(), dir_ / "FIX.4.4-HAIHE-CLIENT_1.fseq");
  EXPECT_EQ(fs::file_size(s->seqnums_path()), FastStore::kSeqFileBytes);
}

TEST_F(FastStoreTest, SetAndGetRanges) {
  auto s = open();
  for (int seq = 1; seq <= 10; ++seq) {
    if (seq == 5) continue;  // a gap (e.g. an admin message not persisted)
    ASSERT_TRUE(s->set(seq, msg(seq)));
  }
  std::vector<std::string> out;
  s->get(3, 7, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], msg(3));
  EXPECT_EQ(out[1], msg(4));
  EXPECT_EQ(out[2], msg(6));
  EXPECT_EQ(out[3], msg(7));
  s->get(8, 1000, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2], msg(10));
  s->get(11, 20, out);
  EXPECT_TRUE(out.empty());
  s->get(7, 3, out);
  EXPECT_TRUE(out.empty());
  s->get(5, 5, out);
  EXPECT_TRUE(out.empty());
  // A later record for the same seq replaces the earlier one.
  ASSERT_TRUE(s->set(4, "replaced"));
  s->get(4, 4, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "replaced");
  EXPECT_EQ(s->stored_count(), 9u);
}

TEST_F(FastStoreTest, SeqNumsAndCreationTimeSurviveReopen) {
  FIX::UtcTimeStamp created;
  {
    auto s = open();
    created = s->getCreationTime();
    s->incrNextSenderMsgSeqNum();
    s->incrNextSenderMsgSeqNum();
    s->incrNextTargetMsgSeqNum();
    EXPECT_EQ(s->getNextSenderMsgSeqNum(), 3);
    EXPECT_EQ(s->getNextTargetMsgSeqNum(), 2);
    s->setNextTargetMsgSeqNum(42);
    s->setNextSenderMsgSeqNum(7);
    EXPECT_EQ(s->getNextSenderMsgSeqNum(), 7);
    EXPECT_EQ(s->getNextTargetMsgSeqNum(), 42);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto s = open();
  EXPECT_EQ(s->getNextSenderMsgSeqNum(), 7);
  EXPECT_EQ(s->getNextTargetMsgSeqNum(), 42);
  const FIX::UtcTimeStamp again = s->getCreationTime();
  EXPECT_EQ(again.getTimeT(), created.getTimeT());
  EXPECT_EQ(again.getNanosecond(), created.getNanosecond());
  EXPECT_THROW(s->setNextSenderMsgSeqNum(0), FIX::IOException);
  EXPECT_THROW(s->set(0, "x"), FIX::IOException);
}

TEST_F(FastStoreTest, ReopenAfterCloseKeepsMessagesAndAppends) {
  {
    auto s = open();
    for (int seq = 1; seq <= 50; ++seq) {
      s->set(seq, msg(seq));
      s->incrNextSenderMsgSeqNum();
    }
  }
  {
    auto s = open();
    EXPECT_EQ(s->getNextSenderMsgSeqNum(), 51);
    EXPECT_EQ(s->stored_count(), 50u);
    for (int seq = 51; seq <= 60; ++seq) s->set(seq, msg(seq));
  }
  auto s = open();
  std::vector<std::string> out;
  s->get(1, 60, out);
  ASSERT_EQ(out.size(), 60u);
  for (int seq = 1; seq <= 60; ++seq) EXPECT_EQ(out[static_cast<std::size_t>(seq - 1)], msg(seq)) << seq;
}

TEST_F(FastStoreTest, ResetTruncatesAndRestartsAtOneWithNewCreationTime) {
  auto s = open();
  const FIX::UtcTimeStamp before = s->getCreationTime();
  for (int seq = 1; seq <= 5; ++seq) s->set(seq, msg(seq));
  s->setNextSenderMsgSeqNum(6);
  s->setNextTargetMsgSeqNum(9);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s->reset();
  EXPECT_EQ(s->getNextSenderMsgSeqNum(), 1);
  EXPECT_EQ(s->getNextTargetMsgSeqNum(), 1);
  EXPECT_EQ(s->stored_count(), 0u);
  EXPECT_EQ(fs::file_size(s->messages_path()), 0u);
  const FIX::UtcTimeStamp after = s->getCreationTime();
  EXPECT_TRUE(before < after);
  std::vector<std::string> out;
  s->get(1, 5, out);
  EXPECT_TRUE(out.empty());
  s->set(1, "after reset");
  EXPECT_EQ(s->getNextSenderMsgSeqNum(), 1);
  s.reset();
  auto r = open();
  EXPECT_EQ(r->getNextSenderMsgSeqNum(), 2);  // derived: message 1 is stored
  EXPECT_EQ(r->getNextTargetMsgSeqNum(), 1);
  EXPECT_EQ(r->getCreationTime().getTimeT(), after.getTimeT());
  EXPECT_EQ(r->getCreationTime().getNanosecond(), after.getNanosecond());
  r->get(1, 5, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "after reset");
}

std::uint32_t stored_sender(const fs::path& seq_path) {
  std::ifstream in(seq_path, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  EXPECT_EQ(bytes.size(), FastStore::kSeqFileBytes);
  std::uint32_t v = 0;
  for (int i = 19; i >= 16; --i) v = (v << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
  return v;
}

// set(n) + incr writes once: the record implies the next sender number.
TEST_F(FastStoreTest, SenderNumberIsDerivedFromTheLog) {
  fs::path seq_path;
  {
    auto s = open();
    seq_path = s->seqnums_path();
    for (int seq = 1; seq <= 5; ++seq) {
      s->set(seq, msg(seq));
      s->incrNextSenderMsgSeqNum();
    }
    EXPECT_EQ(s->getNextSenderMsgSeqNum(), 6);
    EXPECT_EQ(stored_sender(seq_path), 1u);  // not written: derived
  }
  {
    auto s = open();
    EXPECT_EQ(s->getNextSenderMsgSeqNum(), 6);
    // Lowering it (without reset) hides the older records from the derivation.
    s->setNextSenderMsgSeqNum(3);
    EXPECT_EQ(stored_sender(seq_path), 3u);
  }
  {
    auto s = open();
    EXPECT_EQ(s->getNextSenderMsgSeqNum(), 3);
    s->set(3, "three again");
    s->incrNextSenderMsgSeqNum();
    s->incrNextTargetMsgSeqNum();  // writes both numbers and a new mark
    s->set(4, "four again");
    s->incrNextSenderMsgSeqNum();
  }
  auto s = open();
  EXPECT_EQ(s->getNextSenderMsgSeqNum(), 5);
  EXPECT_EQ(s->getNextTargetMsgSeqNum(), 2);
  std::vector<std::string> out;
  s->get(3, 5, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], "three again");
  EXPECT_EQ(out[1], "four again");
  EXPECT_EQ(out[2], msg(5));
}

// A crash inside reset(): the log is cut, the old numbers (and mark) remain.
TEST_F(FastStoreTest, CrashInsideResetKeepsDerivingFromNewRecords) {
  fs::path msg_path;
  {
    auto s = open();
    msg_path = s->messages_path();
    for (int seq = 1; seq <= 5; ++seq) s->set(seq, msg(seq));
    s->setNextSenderMsgSeqNum(6);  // mark = end of the five records
  }
  fs::resize_file(msg_path, 0);
  {
    auto s = open();
    EXPECT_EQ(s->getNextSenderMsgSeqNum(), 6);
    EXPECT_EQ(s->stored_count(), 0u);
    s->set(6, msg(6));
    s->incrNextSenderMsgSeqNum();
  }
  auto s = open();
  EXPECT_EQ(s->getNextSenderMsgSeqNum(), 7);
}

TEST_F(FastStoreTest, RefreshReloadsFromDisk) {
  auto a = open();
  auto b = open();
  a->set(1, msg(1));
  a->set(2, msg(2));
  a->setNextSenderMsgSeqNum(3);
  a->setNextTargetMsgSeqNum(5);
  EXPECT_EQ(b->getNextSenderMsgSeqNum(), 1);
  b->refresh();
  EXPECT_EQ(b->getNextSenderMsgSeqNum(), 3);
  EXPECT_EQ(b->getNextTargetMsgSeqNum(), 5);
  std::vector<std::string> out;
  b->get(1, 2, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], msg(2));
}

// A crash in the middle of set() leaves part of a record: it is cut off at
// the next open and the store goes on from the last whole record.
TEST_F(FastStoreTest, TornTailRecordIsIgnoredAndCut) {
  std::uintmax_t whole_bytes = 0;
  fs::path path;
  {
    auto s = open();
    for (int seq = 1; seq <= 3; ++seq) s->set(seq, msg(seq));
    path = s->messages_path();
    whole_bytes = fs::file_size(path);
    s->set(4, msg(4));
  }
  // Cut the fourth record at every length short of whole: header pieces and body pieces.
  const std::string full = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  ASSERT_GT(full.size(), whole_bytes);
  for (std::size_t keep = static_cast<std::size_t>(whole_bytes) + 1; keep < full.size(); keep += 3) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(full.data(), static_cast<std::streamsize>(keep));
    }
    auto s = open();
    EXPECT_EQ(s->stored_count(), 3u) << keep;
    EXPECT_EQ(fs::file_size(path), whole_bytes) << keep;
  }
  // A whole-length tail with damaged bytes (checksum mismatch) is cut too.
  {
    std::string damaged = full;
    damaged[damaged.size() - 2] ^= 0x5A;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
  }
  auto s = open();
  EXPECT_EQ(s->stored_count(), 3u);
  EXPECT_EQ(fs::file_size(path), whole_bytes);
  s->set(4, "fresh four");
  s.reset();
  auto r = open();
  std::vector<std::string> out;
  r->get(1, 4, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[2], msg(3));
  EXPECT_EQ(out[3], "fresh four");
}

// A real SIGKILL while a child process stores messages as fast as it can:
// every whole record survives and the numbers are consistent.
TEST_F(FastStoreTest, SurvivesSigkillOfTheWriter) {
  fs::create_directories(dir_);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FastStore s(dir_, sid_);
    for (int seq = 1; seq < 2'000'000'000; ++seq) {
      s.set(seq, msg(seq));
      s.incrNextSenderMsgSeqNum();
      s.incrNextTargetMsgSeqNum();
    }
    ::_exit(0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto s = open();
  const auto stored = static_cast<int>(s->stored_count());
  ASSERT_GT(stored, 0);
  // Derived from the log: the one after the last stored message.
  EXPECT_EQ(s->getNextSenderMsgSeqNum(), stored + 1);
  EXPECT_GE(s->getNextTargetMsgSeqNum(), stored - 1);
  std::vector<std::string> out;
  s->get(1, stored, out);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(stored));
  for (int seq = 1; seq <= stored; ++seq) ASSERT_EQ(out[static_cast<std::size_t>(seq - 1)], msg(seq)) << seq;
}

TEST_F(FastStoreTest, FactoryCreatesPerSessionFilesBesideFileStoreFiles) {
  fs::create_directories(dir_);
  // A FileStore's files from an older run are left alone.
  { std::ofstream(dir_ / "FIX.4.4-HAIHE-CLIENT_1.seqnums") << "0000000010 : 0000000020"; }
  FastStoreFactory factory(dir_);
  FIX::MessageStore* one = factory.create(sid_);
  FIX::MessageStore* two = factory.create(FIX::SessionID("FIX.4.4", "HAIHE", "CLIENT_2"));
  EXPECT_EQ(one->getNextSenderMsgSeqNum(), 1);
  one->incrNextSenderMsgSeqNum();
  EXPECT_EQ(two->getNextSenderMsgSeqNum(), 1);
  factory.destroy(one);
  factory.destroy(two);
  EXPECT_TRUE(fs::exists(dir_ / "FIX.4.4-HAIHE-CLIENT_2.fmsg"));
  std::ifstream in(dir_ / "FIX.4.4-HAIHE-CLIENT_1.seqnums");
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "0000000010 : 0000000020");
}

}  // namespace
