// The trainer: gradient accumulation weighted by predictions, the polynomial LR decay,
// non-finite steps (skipped, then a stop after max_bad_steps in a row), evaluation,
// metrics.jsonl, the event file, the progress line and the stop request.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>

#include "expect_error.h"
#include "runtime/file_io.h"
#include "train/stop_signal.h"
#include "train/tensorboard.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::fresh_dir;
using testing::param_snapshot;
using testing::read_jsonl;
using testing::small_run;

TEST(LrSchedule, PolynomialDecay) {
  LrSchedule s{2.0, 2, 12, LrDecay::POLYNOMIAL, 0.25, 2.0};
  EXPECT_DOUBLE_EQ(s.at(1), 2.0);
  // After warmup, (peak - floor) * (1 - progress)^2 + floor, floor = 0.5.
  EXPECT_DOUBLE_EQ(s.at(7), 0.5 + 1.5 * 0.25);  // progress 0.5
  EXPECT_DOUBLE_EQ(s.at(12), 0.5);
  s.power = 1.0;  // power 1 is the linear decay
  const LrSchedule linear{2.0, 2, 12, LrDecay::LINEAR, 0.25};
  for (int64_t step : {2, 5, 9, 12}) EXPECT_DOUBLE_EQ(s.at(step), linear.at(step));
  EXPECT_EQ(lr_decay_from_name("polynomial"), LrDecay::POLYNOMIAL);
}

TEST(Trainer, AccumulationWeightsMicroBatchesByPredictions) {
  // One micro-batch of 8 sequences is the reference: its loss is the mean over all of the
  // batch's predictions. Four micro-batches of 2 hold the same sequences with different
  // prediction counts, so only prediction-weighted accumulation reproduces it.
  auto whole = small_run(
      {"train.micro_batch_size=8", "model.hidden_dropout=0.0", "model.attention_dropout=0.0"});
  auto split = small_run(
      {"train.micro_batch_size=2", "model.hidden_dropout=0.0", "model.attention_dropout=0.0"});
  std::set<int64_t> counts;
  for (int64_t k = 0; k < 4; ++k) counts.insert(split.data.train->batch(0, k).num_predictions());
  ASSERT_GT(counts.size(), 1u) << "the test needs micro-batches with different prediction counts";

  Trainer a(whole.config, *whole.data.train, nullptr, "");
  Trainer b(split.config, *split.data.train, nullptr, "");
  for (int step = 0; step < 3; ++step) {
    const StepResult ra = a.train_step(), rb = b.train_step();
    EXPECT_EQ(ra.counts.predictions, rb.counts.predictions);
    EXPECT_NEAR(ra.loss, rb.loss, 1e-5 * ra.loss);
    EXPECT_NEAR(ra.grad_norm, rb.grad_norm, 1e-4 * ra.grad_norm);
  }
  const auto pa = param_snapshot(a.model()), pb = param_snapshot(b.model());
  double max_diff = 0;
  for (size_t i = 0; i < pa.size(); ++i)
    max_diff = std::max(max_diff, std::abs(double(pa[i]) - pb[i]));
  EXPECT_LT(max_diff, 1e-5);
}

// Puts a NaN into one gradient at the chosen steps.
TrainerHooks poison_gradients(std::function<bool(int64_t)> at_step) {
  TrainerHooks hooks;
  hooks.after_backward = [at_step](int64_t step, int64_t micro, MlmModel& model) {
    if (at_step(step) && micro == 0)
      model.grads().params.head_bias.ptr<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  };
  return hooks;
}

