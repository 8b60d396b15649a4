// check_resumed_recipe: which recipe changes a resume accepts and how a refusal reads.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "train/config_file.h"
#include "train/resume_check.h"

namespace masklm {
namespace {

RunConfig tiny_recipe() {
  return parse_run_config(load_yaml_file(std::string(MASKLM_SOURCE_DIR) + "/configs/tiny.yaml"));
}

TEST(ResumeCheck, SameRecipeAndCadenceChangesAreAccepted) {
  const RunConfig started = tiny_recipe();
  EXPECT_NO_THROW(check_resumed_recipe(started, started));
  RunConfig resumed = started;
  resumed.train.steps = started.train.steps * 2;
  resumed.train.log_every = started.train.log_every + 1;
  resumed.train.eval_every = started.train.eval_every + 3;
  resumed.train.checkpoint_every = started.train.checkpoint_every + 5;
  resumed.train.keep_last = started.train.keep_last + 1;
  resumed.train.attention = AttentionKernel::REFERENCE;  // the kernel, not the experiment
  EXPECT_NO_THROW(check_resumed_recipe(started, resumed));
}

TEST(ResumeCheck, EveryOtherChangeIsNamedWithBothValues) {
  const RunConfig started = tiny_recipe();
  ASSERT_EQ(started.data.at("mask_rate"), 0.15);  // the synthetic task masks by itself
  RunConfig resumed = started;
  resumed.data["mask_rate"] = 0.4;
  testing::expect_error([&] { check_resumed_recipe(started, resumed); },
                        "data.mask_rate: 0.15 -> 0.4");
  resumed = started;
  resumed.masking["mask_rate"] = 0.4;  // a section the recipe did not have
  testing::expect_error([&] { check_resumed_recipe(started, resumed); },
                        "masking.mask_rate: (unset) -> 0.4");
  resumed = started;
  resumed.model.num_layers = started.model.num_layers + 1;
  resumed.train.seed = started.train.seed + 7;
  const std::string layers = "model.num_layers: " + std::to_string(started.model.num_layers) +
                             " -> " + std::to_string(resumed.model.num_layers);
  const std::string seed = "train.seed: " + std::to_string(started.train.seed) + " -> " +
                           std::to_string(resumed.train.seed);
  testing::expect_error([&] { check_resumed_recipe(started, resumed); }, layers);
  testing::expect_error([&] { check_resumed_recipe(started, resumed); }, seed);
  resumed = started;
  resumed.train.precision = DType::BF16;  // other numerics: another experiment
  testing::expect_error([&] { check_resumed_recipe(started, resumed); },
                        "train.precision: \"fp32\" -> \"bf16\"");
}

}  // namespace
}  // namespace masklm
