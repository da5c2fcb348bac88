#include "surge/origin/store_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace surge::origin {

namespace {

// The pid the holder wrote, and its command name when /proc still shows it.
std::string describeHolder(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
  if (pid <= 0) return "another process";
  std::string who = "pid " + std::to_string(pid);
  int comm = ::open(("/proc/" + std::to_string(pid) + "/comm").c_str(), O_RDONLY | O_CLOEXEC);
  if (comm >= 0) {
    char name[64] = {};
    ssize_t m = ::read(comm, name, sizeof name - 1);
    ::close(comm);
    if (m > 0) {
      std::string s(name, static_cast<size_t>(m));
      while (!s.empty() && s.back() == '\n')
        s.pop_back();
      if (!s.empty()) who = s + " (" + who + ")";
    }
  }
  return who;
}

}  // namespace

base::Result<StoreLock, std::string> StoreLock::acquire(const std::string& store_path) {
  const std::string path = store_path + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return base::fail(path + ": " + std::strerror(errno));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    int err = errno;
    std::string message =
        err == EAGAIN || err == EACCES
            ? store_path + " is in use by " + describeHolder(fd) +
                  ": one surge-origin writes a store (stop it, or give this one another --db)"
            : path + ": cannot lock: " + std::strerror(err);
    ::close(fd);
    return base::fail(std::move(message));
  }
  // Ours now: say whose it is, for the next one refused.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    std::string message = path + ": " + std::strerror(errno);
    ::close(fd);
    return base::fail(std::move(message));
  }
  return StoreLock(fd);
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);
}

StoreLock& StoreLock::operator=(StoreLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

}  // namespace surge::origin
