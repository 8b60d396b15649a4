// Data-parallel training over MPI; run as `mpirun -np 2` (tests/mpi/CMakeLists.txt). Every
// rank runs every test: the 2-rank runs through world_comm(), the single-rank references
// through single_process_comm() on each rank alone.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "data_parallel_runs.h"
#include "expect_error.h"
#include "kernels/device_context.h"
#include "train/comm.h"
#include "train/data_parallel.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::fresh_dir;
using testing::param_snapshot;
using testing::relative_error;
using testing::RunResult;
using testing::small_run;
using testing::train;

// A directory every rank sees: rank 0 empties it, the others wait.
std::filesystem::path shared_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("masklm_test_" + name);
  if (world_comm()->rank() == 0) fresh_dir(name);
  world_comm()->barrier();
  return dir;
}

class MpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(world_comm()->world_size(), 2) << "run with mpirun -np 2";
  }
};

TEST(GradientBuckets, TileTheBufferFromTheLastTensor) {
  auto run = small_run();
  MlmModel model(run.config.model, Capacity{64, 64});
  const ParamLayout& grads = model.grads();
  const int64_t n = model.grad_arena().flat(DType::F32).numel();
  for (const int64_t bytes : {int64_t{1}, int64_t{4096}, int64_t{1} << 30}) {
    const auto buckets = gradient_buckets(grads, bytes);
    ASSERT_FALSE(buckets.empty());
    EXPECT_EQ(buckets.back().begin, 0);
    EXPECT_LE(buckets.front().end, n);
    for (size_t i = 1; i < buckets.size(); ++i) EXPECT_EQ(buckets[i].end, buckets[i - 1].begin);
    if (bytes == 1) {
      EXPECT_EQ(buckets.size(), grads.table.size());
    }
    if (bytes == int64_t{1} << 30) {
      EXPECT_EQ(buckets.size(), 1u);
    }
  }
}

TEST_F(MpiTest, CollectivesSumGatherAndBroadcast) {
  auto comm = world_comm();
  const int r = comm->rank();
  std::vector<float> v{1.0f + r, 10.0f * (r + 1), 3, 4};
  const Tensor t{v.data(), Shape{4}, DType::F32, Device::CPU};
  comm->all_reduce_sum(t);
  EXPECT_EQ(v, (std::vector<float>{3, 30, 6, 8}));
  v = {1.0f, 2.0f, 3.0f + r, 4.0f + r};
  comm->reduce_scatter_sum(t);  // block r of 2 holds its sum
  EXPECT_EQ(v[2 * r], r == 0 ? 2.0f : 7.0f);
  EXPECT_EQ(v[2 * r + 1], r == 0 ? 4.0f : 9.0f);
  v = {static_cast<float>(r), static_cast<float>(r), static_cast<float>(r), static_cast<float>(r)};
  comm->all_gather(t);
  EXPECT_EQ(v, (std::vector<float>{0, 0, 1, 1}));
  v.assign(4, static_cast<float>(r + 5));
  comm->broadcast(t, 1);
  EXPECT_EQ(v, std::vector<float>(4, 6.0f));
  EXPECT_TRUE(comm->any(r == 1));
  EXPECT_FALSE(comm->any(false));
}

// A bucket whose all-reduce cannot start (here: a dtype MPI is not given) throws on every
// rank and leaves no request behind, so the next collective waits only for real ones.
TEST_F(MpiTest, AnAllReduceThatCannotStartLeavesNothingToWaitFor) {
  auto comm = world_comm();
  std::vector<int64_t> ids{1, 2};
  EXPECT_THROW(comm->start_all_reduce_sum(Tensor{ids.data(), Shape{2}, DType::I64, Device::CPU}),
               Error);
  std::vector<double> v{1.0 + comm->rank()};
  comm->all_reduce_sum(Tensor{v.data(), Shape{1}, DType::F64, Device::CPU});
  EXPECT_EQ(v[0], 3.0);
}

