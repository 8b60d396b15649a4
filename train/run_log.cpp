#include "train/run_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/log.h"

namespace masklm {

namespace {

// A record's step; nullopt for a line that is not a record (cut off mid-write).
std::optional<int64_t> record_step(const std::string& line) {
  const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
  if (!record.is_object() || !record.contains("step") || !record["step"].is_number_integer())
    return std::nullopt;
  return record["step"].get<int64_t>();
}

}  // namespace

RunLog::RunLog(const std::filesystem::path& run_dir, FILE* terminal)
    : terminal_(terminal), metrics_path_(run_dir / "metrics.jsonl") {
  open_metrics();
  events_ = std::make_unique<EventWriter>(run_dir);
}

RunLog::~RunLog() {
  if (metrics_) std::fclose(metrics_);
}

void RunLog::open_metrics() {
  metrics_ = std::fopen(metrics_path_.c_str(), "a");
  MASKLM_CHECK(metrics_ != nullptr, "cannot open '{}': {}", metrics_path_.string(),
               std::strerror(errno));
}

void RunLog::drop_records_after(int64_t step) {
  events_->write_session_start(step + 1);
  std::string text;
  {
    std::ifstream in(metrics_path_, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string kept;
  int64_t dropped = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const std::optional<int64_t> s = record_step(line);
    if (s && *s <= step)
      kept += line + "\n";
    else
      ++dropped;
  }
  // Also rewritten when only the last newline is missing, so the next record starts a line.
  if (kept == text) return;
  std::fclose(metrics_);
  metrics_ = nullptr;
  write_file_atomic(metrics_path_, kept);
  open_metrics();
  if (dropped > 0)
    log_info("{}: dropped {} records after step {}, which this run logs again",
             metrics_path_.string(), dropped, step);
}

void RunLog::append_jsonl(const std::string& line) {
  // Flushed per line, like the event file: a killed run keeps every record it printed.
  MASKLM_CHECK(std::fputs(line.c_str(), metrics_) >= 0 && std::fputc('\n', metrics_) != EOF &&
                   std::fflush(metrics_) == 0,
               "cannot write '{}': {}", metrics_path_.string(), std::strerror(errno));
}

void RunLog::train(const TrainRecord& r) {
  nlohmann::json record{{"kind", "train"},
                        {"step", r.step},
                        {"loss", r.loss},
                        {"accuracy", r.accuracy},
                        {"lr", r.lr},
                        {"grad_norm", r.grad_norm},
                        {"tokens_per_second", r.tokens_per_second},
                        {"model_flops_per_second", r.model_flops_per_second},
                        {"skipped_steps", r.skipped_steps}};
  Scalars scalars{
      {"train/loss", static_cast<float>(r.loss)},
      {"train/accuracy", static_cast<float>(r.accuracy)},
      {"train/lr", static_cast<float>(r.lr)},
      {"train/grad_norm", static_cast<float>(r.grad_norm)},
      {"train/tokens_per_second", static_cast<float>(r.tokens_per_second)}};
  if (r.loss_scale) {
    record["loss_scale"] = *r.loss_scale;
    scalars.emplace_back("train/loss_scale", static_cast<float>(*r.loss_scale));
  }
  append_jsonl(record.dump());
  events_->write_scalars(r.step, scalars);
  if (!terminal_) return;
  fmt::print(
      terminal_,
      "step {:>6}/{}  loss {:.4f}  acc {:5.1f}%  lr {:.2e}  |g| {:.3f}  {:>7.0f} tok/s  {:.1f} "
      "GFLOP/s  eta {}{}\n",
      r.step, r.total_steps, r.loss, 100 * r.accuracy, r.lr, r.grad_norm, r.tokens_per_second,
      r.model_flops_per_second / 1e9,
      format_duration(r.eta_seconds),
      r.skipped_steps ? fmt::format("  skipped {}", r.skipped_steps) : "");
  std::fflush(terminal_);
}

void RunLog::eval(int64_t step, const EvalResult& r) {
  append_jsonl(nlohmann::json{{"kind", "eval"},
                              {"step", step},
                              {"loss", r.loss},
                              {"perplexity", r.perplexity},
                              {"accuracy", r.accuracy},
                              {"predictions", r.predictions}}
                   .dump());
  events_->write_scalars(step, {{"eval/loss", static_cast<float>(r.loss)},
                                {"eval/perplexity", static_cast<float>(r.perplexity)},
                                {"eval/accuracy", static_cast<float>(r.accuracy)}});
  if (!terminal_) return;
  fmt::print(
      terminal_,
      "eval at step {}: loss {:.4f}  perplexity {:.3f}  accuracy {:.1f}%  ({} predictions)\n", step,
      r.loss, r.perplexity, 100 * r.accuracy, r.predictions);
  std::fflush(terminal_);
}

std::string format_duration(double seconds) {
  const int64_t s = std::isfinite(seconds) ? std::llround(std::max(seconds, 0.0)) : 0;
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace masklm
