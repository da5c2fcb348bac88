#include "surge/nginx_compat/config_parser.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "surge/testing/temp_dir.h"

namespace surge::nginx_compat {
namespace {

using surge::testing::TempDir;

std::vector<Directive> parseOk(std::string_view text, const std::string& base_dir = "") {
  auto parsed = parseConfigText(text, "t.conf", base_dir);
  EXPECT_TRUE(parsed.ok()) << parsed.error();
  if (!parsed.ok()) return {};
  return std::move(parsed.value());
}

std::string parseError(std::string_view text, const std::string& base_dir = "") {
  auto parsed = parseConfigText(text, "t.conf", base_dir);
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? std::string("(parsed)") : parsed.error();
}

std::vector<std::string> namesOf(const std::vector<Directive>& ds) {
  std::vector<std::string> names;
  for (const Directive& d : ds)
    names.push_back(d.name);
  return names;
}

using Strings = std::vector<std::string>;

TEST(ConfigParserTest, ParsesNestedBlocksAndArgs) {
  auto ds = parseOk(
      "worker_processes 2;\n"
      "events { worker_connections 1024; }\n"
      "http {\n"
      "  server {\n"
      "    listen 80 default_server;\n"
      "    location / {\n"
      "      root /srv/www;\n"
      "    }\n"
      "    location /empty {}\n"
      "  }\n"
      "}\n");
  ASSERT_EQ(namesOf(ds), (Strings{"worker_processes", "events", "http"}));
  EXPECT_EQ(ds[0].args, Strings{"2"});
  EXPECT_FALSE(ds[0].has_block);
  EXPECT_EQ(ds[0].file, "t.conf");
  EXPECT_EQ(ds[0].line, 1);

  ASSERT_TRUE(ds[1].has_block);
  EXPECT_TRUE(ds[1].args.empty());
  ASSERT_EQ(ds[1].block.size(), 1u);
  EXPECT_EQ(ds[1].block[0].name, "worker_connections");
  EXPECT_EQ(ds[1].block[0].line, 2);

  const Directive& http = ds[2];
  EXPECT_EQ(http.line, 3);
  ASSERT_EQ(http.block.size(), 1u);
  const Directive& server = http.block[0];
  EXPECT_EQ(server.line, 4);
  ASSERT_EQ(namesOf(server.block), (Strings{"listen", "location", "location"}));
  EXPECT_EQ(server.block[0].args, (Strings{"80", "default_server"}));
  EXPECT_EQ(server.block[0].line, 5);
  EXPECT_EQ(server.block[1].args, Strings{"/"});
  EXPECT_EQ(server.block[1].line, 6);
  ASSERT_EQ(server.block[1].block.size(), 1u);
  EXPECT_EQ(server.block[1].block[0].args, Strings{"/srv/www"});
  EXPECT_EQ(server.block[1].block[0].line, 7);
  EXPECT_TRUE(server.block[2].has_block);
  EXPECT_TRUE(server.block[2].block.empty());
  EXPECT_EQ(server.block[2].line, 9);
  EXPECT_EQ(locationOf(server.block[2]), "t.conf:9");
}

TEST(ConfigParserTest, EmptyInputsAndTokenSeparators) {
  EXPECT_TRUE(parseOk("").empty());
  EXPECT_TRUE(parseOk("  \n\t\r\n# only a comment\n").empty());

  // Tabs, CRLF and no spaces around ; { } all separate tokens; the name's line is recorded even
  // when its arguments continue on later lines.
  auto ds = parseOk("a\t1;\r\nb{c 2;}d\r\n  x\r\n  y;\r\n");
  ASSERT_EQ(namesOf(ds), (Strings{"a", "b", "d"}));
  EXPECT_EQ(ds[0].args, Strings{"1"});
  ASSERT_EQ(ds[1].block.size(), 1u);
  EXPECT_EQ(ds[1].block[0].args, Strings{"2"});
  EXPECT_EQ(ds[1].block[0].line, 2);
  EXPECT_EQ(ds[2].args, (Strings{"x", "y"}));
  EXPECT_EQ(ds[2].line, 2);
}

TEST(ConfigParserTest, QuotedArgsAndEscapes) {
  auto ds = parseOk(
      R"(a "x y" 'p q' "say \"hi\"" 'it\'s' "back\\slash" "t\tn\nr\r" "keep \d" '' "a'b" 'a"b';)");
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].args, (Strings{"x y", "p q", "say \"hi\"", "it's", "back\\slash", "t\tn\nr\r",
                                 "keep \\d", "", "a'b", "a\"b"}));
}

