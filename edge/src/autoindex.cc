#include "surge/edge/autoindex.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <vector>

#include "surge/edge/static_files.h"

namespace surge::edge {
namespace {

constexpr size_t kNameLength = 50;  // NGX_HTTP_AUTOINDEX_NAME_LEN

struct Entry {
  std::string name;
  bool dir = false;
  time_t mtime = 0;
  off_t size = 0;
};

std::string escapeHtml(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// UTF-8 characters in `s` (nginx's ngx_utf8_length: -1 when it is not valid UTF-8).
long utf8Length(std::string_view s) {
  long n = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xe0) == 0xc0 ? 2
                 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return -1;
    }
    i += len;
    ++n;
  }
  return n;
}

// The first `chars` UTF-8 characters of `s`.
std::string_view utf8Prefix(std::string_view s, size_t chars) {
  size_t i = 0;
  for (size_t n = 0; n < chars && i < s.size(); ++n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    i += c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
  }
  return s.substr(0, std::min(i, s.size()));
}

// One line of the listing, as ngx_http_autoindex_html writes it.
// `utf8`: the answer's charset is UTF-8 (nginx's r->utf8), so names are measured and cut in
// characters; otherwise in bytes, as nginx does.
void appendEntry(std::string& out, const Entry& e, const AutoindexSettings& settings, bool utf8) {
  out += "<a href=\"";
  out += percentEncode(e.name, "-._~");  // nginx's NGX_ESCAPE_URI_COMPONENT
  if (e.dir) out += '/';
  out += "\">";
  const long utf = utf8 ? utf8Length(e.name) : -1;
  size_t len = utf < 0 ? e.name.size() : static_cast<size_t>(utf);
  const bool html = e.name.find_first_of("<>&\"") != std::string::npos;
  std::string shown;
  if (utf >= 0 && static_cast<size_t>(utf) != e.name.size()) {
    // Multi-byte names: cut by characters.
    std::string_view part = utf8Prefix(e.name, len > kNameLength ? kNameLength - 3 : kNameLength);
    shown = html ? escapeHtml(part) : std::string(part);
  } else if (html) {
    shown = escapeHtml(std::string_view(e.name).substr(0, std::min(len, kNameLength - 3)));
  } else {
    shown = e.name.substr(0, std::min(len, kNameLength));
    if (len > kNameLength) shown.resize(kNameLength - 3);
  }
  out += shown;
  if (len > kNameLength) {
    out += "..&gt;</a>";
  } else {
    if (e.dir && kNameLength > len) {
      out += '/';
      ++len;
    }
    out += "</a>";
    if (kNameLength > len) out.append(kNameLength - len, ' ');
  }
  out += ' ';
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  tm t{};
  if (settings.localtime) {
    localtime_r(&e.mtime, &t);
  } else {
    gmtime_r(&e.mtime, &t);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d-%s-%d %02d:%02d ", t.tm_mday, kMonths[t.tm_mon],
                t.tm_year + 1900, t.tm_hour, t.tm_min);
  out += buf;
  if (settings.exact_size) {
    if (e.dir) {
      out += "                  -";
    } else {
      std::snprintf(buf, sizeof buf, "%19lld", static_cast<long long>(e.size));
      out += buf;
    }
  } else if (e.dir) {
    out += "      -";
  } else {
    long long length = e.size, size = length;
    char scale = 0;
    constexpr long long kG = 1024LL * 1024 * 1024, kM = 1024LL * 1024;
    if (length > kG - 1) {
      size = length / kG + ((length % kG) > kG / 2 - 1 ? 1 : 0);
      scale = 'G';
    } else if (length > kM - 1) {
      size = length / kM + ((length % kM) > kM / 2 - 1 ? 1 : 0);
      scale = 'M';
    } else if (length > 9999) {
      size = length / 1024 + (length % 1024 > 511 ? 1 : 0);
      scale = 'K';
    }
    if (scale) {
      std::snprintf(buf, sizeof buf, "%6lld%c", size, scale);
    } else {
      std::snprintf(buf, sizeof buf, " %6lld", size);
    }
    out += buf;
  }
  out += "\r\n";
}

}  // namespace

bool readAutoindexDirective(ConfigReader& r, const Directive& d, AutoindexSettings& autoindex,
                            bool& handled) {
  handled = true;
  if (d.name == "autoindex") return r.onOff(d, autoindex.on);
  if (d.name == "autoindex_exact_size") return r.onOff(d, autoindex.exact_size);
  if (d.name == "autoindex_localtime") return r.onOff(d, autoindex.localtime);
  if (d.name == "autoindex_format") {
    if (!r.args(d, 1, 2)) return false;
    if (d.args[0] != "html") {
      return r.fail(d, "autoindex_format \"" + d.args[0] +
                           "\" is not supported: surge lists directories as html");
    }
    return true;
  }
  handled = false;
  return true;
}

std::optional<std::string> autoindexPage(const std::string& fs_path, std::string_view uri,
                                         const AutoindexSettings& settings, bool utf8,
                                         int& status) {
  DIR* dir = ::opendir(fs_path.c_str());
  if (dir == nullptr) {
    status = errno == EACCES ? 403 : errno == ENOENT || errno == ENOTDIR ? 404 : 500;
    return std::nullopt;
  }
  std::vector<Entry> entries;
  const int dfd = ::dirfd(dir);
  while (dirent* de = ::readdir(dir)) {
    if (de->d_name[0] == '.') continue;  // ".", "..", and hidden names, as nginx
    struct stat st {};
    // nginx stats the name (following a symlink); one that vanished meanwhile is left out.
    if (::fstatat(dfd, de->d_name, &st, 0) != 0) continue;
    entries.push_back({de->d_name, S_ISDIR(st.st_mode), st.st_mtime, st.st_size});
  }
  ::closedir(dir);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.dir != b.dir) return a.dir;
    return a.name < b.name;  // ngx_strcmp: bytes, unsigned
  });
  const std::string title = escapeHtml(uri);
  std::string out;
  out.reserve(256 + entries.size() * 120);
  out += "<html>\r\n<head><title>Index of ";
  out += title;
  out += "</title></head>\r\n<body>\r\n<h1>Index of ";
  out += title;
  out += "</h1><hr><pre><a href=\"../\">../</a>\r\n";
  for (const Entry& e : entries)
    appendEntry(out, e, settings, utf8);
  out += "</pre><hr></body>\r\n</html>\r\n";
  status = 200;
  return out;
}

}  // namespace surge::edge
