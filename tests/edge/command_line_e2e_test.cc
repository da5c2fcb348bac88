// surge-edge started, signalled and stopped the way nginx's own test harness and operators do it:
// -p/-c/-e/-g, a pid file, -s quit|reopen|stop, daemon on, -V.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "edge_process.h"
#include "surge/testing/process.h"
#include "surge/testing/temp_dir.h"

namespace surge::edge::test {
namespace {

// The shape of every nginx-tests configuration (%%TEST_GLOBALS_HTTP%% expanded as the suite does).
std::string nginxTestsConfig(const std::string& dir, int port, const std::string& main = "") {
  return main + "\ndaemon off;\n\nevents {\n}\n\nhttp {\n    root " + dir + ";\n    access_log " +
         dir + "/access.log;\n    client_body_temp_path " + dir + "/client_body_temp;\n" +
         "    proxy_temp_path " + dir +
         "/proxy_temp;\n\n    server {\n        listen 127.0.0.1:" + std::to_string(port) +
         ";\n        server_name localhost;\n        location / {\n" + "        }\n    }\n}\n";
}

// The pid in `path` once it is there (up to 10 s), else 0.
pid_t waitForPidFile(const std::string& path) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(path);
    long pid = 0;
    if (in >> pid && pid > 0) return static_cast<pid_t>(pid);
    std::this_thread::sleep_for(50ms);
  }
  return 0;
}

bool gone(pid_t pid, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// `surge-edge ARGS...` to completion: its exit code (output into `log`).
int runEdge(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {SURGE_EDGE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ChildProcess p(argv, log);
  return p.wait(10000ms);
}

TEST(EdgeCommandLineTest, StartsSignalledAndStopsAsNginxTestsDrivesNginx) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  dir.write("nginx.conf", nginxTestsConfig(d, port));
  dir.write("index.html", "the index\n");
  // What Test::Nginx runs: BINARY -p DIR/ -c nginx.conf -e error.log -g "pid ...; error_log ...;"
  const std::string globals = "pid " + d + "/nginx.pid; error_log " + d + "/error.log debug;";
  testing::ChildProcess edge(
      {SURGE_EDGE_BIN, "-p", d + "/", "-c", "nginx.conf", "-e", "error.log", "-g", globals},
      d + "/stdout.log");
  const pid_t pid = waitForPidFile(d + "/nginx.pid");
  ASSERT_EQ(pid, edge.pid()) << readFile(d + "/error.log") << readFile(d + "/stdout.log");
  // The pid file is written once the socket listens: the harness connects at once.
  HttpClient client("127.0.0.1", port, 2000ms);
  auto r = client.request("GET", "/");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "the index\n");
  // Every message went to the error log, none to the terminal.
  EXPECT_NE(readFile(d + "/error.log").find("listening on"), std::string::npos);
  EXPECT_EQ(readFile(d + "/stdout.log"), "");

  // -s reopen (SIGUSR1): logrotate moved the access log; the next line lands in a new file.
  std::this_thread::sleep_for(300ms);  // the access log's writer flushes every 100 ms
  std::filesystem::rename(d + "/access.log", d + "/access.log.1");
  const std::vector<std::string> signal_args = {"-p", d + "/", "-c", "nginx.conf", "-g", globals};
  auto with = [&](const char* s) {
    auto a = signal_args;
    a.insert(a.end(), {"-s", s});
    return a;
  };
  EXPECT_EQ(runEdge(with("reopen"), d + "/reopen.log"), 0) << readFile(d + "/reopen.log");
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(client.request("GET", "/index.html").ok());
  std::this_thread::sleep_for(400ms);
  EXPECT_NE(readFile(d + "/access.log").find("GET /index.html"), std::string::npos);
  EXPECT_EQ(readFile(d + "/access.log.1").find("GET /index.html"), std::string::npos);

  // -s quit (SIGQUIT): a graceful stop; the pid file goes with the process.
  EXPECT_EQ(runEdge(with("quit"), d + "/quit.log"), 0) << readFile(d + "/quit.log");
  EXPECT_EQ(edge.wait(5000ms), 0);
  EXPECT_FALSE(std::filesystem::exists(d + "/nginx.pid"));
  EXPECT_EQ(readFile(d + "/error.log").find("[alert]"), std::string::npos);
  // Nothing left to signal.
  EXPECT_NE(runEdge(with("stop"), d + "/stop.log"), 0);
}

