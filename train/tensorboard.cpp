#include "train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "runtime/error.h"

namespace masklm {

namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// Protobuf wire format: a field key is (field number << 3) | wire type.
enum WireType : uint8_t { VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, FIXED32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_key(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (field << 3) | type);
}
template <typename T> void put_le(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));  // x86 and ARM are little-endian, as the formats want
  out.append(bytes, sizeof(T));
}
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, LENGTH_DELIMITED);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// tensorflow/core/util/event.proto and summary.proto field numbers.
constexpr uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
constexpr uint32_t kEventSessionLog = 7;
constexpr uint32_t kSummaryValue = 1, kValueTag = 1, kValueSimpleValue = 2;
constexpr uint32_t kSessionLogStatus = 1, kSessionStart = 1;

std::string event_header(double wall_time, int64_t step) {
  std::string e;
  put_key(e, kEventWallTime, FIXED64);
  put_le(e, wall_time);
  put_key(e, kEventStep, VARINT);
  put_varint(e, static_cast<uint64_t>(step));
  return e;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string event_file_name() {
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return fmt::format("events.out.tfevents.{}.{}.{}", seconds.count(), host, getpid());
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = kCrc32cTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string tfrecord_frame(std::string_view payload) {
  std::string length;
  put_le(length, static_cast<uint64_t>(payload.size()));
  std::string out = length;
  put_le(out, masked_crc32c(length));
  out.append(payload);
  put_le(out, masked_crc32c(payload));
  return out;
}

std::string encode_file_version_event(double wall_time) {
  std::string e = event_header(wall_time, 0);
  put_bytes(e, kEventFileVersion, "brain.Event:2");
  return e;
}

std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, kValueTag, tag);
    put_key(v, kValueSimpleValue, FIXED32);
    put_le(v, value);
    put_bytes(summary, kSummaryValue, v);
  }
  std::string e = event_header(wall_time, step);
  put_bytes(e, kEventSummary, summary);
  return e;
}

std::string encode_session_start_event(double wall_time, int64_t step) {
  std::string log;
  put_key(log, kSessionLogStatus, VARINT);
  put_varint(log, kSessionStart);
  std::string e = event_header(wall_time, step);
  put_bytes(e, kEventSessionLog, log);
  return e;
}

EventWriter::EventWriter(const std::filesystem::path& dir)
    : EventWriter(dir / event_file_name(), now_seconds()) {}

EventWriter::EventWriter(const std::filesystem::path& path, double wall_time) : path_(path) {
  file_ = std::fopen(path.c_str(), "wb");
  MASKLM_CHECK(file_ != nullptr, "cannot create TensorBoard event file '{}': {}", path.string(),
               std::strerror(errno));
  write_record(encode_file_version_event(wall_time));
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::write_scalars(int64_t step, const Scalars& scalars, double wall_time) {
  write_record(encode_scalars_event(wall_time, step, scalars));
}

void EventWriter::write_session_start(int64_t step, double wall_time) {
  write_record(encode_session_start_event(wall_time, step));
}

void EventWriter::write_session_start(int64_t step) { write_session_start(step, now_seconds()); }

void EventWriter::write_scalars(int64_t step, const Scalars& scalars) {
  write_scalars(step, scalars, now_seconds());
}

void EventWriter::write_record(std::string_view event) {
  const std::string record = tfrecord_frame(event);
  // Flushed per record so TensorBoard shows a live run and a killed run loses nothing.
  MASKLM_CHECK(std::fwrite(record.data(), 1, record.size(), file_) == record.size() &&
                   std::fflush(file_) == 0,
               "cannot write TensorBoard event file '{}': {}", path_.string(),
               std::strerror(errno));
}

}  // namespace masklm
