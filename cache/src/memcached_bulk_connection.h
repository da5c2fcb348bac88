// The plain socket MemcachedClient's bulk writes use per server (see memcached_bulk_writes.cc).
#pragma once

#include <unistd.h>

#include "surge/cache/memcached_client.h"

namespace surge::cache {

struct MemcachedClient::BulkConnection {
  int fd = -1;
  ~BulkConnection() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace surge::cache
