// A whole file read into memory (binary): configuration, keys, catalogs, certificates' companions.
// Blocking I/O: for start-up, reloads and command-line tools, never an event loop.
#pragma once

#include <optional>
#include <string>

namespace surge::base {

// The file's bytes; nullopt when it cannot be opened.
std::optional<std::string> readFile(const std::string& path);

}  // namespace surge::base
