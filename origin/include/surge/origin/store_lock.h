// StoreLock: one writer per store. The SQLite store's decisions (seats left, one booking per
// person) are made in the memory of the one process that writes it; a second process on the same
// file would decide from its own memory and overbook. So a store is opened only under an
// exclusive lock on "<store>.lock", held for the life of the process.
//
// The lock is an open-file-description lock (F_OFD_SETLK): the kernel drops it when the holder
// exits or is killed, a second open in the same process conflicts too, and closing some other
// descriptor of the file does not release it (as it would a classic POSIX lock). The holder
// writes its pid into the file, so a refused process can name it.
#pragma once

#include <string>

#include "surge/base/result.h"

namespace surge::origin {

class StoreLock {
 public:
  // Takes the lock on `store_path` + ".lock" without waiting. Fails with a message naming the
  // process that holds it.
  static base::Result<StoreLock, std::string> acquire(const std::string& store_path);

  StoreLock() = default;
  ~StoreLock();
  StoreLock(StoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StoreLock& operator=(StoreLock&& other) noexcept;
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

  bool held() const { return fd_ >= 0; }

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace surge::origin
