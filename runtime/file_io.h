// Files the way masklm's formats need them: whole-file read-only memory maps (shards,
// safetensors) and atomic writes (write `path`.tmp, fsync, rename), so a crash leaves the
// old file or the new one, never a torn one. Errors name the file and the system's reason.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

namespace masklm {

// A whole file mapped read-only. An empty file maps to data() == nullptr, size() == 0.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::filesystem::path path_;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Writes `path`.tmp; commit() flushes it to disk and renames it over `path`. Destroying an
// uncommitted writer deletes the temporary file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::filesystem::path& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* bytes, size_t n);
  // Overwrites bytes already written at `offset` (e.g. a header whose counts are known
  // only at the end), then continues at the end of the file.
  void overwrite(size_t offset, const void* bytes, size_t n);
  size_t bytes_written() const { return size_; }
  void commit();

 private:
  std::filesystem::path path_, tmp_path_;
  FILE* file_ = nullptr;
  size_t size_ = 0;
  bool committed_ = false;
};

// The whole of `text` written atomically to `path` (through AtomicFileWriter).
void write_file_atomic(const std::filesystem::path& path, std::string_view text);

// A JSON file parsed; errors name the file ("cannot open", "bad JSON").
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace masklm
