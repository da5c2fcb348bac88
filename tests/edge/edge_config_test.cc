// loadEdgeConfig: values of a full configuration, file:line errors, and location matching.
#include "surge/edge/edge_config.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "surge/testing/temp_dir.h"

namespace surge::edge {
namespace {

using testing::TempDir;

// Every directive surge-edge knows, with values that differ from the defaults.
constexpr std::string_view kFullConfig = R"(# a full surge-edge configuration
worker_processes 3;

events {
    worker_connections 1000;
    use epoll;
}

http {
    access_log logs/access.log combined;
    client_max_body_size 32k;
    large_client_header_buffers 4 8k;
    client_header_timeout 5s;
    client_body_timeout 7s;
    keepalive_timeout 75s;
    send_timeout 9s;
    sendfile on;

    surge_memcached 127.0.0.1:11211,10.0.0.2;
    surge_snapshot_keys keys/snapshot-keys.conf;
    surge_refresh_interval 500ms;
    surge_stale_if_error 2m;
    surge_stale_while_revalidate 15s;
    surge_snapshot_idle 90s;
    surge_snapshot_max_waiting 500;

    upstream origin {
        server 10.0.0.5:9000;
        keepalive 32;
    }
    surge_origin_max_inflight 256;
    proxy_connect_timeout 750ms;
    proxy_read_timeout 20s;

    server {
        listen 0.0.0.0:8088 backlog=1024 reuseport;
        server_name edge.example;
        root html;
        index home.html;

        location / {
            expires 60s;
        }
        location /assets/ {
            surge_immutable_hashed on;
            expires 1h;
        }
        location /api/v1/ {
            surge_snapshots;
            # its answers carry their own Cache-Control (no add_header here)
        }
        location /api/v1/bookings {
            proxy_pass http://origin;
        }
        location = /exact {
            root /srv/exact/;
            index start.html;
        }
    }
}
)";

class EdgeConfigTest : public ::testing::Test {
 protected:
  // Writes `text` as t.conf and loads it.
  base::Result<std::shared_ptr<const EdgeConfig>, std::string> load(std::string_view text) {
    EXPECT_EQ(dir_.write("t.conf", std::string(text)), path_);
    // Where the configurations here log: a log file must be writable, as nginx checks.
    std::filesystem::create_directories(dir_.path() + "/logs");
    return loadEdgeConfig(path_);
  }
  std::shared_ptr<const EdgeConfig> loadOk(std::string_view text) {
    auto loaded = load(text);
    EXPECT_TRUE(loaded.ok()) << loaded.error();
    return loaded.ok() ? loaded.value() : nullptr;
  }
  std::string loadError(std::string_view text) {
    auto loaded = load(text);
    EXPECT_FALSE(loaded.ok());
    return loaded.ok() ? std::string("(loaded)") : loaded.error();
  }
  // "<path>:<line>: <message>"
  std::string at(int line, const std::string& message) const {
    return path_ + ":" + std::to_string(line) + ": " + message;
  }

