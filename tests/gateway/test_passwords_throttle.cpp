#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gateway/passwords.h"
#include "gateway/throttle.h"

namespace haihe::gateway {
namespace {

std::filesystem::path temp_dir() {
  auto d = std::filesystem::temp_directory_path() /
           ("haihe-pw-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

TEST(Passwords, SetSaveLoadCheck) {
  const auto dir = temp_dir();
  const auto path = dir / "fix-passwords";
  PasswordFile f = PasswordFile::load(path);  // missing: empty
  EXPECT_EQ(f.size(), 0u);
  f.set("BJ_WATERWORKS", "s3cret");
  f.set("TJ_WATERWORKS", "other");
  f.save(path);
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  EXPECT_NE(text.find("BJ_WATERWORKS pbkdf2-sha256 100000 "), std::string::npos);

  const auto g = PasswordFile::load(path);
  EXPECT_EQ(g.check("BJ_WATERWORKS", "s3cret"), PasswordCheck::ok);
  EXPECT_EQ(g.check("BJ_WATERWORKS", "s3cret "), PasswordCheck::wrong);
  EXPECT_EQ(g.check("BJ_WATERWORKS", "other"), PasswordCheck::wrong);
  EXPECT_EQ(g.check("TJ_WATERWORKS", "other"), PasswordCheck::ok);
  EXPECT_EQ(g.check("NOBODY", "x"), PasswordCheck::no_entry);
  std::filesystem::remove_all(dir);
}

TEST(Passwords, SaltsDiffer) {
  PasswordFile f;
  f.set("A", "same");
  f.set("B", "same");
  const auto dir = temp_dir();
  f.save(dir / "p");
  std::ifstream in(dir / "p");
  std::string line, a, b;
  while (std::getline(in, line)) {
    if (line.rfind("A ", 0) == 0) a = line.substr(2);
    if (line.rfind("B ", 0) == 0) b = line.substr(2);
  }
  EXPECT_NE(a, b);
  std::filesystem::remove_all(dir);
}

TEST(Passwords, MalformedFileIsRefused) {
  const auto dir = temp_dir();
  for (const char* bad : {"A pbkdf2-sha256 100000 00\n", "A md5 100000 00112233445566778899aabbccddeeff "
                                                          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
                          "A pbkdf2-sha256 10 00112233445566778899aabbccddeeff "
                          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"}) {
    std::ofstream(dir / "p") << bad;
    EXPECT_THROW(PasswordFile::load(dir / "p"), PasswordFileError) << bad;
  }
  std::filesystem::remove_all(dir);
}

TEST(Throttle, TokenBucket) {
  Throttle t(10);
  const std::int64_t s = Throttle::kNsPerS;
  int passed = 0;
  for (int i = 0; i < 25; ++i) passed += t.allow(1000) ? 1 : 0;
  EXPECT_EQ(passed, 10);  // burst = rate
  EXPECT_FALSE(t.allow(1000 + s / 20));  // half a token
  EXPECT_TRUE(t.allow(1000 + s / 10));   // one token after 100 ms
  EXPECT_FALSE(t.allow(1000 + s / 10));
  passed = 0;
  for (int i = 0; i < 25; ++i) passed += t.allow(1000 + 10 * s) ? 1 : 0;
  EXPECT_EQ(passed, 10);  // refill caps at the capacity
  Throttle unlimited(0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(unlimited.allow(0));
}

}  // namespace
}  // namespace haihe::gateway