// 2 ranks with micro-batch B each = 1 rank with micro-batch 2B (same sequences; dropout
// off since its masks depend on the micro-batch shape).
TEST_F(MpiTest, TwoRanksMatchOneRankWithTwiceTheBatch) {
  const RunResult two =
      train({"train.steps=20", "model.hidden_dropout=0", "model.attention_dropout=0",
             "train.micro_batch_size=4"},
            world_comm());
  const RunResult one =
      train({"train.steps=20", "model.hidden_dropout=0", "model.attention_dropout=0",
             "train.micro_batch_size=8"},
            single_process_comm());
  testing::expect_two_ranks_match_one(
      two, one, 1e-6,
      fmt::format("rank {}: 2 ranks vs 1 rank after 20 steps", world_comm()->rank()));
}

// Counts the all-reduces started, and forwards everything to the world's communicator.
class CountingComm : public Comm {
 public:
  int rank() const override { return world_->rank(); }
  int world_size() const override { return world_->world_size(); }
  std::string name() const override { return world_->name(); }
  void all_reduce_sum(const Tensor& buf) override { world_->all_reduce_sum(buf); }
  void start_all_reduce_sum(const Tensor& buf) override {
    ++started;
    world_->start_all_reduce_sum(buf);
  }
  void wait_all() override { world_->wait_all(); }
  void reduce_scatter_sum(const Tensor& buf) override { world_->reduce_scatter_sum(buf); }
  void all_gather(const Tensor& buf) override { world_->all_gather(buf); }
  void broadcast(const Tensor& buf, int root) override { world_->broadcast(buf, root); }
  void barrier() override { world_->barrier(); }
  void sum_host(std::span<double> values) override { world_->sum_host(values); }

  int started = 0;

 private:
  std::shared_ptr<Comm> world_ = world_comm();
};

// Buckets all-reduced during the backward pass give the bits of buckets all-reduced after
// it. Buckets of one tensor each (bucket_mib tiny), so a bucket started before backward
// finished it would miss gradient terms; two accumulated micro-batches per rank, of which
// only the last backward may start buckets; pre-LN, post-LN and the skip-corrupted model
// (whose decoder runs backward before the encoder). The last micro-batch's after_backward
// hook runs after the wait: it sees the gradients summed over the ranks, the same on both.
TEST_F(MpiTest, OverlappedReductionMatchesEndOfBackward) {
  const std::vector<std::vector<std::string>> models{
      {"model.pre_layernorm=true", "model.num_layers=2"},
      {"model.pre_layernorm=false", "model.num_layers=2"},
      {"model.encoder.skip_corrupted=true", "model.decoder.layers=1", "model.mask_token_id=3"}};
  for (const std::vector<std::string>& model : models) {
    SCOPED_TRACE(model.front());
    auto run = [&](bool overlap, TrainerHooks hooks, std::shared_ptr<Comm> comm) {
      std::vector<std::string> recipe{"train.steps=6", "train.batch_size=16", "train.bucket_mib=1e-9",
                                      overlap ? "train.overlap_comm=true" : "train.overlap_comm=false"};
      recipe.insert(recipe.end(), model.begin(), model.end());
      return train(recipe, std::move(comm), std::move(hooks));
    };
    auto counting = std::make_shared<CountingComm>();
    int started_by_first = -1, micros = 0;
    std::vector<float> last_grads;
    TrainerHooks hooks;
    hooks.after_backward = [&](int64_t step, int64_t micro, MlmModel& m) {
      if (step != 0) return;
      ++micros;
      if (micro == 0) started_by_first = counting->started;
      else last_grads = testing::arena_snapshot(m.grad_arena());
    };
    const RunResult overlapped = run(true, hooks, counting);
    EXPECT_EQ(micros, 2);
    EXPECT_EQ(started_by_first, 0);
    ASSERT_FALSE(last_grads.empty());
    std::vector<double> summed(last_grads.begin(), last_grads.end());
    world_comm()->sum_host(summed);
    size_t differ = 0;
    for (size_t i = 0; i < summed.size(); ++i) differ += summed[i] != 2.0 * last_grads[i];
    EXPECT_EQ(differ, 0u) << "the hook saw gradients not yet summed over the ranks";
    const RunResult after = run(false, {}, world_comm());
    EXPECT_EQ(overlapped.params, after.params);
    EXPECT_EQ(overlapped.losses, after.losses);
  }
}