TEST(Trainer, NonFiniteGradientSkipsTheStepAndLeavesParametersAlone) {
  auto run = small_run();
  Trainer trainer(run.config, *run.data.train, nullptr, "",
                  poison_gradients([](int64_t s) { return s == 2; }));
  trainer.train_step();
  trainer.train_step();
  const auto before = param_snapshot(trainer.model());
  const StepResult bad = trainer.train_step();
  EXPECT_TRUE(bad.skipped);
  EXPECT_TRUE(std::isnan(bad.loss));
  EXPECT_EQ(param_snapshot(trainer.model()), before);
  EXPECT_EQ(trainer.optimizer().steps_taken(), 2);  // no Adam step, so no bias-correction step
  EXPECT_EQ(trainer.step(), 3);                     // but the data moved on
  const StepResult good = trainer.train_step();
  EXPECT_FALSE(good.skipped);
  EXPECT_TRUE(std::isfinite(good.loss));
  EXPECT_NE(param_snapshot(trainer.model()), before);
  EXPECT_EQ(trainer.state().skipped_steps, 1);
  EXPECT_EQ(trainer.state().bad_steps_in_row, 0);
}

TEST(Trainer, StopsAfterMaxBadStepsInARowWithTheLastCheckpointIntact) {
  auto run = small_run({"train.steps=20", "train.max_bad_steps=3", "train.checkpoint_every=2"});
  const auto dir = fresh_dir("bad_steps");
  // From step 3 on every gradient is poisoned: steps 3, 4, 5 are skipped, then the run stops.
  Trainer trainer(run.config, *run.data.train, nullptr, dir,
                  poison_gradients([](int64_t s) { return s >= 3; }));
  testing::expect_error([&] { trainer.run(); },
                        {"3 non-finite training steps in a row", "steps 3 to 5"});
  EXPECT_EQ(trainer.step(), 6);
  // Checkpoints at steps 2 and 4: the one at 4 was written after a skipped step, whose
  // parameters equal step 3's. Both hold finite values equal to the live parameters.
  const auto latest = latest_checkpoint(trainer.checkpoints_dir());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, checkpoint_path(trainer.checkpoints_dir(), 4));
  auto fresh_run = small_run({"train.steps=20"});
  Trainer reloaded(fresh_run.config, *fresh_run.data.train, nullptr, dir);
  ASSERT_TRUE(reloaded.resume());
  const auto params = param_snapshot(reloaded.model());
  EXPECT_EQ(params, param_snapshot(trainer.model()));
  for (float p : params) ASSERT_TRUE(std::isfinite(p));
}

TEST(Trainer, NonFiniteLossIsNeverTrainedOn) {
  // A NaN weight makes every forward non-finite: the steps are skipped and the run stops.
  auto run = small_run({"train.max_bad_steps=2"});
  Trainer trainer(run.config, *run.data.train, nullptr, "");
  trainer.train_step();
  trainer.model().params().params.emb_ln_weight.ptr<float>()[0] =
      std::numeric_limits<float>::quiet_NaN();
  const auto m_v = trainer.optimizer().state_arena().flat(DType::F32);
  const std::vector<float> state(m_v.ptr<float>(), m_v.ptr<float>() + m_v.numel());
  EXPECT_TRUE(trainer.train_step().skipped);
  testing::expect_error([&] { trainer.train_step(); }, "2 non-finite training steps in a row");
  EXPECT_EQ(std::vector<float>(m_v.ptr<float>(), m_v.ptr<float>() + m_v.numel()),
            state);  // moments untouched
}

