// ConfigReader: strict sections with errors that name the full key.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "runtime/config_reader.h"

namespace masklm {
namespace {

using nlohmann::json;
using testing::expect_error;

TEST(ConfigReader, ReadsValuesDefaultsAndSections) {
  const json root = json::parse(R"({"train": {"steps": 10, "lr": 0.5, "name": "x", "clip": true,
                                           "optim": {"beta1": 0.8}}})");
  ConfigReader r(root.at("train"), "train");
  EXPECT_EQ(r.get<int64_t>("steps", 1), 10);
  EXPECT_DOUBLE_EQ(r.get<double>("lr", 0.0), 0.5);
  EXPECT_EQ(r.require<std::string>("name"), "x");
  EXPECT_TRUE(r.get<bool>("clip", false));
  EXPECT_EQ(r.get<int64_t>("absent", 7), 7);
  ConfigReader optim(r.section("optim"), r.key_path("optim"));
  EXPECT_DOUBLE_EQ(optim.get<double>("beta1", 0.9), 0.8);
  optim.finish();
  r.finish();
  ConfigReader absent(r.section("nothing"), "train.nothing");
  EXPECT_EQ(absent.get<int64_t>("k", 3), 3);
  absent.finish();
}

TEST(ConfigReader, ErrorsNameTheKey) {
  const json root = json::parse(R"({"steps": "ten", "lr": "x", "n": 1.5, "flag": 1, "extra": 0, "sub": 3})");
  ConfigReader r(root, "train");
  expect_error([&] { r.get<int64_t>("steps", 0); }, {"train.steps", "integer"});
  expect_error([&] { r.get<double>("lr", 0.0); }, {"train.lr", "number"});
  expect_error([&] { r.get<int64_t>("n", 0); }, {"train.n", "integer"});
  expect_error([&] { r.get<bool>("flag", false); }, {"train.flag", "true or false"});
  expect_error([&] { r.require<std::string>("missing"); }, {"train.missing", "required"});
  expect_error([&] { ConfigReader(r.section("sub"), "train.sub"); }, {"train.sub", "mapping"});
  expect_error([&] { r.finish(); }, {"unknown config key 'train.extra'"});
}

}  // namespace
}  // namespace masklm
