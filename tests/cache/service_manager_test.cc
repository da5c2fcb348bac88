#include "surge/cache/service_manager.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace surge::cache {
namespace {

// What systemd would receive: the datagram on the socket named in $NOTIFY_SOCKET (a path, and
// the abstract form "@name").
std::string received(const std::string& name) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())),
            0);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  notifyServiceManager("READY=1\nSTATUS=serving");
  ::unsetenv("NOTIFY_SOCKET");
  char buf[128];
  timeval wait{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

TEST(ServiceManagerTest, NotifiesThePathAndTheAbstractSocketOfSystemd) {
  std::string path = "/tmp/surge-notify-" + std::to_string(::getpid());
  ::unlink(path.c_str());
  EXPECT_EQ(received(path), "READY=1\nSTATUS=serving");
  ::unlink(path.c_str());
  EXPECT_EQ(received("@surge-notify-" + std::to_string(::getpid())), "READY=1\nSTATUS=serving");
}

TEST(ServiceManagerTest, DoesNothingOutsideSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  notifyServiceManager("READY=1");  // no socket named: nothing to do, nothing fails
}

}  // namespace
}  // namespace surge::cache
