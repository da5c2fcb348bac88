// Running the stock tools the edge tests check surge with (curl, openssl, nghttp, h2load), and a
// throw-away certificate for a TLS listener.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace surge::edge::test {

struct Command {
  int exit = -1;
  std::string output;  // stdout and stderr
};

inline Command run(const std::string& command) {
  Command c;
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return c;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    c.output.append(buf, n);
  int status = ::pclose(p);
  c.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return c;
}

// dir/cert.pem and dir/key.pem: a P-256 certificate for `name`, 127.0.0.1 and localhost.
inline void makeCertificate(const std::string& dir, const std::string& name) {
  Command c =
      run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
          "-days 2 -subj /CN=" +
          name + " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " + dir +
          "/key.pem -out " + dir + "/cert.pem");
  ASSERT_EQ(c.exit, 0) << c.output;
}

}  // namespace surge::edge::test