TEST(ConfigParserTest, UnquotedTokensFollowNginx) {
  // A backslash makes the next character ordinary; unknown escapes keep the backslash (regexes).
  // `}`, `#` and quotes inside a token are ordinary, `${` does not open a block.
  auto ds = parseOk(
      "location ~ \\.php$ { return 200 ${host}x; }\n"
      "b foo\\;bar a\\ b x#y c}d e\"f\" \\\"q \\n;\n");
  ASSERT_EQ(namesOf(ds), (Strings{"location", "b"}));
  EXPECT_EQ(ds[0].args, (Strings{"~", "\\.php$"}));
  ASSERT_EQ(ds[0].block.size(), 1u);
  EXPECT_EQ(ds[0].block[0].args, (Strings{"200", "${host}x"}));
  EXPECT_EQ(ds[1].args, (Strings{"foo\\;bar", "a\\ b", "x#y", "c}d", "e\"f\"", "\"q", "\n"}));
  EXPECT_EQ(ds[1].line, 2);
}

TEST(ConfigParserTest, QuoteFollowedByParenOrSemicolon) {
  // nginx allows `)` right after a quoted string (for `if`); it is a token of its own.
  auto ds = parseOk("if ($http_user_agent ~ \"MSIE\") { return 403; }\nx \"a\";y 'b'{}\n");
  ASSERT_EQ(namesOf(ds), (Strings{"if", "x", "y"}));
  EXPECT_EQ(ds[0].args, (Strings{"($http_user_agent", "~", "MSIE", ")"}));
  EXPECT_EQ(ds[1].args, Strings{"a"});
  EXPECT_EQ(ds[2].args, Strings{"b"});
  EXPECT_TRUE(ds[2].has_block);
}

TEST(ConfigParserTest, MultiLineQuotesKeepLineNumbers) {
  auto ds = parseOk(
      "a \"line1\n"
      "line2\n"
      "line3\" 'x\n"
      "y';\n"
      "b \"esc\\\n"
      "aped\" c\\\n"
      "d;\n"
      "e;\n");
  ASSERT_EQ(namesOf(ds), (Strings{"a", "b", "e"}));
  EXPECT_EQ(ds[0].line, 1);
  EXPECT_EQ(ds[0].args, (Strings{"line1\nline2\nline3", "x\ny"}));
  EXPECT_EQ(ds[1].line, 5);
  // A backslash before a newline keeps both, like any unknown escape.
  EXPECT_EQ(ds[1].args, (Strings{"esc\\\naped", "c\\\nd"}));
  EXPECT_EQ(ds[2].line, 8);

  EXPECT_EQ(parseError("a 'x\ny\nz';\n\n}\n"), "t.conf:5: unexpected \"}\"");
}

TEST(ConfigParserTest, Comments) {
  auto ds = parseOk(
      "# leading comment with ; { } \" '\n"
      "a \"#not a comment\" '# nor this' x#y; # trailing { \n"
      "b 1 # comment inside a directive\n"
      "  2;\n"
      "#last line without newline");
  ASSERT_EQ(namesOf(ds), (Strings{"a", "b"}));
  EXPECT_EQ(ds[0].args, (Strings{"#not a comment", "# nor this", "x#y"}));
  EXPECT_EQ(ds[0].line, 2);
  EXPECT_EQ(ds[1].args, (Strings{"1", "2"}));
  EXPECT_EQ(ds[1].line, 3);
}

