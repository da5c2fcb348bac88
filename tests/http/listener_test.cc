// Listeners: one port shared by a server's own workers, refused while another socket listens.
#include "surge/http/listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "surge/http/server.h"

namespace surge::http {
namespace {

// A listener that is not one of the server's own, as a second process started by mistake would
// open it: SO_REUSEPORT, same user, so the kernel alone would let both share the port.
int foreignReuseportListener(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

void closeAll(const std::vector<int>& fds) {
  for (int fd : fds)
    ::close(fd);
}

TEST(ListenerTest, WorkersShareOneFreePort) {
  int port = 0;
  auto fds = listenShared("127.0.0.1", port, 16, 3);
  ASSERT_TRUE(fds.ok()) << fds.error();
  EXPECT_EQ(fds->size(), 3u);
  EXPECT_GT(port, 0);
  for (int fd : fds.value()) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    EXPECT_EQ(ntohs(addr.sin_port), port);
  }
  // To a caller that does not list them as its own, they are someone else's: this process's.
  EXPECT_NE(otherListener("127.0.0.1", port, {}).find("(pid " + std::to_string(::getpid()) + ")"),
            std::string::npos);
  closeAll(fds.value());
}

// Regression: two servers on one port both started (SO_REUSEPORT) and the kernel split the
// connections between them.
TEST(ListenerTest, APortAnotherSocketListensOnIsRefusedNamingItsProcess) {
  int port = 0;
  int foreign = foreignReuseportListener(port);
  int asked = port;
  auto fds = listenShared("127.0.0.1", asked, 16, 2);
  ASSERT_FALSE(fds.ok());
  EXPECT_NE(fds.error().find("127.0.0.1:" + std::to_string(port) + " is already in use by"),
            std::string::npos)
      << fds.error();
  EXPECT_NE(fds.error().find("pid " + std::to_string(::getpid())), std::string::npos)
      << fds.error();
  // A wildcard listener takes the loopback's connections too.
  int any = port;
  EXPECT_FALSE(listenShared("0.0.0.0", any, 16, 1).ok());
  ::close(foreign);
  // Free again: the same port binds.
  auto again = listenShared("127.0.0.1", asked, 16, 2);
  ASSERT_TRUE(again.ok()) << again.error();
  closeAll(again.value());
}

TEST(ListenerTest, AServerRefusesAPortTakenByAnotherProcess) {
  int port = 0;
  int foreign = foreignReuseportListener(port);
  struct Nothing : Handler {
    void handle(Worker&, const Request&, ResponseSlot) override {}
  } handler;
  ServerOptions options;
  options.port = port;
  Server server(options, handler);
  auto started = server.start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find("already in use"), std::string::npos) << started.error();
  ::close(foreign);
}

}  // namespace
}  // namespace surge::http
