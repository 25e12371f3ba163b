// `haihe sim` end to end: usage and exit codes, a sweep's files (the same
// bytes twice, charts included), a scenario file on disk, and --replay of a
// data directory.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/runner.h"
#include "sim/scenario.h"

namespace haihe::sim {
namespace {

struct Result {
  int status = -1;
  std::string out;  // stdout and stderr
};

Result haihe(const std::string& args) {
  const std::string cmd = std::string(HAIHE_BIN) + " sim " + args + " 2>&1";
  Result r;
  std::FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SimCli, UsageAndExitCodes) {
  auto r = haihe("--help");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("usage: haihe sim SCENARIO"), std::string::npos);
  EXPECT_NE(r.out.find("--replay"), std::string::npos);
  EXPECT_EQ(haihe("").status, 2);
  EXPECT_EQ(haihe("gode_sunder --design auction").status, 2);
  EXPECT_EQ(haihe("gode_sunder --seeds 3..1").status, 2);
  EXPECT_EQ(haihe("gode_sunder --strategy clever").status, 2);
  EXPECT_EQ(haihe("gode_sunder --bogus").status, 2);
  EXPECT_EQ(haihe("--replay /nonexistent").status, 2);  // no --design to compare
  r = haihe("/nonexistent/nothing.toml");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("no built-in scenario of that name"), std::string::npos) << r.out;
  r = haihe("--list");
  EXPECT_EQ(r.status, 0);
  for (const char* n : {"gode_sunder", "emissions_jjj", "water_haihe", "zi_100"}) {
    EXPECT_NE(r.out.find(n), std::string::npos) << n;
  }
}

TEST(SimCli, SameSeedsSameFilesTwice) {
  TempDir tmp({});
  const std::string a = (tmp.path() / "a").string();
  const std::string b = (tmp.path() / "b").string();
  // The path does not exist from the build directory: the built-in scenario of that name.
  const std::string args = "sim/scenarios/gode_sunder.toml --design continuous,call --seeds 1..4 --strategy zi-c --out ";
  const auto ra = haihe(args + a);
  ASSERT_EQ(ra.status, 0) << ra.out;
  EXPECT_NE(ra.out.find("continuous/zi-c"), std::string::npos) << ra.out;
  EXPECT_EQ(ra.out.find("warning"), std::string::npos) << ra.out;
  const auto rb = haihe(args + b + " --jobs 1");
  ASSERT_EQ(rb.status, 0) << rb.out;
  std::size_t compared = 0;
  for (const auto& e : std::filesystem::directory_iterator(a)) {
    const auto name = e.path().filename();
    EXPECT_EQ(read_file(e.path()), read_file(tmp.path() / "b" / name)) << name;
    ++compared;
  }
  for (const char* f : {"runs.csv", "summary.json", "efficiency.png", "price_GS.UNIT.png"}) {
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "a" / f)) << f;
  }
  EXPECT_GE(compared, 8u);
  const std::string csv = read_file(tmp.path() / "a" / "runs.csv");
  EXPECT_EQ(csv.substr(0, csv.find(',', csv.find(',', csv.find(',', csv.find(',') + 1) + 1) + 1)),
            "treatment,design,strategy,seed");
  // 1 header + 2 designs x 4 seeds.
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 9);
}

TEST(SimCli, ScenarioFileOnDisk) {
  TempDir tmp({});
  std::string text(*builtin_scenario_text("gode_sunder"));
  text.replace(text.find("actions = 2000"), 14, "actions = 400");
  {
    std::ofstream f(tmp.path() / "small.toml");
    f << text;
  }
  const auto r = haihe((tmp.path() / "small.toml").string() + " --seeds 5,6 --design batch:100ms --no-charts --out " +
                       (tmp.path() / "o").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "o" / "efficiency.gp"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "o" / "efficiency.png"));  // --no-charts
  EXPECT_NE(read_file(tmp.path() / "o" / "summary.json").find("\"seeds\": [5, 6]"), std::string::npos);
  // A broken file: exit 1 with the position of the problem.
  text.replace(text.find("actions = 400"), 13, "actions = -4");
  {
    std::ofstream f(tmp.path() / "bad.toml");
    f << text;
  }
  const auto bad = haihe((tmp.path() / "bad.toml").string());
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("bad.toml:"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("scenario.actions: -4 is out of range"), std::string::npos) << bad.out;
}

TEST(SimCli, ReplayADataDirectory) {
  TempDir tmp({});
  const Plan plan = make_plan(load_scenario("gode_sunder"));
  RunOptions ro;
  ro.keep_data_dir = tmp.path() / "data";
  (void)run_one(plan, 0, 1, ro);
  const auto r = haihe("--replay " + ro.keep_data_dir.string() + " --design batch:100ms --design call:2m --out " +
                       (tmp.path() / "r").string());
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string csv = read_file(tmp.path() / "r" / "replay.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "metric,original,batch:100ms,call:2m");
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "r" / "replay.json"));
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "r" / "replay_price_GS.UNIT.png"));
  EXPECT_EQ(haihe("--replay " + (tmp.path() / "nothing").string() + " --design call").status, 1);
}

}  // namespace
}  // namespace haihe::sim
