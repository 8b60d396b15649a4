#include "model/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           fmt::format("masklm_test_safetensors_{}_{}", ::getpid(), info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path file(const std::string& name) const { return dir_ / name; }

  // A file with the given header text, data bytes and (unless overridden) header length.
  fs::path write_raw(const std::string& header, size_t data_bytes = 0, int64_t header_length = -1) {
    const uint64_t n = header_length < 0 ? header.size() : static_cast<uint64_t>(header_length);
    std::string bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(n >> (8 * i)));
    bytes += header;
    bytes.append(data_bytes, '\0');
    const fs::path path = file("raw.safetensors");
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // Expects opening a file with this header (and data) to fail naming the file and `problem`.
  void expect_malformed(const std::string& header, size_t data_bytes, std::string_view problem) {
    const fs::path path = write_raw(header, data_bytes);
    SCOPED_TRACE(header);
    expect_error([&] { SafetensorsFile f(path); }, {path.string(), problem});
  }

  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTripsDtypesShapesAndMetadata) {
  std::vector<float> f32 = {1.5f, -2.f, 3.25f, 0.f, 1e-8f, -7.f};
  std::vector<double> f64 = {1e300, -1e-300, 0.1, 2, 3};
  std::vector<int32_t> i32 = {-4, -3, -2, -1, 0, 1, 2, 2147483647};
  std::vector<int64_t> i64 = {-(int64_t{1} << 62), 0, 5};
  std::vector<uint16_t> bf16 = {0x3f80, 0xc020, 0x0000, 0x7f80};  // 1, -2.5, 0, inf
  std::vector<uint16_t> f16 = {0x3c00, 0xc100, 0x7bff};             // 1, -2.5, 65504
  std::vector<float> scalar = {42.f};
  std::vector<float> nothing;

  SafetensorsWriter w;
  w.add("f32", host_tensor(f32, {2, 3}));
  w.add("f64", host_tensor(f64, {5}));
  w.add("i32", host_tensor(i32, {2, 2, 2}));
  w.add("i64", host_tensor(i64, {3}));
  w.add("bf16", Tensor{bf16.data(), {2, 2}, DType::BF16, Device::CPU});
  w.add("f16", Tensor{f16.data(), {1, 1, 1, 3}, DType::F16, Device::CPU});
  w.add("scalar", host_tensor(scalar, Shape{}));
  w.add("empty", host_tensor(nothing, {0, 4}));
  w.set_metadata("format", "pt");
  w.set_metadata("step", "123");
  const fs::path path = file("model.safetensors");
  w.write(path);

  const SafetensorsFile f(path);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"f32", "f64", "i32", "i64", "bf16", "f16", "scalar", "empty"}));
  EXPECT_EQ(f.metadata(), (SafetensorsMetadata{{"format", "pt"}, {"step", "123"}}));
  EXPECT_TRUE(f.has("i64"));
  EXPECT_FALSE(f.has("i65"));
  EXPECT_EQ(f.entry("bf16").dtype, DType::BF16);
  EXPECT_EQ(f.entry("i32").shape, (Shape{2, 2, 2}));
  EXPECT_EQ(f.entry("scalar").shape.ndim, 0);
  EXPECT_EQ(f.entry("f64").begin, f32.size() * sizeof(float));

  const auto expect_round_trip = [&](const char* name, const auto& original, DType dtype) {
    std::vector<std::remove_cvref_t<decltype(original[0])>> back(original.size());
    f.read_into(name, Tensor{back.data(), f.entry(name).shape, dtype, Device::CPU});
    EXPECT_EQ(back, original) << name;
  };
  expect_round_trip("f32", f32, DType::F32);
  expect_round_trip("f64", f64, DType::F64);
  expect_round_trip("i32", i32, DType::I32);
  expect_round_trip("i64", i64, DType::I64);
  expect_round_trip("bf16", bf16, DType::BF16);
  expect_round_trip("f16", f16, DType::F16);
  expect_round_trip("scalar", scalar, DType::F32);
  expect_round_trip("empty", nothing, DType::F32);
}

