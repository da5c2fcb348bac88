// surge-edge's command line parsed as nginx parses its own.
#include "surge/edge/command_line.h"

#include <gtest/gtest.h>

#include <vector>

namespace surge::edge {
namespace {

base::Result<CommandLine, std::string> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "surge-edge");
  return parseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(CommandLineTest, FlagsTogetherAndValuesAttachedOrApart) {
  auto line =
      parse({"-tq", "-p/srv/site", "-c", "conf/edge.conf", "-eerror.log", "-g", "pid x.pid;"});
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_TRUE(line->test);
  EXPECT_TRUE(line->quiet);
  EXPECT_FALSE(line->dump);
  EXPECT_EQ(line->prefix, "/srv/site/");
  EXPECT_EQ(line->config, "/srv/site/conf/edge.conf");
  EXPECT_EQ(line->error_log, "/srv/site/error.log");
  EXPECT_EQ(line->globals, "pid x.pid;");
}

TEST(CommandLineTest, DefaultsAndAbsolutePaths) {
  auto line = parse({"-p", "/p/", "-c", "/etc/x.conf", "-e", "stderr"});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->config, "/etc/x.conf");
  EXPECT_EQ(line->error_log, "stderr");
  auto bare = parse({});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->config, kDefaultConfigPath);
  EXPECT_EQ(bare->prefix, "");
  auto t = parse({"-T"});
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->test && t->dump);
  auto help = parse({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  auto v = parse({"-V"});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->version && v->configure);
}

TEST(CommandLineTest, MistakesAreNamed) {
  EXPECT_EQ(parse({"-x"}).error(), "invalid option: \"x\"");
  EXPECT_EQ(parse({"-tx"}).error(), "invalid option: \"x\"");
  EXPECT_EQ(parse({"file"}).error(), "invalid option: \"file\"");
  EXPECT_EQ(parse({"-c"}).error(), "option \"-c\" requires file name");
  EXPECT_EQ(parse({"-p"}).error(), "option \"-p\" requires directory name");
  EXPECT_EQ(parse({"-s"}).error(), "option \"-s\" requires parameter");
  EXPECT_EQ(parse({"-s", "restart"}).error(), "invalid option: \"-s restart\"");
  for (const char* s : {"stop", "quit", "reopen", "reload"})
    EXPECT_TRUE(parse({"-s", s}).ok()) << s;
}

TEST(CommandLineTest, VersionInNginxWords) {
  EXPECT_EQ(versionText(false).rfind("nginx version: nginx/", 0), 0u);
  EXPECT_EQ(versionText(false).find("configure arguments"), std::string::npos);
  EXPECT_NE(versionText(true).find("configure arguments: "), std::string::npos);
}

}  // namespace
}  // namespace surge::edge
