#include "surge/http/listener.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace surge::http {
namespace {

// Inodes of the sockets listening on `port` that could take connections for `addr`: the same
// address or a wildcard, from /proc/net/tcp and /proc/net/tcp6 (a dual-stack [::] listener
// takes IPv4 connections too).
std::vector<unsigned long> listenerInodes(in_addr_t addr, int port) {
  std::vector<unsigned long> inodes;
  char want_port[8];
  std::snprintf(want_port, sizeof want_port, "%04X", static_cast<unsigned>(port));
  // The kernel prints the address as the 32-bit word it stores (network order, read natively).
  char want_v4[16], any_v4[16];
  std::snprintf(want_v4, sizeof want_v4, "%08X", static_cast<unsigned>(addr));
  std::snprintf(any_v4, sizeof any_v4, "%08X", 0u);
  const std::string mapped_want = std::string("0000000000000000FFFF0000") + want_v4;
  const std::string mapped_any = "0000000000000000FFFF000000000000";
  const std::string any_v6(32, '0');
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      char local[64], remote[64], state[8];
      unsigned long inode = 0;
      if (std::sscanf(line.c_str(), " %*s %63s %63s %7s %*s %*s %*s %*s %*s %lu", local, remote,
                      state, &inode) != 4) {
        continue;
      }
      if (std::strcmp(state, "0A") != 0) continue;  // TCP_LISTEN
      const char* colon = std::strrchr(local, ':');
      if (colon == nullptr || std::strcmp(colon + 1, want_port) != 0) continue;
      std::string host(local, static_cast<size_t>(colon - local));
      bool overlaps = host == want_v4 || host == any_v4 || host == any_v6 || host == mapped_want ||
                      host == mapped_any || addr == INADDR_ANY;
      if (overlaps) inodes.push_back(inode);
    }
  }
  return inodes;
}

// "name (pid N)" of the process holding the socket with `inode`, or "another process".
std::string ownerOf(unsigned long inode) {
  const std::string target = "socket:[" + std::to_string(inode) + "]";
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return "another process";
  std::string found;
  while (dirent* p = ::readdir(proc)) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
    std::string fd_dir = std::string("/proc/") + p->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = ::readdir(fds)) {
      char link[64];
      ssize_t n = ::readlink((fd_dir + "/" + f->d_name).c_str(), link, sizeof link - 1);
      if (n <= 0 || static_cast<size_t>(n) != target.size() ||
          std::memcmp(link, target.data(), target.size()) != 0) {
        continue;
      }
      std::string name;
      std::ifstream comm(std::string("/proc/") + p->d_name + "/comm");
      std::getline(comm, name);
      found = (name.empty() ? "pid " : name + " (pid ") + p->d_name + (name.empty() ? "" : ")");
      break;
    }
    ::closedir(fds);
    if (!found.empty()) break;
  }
  ::closedir(proc);
  return found.empty() ? "another process" : found;
}

}  // namespace

std::string otherListener(const std::string& ipv4_host, int port,
                          const std::vector<unsigned long>& ours) {
  in_addr addr{};
  if (inet_pton(AF_INET, ipv4_host.c_str(), &addr) != 1) return "";
  for (unsigned long inode : listenerInodes(addr.s_addr, port)) {
    if (std::find(ours.begin(), ours.end(), inode) == ours.end()) return ownerOf(inode);
  }
  return "";
}

base::Result<std::vector<int>, std::string> listenShared(const std::string& host, int& port,
                                                         int backlog, int count) {
  // An IPv4 address, or an IPv6 one (nginx's "[::]:80"), which then takes IPv6 only: nginx's
  // ipv6only=on, so that "listen 80; listen [::]:80;" are two sockets side by side.
  sockaddr_storage storage{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  const bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) {
    v6->sin6_family = AF_INET6;
    addr_len = sizeof *v6;
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) {
      return base::fail("listen address " + host + " is not an IPv6 address");
    }
  } else {
    v4->sin_family = AF_INET;
    addr_len = sizeof *v4;
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) {
      return base::fail("listen address " + host + " is not an IPv4 address");
    }
  }
  auto* addr = reinterpret_cast<sockaddr*>(&storage);
  auto set_port = [&](int p) {
    if (ipv6) {
      v6->sin6_port = htons(static_cast<uint16_t>(p));
    } else {
      v4->sin_port = htons(static_cast<uint16_t>(p));
    }
  };
  auto taken = [&](const std::string& who) {
    return host + ":" + std::to_string(port) + " is already in use by " + who +
           ": one server per port";
  };
  // (The check reads /proc/net/tcp: IPv4 listeners only.)
  if (port != 0 && !ipv6) {
    if (std::string who = otherListener(host, port); !who.empty()) return base::fail(taken(who));
  }
  std::vector<int> fds;
  std::vector<unsigned long> inodes;
  auto give_up = [&](std::string message) -> base::Result<std::vector<int>, std::string> {
    for (int fd : fds)
      ::close(fd);
    return base::fail(std::move(message));
  };
  for (int i = 0; i < count; ++i) {
    set_port(port);
    int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return give_up(std::string("socket: ") + std::strerror(errno));
    fds.push_back(fd);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (ipv6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, addr, addr_len) != 0 || ::listen(fd, backlog) != 0) {
      return give_up("listen on " + host + ":" + std::to_string(port) + ": " +
                     std::strerror(errno));
    }
    if (port == 0) {
      socklen_t len = addr_len;
      ::getsockname(fd, addr, &len);
      port = ntohs(ipv6 ? v6->sin6_port : v4->sin_port);
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0) inodes.push_back(st.st_ino);
  }
  // Another process that bound with SO_REUSEPORT between the check above and our listen(), or
  // at the same instant, shows up now.
  if (std::string who = ipv6 ? "" : otherListener(host, port, inodes); !who.empty()) {
    return give_up(taken(who));
  }
  return fds;
}

}  // namespace surge::http