// The last backward itself starts buckets (the reduction overlaps it), not only
// finish_reduction() after it (the trainer's hook, after the wait, cannot tell).
TEST_F(MpiTest, BucketsStartDuringTheBackward) {
  const auto run = small_run({"model.num_layers=2"});
  DeviceContext device(Device::CPU);
  Ctx& ctx = device.ctx();
  MlmModel model(run.config.model, Capacity{64, 64}, DType::F32, Device::CPU);
  model.init_weights(run.config.train.seed);
  auto counting = std::make_shared<CountingComm>();
  DataParallel dp(counting, model, ctx, /*zero1=*/false, /*bucket_bytes=*/1);
  const DropoutPlan dropout{RngKey{7, 0, 0, RngStream::HIDDEN_DROPOUT, 0}, true};
  const Batch batch = run.data.train->batch(0, 0);  // the backward reads it
  model.zero_grads(ctx);
  model.forward(ctx, batch, dropout);
  dp.start_reduction(ctx, model, 1.0);
  model.backward(ctx, dropout, dp.grads_ready());
  const int started_by_backward = counting->started;
  dp.finish_reduction();
  EXPECT_GT(started_by_backward, 0) << "no bucket started during the backward pass";
}

TEST_F(MpiTest, Zero1MatchesUnsharded) {
  // Without clipping the gradient norm does not reach the update: bitwise equal.
  const RunResult zero = train({"train.steps=20", "train.zero=1", "train.optimizer.clip_norm=0"},
                               world_comm());
  const RunResult plain = train({"train.steps=20", "train.optimizer.clip_norm=0"}, world_comm());
  EXPECT_EQ(zero.params, plain.params);
  EXPECT_EQ(zero.losses, plain.losses);
  // With clipping, the norm summed shard by shard may differ in its last bits.
  const RunResult zero_clip = train({"train.steps=20", "train.zero=1"}, world_comm());
  const RunResult plain_clip = train({"train.steps=20"}, world_comm());
  EXPECT_LE(relative_error(zero_clip.params, plain_clip.params), 1e-6);
}

// In bf16 each rank's AdamW rewrites the compute copy over its own shard only; the copy is
// refreshed from the gathered masters, so every rank computes with the same weights.
TEST_F(MpiTest, Zero1MatchesUnshardedInBf16) {
  const std::vector<std::string> recipe = {"train.steps=10", "train.optimizer.clip_norm=0",
                                           "train.precision=bf16"};
  std::vector<std::string> sharded = recipe;
  sharded.push_back("train.zero=1");
  const RunResult zero = train(sharded, world_comm());
  const RunResult plain = train(recipe, world_comm());
  EXPECT_EQ(zero.params, plain.params);
  EXPECT_EQ(zero.losses, plain.losses);
}