TEST(ConfigParserTest, StructureErrors) {
  EXPECT_EQ(parseError("a;\nb;\n}\n"), "t.conf:3: unexpected \"}\"");
  EXPECT_EQ(parseError("a {\n  b c }\n"), "t.conf:2: unexpected \"}\"");
  EXPECT_EQ(parseError("a { b; };\n"), "t.conf:1: unexpected \";\"");
  EXPECT_EQ(parseError("a;\n\n  ;\n"), "t.conf:3: unexpected \";\"");
  EXPECT_EQ(parseError("a;\n{ b; }\n"), "t.conf:2: unexpected \"{\"");
  EXPECT_EQ(parseError("a { { } }\n"), "t.conf:1: unexpected \"{\"");

  EXPECT_EQ(parseError("http {\n  server {\n    listen 80;\n  }\n"),
            "t.conf:4: unexpected end of file, expecting \"}\" (block opened at line 1)");
  EXPECT_EQ(parseError("http {\n  server\n  {\n    listen 80;\n\n"),
            "t.conf:5: unexpected end of file, expecting \"}\" (block opened at line 3)");
  EXPECT_EQ(parseError("a;\nb c"), "t.conf:2: unexpected end of file, expecting \";\" or \"}\"");
  EXPECT_EQ(parseError("a;\nb c\n\n# trailing\n"),
            "t.conf:4: unexpected end of file, expecting \";\" or \"}\"");
  EXPECT_EQ(parseError("x { a b"), "t.conf:1: unexpected end of file, expecting \";\" or \"}\"");
}

TEST(ConfigParserTest, QuoteErrors) {
  EXPECT_EQ(parseError("a;\nb \"abc;\n\nc;\n"), "t.conf:2: unterminated quoted string");
  EXPECT_EQ(parseError("a 'x\\'"), "t.conf:1: unterminated quoted string");
  EXPECT_EQ(parseError("a \"x\nmore\"b;\n"), "t.conf:2: unexpected \"b\"");
  EXPECT_EQ(parseError("a 'x''y';\n"), "t.conf:1: unexpected \"'\"");
  EXPECT_EQ(parseError("a \"x\"# no space\n;"), "t.conf:1: unexpected \"#\"");
  EXPECT_EQ(parseError("a { b \"x\"}\n"), "t.conf:1: unexpected \"}\"");
}

TEST(ConfigParserTest, NameErrors) {
  EXPECT_EQ(parseError("a;\n\"listen\" 80;\n"),
            "t.conf:2: directive name \"listen\" must not be quoted");
  EXPECT_EQ(parseError("s {\n  1abc x;\n}\n"),
            "t.conf:2: invalid directive name \"1abc\" (letters, digits, _ . -, starting with a "
            "letter or _)");
  EXPECT_EQ(parseError("foo/bar x;\n"),
            "t.conf:1: invalid directive name \"foo/bar\" (letters, digits, _ . -, starting with a "
            "letter or _)");
  auto ok = parseOk("_a.b-c_9 1;\nZ;\n");
  EXPECT_EQ(namesOf(ok), (Strings{"_a.b-c_9", "Z"}));
}

TEST(ConfigParserTest, DataBlocksTakeAnyFirstWord) {
  auto ds = parseOk(
      "types {\n"
      "  text/html html htm;\n"
      "  application/vnd.ms-excel xls;\n"
      "}\n"
      "map $uri $x {\n"
      "  default 0;\n"
      "  ~^/api 1;\n"
      "  '' 2;\n"
      "  \"~*\\.jpg$\" 3;\n"
      "}\n");
  ASSERT_EQ(namesOf(ds), (Strings{"types", "map"}));
  EXPECT_EQ(namesOf(ds[0].block), (Strings{"text/html", "application/vnd.ms-excel"}));
  EXPECT_EQ(ds[0].block[0].args, (Strings{"html", "htm"}));
  EXPECT_EQ(namesOf(ds[1].block), (Strings{"default", "~^/api", "", "~*\\.jpg$"}));
  EXPECT_EQ(ds[1].block[3].line, 9);
  // Only the entries of the data block itself.
  EXPECT_EQ(parseError("server {\n  text/html html;\n}\n"),
            "t.conf:2: invalid directive name \"text/html\" (letters, digits, _ . -, starting "
            "with a letter or _)");
}

