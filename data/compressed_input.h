// Reads a file's bytes, decompressing gzip and zstd transparently. The compression is
// recognized by the file's magic number, not its name, so `corpus.txt` that is really
// gzip still reads, and `x.gz` that is plain text is not mistaken for gzip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace masklm {

enum class Compression { NONE, GZIP, ZSTD };


class CompressedInput {
 public:
  virtual ~CompressedInput() = default;

  // Opens `path`; throws masklm::Error naming the file when it cannot be read.
  static std::unique_ptr<CompressedInput> open(const std::filesystem::path& path);

  // Reads up to `n` decompressed bytes into `out`; returns 0 only at the end of the data.
  // Corrupt or truncated compressed data throws masklm::Error naming the file.
  virtual size_t read(char* out, size_t n) = 0;

  // For progress: bytes of the file (compressed) consumed so far, and the file's size.
  int64_t file_bytes_read() const { return file_bytes_read_; }
  int64_t file_size() const { return file_size_; }
  Compression compression() const { return compression_; }
  const std::filesystem::path& path() const { return path_; }

 protected:
  CompressedInput(std::filesystem::path path, Compression compression, int64_t file_size)
      : path_(std::move(path)), compression_(compression), file_size_(file_size) {}

  std::filesystem::path path_;
  Compression compression_;
  int64_t file_size_ = 0;
  int64_t file_bytes_read_ = 0;
};

}  // namespace masklm