  TempDir dir_;
  const std::string path_ = dir_.path() + "/t.conf";
};

TEST_F(EdgeConfigTest, FullConfig) {
  std::shared_ptr<const EdgeConfig> c = loadOk(kFullConfig);
  ASSERT_NE(c, nullptr);
  const std::string& d = dir_.path();
  EXPECT_EQ(c->path, path_);

  EXPECT_EQ(c->server.workers, 3);
  EXPECT_EQ(c->server.max_connections, 1000u);
  EXPECT_EQ(c->server.host, "0.0.0.0");
  EXPECT_EQ(c->server.port, 8088);
  EXPECT_EQ(c->server.backlog, 1024);
  EXPECT_EQ(c->server.limits.max_body, 32u * 1024);
  EXPECT_EQ(c->server.limits.max_target, 8u * 1024);
  EXPECT_EQ(c->server.limits.max_head, 32u * 1024);
  EXPECT_EQ(c->server.head_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(c->server.body_timeout, std::chrono::milliseconds(7000));
  EXPECT_EQ(c->server.idle_timeout, std::chrono::milliseconds(75000));
  EXPECT_EQ(c->server.send_timeout, std::chrono::milliseconds(9000));

  ASSERT_EQ(c->access_log_files.size(), 1u);
  EXPECT_EQ(c->access_log_files[0]->path, d + "/logs/access.log");
  ASSERT_EQ(c->servers[0].access_logs.size(), 1u);
  EXPECT_EQ(c->servers[0].access_logs[0].format->name(), "combined");
  EXPECT_EQ(c->memcached, (std::vector<std::string>{"127.0.0.1:11211", "10.0.0.2:11211"}));
  EXPECT_EQ(c->snapshot_keys, d + "/keys/snapshot-keys.conf");
  EXPECT_EQ(c->snapshots.refresh_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(c->snapshots.stale_if_error, std::chrono::seconds(120));
  EXPECT_EQ(c->snapshots.idle_evict, std::chrono::seconds(90));
  EXPECT_EQ(c->snapshots.max_waiting, 500u);
  EXPECT_EQ(c->stale_while_revalidate, std::chrono::seconds(15));

  EXPECT_TRUE(c->have_origin);
  ASSERT_EQ(c->origin.servers.size(), 1u);
  EXPECT_EQ(c->origin.servers[0].host, "10.0.0.5");
  EXPECT_EQ(c->origin.servers[0].port, 9000);
  EXPECT_EQ(c->origin.keepalive, 32u);
  EXPECT_EQ(c->origin.max_inflight, 256u);
  EXPECT_EQ(c->origin.connect_timeout, std::chrono::milliseconds(750));
  EXPECT_EQ(c->origin.read_timeout, std::chrono::milliseconds(20000));

  // The server's locations in the file's order (nginx's matching order is VirtualServer::find's).
  ASSERT_EQ(c->servers.size(), 1u);
  ASSERT_EQ(c->servers[0].locations.size(), 5u);
  const auto& l = c->servers[0].locations;
  EXPECT_EQ(l[4].prefix, "/exact");
  EXPECT_TRUE(l[4].exact);
  EXPECT_EQ(l[4].kind, Location::Kind::kStatic);
  EXPECT_EQ(l[4].files.root, "/srv/exact");  // trailing slash dropped
  EXPECT_EQ(l[4].files.index, "start.html");
  EXPECT_EQ(l[4].where, path_ + ":55");

  EXPECT_EQ(l[3].prefix, "/api/v1/bookings");
  EXPECT_FALSE(l[3].exact);
  EXPECT_EQ(l[3].kind, Location::Kind::kProxy);
  EXPECT_EQ(l[3].where, path_ + ":52");

  EXPECT_EQ(l[1].prefix, "/assets/");
  EXPECT_EQ(l[1].kind, Location::Kind::kStatic);
  EXPECT_EQ(l[1].files.root, d + "/html");
  EXPECT_EQ(l[1].files.index, "home.html");
  EXPECT_TRUE(l[1].files.immutable_hashed);
  EXPECT_EQ(l[1].files.cache_control, "max-age=3600");

  EXPECT_EQ(l[2].prefix, "/api/v1/");
  EXPECT_EQ(l[2].kind, Location::Kind::kSnapshots);

  EXPECT_EQ(l[0].prefix, "/");
  EXPECT_EQ(l[0].kind, Location::Kind::kStatic);
  EXPECT_EQ(l[0].files.root, d + "/html");
  EXPECT_FALSE(l[0].files.immutable_hashed);
  EXPECT_EQ(l[0].files.cache_control, "max-age=60");
  EXPECT_EQ(l[0].where, path_ + ":41");
}

TEST_F(EdgeConfigTest, MatchPicksExactThenLongestPrefix) {
  std::shared_ptr<const EdgeConfig> c = loadOk(kFullConfig);
  ASSERT_NE(c, nullptr);
  auto prefixOf = [&](std::string_view path) {
    const Location* l = c->match(path);
    if (l == nullptr) return std::string("(none)");
    return (l->exact ? "= " : "") + l->prefix;
  };
  EXPECT_EQ(prefixOf("/exact"), "= /exact");
  EXPECT_EQ(prefixOf("/exact/more"), "/");
  EXPECT_EQ(prefixOf("/exac"), "/");
  EXPECT_EQ(prefixOf("/api/v1/bookings"), "/api/v1/bookings");
  EXPECT_EQ(prefixOf("/api/v1/bookings/42"), "/api/v1/bookings");
  EXPECT_EQ(prefixOf("/api/v1/regions"), "/api/v1/");
  EXPECT_EQ(prefixOf("/api/v1"), "/");
  EXPECT_EQ(prefixOf("/assets/app.js"), "/assets/");
  EXPECT_EQ(prefixOf("/assets"), "/");
  EXPECT_EQ(prefixOf("/"), "/");
}

TEST_F(EdgeConfigTest, MatchWithoutACatchAll) {
  VirtualServer v;
  Location a;
  a.prefix = "/a/";
  Location ab;
  ab.prefix = "/a/b/";
  Location exact;
  exact.prefix = "/a/b/c";
  exact.exact = true;
  exact.match = Location::Match::kExact;
  v.locations = {exact, ab, a};
  EXPECT_EQ(v.find("/a/b/c", nullptr), &v.locations[0]);
  EXPECT_EQ(v.find("/a/b/cd", nullptr), &v.locations[1]);
  EXPECT_EQ(v.find("/a/b/", nullptr), &v.locations[1]);
  EXPECT_EQ(v.find("/a/x", nullptr), &v.locations[2]);
  EXPECT_EQ(v.find("/b", nullptr), nullptr);
  EXPECT_EQ(v.find("/a", nullptr), nullptr);
  EXPECT_EQ(v.find("", nullptr), nullptr);
  EXPECT_EQ(EdgeConfig{}.match("/"), nullptr);
}

// nginx's order: "=" first; else the longest prefix, its nested locations, then the regexes in
// file order unless that prefix was "^~"; a regex's nested locations after it matched.
TEST_F(EdgeConfigTest, LocationsMatchInNginxsOrder) {
  auto c = loadOk(
      "http {\n server {\n root /srv;\n"
      "  location = / { return 204; }\n"
      "  location / { return 204; }\n"
      "  location ^~ /images/ { return 204; }\n"
      "  location ~* \\.(gif|jpg)$ { return 204; }\n"
      "  location ~ casefull { return 204; }\n"
      "  location /foo/ {\n   location ~ \\.txt$ { return 204; }\n   location /foo/bar/ { }\n  }\n"
      "  location ~ ^/(?<section>[a-z]+)/x$ {\n   location ~ y { }\n  }\n"
      " }\n}\n");
  ASSERT_TRUE(c);
  auto name = [&](std::string_view uri) {
    const Location* l = c->match(uri);
    if (l == nullptr) return std::string("(none)");
    const char* m[] = {"", "= ", "^~ ", "~ "};
    return m[static_cast<int>(l->match)] + l->prefix;
  };
  EXPECT_EQ(name("/"), "= /");
  EXPECT_EQ(name("/x"), "/");
  EXPECT_EQ(name("/images/a.gif"), "^~ /images/");
  EXPECT_EQ(name("/other/a.GIF"), "~ \\.(gif|jpg)$");
  EXPECT_EQ(name("/casefull"), "~ casefull");
  EXPECT_EQ(name("/CASEFULL"), "/");
  EXPECT_EQ(name("/foo/a.txt"), "~ \\.txt$");        // nested regex before the outer ones
  EXPECT_EQ(name("/foo/a.gif"), "~ \\.(gif|jpg)$");  // then the server's regexes
  EXPECT_EQ(name("/foo/bar/z"), "/foo/bar/");
  EXPECT_EQ(name("/foo/bar/z.txt"), "~ \\.txt$");
  EXPECT_EQ(name("/abc/x"), "~ ^/(?<section>[a-z]+)/x$");
  EXPECT_EQ(name("/aby/x"), "~ y");
}

TEST_F(EdgeConfigTest, ServersAreChosenByPortAndName) {
  auto c = loadOk(
      "http {\n"
      " server { listen 127.0.0.1:9001; server_name first; }\n"
      " server { listen 127.0.0.1:9001; server_name www.example.com *.example.com; }\n"
      " server { listen 127.0.0.1:9001 default_server; server_name .example.org www.x.*; }\n"
      " server { listen 127.0.0.1:9001; server_name ~^(?<n>[a-z]+)\\.re$; }\n"
      " server { listen 127.0.0.1:9002; server_name other; }\n"
      "}\n");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->servers.size(), 5u);
  EXPECT_EQ(c->server.port, 9001);
  EXPECT_EQ(c->server.more_ports, std::vector<int>{9002});
  auto pick = [&](int port, std::string_view host) {
    return selectServer(c->servers, port, host, nullptr)->first_name;
  };
  EXPECT_EQ(pick(9001, "first"), "first");
  EXPECT_EQ(pick(9001, "www.example.com"), "www.example.com");
  EXPECT_EQ(pick(9001, "a.b.example.com"), "www.example.com");
  EXPECT_EQ(pick(9001, "example.org"), "example.org");  // $server_name without the dot
  EXPECT_EQ(pick(9001, "a.example.org"), "example.org");
  EXPECT_EQ(pick(9001, "www.x.net"), "example.org");
  EXPECT_EQ(pick(9001, "abc.re"), "~^(?<n>[a-z]+)\\.re$");
  EXPECT_EQ(pick(9001, "ABC.re"), "~^(?<n>[a-z]+)\\.re$");  // caseless, as nginx's
  EXPECT_EQ(pick(9001, "nobody"), "example.org");           // the default_server
  EXPECT_EQ(pick(9002, "first"), "other");                  // only the port's own servers
  EXPECT_EQ(loadError("http {\n server { listen 1.2.3.4:1; }\n server { listen 1.2.3.5:2; }\n}\n"),
            at(3, "every listen must use the same address (1.2.3.4)"));
  EXPECT_EQ(loadError("http {\n server { listen 1 default_server; }\n"
                      " server { listen 1 default_server; }\n}\n")
                .rfind(at(3, "a duplicate default server for 1"), 0),
            0u);
}

TEST_F(EdgeConfigTest, CharsetMapsAndMaxRanges) {
  auto c = loadOk(
      "http {\n charset_map B A {\n  58 59;\n }\n server {\n  max_ranges 3;\n"
      "  location /t2 { charset A; source_charset B; }\n"
      "  location /t4 { max_ranges 0; }\n }\n}\n");
  ASSERT_TRUE(c);
  const Location* t2 = c->match("/t2.html");
  ASSERT_TRUE(t2->files.recode);
  EXPECT_EQ((*t2->files.recode)[0x58], 0x59);
  EXPECT_EQ((*t2->files.recode)[0x41], 0x41);
  EXPECT_EQ(t2->files.max_ranges, 3);
  EXPECT_EQ(c->match("/t4")->files.max_ranges, 0);
  EXPECT_FALSE(c->match("/x")->files.recode);
  EXPECT_EQ(loadError("http {\n server {\n  location / { charset A; source_charset C; }\n"
                      " }\n}\n"),
            at(3, "no \"charset_map\" between \"C\" and \"A\""));
  EXPECT_EQ(loadError("http {\n charset_map utf-8 koi8-r {\n  C0 D090;\n }\n server { }\n}\n")
                .rfind(at(3, "only single-byte charsets"), 0),
            0u);
}

TEST_F(EdgeConfigTest, DisableSymlinksAsNginxReadsIt) {
  using S = StaticLocation::Symlinks;
  auto c = loadOk(
      "http {\n disable_symlinks on;\n server {\n"
      "  location /o/ { disable_symlinks if_not_owner from=$document_root; }\n"
      "  location /f/ { disable_symlinks off; }\n"
      "  location /p/ { disable_symlinks on from=/srv; }\n }\n}\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->match("/x")->files.symlinks, S::kRefuse);  // inherited from http
  EXPECT_EQ(c->match("/x")->files.symlinks_from, "");
  EXPECT_EQ(c->match("/o/a")->files.symlinks, S::kIfNotOwner);
  EXPECT_EQ(c->match("/o/a")->files.symlinks_from, "$document_root");
  EXPECT_EQ(c->match("/f/a")->files.symlinks, S::kFollow);
  EXPECT_EQ(c->match("/p/a")->files.symlinks_from, "/srv");
  EXPECT_EQ(loadError("http {\n server {\n  disable_symlinks yes;\n }\n}\n"),
            at(3, "invalid value \"yes\" in \"disable_symlinks\" (off, on, if_not_owner)"));
  EXPECT_EQ(loadError("http {\n server {\n  disable_symlinks off from=/srv;\n }\n}\n"),
            at(3, "\"from=\" cannot be used with \"off\""));
  EXPECT_EQ(loadError("http {\n server {\n  disable_symlinks on to=/srv;\n }\n}\n"),
            at(3, "invalid parameter \"to=/srv\""));
  // root and alias with variables are evaluated per request; never from what they name.
  auto v = loadOk(
      "http {\n server {\n  root /srv/$host;\n"
      "  location ~ ^/c/(.+)$ { alias /data/$1; }\n }\n}\n");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->match("/x")->path_var.text(), "/srv/$host");
  EXPECT_FALSE(v->match("/x")->path_var_alias);
  EXPECT_TRUE(v->match("/c/y")->path_var_alias);
  EXPECT_TRUE(v->match("/c/y")->files.alias_whole);
  EXPECT_EQ(loadError("http {\n server {\n  root $document_root/x;\n }\n}\n"),
            at(3, "\"root\" cannot use $document_root"));
}

TEST_F(EdgeConfigTest, LimitRateAsNginxReadsIt) {
  auto c = loadOk(
      "http {\n limit_rate 12k;\n server {\n  limit_rate_after 256;\n"
      "  location /v { limit_rate $arg_l; }\n }\n}\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->match("/x")->limit_rate.rate.text(), "12k");
  EXPECT_EQ(c->match("/x")->limit_rate.after.text(), "256");
  EXPECT_EQ(c->match("/v")->limit_rate.rate.text(), "$arg_l");
  EXPECT_EQ(c->match("/v")->limit_rate.after.text(), "256");  // inherited on its own
  EXPECT_EQ(loadError("http {\n server {\n  limit_rate fast;\n }\n}\n"),
            at(3, "invalid size \"fast\" in \"limit_rate\""));
  EXPECT_EQ(accelLimitRate("13000"), 13000);
  EXPECT_EQ(accelLimitRate("off"), 0);
  EXPECT_FALSE(accelLimitRate("12k").has_value());  // nginx: a number of bytes only
  EXPECT_FALSE(accelLimitRate("-1").has_value());
}

TEST_F(EdgeConfigTest, HeaderNameRulesPerServer) {
  auto c = loadOk(
      "http {\n underscores_in_headers on;\n server { listen 1; }\n"
      " server { listen 2; ignore_invalid_headers off; underscores_in_headers off; }\n}\n");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->servers[0].header_names.ignore_invalid);
  EXPECT_TRUE(c->servers[0].header_names.underscores);  // from http
  EXPECT_FALSE(c->servers[1].header_names.ignore_invalid);
  EXPECT_FALSE(c->servers[1].header_names.underscores);
  EXPECT_EQ(loadError("http {\n server {\n  location / { ignore_invalid_headers off; }\n }\n}\n"),
            at(3, "\"ignore_invalid_headers\" directive is not allowed here"));
}

TEST_F(EdgeConfigTest, AliasAndRedirectStyle) {
  auto c = loadOk(
      "http {\n absolute_redirect off;\n server {\n  port_in_redirect off;\n"
      "  location /i/ {\n   alias /srv/x/;\n   server_name_in_redirect on;\n"
      "   location ~ \\.txt$ { }\n  }\n"
      "  location ~ ^/one$ { alias /srv/one.html; }\n }\n}\n");
  ASSERT_TRUE(c);
  const Location* i = c->match("/i/a");
  EXPECT_EQ(i->files.alias, "/srv/x/");
  EXPECT_EQ(i->files.alias_prefix, 3u);
  EXPECT_FALSE(i->redirect.absolute);
  EXPECT_FALSE(i->redirect.port);
  EXPECT_TRUE(i->redirect.server_name);
  const Location* nested = c->match("/i/a.txt");
  EXPECT_EQ(nested->match, Location::Match::kRegex);
  EXPECT_EQ(nested->files.alias, "/srv/x/");  // inherited, with the outer prefix
  EXPECT_EQ(nested->files.alias_prefix, 3u);
  EXPECT_TRUE(c->match("/one")->files.alias_whole);
  EXPECT_EQ(loadError("http {\n server {\n  location /a/ {\n   root /x;\n   alias /y/;\n  }\n"
                      " }\n}\n"),
            at(5, "\"alias\" directive is duplicate, \"root\" directive was specified earlier"));
  EXPECT_EQ(loadError("http {\n server {\n  absolute_redirect maybe;\n }\n}\n"),
            at(3,
               "invalid value \"maybe\" in \"absolute_redirect\" directive, it must be "
               "\"on\" or \"off\""));
}

TEST_F(EdgeConfigTest, RewriteModuleDirectives) {
  auto c = loadOk(
      "http {\n server {\n  if ($http_x) { return 403; }\n"
      "  location / {\n   set $a 1;\n   rewrite ^/(?<w>\\w+)$ /$w.html last;\n"
      "   if (-f $request_filename) { break; }\n   if ($a != 1) { return 404; }\n"
      "   return 302 /x;\n  }\n }\n}\n");
  ASSERT_TRUE(c) << "";
  ASSERT_EQ(c->servers[0].rewrites.size(), 1u);
  const auto& steps = c->match("/x")->rewrites;
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0].kind, RewriteStep::Kind::kSet);
  EXPECT_EQ(steps[1].flag, RewriteStep::Flag::kLast);
  EXPECT_EQ(steps[2].condition.op, RewriteCondition::Op::kFile);
  EXPECT_EQ(steps[3].condition.op, RewriteCondition::Op::kNotEqual);
  EXPECT_EQ(steps[4].answer.code, 302);
  EXPECT_EQ(loadError("http {\n server {\n  location / {\n   if ($a) { return 1; }\n  }\n }\n}\n"),
            at(4, "unknown \"a\" variable"));
  EXPECT_EQ(loadError("http {\n server {\n  location / {\n   if ($uri) { root /x; }\n  }\n }\n}\n")
                .rfind(at(4, "\"root\" inside \"if\" is not supported yet"), 0),
            0u);
  EXPECT_EQ(loadError("http {\n server {\n  location / {\n   if ($uri ! x) { }\n  }\n }\n}\n"),
            at(4, "invalid condition in \"if\""));
  EXPECT_EQ(
      loadError("http {\n server {\n  location / {\n   rewrite ^ /x sometimes;\n  }\n }\n}\n"),
      at(4, "invalid parameter \"sometimes\""));
  EXPECT_EQ(loadError("http {\n server {\n  location / {\n   set $uri x;\n  }\n }\n}\n"),
            at(4, "the \"uri\" variable cannot be set"));
}