TEST(ConfigParserTest, InputLimits) {
  EXPECT_EQ(parseError(std::string("a;\nb\0;\n", 7)), "t.conf:2: unexpected NUL byte");

  std::string deep;
  for (int i = 0; i < kMaxBlockDepth; ++i)
    deep += "a {\n";
  for (int i = 0; i < kMaxBlockDepth; ++i)
    deep += "}\n";
  EXPECT_EQ(parseOk(deep).size(), 1u);
  std::string too_deep = "b;\n" + deep;
  too_deep.insert(3 + 4 * kMaxBlockDepth, "c {}\n");
  EXPECT_EQ(parseError(too_deep), "t.conf:102: blocks nested more than 100 levels deep");

  TempDir dir;
  std::string body(kMaxConfigFileBytes - 3, '#');
  std::string at_limit = dir.write("limit.conf", "a;\n" + body);
  auto ok = parseConfigFile(at_limit);
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(namesOf(ok.value()), Strings{"a"});
  std::string over = dir.write("over.conf", "a;\n" + body + "#");
  auto too_big = parseConfigFile(over);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error(), over + ": larger than 4 MiB");

  std::string main = dir.write("main.conf", "x;\ninclude over.conf;\n");
  auto too_big_include = parseConfigFile(main);
  ASSERT_FALSE(too_big_include.ok());
  EXPECT_EQ(too_big_include.error(),
            main + ":2: include " + dir.path() + "/over.conf: larger than 4 MiB");

  std::string nul_include = dir.write("nul.conf", std::string("x;\n\ny\0;", 7));
  std::string main2 = dir.write("main2.conf", "include nul.conf;\n");
  auto nul = parseConfigFile(main2);
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error(), nul_include + ":3: unexpected NUL byte");
}

TEST(ConfigParserTest, UnreadableFiles) {
  TempDir dir;
  auto missing = parseConfigFile(dir.path() + "/missing.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), dir.path() + "/missing.conf: No such file or directory");

  auto folder = parseConfigFile(dir.path());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.error(), dir.path() + ": Is a directory");

  std::filesystem::create_directories(dir.path() + "/sub");
  std::string main = dir.write("main.conf", "a;\ninclude sub;\n");
  auto include_folder = parseConfigFile(main);
  ASSERT_FALSE(include_folder.ok());
  EXPECT_EQ(include_folder.error(), main + ":2: include " + dir.path() + "/sub: Is a directory");
}

TEST(ConfigParserTest, IncludesSingleFileInPlace) {
  TempDir dir;
  std::string sub = dir.write("sub.conf", "s 1;\n\ns 2 { t; }\n");
  std::string main = dir.write("main.conf", "a;\ninclude sub.conf;\nb;\n");
  auto parsed = parseConfigFile(main);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const auto& ds = parsed.value();
  ASSERT_EQ(namesOf(ds), (Strings{"a", "s", "s", "b"}));
  EXPECT_EQ(locationOf(ds[0]), main + ":1");
  EXPECT_EQ(locationOf(ds[1]), sub + ":1");
  EXPECT_EQ(ds[1].args, Strings{"1"});
  EXPECT_EQ(locationOf(ds[2]), sub + ":3");
  ASSERT_EQ(ds[2].block.size(), 1u);
  EXPECT_EQ(locationOf(ds[2].block[0]), sub + ":3");
  EXPECT_EQ(locationOf(ds[3]), main + ":3");

  // An absolute path, and a quoted argument.
  std::string abs = dir.write("abs.conf", "include \"" + sub + "\";\n");
  auto by_abs = parseConfigFile(abs);
  ASSERT_TRUE(by_abs.ok()) << by_abs.error();
  EXPECT_EQ(namesOf(by_abs.value()), (Strings{"s", "s"}));
}

