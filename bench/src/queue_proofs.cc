// queue-proofs: proofs of work made ahead of a load run (bench/queue-pow), as many honest clients
// would each make their own: for each of N new client ids, a challenge from the edge, solved.
//   queue-proofs HOST:PORT N > proofs.txt      # lines "CLIENT PROOF"; prints the bits on stderr
// The edge's attack mode sets the bits; the load run measures the edge, not this.
#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "surge/cache/keyring.h"
#include "surge/cache/queue_pow.h"
#include "surge/http/client.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: queue-proofs HOST:PORT N\n");
    return 2;
  }
  std::string target = argv[1];
  long n = std::atol(argv[2]);
  size_t colon = target.rfind(':');
  surge::http::HttpClient client(target.substr(0, colon), std::atoi(target.c_str() + colon + 1),
                                 std::chrono::seconds(10));
  uint32_t bits = 0;
  auto started = std::chrono::steady_clock::now();
  uint64_t hashes = 0;
  for (long i = 0; i < n; ++i) {
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    std::string id = surge::cache::encodeHex(std::string_view(reinterpret_cast<char*>(raw), 16));
    auto r = client.request("GET", "/api/v1/queue/challenge", {{"X-Surge-Client", id}});
    if (!r || r->status != 200) {
      std::fprintf(stderr, "queue-proofs: %s\n", r ? r->body.c_str() : r.error().c_str());
      return 1;
    }
    auto j = nlohmann::json::parse(r->body);
    bits = j["bits"];
    if (bits == 0) {
      std::fprintf(stderr, "queue-proofs: the attack mode is off\n");
      return 1;
    }
    std::string challenge = j["challenge"];
    uint64_t nonce = surge::cache::solveChallenge(challenge, bits);
    hashes += nonce + 1;
    std::printf("%s %s.%llu\n", id.c_str(), challenge.c_str(),
                static_cast<unsigned long long>(nonce));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "queue-proofs: %ld proofs of %u bits, %llu hashes in %.1f s\n", n, bits,
               static_cast<unsigned long long>(hashes), s);
  return 0;
}
