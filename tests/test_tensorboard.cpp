// TensorBoard event files: CRC-32C against published check values, the TFRecord framing
// and the hand-encoded Event protos byte by byte, and the fixture events file that the
// `tensorboard` package read back (tests/fixtures/check_tensorboard.py).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "train/tensorboard.h"

namespace masklm {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Crc32c, PublishedCheckValues) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  // RFC 3720 (iSCSI), appendix B.4.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[static_cast<size_t>(i)] = static_cast<char>(i);
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
}

TEST(TfRecord, FramingIsLengthCrcDataCrc) {
  const std::string payload = "masklm";
  const std::string record = tfrecord_frame(payload);
  ASSERT_EQ(record.size(), 8 + 4 + payload.size() + 4);
  const std::string length = bytes({6, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(record.substr(0, 8), length);
  uint32_t crc_len = 0, crc_data = 0;
  std::memcpy(&crc_len, record.data() + 8, 4);
  std::memcpy(&crc_data, record.data() + 12 + payload.size(), 4);
  EXPECT_EQ(crc_len, masked_crc32c(length));
  EXPECT_EQ(record.substr(12, payload.size()), payload);
  EXPECT_EQ(crc_data, masked_crc32c(payload));
  // The mask rotates right by 15 and adds TensorFlow's constant.
  const uint32_t c = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789"), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(EventProto, ScalarEventWireFormat) {
  // Event{wall_time: 1.5, step: 300, summary{value{tag: "a", simple_value: 1.0}}}
  // clang-format off
  const std::string expected = bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F,  // 1: double 1.5
                                      0x10, 0xAC, 0x02,                      // 2: varint 300
                                      0x2A, 0x0A,                            // 5: summary, 10 bytes
                                      0x0A, 0x08,                            //   1: value, 8 bytes
                                      0x0A, 0x01, 'a',                       //     1: tag "a"
                                      0x15, 0x00, 0x00, 0x80, 0x3F});        //     2: float 1.0
  // clang-format on
  EXPECT_EQ(encode_scalars_event(1.5, 300, {{"a", 1.0f}}), expected);
  const std::string version =
      bytes({0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x10, 0x00, 0x1A, 0x0D}) + "brain.Event:2";
  EXPECT_EQ(encode_file_version_event(2.0), version);
}

TEST(EventProto, SessionStartEventWireFormat) {
  // Event{wall_time: 2.0, step: 4, session_log{status: START}}
  // clang-format off
  const std::string expected = bytes({0x09, 0, 0, 0, 0, 0, 0, 0, 0x40,  // 1: double 2.0
                                      0x10, 0x04,                       // 2: varint 4
                                      0x3A, 0x02,                       // 7: session_log, 2 bytes
                                      0x08, 0x01});                     //   1: status START
  // clang-format on
  EXPECT_EQ(encode_session_start_event(2.0, 4), expected);
}

// The fixture: what check_tensorboard.py read with the tensorboard package.
void write_fixture_events(const std::filesystem::path& path) {
  EventWriter w(path, 1700000000.0);
  w.write_scalars(1, {{"train/loss", 4.5f}, {"train/lr", 1e-3f}}, 1700000001.0);
  w.write_scalars(2, {{"train/loss", 3.25f}, {"train/lr", 2e-3f}}, 1700000002.5);
  w.write_scalars(300, {{"eval/loss", 2.125f}, {"eval/perplexity", 8.375f}}, 1700000003.25);
}