// nginx-tests start the server with its standard error closed (to hide nginx's deprecation
// warnings): the error log takes its place and no message reaches a client's connection.
TEST(EdgeCommandLineTest, StartedWithStandardErrorClosedNoMessageReachesAClient) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  dir.write("nginx.conf", nginxTestsConfig(d, port));
  dir.write("index.html", "the index\n");
  testing::ChildProcess edge({"/bin/sh", "-c",
                              std::string("exec 2>&-; exec ") + SURGE_EDGE_BIN + " -p " + d +
                                  "/ -c nginx.conf -e error.log"},
                             d + "/stdout.log");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << readFile(d + "/error.log");
  // A connection open while the edge writes messages (a reload says what it kept).
  int fd = testing::connectLoopback(port);
  ASSERT_GE(fd, 0);
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
  std::string in;
  char buf[4096];
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n;
       in.find("the index\n") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    in.append(buf, static_cast<size_t>(n));
  ASSERT_NE(in.find("the index\n"), std::string::npos) << in;
  in.clear();
  ::kill(edge.pid(), SIGHUP);
  ::kill(edge.pid(), SIGQUIT);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    in.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(in, "");  // the connection closed with nothing more on it
  EXPECT_EQ(edge.wait(5000ms), 0);
  const std::string log = readFile(d + "/error.log");
  EXPECT_NE(log.find("draining"), std::string::npos) << log;
}

TEST(EdgeCommandLineTest, DaemonOnLeavesTheForegroundAndThePidFileNamesTheServer) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  std::string conf = nginxTestsConfig(d, port, "pid nginx.pid;\nerror_log error.log;\n");
  conf.replace(conf.find("daemon off;"), 11, "daemon on;");
  dir.write("nginx.conf", conf);
  dir.write("index.html", "x");
  // The command returns once the server is in the background.
  EXPECT_EQ(runEdge({"-p", d, "-c", "nginx.conf"}, d + "/start.log"), 0)
      << readFile(d + "/start.log");
  const pid_t pid = waitForPidFile(d + "/nginx.pid");
  ASSERT_GT(pid, 0) << readFile(d + "/error.log");
  EXPECT_TRUE(testing::waitForPort(port, 5000ms));
  EXPECT_EQ(::getsid(pid), pid) << "a session of its own";
  EXPECT_EQ(runEdge({"-p", d, "-c", "nginx.conf", "-s", "stop"}, d + "/stop.log"), 0)
      << readFile(d + "/stop.log");
  EXPECT_TRUE(gone(pid, 15000ms));
}

TEST(EdgeCommandLineTest, VersionSaysWhatNginxToolsRead) {
  testing::TempDir dir;
  EXPECT_EQ(runEdge({"-V"}, dir.path() + "/v.log"), 0);
  const std::string v = readFile(dir.path() + "/v.log");
  EXPECT_EQ(v.rfind("nginx version: nginx/1.22.1 (surge-edge/", 0), 0u) << v;
  EXPECT_NE(v.find("built with OpenSSL"), std::string::npos);
  // What surge-edge does not implement is "--without-..." (nginx-tests skips what needs it).
  EXPECT_NE(v.find("--without-http_ssi_module"), std::string::npos);
  EXPECT_EQ(v.find("--without-http_proxy_module"), std::string::npos);
  EXPECT_EQ(runEdge({"-x"}, dir.path() + "/x.log"), 1);
  EXPECT_NE(readFile(dir.path() + "/x.log").find("invalid option: \"x\""), std::string::npos);
}

TEST(EdgeCommandLineTest, GlobalsOnTheCommandLineAreCheckedLikeTheFile) {
  testing::TempDir dir;
  const std::string d = dir.path();
  dir.write("nginx.conf", nginxTestsConfig(d, testing::freeLoopbackPort(), "pid a.pid;\n"));
  // A pid in -g and in the file is duplicate, as in nginx.
  EXPECT_EQ(runEdge({"-t", "-p", d, "-c", "nginx.conf", "-g", "pid b.pid;"}, d + "/t.log"), 1);
  EXPECT_NE(readFile(d + "/t.log").find("\"pid\" directive is duplicate"), std::string::npos)
      << readFile(d + "/t.log");
  EXPECT_EQ(
      runEdge({"-t", "-q", "-p", d, "-c", "nginx.conf", "-g", "worker_processes 1;"}, d + "/q.log"),
      0);
  EXPECT_EQ(readFile(d + "/q.log"), "") << "-q: nothing but errors";
  EXPECT_EQ(runEdge({"-T", "-p", d, "-c", "nginx.conf"}, d + "/dump.log"), 0);
  EXPECT_NE(readFile(d + "/dump.log").find("# configuration file " + d + "/nginx.conf:"),
            std::string::npos)
      << readFile(d + "/dump.log");
}

}  // namespace
}  // namespace surge::edge::test