TEST(ConfigParserTest, IncludesGlobInSortedOrder) {
  TempDir dir;
  dir.write("conf.d/b.conf", "b;\n");
  dir.write("conf.d/c.conf", "c;\n");
  dir.write("conf.d/a.conf", "a;\n");
  dir.write("conf.d/B.conf", "upper_b;\n");
  dir.write("conf.d/notes.txt", "not included;\n");
  std::string main = dir.write("main.conf", "first;\ninclude conf.d/*.conf;\nlast;\n");
  auto parsed = parseConfigFile(main);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(namesOf(parsed.value()), (Strings{"first", "upper_b", "a", "b", "c", "last"}));
  EXPECT_EQ(parsed.value()[2].file, dir.path() + "/conf.d/a.conf");

  // A glob that matches nothing is fine, as in nginx.
  std::string none = dir.write("none.conf", "x;\ninclude empty.d/*.conf;\ny;\n");
  auto empty = parseConfigFile(none);
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_EQ(namesOf(empty.value()), (Strings{"x", "y"}));
}

TEST(ConfigParserTest, IncludeInsideBlock) {
  TempDir dir;
  dir.write("sites/one.conf", "server {\n  listen 81;\n}\n");
  dir.write("sites/two.conf", "server { listen 82; }\n");
  std::string main =
      dir.write("nginx.conf", "http {\n  gzip on;\n  include sites/*.conf;\n  sendfile on;\n}\n");
  auto parsed = parseConfigFile(main);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  ASSERT_EQ(parsed->size(), 1u);
  const Directive& http = parsed.value()[0];
  ASSERT_EQ(namesOf(http.block), (Strings{"gzip", "server", "server", "sendfile"}));
  ASSERT_EQ(http.block[1].block.size(), 1u);
  EXPECT_EQ(http.block[1].block[0].args, Strings{"81"});
  EXPECT_EQ(locationOf(http.block[1].block[0]), dir.path() + "/sites/one.conf:2");
  EXPECT_EQ(http.block[2].block[0].args, Strings{"82"});
  EXPECT_EQ(locationOf(http.block[3]), main + ":4");
}

TEST(ConfigParserTest, IncludeInsideDataBlock) {
  TempDir dir;
  dir.write("mime.types", "types {\n  text/html html;\n  image/png png;\n}\n");
  dir.write("extra.types", "text/css css;\n");
  std::string main = dir.write(
      "nginx.conf", "http {\n  include mime.types;\n  types { include extra.types; }\n}\n");
  auto parsed = parseConfigFile(main);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const Directive& http = parsed.value()[0];
  ASSERT_EQ(namesOf(http.block), (Strings{"types", "types"}));
  EXPECT_EQ(namesOf(http.block[0].block), (Strings{"text/html", "image/png"}));
  EXPECT_EQ(namesOf(http.block[1].block), Strings{"text/css"});
}

TEST(ConfigParserTest, IncludeErrors) {
  TempDir dir;
  std::string main = dir.write("main.conf", "a;\ninclude missing.conf;\n");
  auto missing = parseConfigFile(main);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(),
            main + ":2: include " + dir.path() + "/missing.conf: No such file or directory");

  EXPECT_EQ(parseError("include;\n"),
            "t.conf:1: invalid number of arguments in \"include\" directive");
  EXPECT_EQ(parseError("x;\ninclude a b;\n"),
            "t.conf:2: invalid number of arguments in \"include\" directive");
  EXPECT_EQ(parseError("include a { }\n"),
            "t.conf:1: \"include\" directive is not terminated by \";\"");

  // Errors inside an included file name that file; a file must close its own blocks.
  std::string bad = dir.write("bad.conf", "ok;\n\nbroken\n");
  std::string main2 = dir.write("main2.conf", "include bad.conf;\n");
  auto in_include = parseConfigFile(main2);
  ASSERT_FALSE(in_include.ok());
  EXPECT_EQ(in_include.error(), bad + ":3: unexpected end of file, expecting \";\" or \"}\"");

  std::string closer = dir.write("closer.conf", "y;\n}\n");
  std::string main3 = dir.write("main3.conf", "http {\n  include closer.conf;\n");
  auto stray = parseConfigFile(main3);
  ASSERT_FALSE(stray.ok());
  EXPECT_EQ(stray.error(), closer + ":2: unexpected \"}\"");
}