TEST_F(SafetensorsTest, DataStartsEightByteAligned) {
  std::vector<double> v = {1, 2, 3};
  for (const char* name : {"a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh"}) {
    SafetensorsWriter w;
    w.add(name, host_tensor(v, {3}));
    w.write(file("aligned.safetensors"));
    std::ifstream in(file("aligned.safetensors"), std::ios::binary);
    unsigned char length[8];
    in.read(reinterpret_cast<char*>(length), 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t{length[i]} << (8 * i);
    EXPECT_EQ((8 + n) % 8, 0u) << name;
    EXPECT_EQ(SafetensorsFile(file("aligned.safetensors")).entry(name).shape, Shape{3});
  }
}

TEST_F(SafetensorsTest, AtomicWriteReplacesTheFileAndLeavesNoTemporary) {
  std::vector<float> first = {1, 2}, second = {3, 4, 5};
  const fs::path path = file("ckpt.safetensors");
  SafetensorsWriter a, b;
  a.add("w", host_tensor(first, {2}));
  b.add("w", host_tensor(second, {3}));
  a.write(path);
  b.write(path);
  std::vector<std::string> listing;
  for (const auto& e : fs::directory_iterator(dir_)) listing.push_back(e.path().filename().string());
  EXPECT_EQ(listing, std::vector<std::string>{"ckpt.safetensors"});
  std::vector<float> back(3);
  SafetensorsFile(path).read_into("w", host_tensor(back, {3}));
  EXPECT_EQ(back, second);
}

TEST_F(SafetensorsTest, UnwritableDestinationThrowsAndLeavesNoTemporary) {
  std::vector<float> v = {1};
  SafetensorsWriter w;
  w.add("w", host_tensor(v, {1}));
  expect_error([&] { w.write(dir_ / "missing_dir" / "x.safetensors"); }, {"cannot create", "x.safetensors.tmp"});
  const fs::path directory = file("a_directory");
  fs::create_directories(directory);
  expect_error([&] { w.write(directory); }, {"cannot rename"});
  EXPECT_FALSE(fs::exists(file("a_directory.tmp")));
}

TEST_F(SafetensorsTest, WriterRejectsDuplicateAndReservedNames) {
  std::vector<float> v = {1};
  SafetensorsWriter w;
  w.add("w", host_tensor(v, {1}));
  expect_error([&] { w.add("w", host_tensor(v, {1})); }, {"'w' added twice"});
  expect_error([&] { w.add("__metadata__", host_tensor(v, {1})); }, {"reserved"});
  expect_error([&] { w.add("gpu", Tensor{v.data(), {1}, DType::F32, Device::CUDA}); }, {"CPU"});
}

TEST_F(SafetensorsTest, ReadConvertsBetweenF32AndF64) {
  std::vector<float> f32 = {0.1f, -3.5f, 1e30f};
  std::vector<double> f64 = {0.1, -3.5, 1e-3};
  SafetensorsWriter w;
  w.add("f32", host_tensor(f32, {3}));
  w.add("f64", host_tensor(f64, {3}));
  w.write(file("mixed.safetensors"));
  const SafetensorsFile f(file("mixed.safetensors"));

  std::vector<double> widened(3);
  f.read_into("f32", host_tensor(widened, {3}));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(widened[i], static_cast<double>(f32[i]));
  std::vector<float> narrowed(3);
  f.read_into("f64", host_tensor(narrowed, {3}));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(narrowed[i], static_cast<float>(f64[i]));
}

TEST_F(SafetensorsTest, ReadIntoRejectsWrongShapeDtypeAndName) {
  std::vector<int32_t> v = {1, 2, 3, 4, 5, 6};
  SafetensorsWriter w;
  w.add("ids", host_tensor(v, {2, 3}));
  w.write(file("ids.safetensors"));
  const SafetensorsFile f(file("ids.safetensors"));
  std::vector<int32_t> wrong_shape(6);
  expect_error([&] { f.read_into("ids", host_tensor(wrong_shape, {3, 2})); },
               {"ids.safetensors", "'ids' has shape [2, 3]", "[3, 2]"});
  std::vector<float> wrong_dtype(6);
  expect_error([&] { f.read_into("ids", host_tensor(wrong_dtype, {2, 3})); }, {"is I32", "is F32"});
  expect_error([&] { f.read_into("idz", host_tensor(v, {2, 3})); }, {"ids.safetensors", "no tensor named 'idz'"});
  expect_error([&] { f.entry("idz"); }, {"no tensor named 'idz'"});
}

TEST_F(SafetensorsTest, MovedFileStaysReadable) {
  std::vector<float> v = {7, 8};
  SafetensorsWriter w;
  w.add("v", host_tensor(v, {2}));
  w.write(file("m.safetensors"));
  SafetensorsFile original(file("m.safetensors"));
  const SafetensorsFile moved = std::move(original);
  std::vector<float> back(2);
  moved.read_into("v", host_tensor(back, {2}));
  EXPECT_EQ(back, v);
}

TEST_F(SafetensorsTest, MissingOrTruncatedFile) {
  expect_error([&] { SafetensorsFile f(file("nope.safetensors")); }, {"nope.safetensors", "cannot open"});
  const fs::path tiny = file("tiny.safetensors");
  std::ofstream(tiny, std::ios::binary) << "abc";
  expect_error([&] { SafetensorsFile f(tiny); }, {"tiny.safetensors", "truncated: 3 bytes"});
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanFile) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const fs::path path = write_raw(header, 4, 1 << 20);
  expect_error([&] { SafetensorsFile f(path); }, {"raw.safetensors", "header length 1048576 is larger"});
  // A header length near 2^64 must not overflow the bounds check.
  const fs::path huge = write_raw(header, 4, INT64_MAX);
  expect_error([&] { SafetensorsFile f(huge); }, {"header length"});
}

