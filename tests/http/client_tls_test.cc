// HttpClient over TLS (what origin's purges to Fastly, Cloudflare and Akamai travel over) against
// a real TLS server, Debian's `openssl s_server -www`: the certificate must chain to the CA given
// and name the host; otherwise nothing is sent.
#include "surge/http/client.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "surge/testing/process.h"
#include "surge/testing/temp_dir.h"

namespace surge::http {
namespace {

using namespace std::chrono_literals;

int shell(const std::string& command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A self-signed certificate (its own CA) for the names in `san`, as PREFIX-cert.pem and
// PREFIX-key.pem.
void certificate(const std::string& dir, const std::string& prefix, const std::string& san) {
  ASSERT_EQ(shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                  "-days 2 -subj /CN=surge-test -addext subjectAltName=" +
                  san + " -keyout " + dir + "/" + prefix + "-key.pem -out " + dir + "/" + prefix +
                  "-cert.pem"),
            0);
}

class ClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certificate(dir_.path(), "server", "IP:127.0.0.1,DNS:localhost");
    certificate(dir_.path(), "stranger", "IP:127.0.0.1,DNS:localhost");
    port_ = testing::freeLoopbackPort();
    server_ = testing::ChildProcess(
        {testing::findProgram("openssl"), "s_server", "-quiet", "-www", "-accept",
         std::to_string(port_), "-cert", dir_.path() + "/server-cert.pem", "-key",
         dir_.path() + "/server-key.pem"},
        dir_.path() + "/s_server.log");
    ASSERT_TRUE(testing::waitForPort(port_, 10s));
  }
  testing::TempDir dir_;
  int port_ = 0;
  testing::ChildProcess server_;
};

TEST_F(ClientTlsTest, AServerWhoseCertificateChainsAndNamesTheHostIsAsked) {
  for (const char* host : {"127.0.0.1", "localhost"}) {
    HttpClient client(host, port_, 5000ms);
    ASSERT_TRUE(client.useTls(dir_.path() + "/server-cert.pem").ok());
    auto r = client.request("GET", "/");
    ASSERT_TRUE(r.ok()) << host << ": " << r.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("s_server"), std::string::npos) << r->body;
  }
}

TEST_F(ClientTlsTest, ACertificateFromAnotherCaIsRefusedBeforeAnythingIsSent) {
  HttpClient client("127.0.0.1", port_, 5000ms);
  ASSERT_TRUE(client.useTls(dir_.path() + "/stranger-cert.pem").ok());
  auto r = client.request("GET", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("certificate"), std::string::npos) << r.error();
  EXPECT_FALSE(client.useTls(dir_.path() + "/none.pem").ok());
}

TEST_F(ClientTlsTest, ACertificateForOtherNamesIsRefused) {
  certificate(dir_.path(), "other", "DNS:other.surge.test");
  int port = testing::freeLoopbackPort();
  testing::ChildProcess other(
      {testing::findProgram("openssl"), "s_server", "-quiet", "-www", "-accept",
       std::to_string(port), "-cert", dir_.path() + "/other-cert.pem", "-key",
       dir_.path() + "/other-key.pem"},
      dir_.path() + "/other.log");
  ASSERT_TRUE(testing::waitForPort(port, 10s));
  HttpClient client("127.0.0.1", port, 5000ms);
  ASSERT_TRUE(client.useTls(dir_.path() + "/other-cert.pem").ok());
  auto r = client.request("GET", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("mismatch"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace surge::http
