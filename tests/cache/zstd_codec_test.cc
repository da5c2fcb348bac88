#include "surge/cache/zstd_codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

namespace surge::cache {
namespace {

TEST(ZstdCodecTest, RoundTrip) {
  std::string raw;
  for (int i = 0; i < 5000; ++i)
    raw += "clinic-" + std::to_string(i % 97) + ",";
  auto z = zstdCompress(raw);
  ASSERT_TRUE(z.ok());
  EXPECT_LT(z->size(), raw.size() / 4);
  EXPECT_EQ(ZSTD_getFrameContentSize(z->data(), z->size()), raw.size());
  auto back = zstdDecompress(z.value(), raw.size());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value(), raw);
}

TEST(ZstdCodecTest, RefusesMismatchedSizeAndTrailingBytes) {
  auto z = zstdCompress("hello hello hello");
  ASSERT_TRUE(z.ok());
  EXPECT_FALSE(zstdDecompress(z.value(), 16).ok());
  EXPECT_FALSE(zstdDecompress(z.value() + "x", 17).ok());
  EXPECT_FALSE(zstdDecompress(z->substr(0, z->size() - 1), 17).ok());
  EXPECT_FALSE(zstdDecompress("not zstd", 8).ok());
}

TEST(ZstdCodecTest, RefusesFramesWithoutContentSize) {
  // A streaming frame (no pledged size) cannot be bounded before decoding: refuse it.
  std::string raw(1000, 'q');
  ZSTD_CStream* stream = ZSTD_createCStream();
  ZSTD_initCStream(stream, 3);
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  ZSTD_inBuffer ib{raw.data(), raw.size(), 0};
  ZSTD_compressStream(stream, &ob, &ib);
  ZSTD_endStream(stream, &ob);
  ZSTD_freeCStream(stream);
  out.resize(ob.pos);
  auto back = zstdDecompress(out, raw.size());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().find("content size"), std::string::npos) << back.error();
}

TEST(ZstdCodecTest, RefusesWindowOverEightMiB) {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(ctx, ZSTD_c_windowLog, 27);
  ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, 1);
  std::string out(ZSTD_compressBound(16u << 20), '\0');
  std::string big(16u << 20, 'w');
  size_t n = ZSTD_compress2(ctx, out.data(), out.size(), big.data(), big.size());
  ZSTD_freeCCtx(ctx);
  ASSERT_FALSE(ZSTD_isError(n));
  out.resize(n);
  auto back = zstdDecompress(out, big.size());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().find("window"), std::string::npos) << back.error();
}

}  // namespace
}  // namespace surge::cache
