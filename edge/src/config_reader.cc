#include "surge/edge/config_reader.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>

namespace surge::edge {

using nginx_compat::locationOf;

bool ConfigReader::fail(const Directive& d, const std::string& message) {
  return failAt(locationOf(d), message);
}

bool ConfigReader::failAt(const std::string& where, const std::string& message) {
  if (error_.empty()) error_ = where.empty() ? message : where + ": " + message;
  return false;
}

bool ConfigReader::args(const Directive& d, size_t min, size_t max) {
  if (d.args.size() < min || d.args.size() > max) {
    return fail(d, "invalid number of arguments in \"" + d.name + "\" directive");
  }
  if (d.has_block) return fail(d, "directive \"" + d.name + "\" has no block");
  return true;
}

bool ConfigReader::block(const Directive& d) {
  if (!d.has_block) return fail(d, "directive \"" + d.name + "\" has no opening \"{\"");
  return true;
}

std::string ConfigReader::resolve(const std::string& path) const {
  if (path.empty() || path[0] == '/') return path;
  return base_dir_ + "/" + path;
}

bool ConfigReader::duration(const Directive& d, std::chrono::milliseconds& out) {
  return args(d, 1, 1) && duration(d, d.args[0], out);
}

bool ConfigReader::duration(const Directive& d, const std::string& text,
                            std::chrono::milliseconds& out) {
  auto v = nginx_compat::parseDuration(text);
  if (!v) return fail(d, v.error());
  out = v.value();
  return true;
}

bool ConfigReader::seconds(const Directive& d, std::chrono::seconds& out) {
  std::chrono::milliseconds ms{};
  if (!duration(d, ms)) return false;
  if (ms.count() % 1000 != 0) return fail(d, "\"" + d.name + "\" takes whole seconds");
  out = std::chrono::duration_cast<std::chrono::seconds>(ms);
  return true;
}

bool ConfigReader::size(const Directive& d, uint64_t& out) {
  if (!args(d, 1, 1)) return false;
  auto v = nginx_compat::parseSize(d.args[0]);
  if (!v) return fail(d, v.error());
  out = v.value();
  return true;
}

bool ConfigReader::number(const Directive& d, const std::string& text, uint64_t min, uint64_t max,
                          uint64_t& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || p != text.data() + text.size() || out < min || out > max) {
    return fail(d, "invalid value \"" + text + "\" in \"" + d.name + "\" (expected " +
                       std::to_string(min) + ".." + std::to_string(max) + ")");
  }
  return true;
}

bool ConfigReader::onOff(const Directive& d, bool& out) {
  if (!args(d, 1, 1)) return false;
  if (d.args[0] != "on" && d.args[0] != "off") {
    return fail(d, "invalid value \"" + d.args[0] + "\" in \"" + d.name +
                       "\" directive, it must be \"on\" or \"off\"");
  }
  out = d.args[0] == "on";
  return true;
}

bool ConfigReader::complexValue(const Directive& d, const std::string& text, ComplexValue& out) {
  auto v = ComplexValue::compile(text);
  if (!v) return fail(d, v.error());
  for (std::string& name : v.value().declaredNames())
    useVariable(std::move(name), d);
  out = std::move(v.value());
  return true;
}

void ConfigReader::useVariable(std::string name, const Directive& d) {
  uses_.emplace_back(std::move(name), locationOf(d));
}

bool ConfigReader::checkVariables() {
  for (const auto& [name, where] : uses_) {
    if (!declared_.count(name)) return failAt(where, "unknown \"" + name + "\" variable");
  }
  return true;
}

bool ConfigReader::hostPort(const Directive& d, const std::string& text, std::string& host,
                            int& port) {
  if (!text.empty() && text[0] == '[') return fail(d, "IPv6 addresses are not supported yet");
  size_t colon = text.rfind(':');
  host = colon == std::string::npos ? "127.0.0.1" : text.substr(0, colon);
  if (host == "localhost" || host == "*") host = host == "*" ? "0.0.0.0" : "127.0.0.1";
  uint64_t p = 0;
  if (!number(d, colon == std::string::npos ? text : text.substr(colon + 1), 1, 65535, p)) {
    return false;
  }
  port = static_cast<int>(p);
  return true;
}

bool ConfigReader::resolveHost(const std::string& where, const std::string& host, int port,
                               std::string& address) {
  in_addr literal{};
  if (inet_pton(AF_INET, host.c_str(), &literal) == 1) {
    address = host;
    return true;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return failAt(where, "host not found in \"" + host + ":" + std::to_string(port) + "\" (" +
                             gai_strerror(rc) + ")");
  }
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, text, sizeof text);
  freeaddrinfo(res);
  address = text;
  return true;
}

}  // namespace surge::edge