TEST_F(SafetensorsTest, BadHeaderJson) {
  expect_malformed(R"({"a": {"dtype": "F32",)", 0, "bad header JSON");
  expect_malformed(R"([1, 2, 3])", 0, "expected an object");
  expect_malformed(R"({"a": 5})", 0, "'a': entry must be a JSON object");
}

TEST_F(SafetensorsTest, EntryMissingAField) {
  expect_malformed(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4, "tensor 'a' has no 'dtype'");
  expect_malformed(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4, "tensor 'a' has no 'shape'");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[1]}})", 4, "tensor 'a' has no 'data_offsets'");
}

TEST_F(SafetensorsTest, BadDtypeOrShape) {
  expect_malformed(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1, "unsupported dtype 'F8_E4M3'");
  expect_malformed(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4, "dtype must be a string");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, "holds something other than a size");
  expect_malformed(R"({"a":{"dtype":"F32","shape":"[1]","data_offsets":[0,4]}})", 4, "shape must be an array");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})", 4, "at most 4");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", 4,
                   "too large");
}

TEST_F(SafetensorsTest, BadDataOffsets) {
  expect_malformed(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, "out of range");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4, "out of range");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4, "must be [begin, end]");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8,
                   "span 8 bytes, but shape [3] of F32 needs 12");
  expect_malformed(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   12, "'a' and 'b' overlap");
}

TEST_F(SafetensorsTest, BadMetadata) {
  expect_malformed(R"({"__metadata__":{"step":3}})", 0, "__metadata__ value of 'step' must be a string");
  expect_malformed(R"({"__metadata__":[]})", 0, "__metadata__ must be a JSON object");
}

// Written by the official Python package (tests/fixtures/make_safetensors_fixture.py).
TEST(SafetensorsFixture, ReadsFileWrittenByPythonSafetensors) {
  const SafetensorsFile f(fs::path(MASKLM_FIXTURE_DIR) / "safetensors_small.safetensors");
  EXPECT_EQ(f.metadata(), (SafetensorsMetadata{{"format", "pt"}, {"producer", "make_safetensors_fixture.py"}}));
  EXPECT_EQ(f.names().size(), 6u);

  std::vector<float> f32(6);
  f.read_into("f32_matrix", host_tensor(f32, {2, 3}));
  EXPECT_EQ(f32, (std::vector<float>{-1.f, -0.5f, 0.f, 0.5f, 1.f, 1.5f}));
  std::vector<double> f64(4);
  f.read_into("f64_vector", host_tensor(f64, {4}));
  EXPECT_EQ(f64, (std::vector<double>{1.5, -2.25, 1e-3, 1e10}));
  std::vector<int32_t> i32(8);
  f.read_into("i32_cube", host_tensor(i32, {2, 2, 2}));
  EXPECT_EQ(i32, (std::vector<int32_t>{-4, -3, -2, -1, 0, 1, 2, 3}));
  std::vector<int64_t> i64(3);
  f.read_into("i64_vector", host_tensor(i64, {3}));
  EXPECT_EQ(i64, (std::vector<int64_t>{-(int64_t{1} << 40), 0, (int64_t{1} << 40) + 7}));
  std::vector<uint16_t> bf16(5);  // bf16 bits: the top half of the f32 bits
  f.read_into("bf16_vector", Tensor{bf16.data(), {5}, DType::BF16, Device::CPU});
  EXPECT_EQ(bf16, (std::vector<uint16_t>{0x3f80, 0xc020, 0x3e20, 0x43c0, 0x8000}));
  std::vector<double> scalar(1);
  f.read_into("f32_scalar", host_tensor(scalar, Shape{}));
  EXPECT_EQ(scalar[0], 3.25);
}

}  // namespace
}  // namespace masklm
