// surgectl (and surge-origin's command line) as an operator meets them: --help, a config file
// whose relative paths are its own, names checked before anything is sent, a publish that
// waits and says what it did, times in RFC 3339.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "origin_process.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

struct Outcome {
  int status = -1;
  std::string out, err;
};

// Runs `command` with /bin/sh from the root directory (so nothing can be found relative to the
// test's own working directory), with stdout and stderr apart.
Outcome run(const std::string& command) {
  static int n = 0;
  std::string err_path = std::filesystem::temp_directory_path() /
                         ("surgectl-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
  FILE* p = ::popen(("cd / && " + command + " 2>" + err_path).c_str(), "r");
  Outcome r;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, got);
  int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::filesystem::remove(err_path);
  return r;
}

// Regression: --help said "unknown option" and exited 2.
TEST(SurgectlTest, HelpPrintsTheUsageAndExitsZero) {
  for (const std::string bin : {SURGECTL_BIN, SURGE_ORIGIN_BIN, SURGE_EDGE_BIN}) {
    Outcome r = run(bin + " --help");
    EXPECT_EQ(r.status, 0) << bin;
    EXPECT_NE(r.out.find("usage:"), std::string::npos) << bin;
    EXPECT_EQ(r.err, "") << bin;
    EXPECT_EQ(r.out.find("unknown option"), std::string::npos) << bin;
  }
  Outcome bad = run(std::string(SURGECTL_BIN) + " --bogus-flag");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("unknown command \"--bogus-flag\""), std::string::npos) << bad.err;
}

// Regression: surgectl looked for var/admin-keys.conf in whatever directory it was run from.
TEST(SurgectlTest, AConfigNamesKeysRelativeToItselfAndPublishSaysWhatItDid) {
  test::OriginProcess origin(test::smallCatalog());
  {
    std::ofstream(origin.path("surgectl.conf"))
        << "# where this origin is\norigin http://127.0.0.1:" << origin.port()
        << "\nadmin_keys admin-keys.conf   # beside this file\n";
  }
  const std::string ctl = "SURGE_CONFIG=" + origin.path("surgectl.conf") + " " + SURGECTL_BIN;
  Outcome stats = run(ctl + " stats");
  ASSERT_EQ(stats.status, 0) << stats.err;
  EXPECT_EQ(nlohmann::json::parse(stats.out)["clinics"], 4);

  // publish waits for the full publish and says what it did.
  Outcome published = run(ctl + " publish");
  ASSERT_EQ(published.status, 0) << published.err;
  EXPECT_NE(published.out.find("published 6 regions, 4 clinics and 0 operator snapshots in"),
            std::string::npos)
      << published.out;
  EXPECT_NE(published.out.find("0 with new content, 0 not written"), std::string::npos)
      << published.out;

  // Names are checked before anything is sent.
  Outcome bad_name = run(ctl + " snapshot rm '../admin/v1/queue/open'");
  EXPECT_EQ(bad_name.status, 2);
  EXPECT_NE(bad_name.err.find("invalid snapshot name"), std::string::npos) << bad_name.err;
  Outcome bad_key_config =
      run("SURGE_CONFIG=/nonexistent/x.conf " + std::string(SURGECTL_BIN) + " stats");
  EXPECT_EQ(bad_key_config.status, 1);
  EXPECT_NE(bad_key_config.err.find("cannot read the config /nonexistent/x.conf"),
            std::string::npos);

  // Times in and out as RFC 3339.
  Outcome opening = run(ctl + " queue opening 2030-01-02T09:00:00+09:00");
  ASSERT_EQ(opening.status, 0) << opening.err;
  auto status = nlohmann::json::parse(opening.out);
  EXPECT_EQ(status["opening"], 1893542400);  // 2030-01-02T00:00:00Z
  EXPECT_EQ(status["opening_at"], "2030-01-02T00:00:00.000Z");

  // purge TAG...: tags checked before anything is sent; an origin without CDNs says so.
  Outcome bad_tag = run(ctl + " purge region.11 'a/b'");
  EXPECT_EQ(bad_tag.status, 2);
  EXPECT_NE(bad_tag.err.find("invalid tag \"a/b\""), std::string::npos) << bad_tag.err;
  Outcome no_cdn = run(ctl + " purge region.11");
  EXPECT_NE(no_cdn.status, 0);
  EXPECT_NE((no_cdn.out + no_cdn.err).find("--cdn-purge"), std::string::npos)
      << no_cdn.out << no_cdn.err;
}

}  // namespace
}  // namespace surge::origin