// fp16: an overflow on one rank reaches every rank through the summed gradients, so every
// rank skips the step and halves its loss scale, and the ranks stay identical.
TEST_F(MpiTest, Fp16OverflowOnOneRankIsSkippedOnEvery) {
  const int rank = world_comm()->rank();
  TrainerHooks hooks;
  hooks.after_backward = [rank](int64_t step, int64_t micro, MlmModel& model) {
    if (rank == 1 && step == 1 && micro == 0)
      model.grads().params.head_bias.ptr<float>()[0] = std::numeric_limits<float>::infinity();
  };
  std::vector<bool> skipped;
  hooks.on_step = [&](const StepResult& r) { skipped.push_back(r.skipped); };
  // Reduced after the backward, so the hook's inf is part of the sum.
  auto run = small_run({"train.steps=4", "train.precision=fp16", "train.overlap_comm=false"});
  Trainer trainer(run.config, *run.data.train, nullptr, {}, hooks, nullptr, world_comm());
  trainer.run();
  EXPECT_EQ(skipped, (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(trainer.state().loss_scaler.at("scale").get<double>(), 32768.0);
  double checksum = 0;
  for (float x : param_snapshot(trainer.model())) checksum += x;
  double both = checksum;
  world_comm()->sum_host({&both, 1});
  EXPECT_EQ(both, 2 * checksum) << "the ranks' parameters differ";
}

TEST_F(MpiTest, Zero1ShardsTheOptimizerState) {
  auto run = small_run({"train.zero=1"});
  Trainer trainer(run.config, *run.data.train, nullptr, {}, {}, nullptr, world_comm());
  const int64_t n = trainer.model().param_arena().flat(DType::F32).numel();
  const ElemRange owned = trainer.optimizer().owned();
  EXPECT_LE(owned.size(), n / 2 + 1);
  EXPECT_EQ(trainer.optimizer().first_moment().numel(), owned.size());
}

// A checkpoint written by 2 ranks at step 6 of 12, plain or ZeRO-1, resumed on 2 ranks
// (bitwise the uninterrupted run) and on 1 rank (bitwise the saved state; the continuation
// sums in another order, so it matches to the 2-vs-1-rank tolerance), with and without
// ZeRO-1.
TEST_F(MpiTest, CheckpointFromTwoRanksResumesOnTwoAndOne) {
  const int rank = world_comm()->rank();
  for (const auto& [tag, written_by] :
       {std::pair{"plain", "train.zero=0"}, std::pair{"zero1", "train.zero=1"}}) {
    SCOPED_TRACE(written_by);
    const auto original = shared_dir(std::string("mpi_resume_original_") + tag);
    const auto resumed = shared_dir(std::string("mpi_resume_two_") + tag);
    const std::initializer_list<std::string> recipe{"train.steps=12", "train.checkpoint_every=6",
                                                    "train.keep_last=4", written_by,
                                                    "train.micro_batch_size=4"};

    std::vector<float> at_step6;
    std::vector<float> uninterrupted;
    {
      auto run = small_run(recipe);
      TrainerHooks hooks;
      Trainer* self = nullptr;
      hooks.on_step = [&](const StepResult& r) {
        if (r.step == 5) at_step6 = param_snapshot(self->model());
      };
      Trainer trainer(run.config, *run.data.train, nullptr, original, hooks, nullptr, world_comm());
      self = &trainer;
      trainer.run();
      uninterrupted = param_snapshot(trainer.model());
    }
    const auto checkpoint = checkpoint_path(original / "checkpoints", 6);
    world_comm()->barrier();
    ASSERT_TRUE(std::filesystem::is_directory(checkpoint));

    {
      auto run = small_run(recipe);
      Trainer trainer(run.config, *run.data.train, nullptr, resumed, {}, nullptr, world_comm());
      trainer.resume_from(checkpoint);
      EXPECT_EQ(param_snapshot(trainer.model()), at_step6);
      trainer.run();
      EXPECT_EQ(param_snapshot(trainer.model()), uninterrupted) << "rank " << rank;
    }
    for (const char* zero : {"train.zero=0", "train.zero=1"}) {
      // Two accumulated micro-batches of 4: the same dropout draws as the 2 ranks had.
      auto run = small_run({"train.steps=12", "train.micro_batch_size=4", zero});
      Trainer trainer(run.config, *run.data.train, nullptr, {}, {}, nullptr, single_process_comm());
      trainer.resume_from(checkpoint);
      EXPECT_EQ(trainer.step(), 6);
      EXPECT_EQ(param_snapshot(trainer.model()), at_step6);
      trainer.run();
      EXPECT_LE(relative_error(param_snapshot(trainer.model()), uninterrupted), 1e-6) << zero;
    }
  }
}

// A run directory that is not shared (each rank its own, as on nodes without a shared
// filesystem): rank 0 finds a checkpoint, rank 1 none. Both refuse to go on, rather than
// train from different weights.
TEST_F(MpiTest, RanksThatFindDifferentCheckpointsRefuseToResume) {
  const int rank = world_comm()->rank();
  const auto dir = fresh_dir(fmt::format("mpi_unshared_rank{}", rank));
  auto run = small_run({"train.steps=2"});
  if (rank == 0) {
    Trainer alone(run.config, *run.data.train, nullptr, dir, {}, nullptr, single_process_comm());
    alone.train_step();
    alone.save_checkpoint();
  }
  Trainer trainer(run.config, *run.data.train, nullptr, dir, {}, nullptr, world_comm());
  testing::expect_error([&] { trainer.resume(); },
                        {"did not resume from the same checkpoint",
                         fmt::format("rank {} is at step {}", rank, rank == 0 ? 1 : 0)});
}

// Rank 1's checkpoint cannot be read (its weights file is cut short): rank 1 fails with
// that error, and rank 0, whose checkpoint loads, stops too instead of waiting for it.
TEST_F(MpiTest, ARankThatCannotLoadItsCheckpointStopsEveryRank) {
  const int rank = world_comm()->rank();
  const auto dir = fresh_dir(fmt::format("mpi_unreadable_rank{}", rank));
  auto run = small_run({"train.steps=2"});
  {
    Trainer alone(run.config, *run.data.train, nullptr, dir, {}, nullptr, single_process_comm());
    alone.train_step();
    alone.save_checkpoint();
  }
  if (rank == 1)
    std::filesystem::resize_file(checkpoint_path(dir / "checkpoints", 1) / "model.safetensors", 10);
  Trainer trainer(run.config, *run.data.train, nullptr, dir, {}, nullptr, world_comm());
  if (rank == 1)
    EXPECT_THROW(trainer.resume(), Error);
  else
    testing::expect_error([&] { trainer.resume(); }, "did not resume from the same checkpoint");
}

// Not a test on its own: tests/mpi/job_ends.cmake runs it with MASKLM_TEST_KILL_RANK=1
// and checks that the survivor ends within a bounded time.
TEST_F(MpiTest, RankDeathEndsTheJob) {
  const char* kill_rank = std::getenv("MASKLM_TEST_KILL_RANK");
  if (!kill_rank) GTEST_SKIP() << "run by tests/mpi/job_ends.cmake";
  auto run = small_run({"train.steps=100000", "train.micro_batch_size=4"});
  TrainerHooks hooks;
  hooks.on_step = [&](const StepResult& r) {
    if (r.step == 3 && world_comm()->rank() == std::atoi(kill_rank)) std::raise(SIGKILL);
  };
  Trainer trainer(run.config, *run.data.train, nullptr, {}, hooks, nullptr, world_comm());
  trainer.run();
  FAIL() << "training went on after a rank died";
}

// Not a test on its own: tests/mpi/job_ends.cmake runs it with MASKLM_TEST_HANG_RANK=1 and
// checks that rank 0's watchdog ends the job with its message (when a rank dies, mpiexec
// usually ends the job before the watchdog can).
TEST_F(MpiTest, HungPeerEndsTheJob) {
  const int hung = testing::rank_told_to_hang();
  if (hung < 0) GTEST_SKIP() << "run by tests/mpi/job_ends.cmake";
  std::vector<float> values(8, 1.0f);
  const Tensor buf{values.data(), Shape{8}, DType::F32, Device::CPU};
  if (world_comm()->rank() == hung) testing::hang();
  world_comm()->all_reduce_sum(buf);
  FAIL() << "the all-reduce returned although rank " << hung << " never joined it";
}

}  // namespace
}  // namespace masklm
