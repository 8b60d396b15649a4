#include "data/compressed_input.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime/error.h"

namespace masklm {

namespace {

constexpr size_t kFileChunkBytes = size_t{1} << 20;
constexpr unsigned char kGzipMagic[] = {0x1F, 0x8B};
constexpr unsigned char kZstdMagic[] = {0x28, 0xB5, 0x2F, 0xFD};

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

bool starts_with(const std::vector<unsigned char>& head, const unsigned char* magic, size_t n) {
  return head.size() >= n && std::memcmp(head.data(), magic, n) == 0;
}

// Raw file bytes in chunks, shared by all three decoders.
class FileChunks {
 public:
  FileChunks(FilePtr file, const std::filesystem::path& path) : file_(std::move(file)), path_(path) {}

  // The next chunk; empty at the end of the file.
  std::string_view next() {
    buffer_.resize(kFileChunkBytes);
    const size_t n = std::fread(buffer_.data(), 1, buffer_.size(), file_.get());
    if (n == 0 && std::ferror(file_.get()))
      MASKLM_FAIL("cannot read '{}': {}", path_.string(), std::strerror(errno));
    return {buffer_.data(), n};
  }

 private:
  FilePtr file_;
  std::filesystem::path path_;
  std::vector<char> buffer_;
};

class PlainInput final : public CompressedInput {
 public:
  PlainInput(FilePtr file, const std::filesystem::path& path, int64_t size)
      : CompressedInput(path, Compression::NONE, size), file_(std::move(file)) {}

  size_t read(char* out, size_t n) override {
    const size_t got = std::fread(out, 1, n, file_.get());
    if (got == 0 && std::ferror(file_.get()))
      MASKLM_FAIL("cannot read '{}': {}", path_.string(), std::strerror(errno));
    file_bytes_read_ += static_cast<int64_t>(got);
    return got;
  }

 private:
  FilePtr file_;
};

class GzipInput final : public CompressedInput {
 public:
  GzipInput(FilePtr file, const std::filesystem::path& path, int64_t size)
      : CompressedInput(path, Compression::GZIP, size), chunks_(std::move(file), path) {
    // 15 + 32: the largest window, with gzip/zlib header detection.
    if (inflateInit2(&stream_, 15 + 32) != Z_OK) MASKLM_FAIL("zlib: cannot initialise for '{}'", path.string());
  }
  ~GzipInput() override { inflateEnd(&stream_); }

  size_t read(char* out, size_t n) override {
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    const auto want = static_cast<uInt>(std::min<size_t>(n, UINT32_MAX));
    stream_.avail_out = want;
    while (stream_.avail_out == want && !finished_) {
      if (stream_.avail_in == 0) {
        const std::string_view chunk = chunks_.next();
        file_bytes_read_ += static_cast<int64_t>(chunk.size());
        if (chunk.empty()) {
          if (in_member_) MASKLM_FAIL("'{}': truncated gzip data (the file ends inside a member)", path_.string());
          finished_ = true;
          break;
        }
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
        stream_.avail_in = static_cast<uInt>(chunk.size());
      }
      in_member_ = true;
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        // gzip files may hold several members back to back (e.g. `cat a.gz b.gz`).
        in_member_ = false;
        inflateReset(&stream_);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        MASKLM_FAIL("'{}': corrupt gzip data: {}", path_.string(), stream_.msg ? stream_.msg : zError(rc));
      }
    }
    return want - stream_.avail_out;
  }

 private:
  FileChunks chunks_;
  z_stream stream_{};
  bool in_member_ = false, finished_ = false;
};

class ZstdInput final : public CompressedInput {
 public:
  ZstdInput(FilePtr file, const std::filesystem::path& path, int64_t size)
      : CompressedInput(path, Compression::ZSTD, size), chunks_(std::move(file), path), stream_(ZSTD_createDStream()) {
    if (!stream_) MASKLM_FAIL("zstd: cannot create a decompression stream for '{}'", path.string());
  }
  ~ZstdInput() override { ZSTD_freeDStream(stream_); }

  size_t read(char* out, size_t n) override {
    ZSTD_outBuffer output{out, n, 0};
    while (output.pos == 0 && !finished_) {
      if (input_.pos == input_.size) {
        const std::string_view chunk = chunks_.next();
        file_bytes_read_ += static_cast<int64_t>(chunk.size());
        if (chunk.empty()) {
          if (frame_remaining_ != 0)
            MASKLM_FAIL("'{}': truncated zstd data (the file ends inside a frame)", path_.string());
          finished_ = true;
          break;
        }
        input_ = {chunk.data(), chunk.size(), 0};
      }
      // Concatenated frames decode one after another in the same stream.
      frame_remaining_ = ZSTD_decompressStream(stream_, &output, &input_);
      if (ZSTD_isError(frame_remaining_))
        MASKLM_FAIL("'{}': corrupt zstd data: {}", path_.string(), ZSTD_getErrorName(frame_remaining_));
    }
    return output.pos;
  }

 private:
  FileChunks chunks_;
  ZSTD_DStream* stream_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  size_t frame_remaining_ = 0;  // 0 exactly when the last frame was complete
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<CompressedInput> CompressedInput::open(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) MASKLM_FAIL("input '{}' is a directory, not a file", path.string());
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) MASKLM_FAIL("cannot open input '{}': {}", path.string(), std::strerror(errno));
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));

  std::vector<unsigned char> head(sizeof(kZstdMagic));
  head.resize(std::fread(head.data(), 1, head.size(), file.get()));
  std::rewind(file.get());
  if (starts_with(head, kZstdMagic, sizeof(kZstdMagic)))
    return std::make_unique<ZstdInput>(std::move(file), path, size);
  if (starts_with(head, kGzipMagic, sizeof(kGzipMagic)))
    return std::make_unique<GzipInput>(std::move(file), path, size);
  return std::make_unique<PlainInput>(std::move(file), path, size);
}

}  // namespace masklm