TEST(ConfigParserTest, IncludeCycles) {
  TempDir dir;
  std::string self = dir.write("a.conf", "x;\ninclude a.conf;\n");
  auto direct = parseConfigFile(self);
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.error(),
            self + ":2: include " + self + ": include cycle (the file is already being read)");

  std::string b = dir.write("b.conf", "http {\n  include c.conf;\n}\n");
  std::string c = dir.write("c.conf", "server {\n\n  include b.conf;\n}\n");
  auto indirect = parseConfigFile(b);
  ASSERT_FALSE(indirect.ok());
  EXPECT_EQ(indirect.error(),
            c + ":3: include " + b + ": include cycle (the file is already being read)");

  // A glob matching the including file.
  std::string glob = dir.write("g/main.conf", "include *.conf;\n");
  auto by_glob = parseConfigFile(glob);
  ASSERT_FALSE(by_glob.ok());
  EXPECT_EQ(by_glob.error(),
            glob + ":1: include " + glob + ": include cycle (the file is already being read)");

  // The same file twice, not nested, is fine.
  dir.write("leaf.conf", "leaf;\n");
  std::string twice = dir.write("twice.conf", "include leaf.conf;\ninclude leaf.conf;\n");
  auto ok = parseConfigFile(twice);
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(namesOf(ok.value()), (Strings{"leaf", "leaf"}));
}

TEST(ConfigParserTest, IncludeDepthLimit) {
  TempDir dir;
  // f0 (the main file) includes f1, ... : f16 is the 16th level, its include is one too many.
  for (int i = 0; i <= 17; ++i) {
    dir.write("f" + std::to_string(i) + ".conf",
              "d" + std::to_string(i) + ";\ninclude f" + std::to_string(i + 1) + ".conf;\n");
  }
  auto too_deep = parseConfigFile(dir.path() + "/f0.conf");
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error(), dir.path() + "/f16.conf:2: include " + dir.path() +
                                  "/f17.conf: includes nested more than 16 levels deep");

  dir.write("f16.conf", "d16;\n");
  auto at_limit = parseConfigFile(dir.path() + "/f0.conf");
  ASSERT_TRUE(at_limit.ok()) << at_limit.error();
  ASSERT_EQ(at_limit->size(), 17u);
  EXPECT_EQ(at_limit.value()[16].name, "d16");
  EXPECT_EQ(at_limit.value()[16].file, dir.path() + "/f16.conf");
}

TEST(ConfigParserTest, ParseTextResolvesIncludesAgainstBaseDir) {
  TempDir dir;
  dir.write("inc/x.conf", "x 1;\n");
  auto ds = parseOk("include inc/x.conf;\n", dir.path());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(locationOf(ds[0]), dir.path() + "/inc/x.conf:1");
  auto trailing_slash = parseOk("include inc/x.conf;\n", dir.path() + "/");
  ASSERT_EQ(trailing_slash.size(), 1u);
  EXPECT_EQ(trailing_slash[0].file, dir.path() + "/inc/x.conf");
}

