// What a run reports: metrics.jsonl (one JSON object per logged step and per evaluation),
// a TensorBoard event file with the same scalars, and a progress line on the terminal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <memory>

#include "train/evaluate.h"
#include "train/tensorboard.h"

namespace masklm {

// Training metrics averaged over the steps since the last record.
struct TrainRecord {
  int64_t step = 0;  // steps done (1-based count)
  int64_t total_steps = 0;
  double loss = 0, accuracy = 0;
  double lr = 0, grad_norm = 0;  // of the last step
  double tokens_per_second = 0;
  double model_flops_per_second = 0;  // training FLOPs of the model (train/flops.h) per second
  double eta_seconds = 0;
  int64_t skipped_steps = 0;  // since the start of the run
  std::optional<double> loss_scale;  // fp16 runs: the dynamic loss scale after the last step
};

class RunLog {
 public:
  // Appends to run_dir/metrics.jsonl and starts a new event file in run_dir; `terminal`
  // receives the progress lines (nullptr: none).
  RunLog(const std::filesystem::path& run_dir, FILE* terminal);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // Drops the records of steps after `step`, where a run (re)starts: a run killed after its
  // last checkpoint, or before its first (step 0), logged them and they would be logged
  // again. metrics.jsonl is rewritten atomically (a line cut off by the kill goes too); the
  // new event file marks a session start at step + 1, so TensorBoard drops them as well.
  void drop_records_after(int64_t step);

  void train(const TrainRecord& r);
  void eval(int64_t step, const EvalResult& r);

 private:
  void open_metrics();
  void append_jsonl(const std::string& line);

  FILE* metrics_ = nullptr;
  FILE* terminal_;
  std::filesystem::path metrics_path_;
  std::unique_ptr<EventWriter> events_;
};

// "1h02m", "3m05s", "42s".
std::string format_duration(double seconds);

}  // namespace masklm