TEST_F(EdgeConfigTest, VariablesMustBeKnown) {
  EXPECT_EQ(loadError("http {\n server {\n  location / { add_header X $nosuch; }\n }\n}\n"),
            at(3, "unknown \"nosuch\" variable"));
  EXPECT_TRUE(
      loadOk("http {\n server {\n  location ~ ^/(?<p>.*) { add_header X \"$p $uri $http_x_y $arg_a "
             "$1\"; }\n }\n}\n"));
  EXPECT_EQ(loadError("http {\n server {\n  location / { return 200 ${uri; }\n }\n}\n"),
            at(3, "the closing bracket in \"uri\" variable is missing"));
  EXPECT_EQ(loadError("http {\n server {\n  location ~ ( { }\n }\n}\n")
                .rfind(at(3, "pcre2_compile() failed: missing closing parenthesis"), 0),
            0u);
}

TEST_F(EdgeConfigTest, MinimalConfigUsesDefaults) {
  std::shared_ptr<const EdgeConfig> c = loadOk("http {\n  server {\n  }\n}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.port, 8080);
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_GE(c->server.workers, 1);
  EXPECT_EQ(c->server.limits.max_body, 16u * 1024);
  EXPECT_TRUE(c->access_log_files.empty());
  EXPECT_FALSE(c->have_origin);
  ASSERT_EQ(c->servers.size(), 1u);
  ASSERT_EQ(c->servers[0].locations.size(), 1u);  // the implicit "/" from <prefix>/html
  EXPECT_EQ(c->servers[0].locations[0].files.root, dir_.path() + "/html");
  EXPECT_TRUE(c->memcached.empty());
}

TEST_F(EdgeConfigTest, ListenForms) {
  auto c = loadOk("http { server { listen 9090; } }");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_EQ(c->server.port, 9090);
  c = loadOk("http { server { listen *:9091; } }");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.host, "0.0.0.0");
  EXPECT_EQ(c->server.port, 9091);
  c = loadOk("http { server { listen localhost:9092; } }");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_EQ(c->server.port, 9092);
}

