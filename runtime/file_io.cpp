#include "runtime/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "runtime/error.h"

namespace masklm {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) MASKLM_FAIL("cannot open '{}': {}", path.string(), std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    MASKLM_FAIL("cannot stat '{}': {}", path.string(), std::strerror(err));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {  // mmap rejects a zero length
    void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file alive
    if (mapped == MAP_FAILED) MASKLM_FAIL("cannot map '{}': {}", path.string(), std::strerror(err));
    data_ = static_cast<const char*>(mapped);
  } else {
    ::close(fd);
  }
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

AtomicFileWriter::AtomicFileWriter(const std::filesystem::path& path)
    : path_(path), tmp_path_(path.string() + ".tmp") {
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) MASKLM_FAIL("cannot create '{}': {}", tmp_path_.string(), std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(tmp_path_.c_str());
}

void AtomicFileWriter::write(const void* bytes, size_t n) {
  if (n > 0 && std::fwrite(bytes, 1, n, file_) != n)
    MASKLM_FAIL("cannot write '{}': {}", tmp_path_.string(), std::strerror(errno));
  size_ += n;
}

void AtomicFileWriter::overwrite(size_t offset, const void* bytes, size_t n) {
  MASKLM_CHECK(offset + n <= size_, "overwrite of bytes [{}, {}) past the end ({}) of '{}'", offset,
               offset + n, size_, tmp_path_.string());
  if (std::fseek(file_, static_cast<long>(offset), SEEK_SET) != 0 ||
      (n > 0 && std::fwrite(bytes, 1, n, file_) != n) || std::fseek(file_, 0, SEEK_END) != 0)
    MASKLM_FAIL("cannot write '{}': {}", tmp_path_.string(), std::strerror(errno));
}

void AtomicFileWriter::commit() {
  MASKLM_CHECK(!committed_, "'{}' committed twice", path_.string());
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0)
    MASKLM_FAIL("cannot flush '{}' to disk: {}", tmp_path_.string(), std::strerror(errno));
  const int closed = std::fclose(std::exchange(file_, nullptr));
  if (closed != 0) MASKLM_FAIL("cannot close '{}': {}", tmp_path_.string(), std::strerror(errno));
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    MASKLM_FAIL("cannot rename '{}' to '{}': {}", tmp_path_.string(), path_.string(),
                std::strerror(errno));
  committed_ = true;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view text) {
  AtomicFileWriter file(path);
  file.write(text.data(), text.size());
  file.commit();
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) MASKLM_FAIL("cannot open '{}'", path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    MASKLM_FAIL("{}: bad JSON: {}", path.string(), e.what());
  }
}

}  // namespace masklm