TEST(ConfigParserTest, ParsesDurations) {
  auto ms = [](std::string_view text) -> int64_t {
    auto d = parseDuration(text);
    EXPECT_TRUE(d.ok()) << text << ": " << d.error();
    return d.ok() ? d->count() : -1;
  };
  EXPECT_EQ(ms("500ms"), 500);
  EXPECT_EQ(ms("10s"), 10'000);
  EXPECT_EQ(ms("5m"), 300'000);
  EXPECT_EQ(ms("1h"), 3'600'000);
  EXPECT_EQ(ms("1d"), 86'400'000);
  EXPECT_EQ(ms("7"), 7'000);
  EXPECT_EQ(ms("0"), 0);
  EXPECT_EQ(ms("0ms"), 0);
  EXPECT_EQ(ms("007s"), 7'000);
  EXPECT_EQ(ms("24d"), 2'073'600'000);
  EXPECT_EQ(ms("2147483647ms"), 2'147'483'647);
  EXPECT_EQ(ms("2147483s"), 2'147'483'000);
  EXPECT_EQ(ms("1m30s"), 90'000);  // parts, largest first, as nginx reads them
  EXPECT_EQ(ms("15h30m33s"), 55'833'000);
  EXPECT_EQ(ms("1w"), 604'800'000);
  EXPECT_EQ(ms("1h5"), 3'605'000);  // a bare number last: seconds
}

TEST(ConfigParserTest, ParsesTimesInSeconds) {
  EXPECT_EQ(parseSeconds("1y").value(), 365 * 86400);
  EXPECT_EQ(parseSeconds("1M").value(), 30 * 86400);
  EXPECT_EQ(parseSeconds("1y6M").value(), 365 * 86400 + 180 * 86400);
  EXPECT_EQ(parseSeconds("90").value(), 90);
  EXPECT_EQ(parseSeconds("1h30m").value(), 5400);
  for (const char* bad : {"500ms", "", "1m1y", "-1s", "1x"})
    EXPECT_FALSE(parseSeconds(bad).ok()) << bad;
  EXPECT_FALSE(parseSeconds("69y").ok());  // beyond INT32_MAX seconds
}

TEST(ConfigParserTest, RejectsBadDurations) {
  auto error = [](std::string_view text) {
    auto d = parseDuration(text);
    EXPECT_FALSE(d.ok()) << text;
    return d.ok() ? std::string("(parsed)") : d.error();
  };
  EXPECT_EQ(error("abc"), "invalid duration \"abc\" (examples: 500ms, 10s, 5m)");
  EXPECT_EQ(error(""), "invalid duration \"\" (examples: 500ms, 10s, 5m)");
  for (const char* bad : {"-5s", "+5s", "5x", "5 s", " 5s", "5s ", "s", "ms", "1.5s", "5S", "5MS",
                          "5M", "10sec", "30s1m", "1m1m", "5 1s", "1s500"}) {
    EXPECT_EQ(error(bad),
              "invalid duration \"" + std::string(bad) + "\" (examples: 500ms, 10s, 5m)");
  }
  const std::string too_large = " is too large (at most 2147483647ms, about 24.8 days)";
  EXPECT_EQ(error("2147483648ms"), "duration \"2147483648ms\"" + too_large);
  EXPECT_EQ(error("2147484s"), "duration \"2147484s\"" + too_large);
  EXPECT_EQ(error("25d"), "duration \"25d\"" + too_large);
  EXPECT_EQ(error("30d"), "duration \"30d\"" + too_large);
  EXPECT_EQ(error("99999999999999999999999999"),
            "duration \"99999999999999999999999999\"" + too_large);
}

TEST(ConfigParserTest, ParsesSizes) {
  auto bytes = [](std::string_view text) -> uint64_t {
    auto s = parseSize(text);
    EXPECT_TRUE(s.ok()) << text << ": " << s.error();
    return s.ok() ? *s : 12345;
  };
  EXPECT_EQ(bytes("512"), 512u);
  EXPECT_EQ(bytes("0"), 0u);
  EXPECT_EQ(bytes("16k"), 16u * 1024);
  EXPECT_EQ(bytes("16K"), 16u * 1024);
  EXPECT_EQ(bytes("1m"), 1024u * 1024);
  EXPECT_EQ(bytes("3M"), 3u * 1024 * 1024);
  EXPECT_EQ(bytes("1g"), 1024u * 1024 * 1024);
  EXPECT_EQ(bytes("2G"), 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(bytes("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(bytes("17179869183g"), 17179869183ull << 30);
}

TEST(ConfigParserTest, RejectsBadSizes) {
  auto error = [](std::string_view text) {
    auto s = parseSize(text);
    EXPECT_FALSE(s.ok()) << text;
    return s.ok() ? std::string("(parsed)") : s.error();
  };
  for (const char* bad : {"", "-1", "+1", "k", "1t", "1.5k", "16kb", " 1k", "1k ", "1 k", "abc"}) {
    EXPECT_EQ(error(bad), "invalid size \"" + std::string(bad) + "\" (examples: 512, 16k, 1m, 1g)");
  }
  EXPECT_EQ(error("18446744073709551616"), "size \"18446744073709551616\" is too large");
  EXPECT_EQ(error("17179869184g"), "size \"17179869184g\" is too large");
  EXPECT_EQ(error("99999999999999999999k"), "size \"99999999999999999999k\" is too large");
}

}  // namespace
}  // namespace surge::nginx_compat