TEST_F(EdgeConfigTest, ProxyPassToHostPort) {
  auto c = loadOk(
      "http {\n server {\n  location /b { proxy_pass http://10.1.2.3:8181/; }\n"
      "  location /c { proxy_pass http://10.1.2.3:8181; }\n }\n}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->have_origin);
  ASSERT_EQ(c->origin.servers.size(), 1u);
  EXPECT_EQ(c->origin.servers[0].host, "10.1.2.3");
  EXPECT_EQ(c->origin.servers[0].port, 8181);
  EXPECT_EQ(c->origin.host_header, "10.1.2.3:8181");  // nginx's $proxy_host
}

// client_max_body_size at every level, as nginx: a location's own, else its server's, else the
// http block's; bodies are read up to the largest.
TEST_F(EdgeConfigTest, ClientMaxBodySizePerLocation) {
  auto c = loadOk(
      "http {\n client_max_body_size 32k;\n server {\n  location / { }\n"
      "  location /up/ { client_max_body_size 2m; }\n"
      "  location /tiny/ { client_max_body_size 10; }\n }\n"
      " server {\n  listen 8081;\n  client_max_body_size 64k;\n  location / { }\n }\n}\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->server.limits.max_body, 2u << 20);
  // A nested location's limit counts too, as a named one's.
  auto nested = loadOk(
      "http {\n server {\n  location /a/ {\n   location /a/big/ { client_max_body_size 3m; }\n"
      "  }\n  location @n { client_max_body_size 4m; }\n }\n}\n");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->server.limits.max_body, 4u << 20);
  auto nested_only = loadOk(
      "http {\n server {\n  location /a/ {\n   location /a/big/ { client_max_body_size 3m; }\n"
      "  }\n }\n}\n");
  ASSERT_TRUE(nested_only);
  EXPECT_EQ(nested_only->server.limits.max_body, 3u << 20);
  EXPECT_EQ(c->match("/x")->max_body, 32u << 10);
  EXPECT_EQ(c->match("/up/x")->max_body, 2u << 20);
  EXPECT_EQ(c->match("/tiny/x")->max_body, 10u);
  ASSERT_EQ(c->servers.size(), 2u);
  EXPECT_EQ(c->servers[1].find("/x", nullptr)->max_body, 64u << 10);
  EXPECT_EQ(loadError("http {\n server {\n  location / { client_max_body_size 1q; }\n }\n}\n"),
            at(3, "invalid size \"1q\" (examples: 512, 16k, 1m, 1g)"));
}

// Several upstreams: the one named "origin" is the origin wherever it stands, the others are
// EdgeConfig::upstreams in file order, each with its own servers, Host and keepalive and the
// http block's timeouts.
TEST_F(EdgeConfigTest, ProxyPassToSeveralUpstreams) {
  auto c = loadOk(
      "http {\n proxy_connect_timeout 2s;\n"
      " upstream content {\n  server 10.0.0.5:81;\n  keepalive 4;\n }\n"
      " upstream origin {\n  server 10.0.0.9:90;\n }\n server {\n"
      "  location /a/ { proxy_pass http://10.0.0.1:80/; }\n"
      "  location /b/ { proxy_pass http://content; }\n"
      "  location /api/ { proxy_pass http://origin; }\n"
      "  location /b2/ { proxy_pass http://content/x/; }\n"
      "  location /n/ {\n   location /n/c/ { proxy_pass http://content; }\n  }\n }\n}\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->origin.name, "origin");
  ASSERT_EQ(c->origin.servers.size(), 1u);
  EXPECT_EQ(c->origin.servers[0].port, 90);
  EXPECT_EQ(c->origin.keepalive, 64u);
  ASSERT_EQ(c->upstreams.size(), 2u);
  EXPECT_EQ(c->upstreams[0].name, "10.0.0.1:80");
  EXPECT_EQ(c->upstreams[0].host_header, "10.0.0.1");
  EXPECT_EQ(c->upstreams[1].name, "content");
  EXPECT_EQ(c->upstreams[1].host_header, "content");
  EXPECT_EQ(c->upstreams[1].keepalive, 4u);
  EXPECT_EQ(c->upstreams[1].connect_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c->match("/api/x")->upstream, 0);
  EXPECT_EQ(c->match("/a/x")->upstream, 1);
  EXPECT_EQ(c->match("/b/x")->upstream, 2);
  EXPECT_EQ(c->match("/b2/x")->upstream, 2);
  EXPECT_EQ(c->match("/n/c/x")->upstream, 2);  // nested
  // Without one named "origin": the first proxy_pass's.
  auto first = loadOk(
      "http {\n server {\n  location /a/ { proxy_pass http://10.0.0.1:80; }\n"
      "  location /b/ { proxy_pass http://10.0.0.2:80; }\n }\n}\n");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->origin.name, "10.0.0.1:80");
  ASSERT_EQ(first->upstreams.size(), 1u);
  EXPECT_EQ(first->match("/b/x")->upstream, 1);
  EXPECT_EQ(loadError("http {\n server {\n  location /a/ { proxy_pass http://10.0.0.1:80; }\n"
                      "  location /b/ { proxy_pass http://nowhere:x; }\n }\n}\n"),
            at(4, "proxy_pass target \"nowhere:x\" is neither an upstream nor host:port"));
}

TEST_F(EdgeConfigTest, UpstreamWithSeveralServers) {
  auto c = loadOk(
      "http {\n upstream o {\n  server 10.0.0.1:81 weight=3 max_fails=2 fail_timeout=5s;\n"
      "  server 10.0.0.2:82;\n  server 10.0.0.3:83 backup;\n  server 10.0.0.4:84 down;\n"
      "  keepalive 8;\n }\n server {\n  location /a {\n   proxy_pass http://o;\n"
      "   proxy_next_upstream error;\n   proxy_next_upstream_tries 2;\n"
      "   proxy_http_version 1.1;\n  }\n"
      "  location /b { proxy_pass http://o; proxy_next_upstream off; }\n }\n}\n");
  ASSERT_TRUE(c);
  const auto& s = c->origin.servers;
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].weight, 3);
  EXPECT_EQ(s[0].max_fails, 2);
  EXPECT_EQ(s[0].fail_timeout, std::chrono::seconds(5));
  EXPECT_EQ(s[1].weight, 1);
  EXPECT_EQ(s[1].max_fails, 1);  // nginx's defaults: 1 and 10 s
  EXPECT_EQ(s[1].fail_timeout, std::chrono::seconds(10));
  EXPECT_TRUE(s[2].backup);
  EXPECT_TRUE(s[3].down);
  EXPECT_EQ(c->origin.host_header, "o");
  const Location* a = c->match("/a");
  EXPECT_TRUE(a->next_upstream.error);
  EXPECT_FALSE(a->next_upstream.timeout);
  EXPECT_EQ(a->next_upstream.tries, 2);
  EXPECT_FALSE(c->match("/b")->next_upstream.error);
  EXPECT_TRUE(c->match("/x")->next_upstream.timeout);  // the default: error timeout
  EXPECT_EQ(loadError("http {\n upstream o {\n  server 10.0.0.1:81 slow_start=3s;\n }\n"
                      " server { }\n}\n"),
            at(3,
               "invalid parameter \"slow_start=3s\" (weight=, max_fails=, fail_timeout=, "
               "backup, down)"));
  EXPECT_EQ(
      loadError("http {\n server {\n  location / {\n   proxy_http_version 1.0;\n  }\n }\n}\n"),
      at(4,
         "\"proxy_http_version 1.0\" is not supported: surge-edge speaks HTTP/1.1 to "
         "origin, with keep-alive"));
  EXPECT_EQ(loadError("http {\n upstream o {\n  server 10.0.0.1:81 backup;\n }\n server { }\n}\n"),
            at(2, "upstream \"o\" has only backup servers"));
  EXPECT_EQ(loadError("http {\n server {\n  proxy_next_upstream error http_502;\n }\n}\n"),
            at(3,
               "\"proxy_next_upstream http_502\" is not supported (error, timeout, off): "
               "surge-edge sends a request on only for a failed connection or a timeout"));
}

