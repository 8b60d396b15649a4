// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON naming each tensor's dtype, shape and byte range, then
// the raw little-endian data. Checkpoints and HF import/export go through this one format.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/file_io.h"
#include "runtime/tensor.h"

namespace masklm {

using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t begin = 0, end = 0;  // byte range relative to the start of the data section

  size_t nbytes() const { return end - begin; }
};

// Collects CPU tensor views and writes them in the order added. The views are not copied:
// they must stay valid until write().
class SafetensorsWriter {
 public:
  void add(std::string name, const Tensor& tensor);
  void set_metadata(std::string key, std::string value);
  // Atomic: writes `path`.tmp, flushes it to disk, then renames it over `path`, so a crash
  // leaves either the old file or the new one, never a torn checkpoint.
  void write(const std::filesystem::path& path) const;

 private:
  std::vector<std::pair<std::string, Tensor>> tensors_;
  SafetensorsMetadata metadata_;
};

// A safetensors file, validated on open and memory-mapped read-only.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  // Tensor names in the order their data appears in the file.
  std::vector<std::string> names() const;
  bool has(std::string_view name) const;
  const SafetensorsEntry& entry(std::string_view name) const;
  const SafetensorsMetadata& metadata() const { return metadata_; }

  // Copies tensor `name` into the CPU tensor `dst`, whose shape must match. The dtype must
  // match too, except that F32 and F64 convert into each other (models run in double in
  // the gradient tests).
  void read_into(std::string_view name, const Tensor& dst) const;

 private:
  std::filesystem::path path_;
  MappedFile mapping_;
  const char* data_ = nullptr;  // start of the data section inside the mapping
  std::vector<SafetensorsEntry> entries_;  // sorted by data offset
  std::unordered_map<std::string, size_t> index_;  // name -> position in entries_
  SafetensorsMetadata metadata_;
};

}  // namespace masklm
