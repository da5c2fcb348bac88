// TLS on a real surge-edge, checked with the stock tools operators use: curl and
// openssl s_client. Certificates are made per test with the openssl command.
#include <gtest/gtest.h>
#include <poll.h>

#include "command.h"
#include "edge_process.h"
#include "surge/testing/http_recorder.h"
#include "surge/testing/reliability.h"
#include "surge/testing/temp_dir.h"

namespace surge::edge::test {
namespace {

// A server block's lines for a TLS listener on `port` with the certificate made in `dir`.
std::string tlsListen(int port, const std::string& dir) {
  return "    listen 127.0.0.1:" + std::to_string(port) + " ssl;\n    ssl_certificate " + dir +
         "/cert.pem;\n    ssl_certificate_key " + dir + "/key.pem;\n";
}

// One TLS session with openssl s_client: `io` is -sess_out FILE (keep it) or -sess_in FILE
// (resume it). "sleep 1 |": TLS 1.3 sends its ticket after the handshake; s_client must still
// be there.
Command tlsSession(int port, const std::string& version, const std::string& io) {
  return run("sleep 1 | timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
             " " + version + " " + io);
}

class TlsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_);
    makeCertificate(dir_, "first.surge.test");
    tls_port_ = testing::freeLoopbackPort();
    edge_ = std::make_unique<EdgeProcess>(origin_, "",
                                          "    listen 127.0.0.1:" + std::to_string(tls_port_) +
                                              " ssl;\n    ssl_certificate " + dir_ +
                                              "/cert.pem;\n    ssl_certificate_key " + dir_ +
                                              "/key.pem;\n    ssl_protocols TLSv1.2 TLSv1.3;\n");
    ASSERT_TRUE(testing::waitForPort(tls_port_, 5s)) << edge_->log();
  }
  void TearDown() override {
    edge_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(tls_port_) + path;
  }
  std::string curl(const std::string& args) const {
    return "curl -sS --max-time 10 --cacert " + dir_ + "/cert.pem " + args;
  }
  std::string sClient(const std::string& args) const {
    return "echo | timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(tls_port_) +
           " " + args;
  }

  OriginProcess origin_{origin::test::smallCatalog()};
  std::string dir_ = (std::filesystem::temp_directory_path() /
                      ("surge-tls-" + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                         .string();
  int tls_port_ = 0;
  std::unique_ptr<EdgeProcess> edge_;
};

TEST_F(TlsE2ETest, CurlGetsSnapshotsFilesAndBookingsOverTls) {
  ASSERT_EQ(waitFor200(*edge_, "/api/v1/clinics/100001").status, 200);
  std::string big;
  for (int i = 0; i < (3 << 20) / 16; ++i)
    big += "0123456789abcdef";
  writeFile(edge_->path("html/big.bin"), big);
  writeFile(edge_->path("html/small.txt"), "small\n");

  // Several requests on one kept-alive TLS connection; curl checks the certificate.
  Command c = run(curl("-o /dev/null -o /dev/null -o " + dir_ + "/big.out -w '%{http_code} '" +
                       " " + url("/api/v1/clinics/100001") + " " + url("/small.txt") + " " +
                       url("/big.bin") + " -v"));
  EXPECT_EQ(c.exit, 0) << c.output;
  EXPECT_NE(c.output.find("200 200 200"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("Re-using existing connection"), std::string::npos) << c.output;
  EXPECT_EQ(readFile(dir_ + "/big.out"), big);  // read from the file and encrypted, in full

  // A range of the file, a gzip snapshot, and a booking through the TLS listener.
  Command range = run(curl("-H 'Range: bytes=16-31' " + url("/big.bin")));
  EXPECT_EQ(range.output, "0123456789abcdef");
  Command gz = run(curl("--compressed " + url("/api/v1/clinics/100001")));
  EXPECT_NE(gz.output.find("\"id\":100001"), std::string::npos) << gz.output;
  Command booking =
      run(curl("-w ' %{http_code}' -H 'Content-Type: application/json' "
               "-H 'Idempotency-Key: tls-1' --data '" +
               bookingBody(100001, origin::test::kFirstDate, "09:00", "tls-person") + "' " +
               url("/api/v1/bookings")));
  EXPECT_NE(booking.output.find(" 201"), std::string::npos) << booking.output;
  // The plain listener still works alongside.
  EXPECT_EQ(edge_->get("/small.txt").body, "small\n");
}

TEST_F(TlsE2ETest, OnlyTls12AndUpWithModernCiphers) {
  testing::ReliabilityRow row("hostile-http", "TLS: old protocol versions and weak ciphers");
  Command tls13 = run(sClient("-tls1_3"));
  EXPECT_EQ(tls13.exit, 0) << tls13.output;
  EXPECT_NE(tls13.output.find("TLSv1.3"), std::string::npos) << tls13.output;
  Command tls12 = run(sClient("-tls1_2"));
  EXPECT_EQ(tls12.exit, 0) << tls12.output;
  EXPECT_NE(tls12.output.find("ECDHE-ECDSA-AES128-GCM-SHA256"), std::string::npos) << tls12.output;
  // Refused: TLS 1.1 and 1.0 (the client may not even offer them: seclevel 0 makes it try),
  // CBC and RSA key exchange on 1.2.
  for (const char* refused :
       {"-tls1_1 -cipher DEFAULT@SECLEVEL=0", "-tls1 -cipher DEFAULT@SECLEVEL=0",
        "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA", "-tls1_2 -cipher AES128-GCM-SHA256"}) {
    Command c = run(sClient(refused));
    EXPECT_NE(c.exit, 0) << refused << "\n" << c.output;
    EXPECT_EQ(c.output.find("Cipher is ECDHE"), std::string::npos) << refused;
    row.tried();
  }
  row.outcome("handshake refused; TLS 1.2 with ECDHE+AEAD and TLS 1.3 only");
}

TEST_F(TlsE2ETest, SighupSwapsTheCertificateAndABadOneKeepsTheOld) {
  Command before = run(sClient("-tls1_3"));
  EXPECT_NE(before.output.find("CN = first.surge.test"), std::string::npos) << before.output;
  makeCertificate(dir_, "second.surge.test");
  edge_->signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  Command after;
  while (std::chrono::steady_clock::now() < deadline) {
    after = run(sClient("-tls1_3"));
    if (after.output.find("CN = second.surge.test") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(after.output.find("CN = second.surge.test"), std::string::npos) << after.output;
  EXPECT_EQ(run(curl("-o /dev/null -w '%{http_code}' " + url("/healthz"))).output, "200");

  // A broken certificate: the reload is refused and the running one stays.
  writeFile(dir_ + "/cert.pem", "-----BEGIN CERTIFICATE-----\nnot a certificate\n");
  edge_->signal(SIGHUP);
  std::this_thread::sleep_for(500ms);
  EXPECT_NE(edge_->log().find("reload refused"), std::string::npos) << edge_->log();
  Command still = run(sClient("-tls1_3"));
  EXPECT_NE(still.output.find("CN = second.surge.test"), std::string::npos) << still.output;
}

TEST_F(TlsE2ETest, GarbageAndSilenceOnTheTlsPortAreClosed) {
  testing::ReliabilityRow row("hostile-http", "TLS port: plain HTTP, garbage, silent handshake");
  auto closedWithin = [&](const std::string& bytes, std::chrono::milliseconds bound) {
    int fd = testing::connectLoopback(tls_port_);
    EXPECT_GE(fd, 0);
    if (!bytes.empty()) (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    auto start = std::chrono::steady_clock::now();
    bool closed = false;
    char buf[4096];
    while (std::chrono::steady_clock::now() - start < bound + 2s) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        if (::recv(fd, buf, sizeof buf, 0) <= 0) {
          closed = true;
          break;
        }
      }
    }
    ::close(fd);
    return closed && std::chrono::steady_clock::now() - start < bound + 1s;
  };
  EXPECT_TRUE(closedWithin("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1s));
  EXPECT_TRUE(closedWithin(std::string(3000, '\x16'), 1s));
  // A client that connects and never says hello is closed by the head timeout (10 s default:
  // the handshake is part of the request head).
  EXPECT_TRUE(closedWithin("", 11s));
  row.tried(3);
  row.outcome("connection closed; the edge keeps serving");
  EXPECT_EQ(run(curl("-o /dev/null -w '%{http_code}' " + url("/healthz"))).output, "200");
}

// Two edges sharing ssl_session_ticket_key files: a session begun on one resumes on the other
// (TLS 1.2 and 1.3), a key rotated in (new first, old second) still opens the old tickets, and an
// edge without the key makes a full handshake.
// proxy_pass https://: an edge speaks TLS to its upstream (here another edge's TLS listener,
// which serves a file and proxies /up/ on to a recorder). Answers and request bodies cross it,
// the connection is kept for the next requests, and the Host the upstream gets leaves out 443
// only (the port here is another).
TEST_F(TlsE2ETest, ProxyPassHttpsSpeaksTlsToTheUpstream) {
  testing::HttpRecorder recorder;
  const int back_tls = testing::freeLoopbackPort();
  EdgeProcess back(origin_, "",
                   tlsListen(back_tls, dir_) + "    location /up/ { proxy_pass http://127.0.0.1:" +
                       std::to_string(recorder.port()) + "; }\n");
  ASSERT_TRUE(testing::waitForPort(back_tls, 5s)) << back.log();
  writeFile(back.path("html/small.txt"), "small\n");
  const std::string upstream = "https://127.0.0.1:" + std::to_string(back_tls);
  EdgeProcess front(origin_, "", "    location /viatls/ { proxy_pass " + upstream + "/; }\n");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(front.get("/viatls/small.txt").body, "small\n") << front.log();
  HttpResponse posted = front.post("/viatls/up/x", "a body over TLS");
  EXPECT_EQ(posted.status, 200) << front.log();
  ASSERT_EQ(recorder.count(), 1u);
  EXPECT_TRUE(recorder.last().ends_with("\r\n\r\na body over TLS")) << recorder.last();
  const std::string reused =
      "surge_edge_origin_connections_reused_total{upstream=\"" + upstream + "\"}";
  // Four requests over two workers, each with its pool: at least two went on a kept connection.
  EXPECT_GE(metric(front.metrics(), reused), 2) << front.metrics();
  // A plain client on the TLS port is no answer: proxy_pass http:// to it fails cleanly.
  EdgeProcess wrong(
      origin_, "",
      "    location /plain/ { proxy_pass http://127.0.0.1:" + std::to_string(back_tls) + "/; }\n");
  EXPECT_GE(wrong.get("/plain/small.txt").status, 500);
}

TEST(TlsResumptionTest, TicketsFromOneEdgeResumeOnAnother) {
  testing::ReliabilityRow row("tls", "session tickets shared by two edges");
  OriginProcess origin(origin::test::smallCatalog());
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  makeCertificate(dir, "tickets.surge.test");
  ASSERT_EQ(run("openssl rand 80 > " + dir + "/old.key && openssl rand 80 > " + dir +
                "/new.key && openssl rand 48 > " + dir + "/other.key")
                .exit,
            0);
  auto tlsServer = [&](int port, const std::string& keys) {
    std::string lines = tlsListen(port, dir);
    std::istringstream names(keys);
    for (std::string k; names >> k;)
      lines += "    ssl_session_ticket_key " + dir + "/" + k + ";\n";
    return lines;
  };
  const int a_port = testing::freeLoopbackPort(), b_port = testing::freeLoopbackPort(),
            c_port = testing::freeLoopbackPort(), d_port = testing::freeLoopbackPort();
  EdgeProcess a(origin, "", tlsServer(a_port, "old.key"));
  EdgeProcess b(origin, "", tlsServer(b_port, "old.key"));
  EdgeProcess rotated(origin, "", tlsServer(c_port, "new.key old.key"));
  EdgeProcess stranger(origin, "", tlsServer(d_port, "other.key"));
  for (int port : {a_port, b_port, c_port, d_port})
    ASSERT_TRUE(testing::waitForPort(port, 5s));
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    SCOPED_TRACE(version);
    const std::string file = dir + "/session" + version + ".pem";
    Command first = tlsSession(a_port, version, "-sess_out " + file);
    EXPECT_NE(first.output.find("New, TLSv1."), std::string::npos) << first.output;
    Command other_edge = tlsSession(b_port, version, "-sess_in " + file);
    EXPECT_NE(other_edge.output.find("Reused, TLSv1."), std::string::npos) << other_edge.output;
    Command after_rotation = tlsSession(c_port, version, "-sess_in " + file);
    EXPECT_NE(after_rotation.output.find("Reused, TLSv1."), std::string::npos)
        << after_rotation.output;
    Command without_key = tlsSession(d_port, version, "-sess_in " + file);
    EXPECT_NE(without_key.output.find("New, TLSv1."), std::string::npos) << without_key.output;
  }
  row.tried(8);
  row.outcome("resumed on the other edge and after a rotation; a full handshake without the key");
}

// ssl_session_cache as nginx's: with a cache a session resumes by id (TLS 1.2) or by its
// stateful ticket (TLS 1.3) on the same edge, with no ticket keys configured; without one
// (nginx's default, "none") every handshake is full and TLS 1.3 sends no ticket at all.
TEST(TlsResumptionTest, TheSessionCacheResumesOnTheSameEdgeAndNoneDoesNot) {
  OriginProcess origin(origin::test::smallCatalog());
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  makeCertificate(dir, "cache.surge.test");
  auto tlsServer = [&](int port, const std::string& cache) { return tlsListen(port, dir) + cache; };
  const int cached_port = testing::freeLoopbackPort(), plain_port = testing::freeLoopbackPort();
  EdgeProcess cached(origin, "", tlsServer(cached_port, "    ssl_session_cache shared:SSL:1m;\n"));
  EdgeProcess plain(origin, "", tlsServer(plain_port, ""));
  for (int port : {cached_port, plain_port})
    ASSERT_TRUE(testing::waitForPort(port, 5s));
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    SCOPED_TRACE(version);
    const std::string file = dir + "/cached" + version + ".pem";
    Command first = tlsSession(cached_port, version, "-sess_out " + file);
    EXPECT_NE(first.output.find("New, TLSv1."), std::string::npos) << first.output;
    Command again = tlsSession(cached_port, version, "-sess_in " + file);
    EXPECT_NE(again.output.find("Reused, TLSv1."), std::string::npos) << again.output;
    const std::string none_file = dir + "/none" + version + ".pem";
    Command none_first = tlsSession(plain_port, version, "-sess_out " + none_file);
    EXPECT_NE(none_first.output.find("New, TLSv1."), std::string::npos) << none_first.output;
    if (version == "-tls1_3") {
      // No ticket came, so s_client had no session to write.
      EXPECT_NE(first.output.find("New Session Ticket arrived"), std::string::npos);
      EXPECT_EQ(none_first.output.find("New Session Ticket arrived"), std::string::npos)
          << none_first.output;
      EXPECT_FALSE(std::filesystem::exists(none_file));
    } else {
      Command none_again = tlsSession(plain_port, version, "-sess_in " + none_file);
      EXPECT_NE(none_again.output.find("New, TLSv1."), std::string::npos) << none_again.output;
    }
  }
}

// ssl_stapling_file: the OCSP response an operator fetched goes out with every handshake that
// asks (openssl s_client -status), checked at load.
TEST(TlsStaplingTest, TheConfiguredResponseIsStapled) {
  OriginProcess origin(origin::test::smallCatalog());
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  // A CA, a certificate it signed, and the CA's OCSP answer for it, by the openssl command.
  Command made = run(
      "cd " + dir +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=surge-test-ca -addext basicConstraints=critical,CA:TRUE "
      "-addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature -keyout ca.key -out ca.pem"
      " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-subj /CN=localhost -keyout key.pem -out leaf.csr"
      " && printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf"
      " && openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile ext.cnf -out leaf.pem"
      " && cat leaf.pem ca.pem > cert.pem"
      " && printf 'V\\t%s\\t\\t%s\\tunknown\\t/CN=localhost\\n' "
      "$(date -u -d \"$(openssl x509 -in leaf.pem -noout -enddate | cut -d= -f2)\" +%y%m%d%H%M%SZ) "
      "$(openssl x509 -in leaf.pem -noout -serial | cut -d= -f2) > index.txt"
      " && openssl ocsp -issuer ca.pem -cert leaf.pem -no_nonce -reqout req.der"
      " && openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin req.der "
      "-respout ocsp.der -ndays 1");
  ASSERT_EQ(made.exit, 0) << made.output;
  const int port = testing::freeLoopbackPort();
  EdgeProcess edge(origin, "",
                   "    listen 127.0.0.1:" + std::to_string(port) + " ssl;\n    ssl_certificate " +
                       dir + "/cert.pem;\n    ssl_certificate_key " + dir +
                       "/key.pem;\n    ssl_stapling on;\n    ssl_stapling_file " + dir +
                       "/ocsp.der;\n");
  ASSERT_TRUE(testing::waitForPort(port, 5s)) << edge.log();
  Command asked =
      run("echo | timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
          " -status -CAfile " + dir + "/ca.pem");
  EXPECT_NE(asked.output.find("OCSP Response Status: successful"), std::string::npos)
      << asked.output;
  EXPECT_NE(asked.output.find("Cert Status: good"), std::string::npos) << asked.output;
  EXPECT_NE(asked.output.find("Verify return code: 0 (ok)"), std::string::npos) << asked.output;

  // Not a response: refused with file:line by -t.
  writeFile(dir + "/bad.der", "not an OCSP response");
  writeFile(dir + "/t.conf",
            "http {\n  server {\n    listen 127.0.0.1:18080;\n"
            "    ssl_stapling_file " +
                dir + "/bad.der;\n  }\n}\n");
  Command bad = run(std::string(SURGE_EDGE_BIN) + " -t -c " + dir + "/t.conf");
  EXPECT_NE(bad.exit, 0);
  EXPECT_NE(bad.output.find("t.conf:4: not a DER OCSP response"), std::string::npos) << bad.output;
}

TEST(TlsConfigTest, CertificateProblemsAreReportedWithFileAndLine) {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  auto check = [&](const std::string& server_lines) {
    writeFile(dir + "/edge.conf",
              "http {\n  server {\n    listen 127.0.0.1:18080;\n" + server_lines + "  }\n}\n");
    return run(std::string(SURGE_EDGE_BIN) + " -t -c " + dir + "/edge.conf");
  };
  Command no_key =
      check("    listen 127.0.0.1:18443 ssl;\n    ssl_certificate " + dir + "/missing.pem;\n");
  EXPECT_NE(no_key.exit, 0);
  EXPECT_NE(no_key.output.find("edge.conf:4"), std::string::npos) << no_key.output;
  Command missing = check("    listen 127.0.0.1:18443 ssl;\n    ssl_certificate " + dir +
                          "/missing.pem;\n    ssl_certificate_key " + dir + "/missing.key;\n");
  EXPECT_NE(missing.exit, 0);
  EXPECT_NE(missing.output.find("missing.pem"), std::string::npos) << missing.output;
  writeFile(dir + "/short.key", "too short");
  Command short_key = check("    ssl_session_ticket_key " + dir + "/short.key;\n");
  EXPECT_NE(short_key.exit, 0);
  EXPECT_NE(short_key.output.find("edge.conf:4: a session ticket key file holds 80 or 48 bytes"),
            std::string::npos)
      << short_key.output;
  Command stapling = check("    ssl_stapling on;\n");
  EXPECT_NE(stapling.exit, 0);
  EXPECT_NE(stapling.output.find("needs \"ssl_stapling_file\""), std::string::npos)
      << stapling.output;
  Command cache = check("    ssl_session_cache shared:SSL;\n");
  EXPECT_NE(cache.exit, 0);
  EXPECT_NE(cache.output.find("edge.conf:4: invalid session cache \"shared:SSL\""),
            std::string::npos)
      << cache.output;
  Command old = check("    ssl_protocols SSLv3 TLSv1.2;\n");
  EXPECT_NE(old.exit, 0);
  EXPECT_NE(old.output.find("edge.conf:4: \"SSLv3\" is not supported"), std::string::npos)
      << old.output;
}

}  // namespace
}  // namespace surge::edge::test
