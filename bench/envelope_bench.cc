// Cost of sealing (origin, per publish) and opening (edge, per refresh) a snapshot envelope.
//   build/bench/envelope_bench
#include <benchmark/benchmark.h>

#include "surge/cache/snapshot_envelope.h"

namespace {

using surge::cache::BodyEncoding;

std::string regionBody(size_t bytes) {
  std::string body = R"({"version":1,"region":"11110","clinics":[)";
  for (int i = 0; body.size() < bytes; ++i) {
    body += R"({"id":)" + std::to_string(10000 + i) + R"(,"name":"Clinic )" + std::to_string(i) +
            R"(","remaining":[)" + std::to_string(i % 30) + "," + std::to_string(i % 7) + "]},";
  }
  body += "{}]}";
  return body;
}

surge::cache::Keyring ring() {
  surge::cache::Keyring r;
  (void)r.add("k1", std::string(32, 'k'));
  return r;
}

void BM_Seal(benchmark::State& state) {
  auto keys = ring();
  std::string body = regionBody(static_cast<size_t>(state.range(0)));
  surge::cache::SnapshotFields fields;
  fields.version = 1;
  for (auto _ : state) {
    auto sealed = surge::cache::sealSnapshot(keys, fields, body, BodyEncoding::kZstd);
    benchmark::DoNotOptimize(sealed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_OpenAndVerify(benchmark::State& state) {
  auto keys = ring();
  std::string body = regionBody(static_cast<size_t>(state.range(0)));
  surge::cache::SnapshotFields fields;
  fields.version = 1;
  std::string bytes = surge::cache::sealSnapshot(keys, fields, body, BodyEncoding::kZstd).value();
  for (auto _ : state) {
    auto opened = surge::cache::openSnapshot(keys, bytes);
    benchmark::DoNotOptimize(opened);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}

void BM_OpenAndDecode(benchmark::State& state) {
  auto keys = ring();
  std::string body = regionBody(static_cast<size_t>(state.range(0)));
  surge::cache::SnapshotFields fields;
  fields.version = 1;
  std::string bytes = surge::cache::sealSnapshot(keys, fields, body, BodyEncoding::kZstd).value();
  for (auto _ : state) {
    auto opened = surge::cache::openSnapshot(keys, bytes);
    auto raw = surge::cache::decodeSnapshotBody(*opened);
    benchmark::DoNotOptimize(raw);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

BENCHMARK(BM_Seal)->Arg(2 << 10)->Arg(64 << 10)->Arg(512 << 10);
BENCHMARK(BM_OpenAndVerify)->Arg(2 << 10)->Arg(64 << 10)->Arg(512 << 10);
BENCHMARK(BM_OpenAndDecode)->Arg(2 << 10)->Arg(64 << 10)->Arg(512 << 10);

}  // namespace
