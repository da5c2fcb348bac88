#include "surge/cache/zstd_codec.h"

// ZSTD_getFrameHeader is in the "static" part of the API; Debian's shared libzstd exports it.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <memory>

namespace surge::cache {

using base::fail;
using base::Result;
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

ZSTD_CCtx* threadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}

ZSTD_DCtx* threadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

std::string zstdError(const char* what, size_t code) {
  return std::string(what) + ": " + ZSTD_getErrorName(code);
}

}  // namespace

Result<std::string, std::string> zstdCompress(std::string_view raw, int level) {
  ZSTD_CCtx* ctx = threadCCtx();
  if (ctx == nullptr) return fail(std::string("zstd: cannot allocate a compression context"));
  ZSTD_CCtx_reset(ctx, ZSTD_reset_session_and_parameters);
  size_t rc = ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(ctx, ZSTD_c_windowLog, kZstdMaxWindowLog);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 1);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, 0);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setPledgedSrcSize(ctx, raw.size());
  if (ZSTD_isError(rc)) return fail(zstdError("zstd parameters", rc));
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress2(ctx, out.data(), out.size(), raw.data(), raw.size());
  if (ZSTD_isError(n)) return fail(zstdError("zstd compress", n));
  out.resize(n);
  return out;
}

Result<std::string, std::string> zstdDecompress(std::string_view frame, size_t expected_size) {
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return fail(std::string("zstd: not a zstd frame"));
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return fail(std::string("zstd: frame does not declare its content size"));
  }
  if (declared != expected_size) {
    return fail(std::string("zstd: frame content size does not match the envelope"));
  }
  // One-shot decoding writes straight into the output and ignores ZSTD_d_windowLogMax: check the
  // window here, since these bytes also go to browsers as they are.
  ZSTD_frameHeader header;
  if (ZSTD_getFrameHeader(&header, frame.data(), frame.size()) != 0) {
    return fail(std::string("zstd: bad frame header"));
  }
  if (header.windowSize > (1ull << kZstdMaxWindowLog)) {
    return fail(std::string("zstd: window larger than 8 MiB"));
  }
  size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) return fail(zstdError("zstd frame", frame_size));
  if (frame_size != frame.size()) return fail(std::string("zstd: trailing bytes after the frame"));

  ZSTD_DCtx* ctx = threadDCtx();
  if (ctx == nullptr) return fail(std::string("zstd: cannot allocate a decompression context"));
  ZSTD_DCtx_reset(ctx, ZSTD_reset_session_and_parameters);
  size_t rc = ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, kZstdMaxWindowLog);
  if (ZSTD_isError(rc)) return fail(zstdError("zstd parameters", rc));
  std::string out(expected_size, '\0');
  size_t n = ZSTD_decompressDCtx(ctx, out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) return fail(zstdError("zstd decompress", n));
  if (n != expected_size) return fail(std::string("zstd: short output"));
  return out;
}

}  // namespace surge::cache