TEST_F(EdgeConfigTest, ExpiresForms) {
  auto c = loadOk(
      "http {\n server {\n root /srv;\n"
      "  location /max { expires max; }\n"
      "  location /epoch { expires epoch; }\n"
      "  location /off { expires 1h; expires off; }\n"
      "  location /cc { add_header Cache-Control \"public, max-age=5\"; }\n"
      " }\n}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->match("/epoch")->files.cache_control, "no-cache");
  EXPECT_EQ(c->match("/max")->files.cache_control, "max-age=315360000");  // nginx's
  EXPECT_EQ(c->match("/off")->files.cache_control, "");
  const Location* cc = c->match("/cc");
  ASSERT_EQ(cc->files.add_headers.size(), 1u);  // replaces Cache-Control when sent
  EXPECT_EQ(cc->files.add_headers[0].value, "public, max-age=5");
}

TEST_F(EdgeConfigTest, ShippedConfigLoads) {
  std::filesystem::path conf =
      std::filesystem::path(__FILE__).parent_path() / "../../edge/conf/surge-edge.conf";
  ASSERT_TRUE(std::filesystem::exists(conf)) << conf;
  // It logs to ../../var/ (the demo's runtime folder, which ./surge demo makes first): a log
  // file must be writable for a configuration to load, as in nginx.
  std::filesystem::create_directories(conf.parent_path() / "../../var");
  auto loaded = loadEdgeConfig(conf.string());
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  const EdgeConfig& c = *loaded.value();
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.backlog, 4096);
  EXPECT_TRUE(c.have_origin);
  EXPECT_EQ(c.origin.servers.at(0).port, 8081);
  ASSERT_EQ(c.servers.size(), 1u);
  EXPECT_EQ(c.match("/metrics")->kind, Location::Kind::kStatus);
  EXPECT_FALSE(c.match("/metrics")->access.allows("10.0.0.1"));
  EXPECT_TRUE(c.match("/metrics")->access.allows("127.0.0.1"));
  EXPECT_EQ(c.match("/readyz")->kind, Location::Kind::kStatus);
  EXPECT_TRUE(c.match("/readyz")->access.allows("10.0.0.1"));
  EXPECT_EQ(c.match("/healthz")->kind, Location::Kind::kStatus);
  EXPECT_EQ(c.match("/api/v1/bookings")->kind, Location::Kind::kProxy);
  EXPECT_EQ(c.match("/api/v1/queue/tickets")->kind, Location::Kind::kQueue);
  EXPECT_EQ(c.match("/index.html")->prefix, "/");
  EXPECT_TRUE(c.match("/ops/")->ops);
  EXPECT_FALSE(c.ops_keys.empty());
  EXPECT_TRUE(c.waiting_room.enabled);
  EXPECT_EQ(c.waiting_room.session, std::chrono::seconds(600));
}

TEST_F(EdgeConfigTest, WaitingRoomNeedsItsKeysAndItsLocation) {
  const std::string head = "http {\n surge_memcached 127.0.0.1:1;\n surge_snapshot_keys /k;\n";
  EXPECT_EQ(loadError(head + " surge_waiting_room on;\n server { location / { root /x; } }\n}\n"),
            path_ +
                ": the waiting room needs \"surge_memcached\", \"surge_queue_keys\" and "
                "\"surge_snapshot_keys\"");
  EXPECT_EQ(loadError("http {\n surge_memcached 127.0.0.1:1;\n surge_queue_keys /q;\n"
                      " surge_waiting_room on;\n server { location /q/ { surge_queue; } }\n}\n"),
            path_ +
                ": the waiting room needs \"surge_memcached\", \"surge_queue_keys\" and "
                "\"surge_snapshot_keys\"");
  EXPECT_EQ(loadError(head + " surge_waiting_room on;\n surge_queue_keys /q;\n"
                             " server { location / { root /x; } }\n}\n"),
            path_ + ": \"surge_waiting_room on\" and a location with \"surge_queue\" go together");
  EXPECT_EQ(loadError(head + " surge_queue_block 0;\n server { }\n}\n"),
            at(4, "invalid value \"0\" in \"surge_queue_block\" (expected 1..1000)"));
}

TEST_F(EdgeConfigTest, UnknownDirectives) {
  EXPECT_EQ(loadError("worker_processes 1;\nfoo 1;\nhttp { server { } }\n"),
            at(2, "unknown directive \"foo\""));
  EXPECT_EQ(loadError("events {\n  bar;\n}\nhttp { server { } }\n"),
            at(2, "unknown directive \"bar\" in events"));
  EXPECT_EQ(loadError("http {\n  server { }\n  ssi on;\n}\n"),
            at(3, "unknown directive \"ssi\" in http"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen 80;\n    limit_except GET { }\n  }\n}\n"),
            at(4, "unknown directive \"limit_except\" in server"));
  EXPECT_EQ(
      loadError("http {\n server {\n  location / {\n   root /srv;\n   open_log_file_cache max=9;\n"
                "  }\n }\n}\n"),
      at(5, "unknown directive \"open_log_file_cache\" in location"));
  EXPECT_EQ(loadError("http {\n upstream o {\n  server 1.2.3.4:80;\n  least_conn;\n }\n"
                      " server { }\n}\n"),
            at(4, "unknown directive \"least_conn\" in upstream"));
}