TEST(EventWriter, FixtureIsByteExactAndReadByTensorBoard) {
  const auto fixtures = std::filesystem::path(MASKLM_FIXTURE_DIR);
  const auto written =
      std::filesystem::temp_directory_path() / "masklm_tensorboard_fixture.tfevents";
  write_fixture_events(written);
  // On a deliberate format change: copy `written` over the fixture and rerun the script.
  ASSERT_EQ(read_file(written), read_file(fixtures / "tensorboard_events.tfevents"))
      << "the event encoding changed; see tests/fixtures/check_tensorboard.py";

  const auto read_back = nlohmann::json::parse(read_file(fixtures / "tensorboard_scalars.json"));
  EXPECT_EQ(read_back.at("file_version"), "brain.Event:2");
  struct Scalar {
    const char* tag;
    int64_t step;
    float value;
    double wall_time;
  };
  const Scalar expected[] = {
      {"train/loss", 1, 4.5f, 1700000001.0},     {"train/lr", 1, 1e-3f, 1700000001.0},
      {"train/loss", 2, 3.25f, 1700000002.5},    {"train/lr", 2, 2e-3f, 1700000002.5},
      {"eval/loss", 300, 2.125f, 1700000003.25}, {"eval/perplexity", 300, 8.375f, 1700000003.25}};
  const auto& scalars = read_back.at("scalars");
  ASSERT_EQ(scalars.size(), std::size(expected));
  for (size_t i = 0; i < scalars.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(scalars[i].at("tag"), expected[i].tag);
    EXPECT_EQ(scalars[i].at("step"), expected[i].step);
    EXPECT_EQ(scalars[i].at("value").get<float>(), expected[i].value);
    EXPECT_EQ(scalars[i].at("wall_time").get<double>(), expected[i].wall_time);
  }
  // tensorboard's own masked CRC-32C of a few strings, against ours.
  for (const auto& [text, crc] : read_back.at("masked_crc32c").items())
    EXPECT_EQ(masked_crc32c(text), crc.get<uint32_t>()) << "'" << text << "'";
}

// A run killed after logging steps 1-3 and resumed from its checkpoint at step 2: the
// resumed file starts a session at step 3 and logs 3 and 4 again. The fixture directory is
// what check_tensorboard.py --resume-fixture loaded with the tensorboard package.
void write_resume_fixture(const std::filesystem::path& dir) {
  {
    EventWriter killed(dir / "events.out.tfevents.1700000000.fixture", 1700000000.0);
    for (int step = 1; step <= 3; ++step)
      killed.write_scalars(step, {{"train/loss", 4.0f - static_cast<float>(step)}},
                           1700000000.0 + step);
  }
  EventWriter resumed(dir / "events.out.tfevents.1700000100.fixture", 1700000100.0);
  resumed.write_session_start(3, 1700000100.0);
  resumed.write_scalars(3, {{"train/loss", 1.5f}}, 1700000103.0);
  resumed.write_scalars(4, {{"train/loss", 0.5f}}, 1700000104.0);
}

TEST(EventWriter, SessionStartMakesTensorBoardDropTheKilledRunsLaterSteps) {
  const auto fixtures = std::filesystem::path(MASKLM_FIXTURE_DIR) / "tensorboard_resume";
  const auto written = std::filesystem::temp_directory_path() / "masklm_tensorboard_resume";
  std::filesystem::remove_all(written);
  std::filesystem::create_directories(written);
  write_resume_fixture(written);
  for (const char* name :
       {"events.out.tfevents.1700000000.fixture", "events.out.tfevents.1700000100.fixture"})
    ASSERT_EQ(read_file(written / name), read_file(fixtures / name))
        << name << ": the encoding changed; see tests/fixtures/check_tensorboard.py";
  // Each step once, the resumed run's value where both files logged it.
  const auto loaded = nlohmann::json::parse(read_file(fixtures / "scalars.json"));
  const std::vector<std::pair<int64_t, float>> expected = {
      {1, 3.0f}, {2, 2.0f}, {3, 1.5f}, {4, 0.5f}};
  ASSERT_EQ(loaded.size(), expected.size()) << loaded.dump();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(loaded[i].at("step"), expected[i].first);
    EXPECT_EQ(loaded[i].at("value").get<float>(), expected[i].second);
  }
}

}  // namespace
}  // namespace masklm
