// One-shot zstd for snapshot bodies. Frames carry their content size (the pledged size) and use a
// window of at most 8 MiB, so browsers can take the bytes as `Content-Encoding: zstd` unchanged.
// Each thread keeps its own compression and decompression contexts.
#pragma once

#include <string>
#include <string_view>

#include "surge/base/result.h"

namespace surge::cache {

inline constexpr int kZstdMaxWindowLog = 23;  // 8 MiB, the limit RFC 8878 sets for HTTP
inline constexpr int kZstdDefaultLevel = 6;

base::Result<std::string, std::string> zstdCompress(std::string_view raw,
                                                    int level = kZstdDefaultLevel);

// Decompresses a single frame whose header must declare exactly `expected_size` bytes. A frame
// without a declared size, with another size, with trailing bytes or with a window over 8 MiB is
// refused before any output is produced.
base::Result<std::string, std::string> zstdDecompress(std::string_view frame, size_t expected_size);

}  // namespace surge::cache