TEST_F(EdgeConfigTest, BadValues) {
  EXPECT_EQ(loadError("http {\n  keepalive_timeout 5x;\n  server { }\n}\n"),
            at(2, "invalid duration \"5x\" (examples: 500ms, 10s, 5m)"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen 127.0.0.1:70000;\n  }\n}\n"),
            at(3, "invalid value \"70000\" in \"listen\" (expected 1..65535)"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen 127.0.0.1:0;\n  }\n}\n"),
            at(3, "invalid value \"0\" in \"listen\" (expected 1..65535)"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen 127.0.0.1:http;\n  }\n}\n"),
            at(3, "invalid value \"http\" in \"listen\" (expected 1..65535)"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen 8443 ssl;\n  }\n}\n"),
            at(3, "\"listen ... ssl\" needs ssl_certificate and ssl_certificate_key"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen 8080;\n    listen 8080 ssl;\n  }\n}\n"),
            at(4, "the plain and the TLS listen need different ports"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen 127.0.0.1:8080 ssl;\n  }\n}\n"),
            at(3, "the TLS listen needs a port other than the plain one (8080)"));
  EXPECT_EQ(loadError("worker_processes 0;\nhttp { server { } }\n"),
            at(1, "invalid value \"0\" in \"worker_processes\" (expected 1..256)"));
  EXPECT_EQ(loadError("http {\n  surge_refresh_interval 5ms;\n  server { }\n}\n"),
            at(2, "at least 10ms"));
  EXPECT_EQ(loadError("http {\n  sendfile off;\n  server { }\n}\n"),
            at(2, "surge always uses \"sendfile on\""));
  EXPECT_EQ(loadError("http {\n  access_log /x main;\n  server { }\n}\n"),
            at(2, "unknown log format \"main\""));
  EXPECT_EQ(loadError("http {\n  log_format m $status;\n  log_format m $uri;\n  server { }\n}\n"),
            at(3, "duplicate \"log_format\" name \"m\""));
  EXPECT_EQ(loadError("http {\n  log_format m $nope;\n  server { }\n}\n"),
            at(2, "unknown \"nope\" variable"));
  EXPECT_EQ(loadError("http {\n  access_log /x combined gzip;\n  server { }\n}\n"),
            at(2, "compressed access logs are not supported"));
  EXPECT_EQ(loadError("http {\n  keepalive_disable opera;\n  server { }\n}\n"),
            at(2, "invalid value \"opera\""));
  EXPECT_EQ(loadError("http {\n  keepalive_timeout;\n  server { }\n}\n"),
            at(2, "invalid number of arguments in \"keepalive_timeout\" directive"));
  EXPECT_EQ(loadError("http {\n  surge_stale_if_error 500ms;\n  server { }\n}\n"),
            at(2, "\"surge_stale_if_error\" takes whole seconds"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen [::1]:8080 ipv6only=off;\n  }\n}\n"),
            at(3, "surge listens with ipv6only=on only"));
  EXPECT_EQ(loadError("http {\n  server {\n    listen [::1:8080;\n  }\n}\n"),
            at(3, "invalid IPv6 address in \"[::1:8080\""));
  EXPECT_EQ(loadError("http {\n  server {\n    listen [::1]:80;\n    listen [::1]:80;\n  }\n}\n"),
            at(4, "duplicate listen [::1]:80"));
  EXPECT_EQ(loadError("http {\n  upstream o {\n    server [::1]:80;\n  }\n  server { }\n}\n"),
            at(3, "IPv6 addresses are not supported yet"));
  EXPECT_EQ(loadError("http {\n  gzip_comp_level 10;\n  server { }\n}\n"),
            at(2, "invalid value \"10\" in \"gzip_comp_level\" (expected 1..9)"));
  EXPECT_EQ(loadError("http {\n  gzip_proxied expired;\n  server { }\n}\n"),
            at(2,
               "\"gzip_proxied\" takes off or any in surge (not \"expired\"); see "
               "nginx-compat/DIFFERENCES.md"));
  EXPECT_EQ(loadError("http {\n  gzip_disable \"(\";\n  server { }\n}\n"),
            at(2, "pcre2_compile() failed: missing closing parenthesis in \"(\" at \"\""));
  EXPECT_EQ(loadError("http {\n  autoindex_format json;\n  server { }\n}\n"),
            at(2, "autoindex_format \"json\" is not supported: surge lists directories as html"));
  EXPECT_EQ(
      loadError("http {\n  autoindex yes;\n  server { }\n}\n"),
      at(2, "invalid value \"yes\" in \"autoindex\" directive, it must be \"on\" or \"off\""));
  EXPECT_EQ(loadError("http {\n  ssl_protocols TLSv1 TLSv1.1;\n  server { }\n}\n"),
            at(2, "surge speaks TLSv1.2 and TLSv1.3 only: name at least one of them"));
  EXPECT_EQ(loadError("http {\n upstream o {\n  server 1.2.3.4:80 weight=0;\n }\n server { }\n}\n"),
            at(3, "invalid value \"0\" in \"server\" (expected 1..1000)"));
  EXPECT_EQ(loadError("http {\n  proxy_set_header X-Request-Id x;\n  server { }\n}\n"),
            at(2, "\"X-Request-Id\" is set by surge-edge itself"));
  EXPECT_EQ(loadError("http {\n  access_log /nonexistent-surge-dir/a.log;\n  server { }\n}\n"),
            at(2, "access_log /nonexistent-surge-dir/a.log: No such file or directory"));
  EXPECT_EQ(loadError("http {\n  server_tokens maybe;\n  server { }\n}\n"),
            at(2, "invalid value \"maybe\""));
  EXPECT_EQ(loadError("http {\n  server {\n    location / { expires 500ms; }\n  }\n}\n"),
            at(3, "invalid time \"500ms\" (examples: 30s, 1h, 7d, 1y)"));
}

TEST_F(EdgeConfigTest, ProxyTimeoutsPerLocation) {
  auto c = loadOk(
      "http {\n proxy_connect_timeout 2s;\n proxy_read_timeout 20s;\n server {\n"
      "  proxy_send_timeout 4s;\n"
      "  location /a/ { proxy_pass http://1.2.3.4:80; proxy_read_timeout 3s; }\n"
      "  location /b/ { proxy_pass http://1.2.3.4:80; }\n"
      "  location /y/ { expires 1y; }\n }\n}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->origin.connect_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->origin.read_timeout, std::chrono::milliseconds(20000));
  const Location* a = c->match("/a/x");
  const Location* b = c->match("/b/x");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->proxy_timeouts.read, std::chrono::milliseconds(3000));
  EXPECT_EQ(a->proxy_timeouts.send, std::chrono::milliseconds(4000));   // the server's
  EXPECT_EQ(b->proxy_timeouts.read, std::chrono::milliseconds(20000));  // the http block's
  EXPECT_EQ(b->proxy_timeouts.connect, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->match("/y/z")->files.cache_control, "max-age=31536000");
}

