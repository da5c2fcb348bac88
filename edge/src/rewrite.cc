#include "surge/edge/rewrite.h"

#include <sys/stat.h>
#include <unistd.h>

#include "surge/edge/return_handler.h"
#include "surge/edge/static_files.h"

namespace surge::edge {
namespace {

enum class Flow { kNext, kStop, kRelocate, kAnswer };

bool holds(const RewriteCondition& c, Exchange& ex) {
  using Op = RewriteCondition::Op;
  std::string left = c.left.evaluate(ex);
  bool result = false;
  switch (c.op) {
    case Op::kTrue:
      result = !left.empty() && left != "0";
      break;
    case Op::kEqual:
    case Op::kNotEqual:
      result = (left == c.right.evaluate(ex)) == (c.op == Op::kEqual);
      break;
    case Op::kMatch: {
      nginx_compat::Captures captures;
      result = c.regex->match(left, &captures);
      if (result) {
        for (const auto& [name, group] : c.regex->names())
          ex.setVariable(name, std::string(captures.group(static_cast<size_t>(group))));
        ex.captures = std::move(captures);
      }
      break;
    }
    case Op::kFile:
    case Op::kDirectory:
    case Op::kExists:
    case Op::kExecutable: {
      // A local stat, as nginx's own (its open-file cache aside): the docroot is local disk.
      struct stat st {};
      bool found = ::stat(left.c_str(), &st) == 0;
      result = c.op == Op::kFile        ? found && S_ISREG(st.st_mode)
               : c.op == Op::kDirectory ? found && S_ISDIR(st.st_mode)
               : c.op == Op::kExists    ? found
                                        : found && ::access(left.c_str(), X_OK) == 0;
      break;
    }
  }
  return c.negate ? !result : result;
}

Flow run(const std::vector<RewriteStep>& steps, Exchange& ex, http::Response& answer,
         bool& changed) {
  using Kind = RewriteStep::Kind;
  using Flag = RewriteStep::Flag;
  for (const RewriteStep& step : steps) {
    switch (step.kind) {
      case Kind::kReturn:
        answer = returnResponse(step.answer, ex);
        return Flow::kAnswer;
      case Kind::kSet:
        ex.setVariable(step.name, step.value.evaluate(ex));
        break;
      case Kind::kBreak:
        return Flow::kStop;
      case Kind::kIf:
        if (holds(step.condition, ex)) {
          Flow f = run(step.body, ex, answer, changed);
          if (f != Flow::kNext) return f;
        }
        break;
      case Kind::kRewrite: {
        nginx_compat::Captures captures;
        if (!step.regex->match(ex.uri, &captures)) break;
        for (const auto& [name, group] : step.regex->names())
          ex.setVariable(name, std::string(captures.group(static_cast<size_t>(group))));
        ex.captures = std::move(captures);
        std::string target = step.replacement.evaluate(ex);
        const std::string& written = step.replacement.text();
        const bool keep_args = written.empty() || written.back() != '?';
        if (!keep_args) target.pop_back();
        std::string args;
        size_t q = target.find('?');
        if (q != std::string::npos) {
          args = target.substr(q + 1);
          target.resize(q);
          if (keep_args && !ex.args.empty()) args += "&" + ex.args;
        } else {
          args = keep_args ? ex.args : std::string();
        }
        const bool url = target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0;
        if (url || step.flag == Flag::kRedirect || step.flag == Flag::kPermanent) {
          answer = http::htmlError(step.flag == Flag::kPermanent ? 301 : 302);
          answer.headers += "Location: " + target + (args.empty() ? "" : "?" + args) + "\r\n";
          return Flow::kAnswer;
        }
        auto normalized = target.find('%') == std::string::npos ? normalizePath(target)
                                                                : std::optional<std::string>();
        ex.uri = normalized ? *normalized : target;
        ex.args = std::move(args);
        changed = true;
        if (step.flag == Flag::kLast) return Flow::kRelocate;
        if (step.flag == Flag::kBreak) return Flow::kStop;
        break;
      }
    }
  }
  return Flow::kNext;
}

}  // namespace

RewriteOutcome runRewrites(const std::vector<RewriteStep>& steps, Exchange& ex,
                           http::Response& answer) {
  if (steps.empty()) return RewriteOutcome::kContent;
  bool changed = false;
  Flow f = run(steps, ex, answer, changed);
  if (f == Flow::kAnswer) return RewriteOutcome::kAnswer;
  if (f == Flow::kRelocate || (f == Flow::kNext && changed)) return RewriteOutcome::kRelocate;
  return RewriteOutcome::kContent;
}

bool alwaysAnswers(const std::vector<RewriteStep>& steps) {
  for (const RewriteStep& s : steps) {
    if (s.kind == RewriteStep::Kind::kReturn) return true;
  }
  return false;
}

}  // namespace surge::edge
