#include "surge/edge/static_handler.h"

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
  // No index: 403 for a directory (nginx without autoindex), 404 otherwise.
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

}  // namespace surge::edge
