#include "surge/edge/static_handler.h"

#include "surge/edge/autoindex.h"
#include "surge/edge/return_handler.h"

namespace surge::edge {
namespace {

// An internal redirect keeps the request's arguments (nginx's index module).
std::string argsOf(const Exchange& ex) {
  return ex.args.empty() ? std::string() : "?" + ex.args;
}

// nginx's error page for `status`, with the location's add_header lines that apply to it.
Step error(int status, const StaticLocation& settings) {
  http::Response r = http::htmlError(status);
  if (!settings.add_headers.empty()) applyAddHeaders(settings.add_headers, r);
  return Step::answer(std::move(r));
}

// if_modified_since off | exact | before (nginx's).
bool readIfModifiedSince(ConfigReader& r, const Directive& d,
                         StaticLocation::IfModifiedSince& out) {
  if (!r.args(d, 1, 1)) return false;
  using Ims = StaticLocation::IfModifiedSince;
  if (d.args[0] == "off") {
    out = Ims::kOff;
  } else if (d.args[0] == "exact") {
    out = Ims::kExact;
  } else if (d.args[0] == "before") {
    out = Ims::kBefore;
  } else {
    return r.fail(
        d, "invalid value \"" + d.args[0] + "\" in \"if_modified_since\" (off, exact, before)");
  }
  return true;
}

// index NAME ...: tried in order for a path ending in '/'.
bool readIndex(ConfigReader& r, const Directive& d, LocationSettings& level) {
  if (d.args.empty() || d.has_block) return r.args(d, 1, 1);
  std::vector<ComplexValue> names;
  for (size_t i = 0; i < d.args.size(); ++i) {
    const std::string& a = d.args[i];
    if (a.empty()) return r.fail(d, "index \"" + a + "\" in \"index\" directive is invalid");
    if (a[0] == '/' && i + 1 != d.args.size()) {
      return r.fail(d, "only the last index in \"index\" directive should be absolute");
    }
    ComplexValue v;
    if (!r.complexValue(d, a, v)) return false;
    names.push_back(std::move(v));
  }
  level.index = std::move(names);
  // StaticFiles' own index (a request it serves without the dispatcher): the first name.
  level.files.index =
      d.args[0].find('$') == std::string::npos && d.args[0][0] != '/' ? d.args[0] : "index.html";
  return true;
}

// expires [modified] TIME | epoch | max | off | @TIME (nginx's; TIME may be negative, and a
// variable: then read per request).
bool readExpires(ConfigReader& r, const Directive& e, LocationSettings& level) {
  if (!r.args(e, 1, 2)) return false;
  bool modified = e.args.size() == 2;
  if (modified && e.args[0] != "modified") {
    return r.fail(e, "invalid value \"" + e.args[0] + "\" in \"expires\" (modified)");
  }
  const std::string& v = e.args.back();
  level.expires_var = {};
  level.expires_var_modified = modified;
  if (v.find('$') != std::string::npos) {
    if (!r.complexValue(e, v, level.expires_var)) return false;
    level.files.expires = StaticLocation::Expires::kOff;
    level.files.cache_control.clear();
    return true;
  }
  std::string message;
  if (!setExpires(level.files, modified, v, message)) return r.fail(e, message);
  return true;
}

}  // namespace

StaticHandler::StaticHandler(int workers) {
  for (int i = 0; i < workers; ++i)
    files_.push_back(std::make_unique<StaticFiles>(StaticFiles::Options{}));
}

Step StaticHandler::handle(Exchange& ex, const Location& loc) {
  const http::Request& request = ex.request;
  StaticFiles& files = *files_.at(static_cast<size_t>(ex.worker.index()));
  // The location's settings, with this request's values where they hold variables.
  StaticLocation evaluated;
  const StaticLocation* settings = &loc.files;
  if (loc.filesVary()) {
    evaluated = filesFor(loc, ex);
    settings = &evaluated;
  }
  if (request.method != "GET" && request.method != "HEAD" && !ex.in_error_page && !ex.as_get) {
    return error(405, *settings);  // nginx's static module: the page, without Allow
  }
  if (!loc.try_files.files.empty()) return tryFiles(ex, loc, files, *settings);
  if (!ex.uri.empty() && ex.uri.back() == '/') return index(ex, loc, files, *settings);
  return Step::answer(files.serve(request, *settings, ex.uri));
}

Step StaticHandler::index(Exchange& ex, const Location& loc, StaticFiles& files,
                          const StaticLocation& settings) {
  // nginx's index module: the first name that is a file, as an internal redirect; the last one
  // may be a path from the root, taken as it is.
  if (loc.index.empty()) {
    const std::string candidate = ex.uri + settings.index;
    if (files.exists(settings, candidate, false)) return Step::redirect(candidate + argsOf(ex));
  }
  for (size_t i = 0; i < loc.index.size(); ++i) {
    std::string name = loc.index[i].evaluate(ex);
    if (name.empty()) continue;
    if (name[0] == '/') {
      if (i + 1 == loc.index.size() || files.exists(settings, name, false)) {
        return Step::redirect(name + argsOf(ex));
      }
      continue;
    }
    const std::string candidate = ex.uri + name;
    if (files.exists(settings, candidate, false)) return Step::redirect(candidate + argsOf(ex));
  }
  // No index: the listing (autoindex on), else 403 for a directory, 404 otherwise.
  if (loc.autoindex.on) {
    if (std::optional<std::string> dir = files.directoryPath(settings, ex.uri)) {
      int status = 0;
      const bool utf8 = http::equalsIgnoreCase(settings.charset, "utf-8");
      std::optional<std::string> page = autoindexPage(*dir, ex.uri, loc.autoindex, utf8, status);
      if (!page) return error(status, settings);
      http::Response r;
      r.headers = "Content-Type: text/html";
      if (!settings.charset.empty()) r.headers += "; charset=" + settings.charset;
      r.headers += "\r\n";
      r.body = std::move(*page);
      if (!settings.add_headers.empty()) applyAddHeaders(settings.add_headers, r);
      return Step::answer(std::move(r));
    }
  }
  return error(files.exists(settings, ex.uri, true) ? 403 : 404, settings);
}

Step StaticHandler::tryFiles(Exchange& ex, const Location& loc, StaticFiles& files,
                             const StaticLocation& settings) {
  for (const ComplexValue& value : loc.try_files.files) {
    std::string file = value.evaluate(ex);
    if (file.empty()) continue;
    if (file[0] != '/') file.insert(0, "/");
    const bool directory = file.size() > 1 && file.back() == '/';
    if (!files.exists(settings, file, directory)) continue;
    // Found: served here, as that file ($uri becomes it), without another location lookup.
    ex.uri = file;
    if (directory) return index(ex, loc, files, settings);
    return Step::answer(files.serve(ex.request, settings, ex.uri));
  }
  std::string fallback = loc.try_files.fallback.evaluate(ex);
  if (!fallback.empty() && fallback[0] == '=') {
    return error(std::atoi(fallback.c_str() + 1), settings);
  }
  return Step::redirect(std::move(fallback));
}

namespace {

// `root` or `alias` holding variables: kept to be evaluated per request (relative values from the
// prefix, as literal ones). What names the file itself cannot be part of its own path.
bool readPathWithVariables(ConfigReader& r, const Directive& d, LocationSettings& level) {
  for (const char* own : {"$document_root", "$realpath_root", "$request_filename"}) {
    if (d.args[0].find(own) != std::string::npos) {
      return r.fail(d, std::string("\"") + d.name + "\" cannot use " + own);
    }
  }
  std::string text = d.args[0];
  if (text[0] != '/' && text[0] != '$') text = r.resolve(text);
  return r.complexValue(d, text, level.path_var);
}

}  // namespace

bool readAliasWithVariables(ConfigReader& r, const Directive& d, LocationSettings& level) {
  level.files.alias.clear();
  level.path_var = {};
  if (!readPathWithVariables(r, d, level)) return false;
  level.path_var_alias = true;
  return true;
}

namespace {

// disable_symlinks off | on | if_not_owner [from=$document_root | from=PATH] (nginx's).
bool readDisableSymlinks(ConfigReader& r, const Directive& d, StaticLocation& files) {
  using S = StaticLocation::Symlinks;
  if (!r.args(d, 1, 2)) return false;
  const std::string& mode = d.args[0];
  if (mode != "off" && mode != "on" && mode != "if_not_owner") {
    return r.fail(d,
                  "invalid value \"" + mode + "\" in \"disable_symlinks\" (off, on, if_not_owner)");
  }
  files.symlinks = mode == "off" ? S::kFollow : mode == "on" ? S::kRefuse : S::kIfNotOwner;
  files.symlinks_from.clear();
  if (d.args.size() == 1) return true;
  const std::string& from = d.args[1];
  if (from.rfind("from=", 0) != 0) return r.fail(d, "invalid parameter \"" + from + "\"");
  if (mode == "off") return r.fail(d, "\"from=\" cannot be used with \"off\"");
  std::string value = from.substr(5);
  if (value.find('$') != std::string::npos && value != "$document_root") {
    return r.fail(d, "\"from=\" takes a path or $document_root");
  }
  if (value.empty()) return r.fail(d, "empty \"from=\"");
  files.symlinks_from = value == "$document_root" ? value : r.resolve(value);
  return true;
}

}  // namespace

bool readFileDirective(ConfigReader& r, const Directive& d, LocationSettings& level,
                       bool& handled) {
  handled = true;
  if (d.name == "root") {
    if (!r.args(d, 1, 1)) return false;
    level.files.alias.clear();
    level.path_var = {};
    if (d.args[0].find('$') != std::string::npos) {
      if (!readPathWithVariables(r, d, level)) return false;
      level.path_var_alias = false;
      return true;
    }
    level.files.root = r.resolve(d.args[0]);
    while (level.files.root.size() > 1 && level.files.root.back() == '/')
      level.files.root.pop_back();
  } else if (d.name == "index") {
    return readIndex(r, d, level);
  } else if (d.name == "if_modified_since") {
    return readIfModifiedSince(r, d, level.files.if_modified_since);
  } else if (d.name == "expires") {
    return readExpires(r, d, level);
  } else if (d.name == "charset" || d.name == "source_charset") {
    if (!r.args(d, 1, 1)) return false;
    std::string name = d.args[0];
    if (name.find('$') != std::string::npos) {
      return r.fail(d, "variables in \"" + d.name + "\" are not supported yet");
    }
    if (d.name == "charset" && name == "off") name.clear();
    (d.name == "charset" ? level.files.charset : level.files.source_charset) = name;
  } else if (d.name == "override_charset" || d.name == "charset_types") {
    return r.fail(d, "\"" + d.name + "\" is not supported yet");
  } else if (d.name == "types") {
    if (!d.args.empty() || !d.has_block) return r.fail(d, "\"types\" takes a block");
    auto types = std::make_shared<MimeTypes>();
    for (const Directive& t : d.block) {
      if (t.args.empty()) return r.fail(t, "no extension for the type \"" + t.name + "\"");
      for (std::string ext : t.args) {
        for (char& ch : ext)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        (*types)[ext] = t.name;  // nginx: a later type for an extension wins, with a warning
      }
    }
    level.files.types = std::move(types);
  } else if (d.name == "default_type") {
    if (!r.args(d, 1, 1)) return false;
    level.files.default_type = d.args[0];
  } else if (d.name == "gzip_static") {
    using P = StaticLocation::Precompressed;
    if (!r.args(d, 1, 1)) return false;
    const std::string& v = d.args[0];
    if (v != "on" && v != "off" && v != "always") {
      return r.fail(d, "invalid value \"" + v + "\" in \"gzip_static\" (on, off, always)");
    }
    level.files.precompressed = v == "on" ? P::kOn : v == "off" ? P::kOff : P::kAlways;
  } else if (d.name == "disable_symlinks") {
    return readDisableSymlinks(r, d, level.files);
  } else if (d.name == "max_ranges") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t n = 0;
    if (!r.number(d, d.args[0], 0, 1000000, n)) return false;
    level.files.max_ranges = static_cast<int>(n);
  } else {
    handled = false;
  }
  return true;
}

bool readLocationFileDirective(ConfigReader& r, const Directive& d, Location& loc, bool& handled) {
  handled = true;
  if (d.name == "try_files") {
    if (d.args.size() < 2 || d.has_block) return r.args(d, 2, 2);
    loc.try_files = {};
    for (size_t i = 0; i + 1 < d.args.size(); ++i) {
      ComplexValue v;
      if (!r.complexValue(d, d.args[i], v)) return false;
      loc.try_files.files.push_back(std::move(v));
    }
    const std::string& last = d.args.back();
    if (last[0] == '=') {
      uint64_t code = 0;
      if (!r.number(d, last.substr(1), 100, 999, code)) return false;
    }
    return r.complexValue(d, last, loc.try_files.fallback);
  }
  if (d.name == "internal") {
    if (!r.args(d, 0, 0)) return false;
    loc.internal = true;
    return true;
  }
  if (d.name == "surge_immutable_hashed") {
    if (!r.args(d, 1, 1)) return false;
    if (d.args[0] != "on" && d.args[0] != "off") return r.fail(d, "expected on or off");
    loc.files.immutable_hashed = d.args[0] == "on";
    return true;
  }
  handled = false;
  return true;
}

}  // namespace surge::edge
