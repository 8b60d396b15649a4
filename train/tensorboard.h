// TensorBoard event files without TensorFlow or protobuf: scalars are written as Event
// protos encoded by hand in protobuf wire format, framed as TFRecords:
//   uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
// (little-endian; the mask is TensorFlow's, so readers can tell a record from its CRC).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace masklm {

// CRC-32C (Castagnoli), as in iSCSI and TFRecord.
uint32_t crc32c(std::string_view bytes);
// ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(std::string_view bytes);
std::string tfrecord_frame(std::string_view payload);

using Scalars = std::vector<std::pair<std::string, float>>;  // (tag, value)

// Event{wall_time, step, file_version} and Event{wall_time, step, summary{value{tag,
// simple_value}...}}.
std::string encode_file_version_event(double wall_time);
std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars);
// Event{wall_time, step, session_log{status: START}}: TensorBoard then discards what earlier
// files of the run logged at `step` and after (PyTorch SummaryWriter's purge_step).
std::string encode_session_start_event(double wall_time, int64_t step);

// Appends events to `dir`/events.out.tfevents.<seconds>.<host>.<pid> (TensorBoard reads every
// such file in a run directory, so a resumed run adds a new one, and marks its restart with
// write_session_start). Flushed after every write.
class EventWriter {
 public:
  explicit EventWriter(const std::filesystem::path& dir);
  // The file is `path` exactly and wall times are the caller's (tests and fixtures).
  EventWriter(const std::filesystem::path& path, double wall_time);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  void write_scalars(int64_t step, const Scalars& scalars, double wall_time);
  void write_scalars(int64_t step, const Scalars& scalars);  // wall time now
  // A (re)start at `step`: the run's earlier event files count only up to step - 1.
  void write_session_start(int64_t step, double wall_time);
  void write_session_start(int64_t step);  // wall time now
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(std::string_view event);

  std::filesystem::path path_;
  FILE* file_ = nullptr;
};

}  // namespace masklm