// Regression: /metrics, /healthz and /readyz answered anyone on the public port. nginx's
// allow/deny, with its inheritance (http -> server -> location, a level with rules of its own
// replaces its parent's), and a `surge_status` location to give them their own.
TEST_F(EdgeConfigTest, AllowAndDenyAsNginx) {
  auto c = loadOk(R"(http {
    deny 192.168.0.0/16;
    server {
        listen 8080;
        root html;
        location / { }
        location /private/ {
            allow 10.1.0.0/16;
            allow 127.0.0.1;
            deny all;
        }
        location = /metrics {
            surge_status;
            allow 127.0.0.0/8;
            deny all;
        }
    }
}
)");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->match("/index.html")->access.allows("192.168.1.1")) << "inherited from http";
  EXPECT_TRUE(c->match("/index.html")->access.allows("10.0.0.1"));
  const http::AccessRules& priv = c->match("/private/x")->access;
  EXPECT_TRUE(priv.allows("10.1.2.3"));
  EXPECT_TRUE(priv.allows("127.0.0.1"));
  EXPECT_FALSE(priv.allows("127.0.0.2"));
  EXPECT_FALSE(priv.allows("10.2.0.1"));
  EXPECT_FALSE(priv.allows("192.168.1.1"));
  // /metrics obeys its surge_status location; /healthz, with none, is a file of the root like
  // any other path (a static-only configuration exposes no status).
  EXPECT_EQ(c->match("/metrics")->kind, Location::Kind::kStatus);
  EXPECT_TRUE(c->match("/metrics")->access.allows("127.0.0.9"));
  EXPECT_FALSE(c->match("/metrics")->access.allows("10.0.0.1"));
  EXPECT_EQ(c->match("/healthz")->kind, Location::Kind::kStatic);

  EXPECT_EQ(loadError("http {\n server {\n  allow 10.0.0.300;\n }\n}\n"),
            at(3, "\"10.0.0.300\" is not an IPv4 address, a CIDR block (10.0.0.0/8) or \"all\""));
  EXPECT_EQ(loadError("http {\n server {\n  deny 10.1.2.3/8;\n }\n}\n"),
            at(3, "\"10.1.2.3/8\" has bits set beyond its prefix length"));
  EXPECT_EQ(loadError("http {\n server {\n  location /x {\n   allow;\n  }\n }\n}\n"),
            at(4, "invalid number of arguments in \"allow\" directive"));
  EXPECT_EQ(loadError("http {\n server {\n  location /x {\n   surge_status;\n   root /srv;\n  }\n "
                      "}\n}\n"),
            at(3,
               "a location does one of: root, surge_snapshots, surge_queue, proxy_pass, "
               "surge_status"));
  EXPECT_EQ(loadError("http {\n surge_lookup_limit 10 5ms;\n server { }\n}\n"),
            at(2, "the window is a duration of at least 1s, like 1m"));
}

TEST_F(EdgeConfigTest, LocationErrors) {
  EXPECT_EQ(loadError("http {\n server {\n  location /x {\n   root /srv;\n"
                      "   proxy_pass http://127.0.0.1:8081;\n  }\n }\n}\n"),
            at(3,
               "a location does one of: root, surge_snapshots, surge_queue, proxy_pass, "
               "surge_status"));
  EXPECT_EQ(loadError("http {\n surge_memcached 127.0.0.1:11211;\n server {\n"
                      "  location /x {\n   surge_snapshots;\n   proxy_pass http://127.0.0.1:1;\n"
                      "  }\n }\n}\n"),
            at(4,
               "a location does one of: root, surge_snapshots, surge_queue, proxy_pass, "
               "surge_status"));
  EXPECT_EQ(loadError("http {\n server {\n  root /srv;\n  location /a { }\n  location /a { }\n"
                      " }\n}\n"),
            at(5, "duplicate location \"/a\""));
  EXPECT_EQ(loadError("http {\n server {\n  location /a { proxy_pass ftp://x; }\n }\n}\n"),
            at(3, "proxy_pass needs an http:// or https:// URL"));
  // https:// is taken; its host is resolved as any (on 443 when no port is given).
  EXPECT_NE(loadError("http {\n server {\n  location /a { proxy_pass https://x.invalid; }\n }\n}\n")
                .find(at(3, "host not found in \"x.invalid:443\"")),
            std::string::npos);
  EXPECT_EQ(loadError("http {\n server {\n  location /a/ {\n   location @n { }\n  }\n }\n}\n"),
            at(4, "named location \"@n\" can be on the server level only"));
  EXPECT_EQ(loadError("http {\n server {\n  location /a/ {\n   proxy_pass http://1.2.3.4:80;\n"
                      "   try_files $uri =404;\n  }\n }\n}\n"),
            at(3, "\"try_files\" goes with files (root or alias) only"));
  EXPECT_EQ(loadError("http {\n server {\n  location a { root /srv; }\n }\n}\n"),
            at(3, "a location starts with /"));
  EXPECT_EQ(loadError("http {\n server {\n  location /a {\n   surge_immutable_hashed yes;\n"
                      "   root /srv;\n  }\n }\n}\n"),
            at(4, "expected on or off"));
  EXPECT_EQ(loadError("http {\n server {\n  location /a {\n   add_header X-A 1 sometimes;\n"
                      "   root /srv;\n  }\n }\n}\n"),
            at(4, "invalid parameter \"sometimes\" in \"add_header\" (always)"));
  EXPECT_EQ(loadError("http {\n server {\n  location /a {\n   add_header \"X A\" 1;\n"
                      "   root /srv;\n  }\n }\n}\n"),
            at(4, "invalid header name \"X A\" in \"add_header\""));
  EXPECT_EQ(loadError("http {\n server {\n  location /a {\n   proxy_pass http://nosuch;\n  }\n"
                      " }\n}\n"),
            at(4, "proxy_pass target \"nosuch\" is neither an upstream nor host:port"));
}

