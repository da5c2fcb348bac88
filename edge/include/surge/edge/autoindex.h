// `autoindex on`: nginx's ngx_http_autoindex_module, the HTML listing of a directory that has no
// index file, byte for byte as nginx writes it (the differential test compares them): "../"
// first, directories before files, names by byte order, hidden names ('.' first) left out,
// names over 50 characters cut to 47 and "..>", the modification time (GMT unless
// autoindex_localtime on) and the size (exact, or nginx's K/M/G with autoindex_exact_size off).
// Only the HTML format: autoindex_format xml/json/jsonp are refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "surge/edge/config_reader.h"

namespace surge::edge {

struct AutoindexSettings {
  bool on = false;
  bool exact_size = true;
  bool localtime = false;
};

// autoindex, autoindex_exact_size, autoindex_localtime, autoindex_format at any level
// (`handled`: the directive is one of them).
bool readAutoindexDirective(ConfigReader& r, const Directive& d, AutoindexSettings& autoindex,
                            bool& handled);

// The listing of the directory at `fs_path` for the request's `uri` (decoded, ending in '/');
// nullopt when the directory cannot be read (nginx: 403 for EACCES, 404 when gone, 500 else;
// `status` says which). `utf8`: the answer says charset=utf-8, so names are measured in
// characters (nginx), else in bytes.
std::optional<std::string> autoindexPage(const std::string& fs_path, std::string_view uri,
                                         const AutoindexSettings& settings, bool utf8, int& status);

}  // namespace surge::edge