TEST(Trainer, RunWritesMetricsEventsProgressAndLearns) {
  auto run = small_run({"train.steps=200", "train.log_every=50", "train.eval_every=100",
                        "train.eval_batches=8", "model.hidden_dropout=0.0",
                        "model.attention_dropout=0.0"});
  const auto dir = fresh_dir("metrics");
  FILE* terminal = std::tmpfile();
  std::vector<double> losses;
  TrainerHooks hooks;
  hooks.on_step = [&](const StepResult& r) { losses.push_back(r.loss); };
  Trainer trainer(run.config, *run.data.train, run.data.validation.get(), dir, hooks, terminal);
  const EvalResult initial = trainer.evaluate();
  EXPECT_EQ(trainer.run(), TrainOutcome::FINISHED);
  ASSERT_EQ(losses.size(), 200u);

  const auto records = read_jsonl(dir / "metrics.jsonl");
  std::vector<int64_t> train_steps, eval_steps;
  for (const auto& r : records)
    (r.at("kind") == "train" ? train_steps : eval_steps).push_back(r.at("step"));
  EXPECT_EQ(train_steps, (std::vector<int64_t>{50, 100, 150, 200}));
  EXPECT_EQ(eval_steps, (std::vector<int64_t>{100, 200}));
  // A train record averages the losses of its window.
  double window = 0;
  for (int i = 150; i < 200; ++i) window += losses[static_cast<size_t>(i)];
  EXPECT_NEAR(records[4].at("loss").get<double>(), window / 50, 1e-12);
  const auto& last_eval = records.back();
  EXPECT_NEAR(last_eval.at("perplexity").get<double>(),
              std::exp(last_eval.at("loss").get<double>()), 1e-9);
  // It learned (the tiny model is slow on this task, but 200 steps are clear).
  EXPECT_LT(last_eval.at("loss").get<double>(), initial.loss - 0.1);
  EXPECT_LT(records[4].at("loss").get<double>(), records[0].at("loss").get<double>() - 0.1);

  int event_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    event_files += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(event_files, 1);
  EXPECT_TRUE(std::filesystem::is_directory(checkpoint_path(trainer.checkpoints_dir(), 200)));

  std::rewind(terminal);
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), terminal));
  std::fclose(terminal);
  for (const char* part : {"step    200/200", "loss ", "lr ", "tok/s", "eta ", "eval at step 100"})
    EXPECT_NE(text.find(part), std::string::npos) << part << " not in:\n" << text;
}

// Killed during step 6 after logging it, before its checkpoint (with a last line cut off):
// resuming from step 3 logs steps 4 to 6 again, and each step is in metrics.jsonl once.
TEST(Trainer, ResumeDropsTheRecordsAfterItsCheckpoint) {
  auto run = small_run({"train.steps=6", "train.checkpoint_every=3", "train.eval_every=3"});
  const auto dir = fresh_dir("resume_metrics");
  {
    Trainer first(run.config, *run.data.train, run.data.validation.get(), dir);
    ASSERT_EQ(first.run(), TrainOutcome::FINISHED);
  }
  const std::vector<nlohmann::json> uninterrupted = read_jsonl(dir / "metrics.jsonl");
  std::filesystem::remove_all(checkpoint_path(dir / "checkpoints", 6));
  std::ofstream(dir / "metrics.jsonl", std::ios::app) << R"({"kind": "train", "st)";

  Trainer resumed(run.config, *run.data.train, run.data.validation.get(), dir);
  ASSERT_TRUE(resumed.resume());
  ASSERT_EQ(resumed.step(), 3);
  ASSERT_EQ(resumed.run(), TrainOutcome::FINISHED);
  const std::vector<nlohmann::json> records = read_jsonl(dir / "metrics.jsonl");
  std::vector<std::pair<std::string, int64_t>> steps;
  for (const auto& r : records) steps.emplace_back(r.at("kind"), r.at("step"));
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"train", 1}, {"train", 2}, {"train", 3}, {"eval", 3},
      {"train", 4}, {"train", 5}, {"train", 6}, {"eval", 6}};
  EXPECT_EQ(steps, expected);
  // The records of steps 4 to 6 are the resumed run's, which match the uninterrupted ones.
  ASSERT_EQ(uninterrupted.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i)
    EXPECT_EQ(records[i].at("loss"), uninterrupted[i].at("loss")) << i;
  // The resumed run's event file starts a session at step 4, so TensorBoard drops what the
  // first run logged from there on (tests/test_tensorboard.cpp shows it with TensorBoard).
  const std::string start_at_4 = encode_session_start_event(0.0, 4).substr(9);  // no wall time
  bool marked = false;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    if (!file.path().filename().string().starts_with("events.out.tfevents")) continue;
    std::ifstream in(file.path(), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    marked |= bytes.find(start_at_4) != std::string::npos;
  }
  EXPECT_TRUE(marked) << "no event file marks the restart at step 4";
}