// An origin named by host is resolved when the configuration is loaded (so by -t, and never on
// an event loop), or refused with the line that names it.
TEST_F(EdgeConfigTest, OriginHostNamesAreResolvedAtLoadOrRefused) {
  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
  auto c = loadOk("http {\n upstream o {\n  server " + std::string(name) +
                  ":8081;\n }\n server {\n  location /api/ { proxy_pass http://o; }\n }\n}\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->origin.servers.at(0).host, name);
  EXPECT_EQ(c->origin.host_header, "o");  // the upstream's name, as nginx's $proxy_host
  in_addr a{};
  const std::string& address = c->origin.servers.at(0).address;
  EXPECT_EQ(inet_pton(AF_INET, address.c_str(), &a), 1) << address;
  auto literal = loadOk(
      "http {\n server {\n  location /api/ { proxy_pass http://10.1.2.3:81; }\n"
      " }\n}\n");
  ASSERT_TRUE(literal);
  EXPECT_EQ(literal->origin.servers.at(0).address, "10.1.2.3");
  EXPECT_EQ(loadError("http {\n upstream o {\n  server surge-no-such-host.invalid:8081;\n }\n"
                      " server {\n  location /api/ { proxy_pass http://o; }\n }\n}\n")
                .rfind(at(3, "host not found in \"surge-no-such-host.invalid:8081\""), 0),
            0u);
  EXPECT_EQ(loadError("http {\n server {\n  location /api/ {\n   proxy_pass "
                      "http://surge-no-such-host.invalid:81;\n  }\n }\n}\n")
                .rfind(at(4, "host not found"), 0),
            0u);
  EXPECT_EQ(loadError("http {\n surge_ops_peer b surge-no-such-host.invalid:8080;\n server {\n"
                      "  root /srv;\n }\n}\n")
                .rfind(at(2, "host not found"), 0),
            0u);
}

TEST_F(EdgeConfigTest, IfModifiedSinceIsInheritedAsInNginx) {
  using Ims = StaticLocation::IfModifiedSince;
  auto c = loadOk(
      "http {\n if_modified_since off;\n root /srv;\n server {\n  location /a { }\n"
      "  location /b { if_modified_since before; }\n }\n}\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->match("/a/x")->files.if_modified_since, Ims::kOff);
  EXPECT_EQ(c->match("/b/x")->files.if_modified_since, Ims::kBefore);
  auto d = loadOk("http {\n server {\n  root /srv;\n  location /a { }\n }\n}\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->match("/a/x")->files.if_modified_since, Ims::kExact);
  EXPECT_EQ(loadError("http {\n server {\n  root /srv;\n  location /a {\n"
                      "   if_modified_since sometimes;\n  }\n }\n}\n"),
            at(5, "invalid value \"sometimes\" in \"if_modified_since\" (off, exact, before)"));
}

// nginx: a level's own add_header lines replace what it would inherit.
TEST_F(EdgeConfigTest, AddHeaderIsInheritedAsInNginxAndRefusedWhereItWouldDoNothing) {
  auto c = loadOk(
      "http {\n add_header X-Http 1;\n root /srv;\n server {\n  add_header X-Server 2 always;\n"
      "  location /a { }\n  location /b { add_header X-B 3; add_header X-C 4; }\n }\n}\n");
  ASSERT_TRUE(c);
  const auto& a = c->match("/a/x")->files.add_headers;
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].name, "X-Server");
  EXPECT_TRUE(a[0].always);
  const auto& b = c->match("/b/x")->files.add_headers;
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].name, "X-B");
  EXPECT_FALSE(b[0].always);
  EXPECT_EQ(b[1].name, "X-C");
  // Snapshot answers carry their own headers: add_header there, or inherited there, is refused.
  EXPECT_EQ(loadError("http {\n server {\n  location /api/ {\n   surge_snapshots;\n"
                      "   add_header Cache-Control no-cache;\n  }\n }\n}\n")
                .rfind(at(5, "\"add_header\" applies to file and proxy locations only"), 0),
            0u);
  // Through proxy_pass, origin's answers take them (nginx's headers filter).
  auto proxied = loadOk(
      "http {\n add_header X-Frame-Options DENY;\n server {\n"
      "  location /b/ { proxy_pass http://127.0.0.1:9; }\n }\n}\n");
  ASSERT_TRUE(proxied);
  EXPECT_EQ(proxied->match("/b/x")->add_header_rules.size(), 1u);
  EXPECT_EQ(loadError("http {\n add_header X-Frame-Options DENY;\n server {\n"
                      "  location /api/ { surge_snapshots; }\n }\n}\n")
                .rfind(at(2, "\"add_header\" applies to file and proxy locations only"), 0),
            0u);
}

TEST_F(EdgeConfigTest, ExactAndPrefixOfTheSamePathAreNotDuplicates) {
  auto c = loadOk(
      "http {\n server {\n  root /srv;\n  location /a { }\n  location = /a { }\n"
      " }\n}\n");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->match("/a")->exact);
  EXPECT_FALSE(c->match("/ab")->exact);
  EXPECT_EQ(c->match("/b")->prefix, "/");
}

// nginx serves what no location matches from the server's root (<prefix>/html without one).
TEST_F(EdgeConfigTest, WhatNoLocationMatchesIsServedFromTheServersRoot) {
  auto c = loadOk(
      "http {\n root /srv;\n server {\n  if_modified_since before;\n  add_header X-A 1;\n"
      "  location /other/ { root /elsewhere; }\n }\n}\n");
  ASSERT_TRUE(c);
  const Location* l = c->match("/t1.html");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->kind, Location::Kind::kStatic);
  EXPECT_EQ(l->files.root, "/srv");
  EXPECT_EQ(l->files.if_modified_since, StaticLocation::IfModifiedSince::kBefore);
  ASSERT_EQ(l->files.add_headers.size(), 1u);
  EXPECT_EQ(c->match("/other/x")->files.root, "/elsewhere");
  auto none = loadOk("http {\n server {\n  location /a { root /srv; }\n }\n}\n");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->match("/b")->files.root, dir_.path() + "/html");
}

TEST_F(EdgeConfigTest, SnapshotsNeedMemcached) {
  EXPECT_EQ(loadError("http {\n server {\n  location /api/ {\n   surge_snapshots;\n  }\n }\n}\n"),
            path_ + ": a location serves snapshots but \"surge_memcached\" is not set");
}

TEST_F(EdgeConfigTest, StructureErrors) {
  EXPECT_EQ(loadError("worker_processes 1;\n"), path_ + ": no \"http\" block");
  EXPECT_EQ(loadError("http {\n}\n"), path_ + ": no \"server\" block in http");
  EXPECT_EQ(loadError("http {\n server { }\n}\nhttp {\n server { }\n}\n"),
            at(4, "\"http\" directive is duplicate"));
  EXPECT_EQ(loadError("http;\n"), at(1, "directive \"http\" has no opening \"{\""));
  EXPECT_EQ(loadError("http {\n upstream origin {\n  keepalive 8;\n }\n server { }\n}\n"),
            at(2, "upstream \"origin\" has no server"));
}

TEST_F(EdgeConfigTest, ErrorsInIncludedFilesNameThatFile) {
  std::string inc =
      dir_.write("conf.d/locations.conf", "location /a {\n  root /srv;\n  bogus;\n}\n");
  EXPECT_EQ(loadError("http {\n server {\n  include conf.d/*.conf;\n }\n}\n"),
            inc + ":3: unknown directive \"bogus\" in location");
}

TEST_F(EdgeConfigTest, SyntaxErrorsAndMissingFilesComeFromTheParser) {
  std::string error = loadError("http {\n server {\n");
  EXPECT_EQ(error.substr(0, path_.size() + 1), path_ + ":") << error;
  auto missing = loadEdgeConfig(dir_.path() + "/nope.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().substr(0, dir_.path().size() + 10), dir_.path() + "/nope.conf")
      << missing.error();
}

// client_body_in_file_only and kin: inherited as nginx's (the nearest level), the temp path from
// the prefix unless given, its levels 1 or 2.
TEST_F(EdgeConfigTest, RequestBodyFilesAreInheritedAndChecked) {
  auto c = loadOk(
      "http {\n client_body_buffer_size 2k;\n server {\n  client_body_in_file_only clean;\n"
      "  location /a { proxy_pass http://127.0.0.1:81; }\n"
      "  location /b { client_body_in_file_only off; client_body_temp_path bodies 1 2;\n"
      "   proxy_request_buffering off; proxy_pass http://127.0.0.1:81; }\n }\n}\n");
  ASSERT_NE(c, nullptr);
  using InFileOnly = RequestBodySettings::InFileOnly;
  const RequestBodySettings& a = c->match("/a")->request_body;
  EXPECT_EQ(a.in_file_only, InFileOnly::kClean);
  EXPECT_EQ(a.buffer_size, 2048u);
  EXPECT_EQ(a.temp_path, dir_.path() + "/client_body_temp");
  EXPECT_TRUE(a.levels.empty());
  EXPECT_TRUE(a.proxy_buffering);
  const RequestBodySettings& b = c->match("/b")->request_body;
  EXPECT_EQ(b.in_file_only, InFileOnly::kOff);
  EXPECT_EQ(b.temp_path, dir_.path() + "/bodies");
  EXPECT_EQ(b.levels, (std::vector<int>{1, 2}));
  EXPECT_FALSE(b.proxy_buffering);
  EXPECT_EQ(loadError("http {\n server {\n  client_body_in_file_only yes;\n }\n}\n"),
            at(3, "invalid value \"yes\" in \"client_body_in_file_only\" (on, clean or off)"));
  EXPECT_EQ(loadError("http {\n client_body_temp_path /t 1 3;\n server { }\n}\n"),
            at(2, "invalid level \"3\" in \"client_body_temp_path\" (1 or 2)"));
}

}  // namespace
}  // namespace surge::edge
