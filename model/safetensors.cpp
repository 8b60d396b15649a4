#include "model/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace masklm {

// The format stores little-endian data; tensors are copied byte for byte.
static_assert(std::endian::native == std::endian::little, "masklm assumes a little-endian host");

namespace {

using nlohmann::json;
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr size_t kHeaderLengthBytes = 8;

template <typename... Args>
[[noreturn]] void fail_file(const std::filesystem::path& path, fmt::format_string<Args...> f,
                            Args&&... args) {
  MASKLM_FAIL("safetensors file '{}': {}", path.string(), fmt::format(f, std::forward<Args>(args)...));
}

const json& require_field(const std::filesystem::path& path, const std::string& name,
                          const json& entry, const char* key) {
  const auto it = entry.find(key);
  if (it == entry.end()) fail_file(path, "tensor '{}' has no '{}'", name, key);
  return *it;
}

DType parse_dtype(const std::filesystem::path& path, const std::string& name, const json& value) {
  if (!value.is_string()) fail_file(path, "tensor '{}': dtype must be a string, got {}", name, value.dump());
  try {
    return dtype_from_name(value.get<std::string>());
  } catch (const Error& e) {
    fail_file(path, "tensor '{}': {}", name, e.what());
  }
}

Shape parse_shape(const std::filesystem::path& path, const std::string& name, const json& value) {
  if (!value.is_array() || value.size() > kMaxDims)
    fail_file(path, "tensor '{}': shape must be an array of at most {} sizes, got {}", name, kMaxDims,
              value.dump());
  Shape shape;
  for (const json& d : value) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})
      fail_file(path, "tensor '{}': shape {} holds something other than a size", name, value.dump());
    shape.dims[static_cast<size_t>(shape.ndim++)] = d.get<int64_t>();
  }
  return shape;
}

SafetensorsEntry parse_entry(const std::filesystem::path& path, const std::string& name,
                             const json& value, size_t data_size) {
  if (!value.is_object()) fail_file(path, "tensor '{}': entry must be a JSON object", name);
  SafetensorsEntry e;
  e.name = name;
  e.dtype = parse_dtype(path, name, require_field(path, name, value, "dtype"));
  e.shape = parse_shape(path, name, require_field(path, name, value, "shape"));
  const json& offsets = require_field(path, name, value, "data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail_file(path, "tensor '{}': data_offsets must be [begin, end], got {}", name, offsets.dump());
  const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  if (begin > end || end > data_size)
    fail_file(path, "tensor '{}': data_offsets [{}, {}] out of range of the {}-byte data section", name,
              begin, end, data_size);
  e.begin = begin;
  e.end = end;
  size_t expected = dtype_size(e.dtype);
  for (int i = 0; i < e.shape.ndim; ++i)
    if (__builtin_mul_overflow(expected, static_cast<size_t>(e.shape[i]), &expected))
      fail_file(path, "tensor '{}': shape {} is too large", name, e.shape.str());
  if (expected != e.nbytes())
    fail_file(path, "tensor '{}': data_offsets span {} bytes, but shape {} of {} needs {}", name,
              e.nbytes(), e.shape.str(), dtype_name(e.dtype), expected);
  return e;
}

SafetensorsMetadata parse_metadata(const std::filesystem::path& path, const json& value) {
  if (!value.is_object()) fail_file(path, "__metadata__ must be a JSON object");
  SafetensorsMetadata metadata;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) fail_file(path, "__metadata__ value of '{}' must be a string", key);
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

template <typename From, typename To> void convert_copy(const char* src, void* dst, int64_t n) {
  To* out = static_cast<To*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    From v;  // memcpy: the data section need not be aligned for From
    std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(From)), sizeof(From));
    out[i] = static_cast<To>(v);
  }
}

}  // namespace

