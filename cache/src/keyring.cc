#include "surge/cache/keyring.h"

#include <optional>

#include "surge/base/file.h"

namespace surge::cache {

using base::Done;
using base::fail;
using base::Result;
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool isValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdLength) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::string, std::string> decodeHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return fail(std::string("hex string has an odd number of digits"));
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hexValue(hex[i]);
    int lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return fail(std::string("not a hex digit"));
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string encodeHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

Result<Done, std::string> Keyring::add(std::string id, std::string secret) {
  if (!isValidKeyId(id)) {
    return fail("invalid key id \"" + id + "\" (1-32 characters of A-Z a-z 0-9 . _ -)");
  }
  if (secret.size() < kMinKeySecretBytes) {
    return fail("key \"" + id + "\" has " + std::to_string(secret.size()) +
                " bytes of secret; at least " + std::to_string(kMinKeySecretBytes) +
                " are required");
  }
  if (find(id) != nullptr) return fail("duplicate key id \"" + id + "\"");
  keys_.push_back(KeyringKey{std::move(id), std::move(secret)});
  return Done{};
}

const KeyringKey* Keyring::find(std::string_view id) const {
  for (const KeyringKey& key : keys_) {
    if (key.id == id) return &key;
  }
  return nullptr;
}

Result<Keyring, std::string> Keyring::parse(std::string_view text, std::string_view source) {
  Keyring ring;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    auto where = [&] { return std::string(source) + ":" + std::to_string(line_no) + ": "; };
    size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos)
      return fail(where() + "expected \"<key-id> <hex secret>\"");
    std::string_view id = line.substr(0, space);
    std::string_view hex = trim(line.substr(space));
    if (hex.find_first_of(" \t") != std::string_view::npos) {
      return fail(where() + "unexpected text after the secret");
    }
    auto secret = decodeHex(hex);
    if (!secret) return fail(where() + "secret: " + secret.error());
    auto added = ring.add(std::string(id), std::move(secret.value()));
    if (!added) return fail(where() + added.error());
  }
  if (ring.empty()) return fail(std::string(source) + ": no keys");
  return ring;
}

Result<Keyring, std::string> Keyring::load(const std::string& path) {
  std::optional<std::string> text = base::readFile(path);
  if (!text) return fail(path + ": cannot open key file");
  return parse(*text, path);
}

}  // namespace surge::cache
