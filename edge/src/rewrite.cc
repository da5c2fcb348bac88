#include "surge/edge/rewrite.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

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
      // A local stat, as nginx's own (its open-file cache aside): the docroot is local disk. A
      // path the location's disable_symlinks refuses is not there, as nginx's open fails.
      struct stat st {};
      bool found = ::stat(left.c_str(), &st) == 0 &&
                   (ex.location == nullptr || symlinksAllow(ex.location->files, left));
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
          answer.headers +=
              "Location: " + http::headerSafe(target + (args.empty() ? "" : "?" + args)) + "\r\n";
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

// if (CONDITION): $var | $var = TEXT | $var != TEXT | $var ~ REGEX (~*, !~, !~*) |
// -f PATH (-d, -e, -x, and with "!").
static bool readCondition(ConfigReader& r, const Directive& d, RewriteCondition& out) {
  std::vector<std::string> a = d.args;
  if (!a.empty() && !a.front().empty() && a.front()[0] == '(') a.front().erase(0, 1);
  if (!a.empty() && !a.back().empty() && a.back().back() == ')') a.back().pop_back();
  std::erase_if(a, [](const std::string& x) { return x.empty(); });
  using Op = RewriteCondition::Op;
  auto invalid = [&] { return r.fail(d, "invalid condition in \"if\""); };
  if (a.size() == 1) {
    if (a[0][0] != '$') return invalid();
    out.op = Op::kTrue;
    return r.complexValue(d, a[0], out.left);
  }
  if (a.size() == 2) {
    std::string op = a[0];
    out.negate = op[0] == '!';
    if (out.negate) op.erase(0, 1);
    out.op = op == "-f"   ? Op::kFile
             : op == "-d" ? Op::kDirectory
             : op == "-e" ? Op::kExists
             : op == "-x" ? Op::kExecutable
                          : Op::kTrue;
    if (out.op == Op::kTrue) return invalid();
    return r.complexValue(d, a[1], out.left);
  }
  if (a.size() != 3 || a[0][0] != '$') return invalid();
  if (!r.complexValue(d, a[0], out.left)) return false;
  const std::string& op = a[1];
  if (op == "=" || op == "!=") {
    out.op = op == "=" ? Op::kEqual : Op::kNotEqual;
    return r.complexValue(d, a[2], out.right);
  }
  if (op == "~" || op == "~*" || op == "!~" || op == "!~*") {
    out.op = Op::kMatch;
    out.negate = op[0] == '!';
    auto regex = nginx_compat::Regex::compile(a[2], op.back() == '*');
    if (!regex) return r.fail(d, regex.error());
    for (const auto& [name, group] : regex.value()->names())
      r.declareVariable(name);
    out.regex = std::move(regex.value());
    return true;
  }
  return invalid();
}

// `return CODE [TEXT]`, `return CODE URL`, `return URL` (the rewrite module's, nginx's forms).
bool readReturn(ConfigReader& r, const Directive& d, ReturnAction& out) {
  if (!r.args(d, 1, 2)) return false;
  const std::string& first = d.args[0];
  uint64_t code = 0;
  auto [p, ec] = std::from_chars(first.data(), first.data() + first.size(), code);
  if (ec != std::errc() || p != first.data() + first.size()) {
    if (d.args.size() == 2) return r.fail(d, "invalid return code \"" + first + "\"");
    // `return URL`: 302 to a URL that starts with http://, https:// or $scheme.
    if (first.rfind("http://", 0) != 0 && first.rfind("https://", 0) != 0 &&
        first.rfind("$scheme", 0) != 0) {
      return r.fail(d, "invalid return code \"" + first + "\"");
    }
    out.code = 302;
    out.has_text = true;
    return r.complexValue(d, first, out.text);
  }
  if (code > 999) return r.fail(d, "invalid return code \"" + first + "\"");
  out.code = static_cast<int>(code);
  out.has_text = d.args.size() == 2;
  if (out.has_text) return r.complexValue(d, d.args[1], out.text);
  return true;
}

// The rewrite module's directives (return, rewrite, set, break, if) at server or location
// level and inside `if`: appended to `out`; false in `handled` for any other directive.
bool readRewriteDirective(ConfigReader& r, const Directive& d, std::vector<RewriteStep>& out,
                          bool& handled) {
  handled = true;
  RewriteStep step;
  if (d.name == "return") {
    step.kind = RewriteStep::Kind::kReturn;
    if (!readReturn(r, d, step.answer)) return false;
  } else if (d.name == "rewrite") {
    if (!r.args(d, 2, 3)) return false;
    step.kind = RewriteStep::Kind::kRewrite;
    auto regex = nginx_compat::Regex::compile(d.args[0], false);
    if (!regex) return r.fail(d, regex.error());
    for (const auto& [name, group] : regex.value()->names())
      r.declareVariable(name);
    step.regex = std::move(regex.value());
    if (!r.complexValue(d, d.args[1], step.replacement)) return false;
    if (d.args.size() == 3) {
      using Flag = RewriteStep::Flag;
      const std::string& f = d.args[2];
      step.flag = f == "last"        ? Flag::kLast
                  : f == "break"     ? Flag::kBreak
                  : f == "redirect"  ? Flag::kRedirect
                  : f == "permanent" ? Flag::kPermanent
                                     : Flag::kNone;
      if (step.flag == Flag::kNone) return r.fail(d, "invalid parameter \"" + f + "\"");
    }
  } else if (d.name == "set") {
    if (!r.args(d, 2, 2)) return false;
    if (d.args[0].size() < 2 || d.args[0][0] != '$') {
      return r.fail(d, "invalid variable name \"" + d.args[0] + "\"");
    }
    step.kind = RewriteStep::Kind::kSet;
    step.name = d.args[0].substr(1);
    if (ComplexValue::builtin(step.name)) {
      return r.fail(d, "the \"" + step.name + "\" variable cannot be set");
    }
    r.declareVariable(step.name);
    if (!r.complexValue(d, d.args[1], step.value)) return false;
  } else if (d.name == "break") {
    if (!r.args(d, 0, 0)) return false;
    step.kind = RewriteStep::Kind::kBreak;
  } else if (d.name == "if") {
    if (!r.block(d)) return false;
    step.kind = RewriteStep::Kind::kIf;
    if (!readCondition(r, d, step.condition)) return false;
    for (const Directive& e : d.block) {
      bool inner = false;
      if (!readRewriteDirective(r, e, step.body, inner)) return false;
      if (!inner) {
        return r.fail(e, "\"" + e.name +
                             "\" inside \"if\" is not supported yet (return, rewrite, set, break "
                             "and if are)");
      }
    }
  } else {
    handled = false;
    return true;
  }
  out.push_back(std::move(step));
  return true;
}
}  // namespace surge::edge