void SafetensorsWriter::add(std::string name, const Tensor& tensor) {
  MASKLM_CHECK(name != kMetadataKey, "'{}' is reserved and cannot name a tensor", kMetadataKey);
  MASKLM_CHECK(tensor.device == Device::CPU, "tensor '{}' must be on the CPU to be written", name);
  MASKLM_CHECK(!tensor.empty() || tensor.numel() == 0, "tensor '{}' has no data", name);
  for (const auto& [existing, t] : tensors_)
    MASKLM_CHECK(existing != name, "tensor '{}' added twice", name);
  tensors_.emplace_back(std::move(name), tensor);
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  metadata_[std::move(key)] = std::move(value);
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header[std::string(kMetadataKey)] = metadata_;
  size_t offset = 0;
  for (const auto& [name, t] : tensors_) {
    std::vector<int64_t> dims(t.shape.dims.begin(), t.shape.dims.begin() + t.shape.ndim);
    header[name] = {{"dtype", std::string(dtype_name(t.dtype))},
                    {"shape", dims},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  // Spaces are legal JSON padding; they put the data start on an 8-byte boundary so a
  // mapped file can be read as F64/I64 in place.
  text.append((kHeaderLengthBytes - text.size() % kHeaderLengthBytes) % kHeaderLengthBytes, ' ');

  AtomicFileWriter out(path);
  unsigned char length[kHeaderLengthBytes];
  for (size_t i = 0; i < kHeaderLengthBytes; ++i) length[i] = static_cast<unsigned char>(text.size() >> (8 * i));
  out.write(length, sizeof(length));
  out.write(text.data(), text.size());
  for (const auto& [name, t] : tensors_) out.write(t.data, t.nbytes());
  out.commit();
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path), mapping_(path) {
  const size_t size = mapping_.size();
  if (size < kHeaderLengthBytes)
    fail_file(path_, "truncated: {} bytes, shorter than the {}-byte header length", size, kHeaderLengthBytes);
  const char* bytes = mapping_.data();

  uint64_t header_size = 0;
  for (size_t i = 0; i < kHeaderLengthBytes; ++i)
    header_size |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  if (header_size > size - kHeaderLengthBytes)
    fail_file(path_, "header length {} is larger than the {} bytes after it (truncated or not safetensors)",
              header_size, size - kHeaderLengthBytes);
  const char* header_begin = bytes + kHeaderLengthBytes;
  data_ = header_begin + header_size;
  const size_t data_size = size - kHeaderLengthBytes - header_size;

  json header;
  try {
    header = json::parse(header_begin, data_);
  } catch (const json::parse_error& e) {
    fail_file(path_, "bad header JSON: {}", e.what());
  }
  if (!header.is_object()) fail_file(path_, "bad header JSON: expected an object, got {}", header.type_name());
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey)
      metadata_ = parse_metadata(path_, value);
    else
      entries_.push_back(parse_entry(path_, key, value, data_size));
  }

  std::sort(entries_.begin(), entries_.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < entries_.size(); ++i)
    if (entries_[i].begin < entries_[i - 1].end)
      fail_file(path_, "tensors '{}' and '{}' overlap in the data section", entries_[i - 1].name,
                entries_[i].name);
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].name, i);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const SafetensorsEntry& e : entries_) names.push_back(e.name);
  return names;
}

bool SafetensorsFile::has(std::string_view name) const { return index_.contains(std::string(name)); }

const SafetensorsEntry& SafetensorsFile::entry(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  if (it == index_.end()) fail_file(path_, "no tensor named '{}' ({} tensors in the file)", name, entries_.size());
  return entries_[it->second];
}

void SafetensorsFile::read_into(std::string_view name, const Tensor& dst) const {
  const SafetensorsEntry& e = entry(name);
  MASKLM_CHECK(dst.device == Device::CPU, "read_into '{}': the destination must be a CPU tensor", name);
  if (!(dst.shape == e.shape))
    fail_file(path_, "tensor '{}' has shape {}, the destination has shape {}", name, e.shape.str(),
              dst.shape.str());
  const char* src = data_ + e.begin;
  if (e.nbytes() == 0) return;
  if (dst.dtype == e.dtype)
    std::memcpy(dst.data, src, e.nbytes());
  else if (e.dtype == DType::F32 && dst.dtype == DType::F64)
    convert_copy<float, double>(src, dst.data, dst.numel());
  else if (e.dtype == DType::F64 && dst.dtype == DType::F32)
    convert_copy<double, float>(src, dst.data, dst.numel());
  else
    fail_file(path_, "tensor '{}' is {}, the destination is {} (only F32 and F64 convert)", name,
              dtype_name(e.dtype), dtype_name(dst.dtype));
}

}  // namespace masklm