// A checkpoint between two train records (step 4, records every 3 steps) keeps the partial
// window in trainer_state.json: the resumed run's record at step 6 averages steps 4 to 6 as
// the uninterrupted run's does, not only 5 and 6.
TEST(Trainer, ResumeBetweenRecordsLogsTheUninterruptedRecords) {
  auto run = small_run({"train.steps=7", "train.log_every=3", "train.checkpoint_every=2",
                        "train.keep_last=10", "train.eval_every=0"});
  const auto dir = fresh_dir("resume_window");
  {
    Trainer first(run.config, *run.data.train, nullptr, dir);
    ASSERT_EQ(first.run(), TrainOutcome::FINISHED);
  }
  const std::vector<nlohmann::json> uninterrupted = read_jsonl(dir / "metrics.jsonl");
  for (int64_t step : {6, 7})
    std::filesystem::remove_all(checkpoint_path(dir / "checkpoints", step));

  Trainer resumed(run.config, *run.data.train, nullptr, dir);
  ASSERT_TRUE(resumed.resume());
  ASSERT_EQ(resumed.step(), 4);
  ASSERT_EQ(resumed.run(), TrainOutcome::FINISHED);
  const std::vector<nlohmann::json> records = read_jsonl(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 3u);  // steps 3, 6, 7
  ASSERT_EQ(uninterrupted.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i)
    for (const char* key : {"kind", "step", "loss", "accuracy", "lr", "grad_norm", "skipped_steps"})
      EXPECT_EQ(records[i].at(key), uninterrupted[i].at(key)) << "record " << i << ": " << key;
}

// A checkpoint written before trainer_state.json held the log window resumes with an empty one.
TEST(Trainer, ResumeFromACheckpointWithoutLogWindow) {
  auto run = small_run(
      {"train.steps=4", "train.log_every=3", "train.checkpoint_every=2", "train.eval_every=0"});
  const auto dir = fresh_dir("resume_old_state");
  {
    Trainer first(run.config, *run.data.train, nullptr, dir);
    for (int i = 0; i < 2; ++i) first.train_step();
    first.save_checkpoint();
  }
  const auto state_file = checkpoint_path(dir / "checkpoints", 2) / "trainer_state.json";
  nlohmann::json state = read_json_file(state_file);
  ASSERT_TRUE(state.contains("log_window"));
  state.erase("log_window");
  std::ofstream(state_file) << state.dump();
  Trainer resumed(run.config, *run.data.train, nullptr, dir);
  ASSERT_TRUE(resumed.resume());
  EXPECT_EQ(resumed.state().log_window.steps, 0);
  EXPECT_EQ(resumed.run(), TrainOutcome::FINISHED);
}

// A run killed before its first checkpoint starts over: its records go.
TEST(Trainer, FreshRunDropsTheRecordsOfAKilledStart) {
  auto run = small_run({"train.steps=2"});
  const auto dir = fresh_dir("fresh_metrics");
  std::ofstream(dir / "metrics.jsonl") << R"({"kind": "train", "step": 1, "loss": 9})" "\n"
                                       << R"({"kind": "train", "step": 2, "loss": 9})" "\n";
  Trainer trainer(run.config, *run.data.train, nullptr, dir);
  ASSERT_EQ(trainer.run(), TrainOutcome::FINISHED);
  const std::vector<nlohmann::json> records = read_jsonl(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_EQ(records[static_cast<size_t>(i)].at("step"), i + 1);
    EXPECT_NE(records[static_cast<size_t>(i)].at("loss"), 9);
  }
}

TEST(Trainer, StopRequestCheckpointsAtTheEndOfTheStep) {
  auto run = small_run({"train.steps=50"});
  const auto dir = fresh_dir("stop");
  TrainerHooks hooks;
  hooks.on_step = [](const StepResult& r) {
    if (r.step == 4) request_stop(SIGTERM);
  };
  Trainer trainer(run.config, *run.data.train, nullptr, dir, hooks);
  const TrainOutcome outcome = trainer.run();
  clear_stop_request();
  EXPECT_EQ(outcome, TrainOutcome::STOPPED);
  EXPECT_EQ(trainer.step(), 5);
  EXPECT_EQ(latest_checkpoint(trainer.checkpoints_dir()),
            checkpoint_path(trainer.checkpoints_dir(), 5));
}

}  // namespace
}  // namespace masklm
