// `masklm score glue|squad`: metrics of a prediction file against gold data, the way the
// GLUE benchmark (scikit-learn/scipy metrics) and the official SQuAD scripts compute them.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/glue_reader.h"
#include "eval/glue_score.h"
#include "eval/glue_tasks.h"
#include "eval/squad.h"
#include "eval/squad_score.h"
#include "runtime/log.h"

namespace masklm::cli {

namespace {

struct ScoreOptions {
  std::string task, gold, pred;
  bool json = false;
  bool skip_malformed = false;
};

void score_glue_files(const ScoreOptions& o) {
  const GlueTask& task = glue_task(o.task);
  const GlueFile gold = read_glue_tsv(o.gold, task.labelled, {.skip_malformed = o.skip_malformed});
  const auto scores = score_glue(task, gold.examples, read_glue_predictions(o.pred, task));
  if (o.json) {
    nlohmann::ordered_json out{
        {"task", task.name}, {"examples", gold.examples.size()}, {"skipped", gold.skipped}};
    for (const auto& [metric, value] : scores) out[std::string(glue_metric_name(metric))] = value;
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("{}: {} examples in {}{}\n", task.display_name, gold.examples.size(), o.gold,
             gold.skipped ? fmt::format(" ({} malformed rows skipped, the first: {})", gold.skipped,
                                        gold.first_skip)
                          : "");
  for (const auto& [metric, value] : scores)
    fmt::print("{:<14} {:.4f}\n", glue_metric_name(metric), value);
}

void print_squad_json(const SquadDataset& gold, const SquadResult& r) {
  // The official scripts' keys, so outputs can be compared side by side.
  nlohmann::ordered_json out;
  if (gold.version == SquadVersion::V1_1) {
    out = {{"exact_match", r.all.exact}, {"f1", r.all.f1}, {"total", r.all.total}};
  } else {
    out = {{"exact", r.all.exact}, {"f1", r.all.f1}, {"total", r.all.total}};
    for (const auto& [prefix, part] :
         {std::pair{"HasAns_", &r.has_answer}, std::pair{"NoAns_", &r.no_answer}}) {
      out[std::string(prefix) + "exact"] = part->exact;
      out[std::string(prefix) + "f1"] = part->f1;
      out[std::string(prefix) + "total"] = part->total;
    }
  }
  out["missing_predictions"] = r.missing_predictions;
  out["unknown_predictions"] = r.unknown_predictions;
  fmt::print("{}\n", out.dump());
}

void score_squad_files(const ScoreOptions& o) {
  const SquadDataset gold = read_squad(o.gold);
  const SquadResult r = score_squad(gold, read_squad_predictions(o.pred));
  if (r.missing_predictions)
    log_warn("{} of {} questions have no prediction in {} and score 0", r.missing_predictions,
             r.all.total, o.pred);
  if (r.unknown_predictions)
    log_warn("{} predictions in {} are for unknown question ids", r.unknown_predictions, o.pred);
  if (o.json) return print_squad_json(gold, r);
  const bool v2 = gold.version == SquadVersion::V2_0;
  fmt::print("SQuAD {}: {} questions in {}\n", v2 ? "v2.0" : "v1.1", r.all.total, o.gold);
  fmt::print("exact match    {:.2f}\nf1             {:.2f}\n", r.all.exact, r.all.f1);
  if (!v2) return;
  for (const auto& [name, part] :
       {std::pair{"has answer", &r.has_answer}, std::pair{"no answer", &r.no_answer}})
    fmt::print("{:<14} exact {:.2f}  f1 {:.2f}  ({} questions)\n", name, part->exact, part->f1,
               part->total);
}

CLI::App* add_files(CLI::App* cmd, ScoreOptions& o, const std::string& gold_help,
                    const std::string& pred_help) {
  cmd->add_option("--gold", o.gold, gold_help)->required()->check(CLI::ExistingFile);
  cmd->add_option("--pred", o.pred, pred_help)->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", o.json, "Print one JSON object");
  return cmd;
}

}  // namespace

void register_score(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("score", "Metrics of predictions against GLUE or SQuAD gold files");
  cmd->require_subcommand(1);
  auto glue = std::make_shared<ScoreOptions>();
  auto* glue_cmd = add_files(
      cmd->add_subcommand("glue",
                          "GLUE (or Reuters-21578) task metrics (the task's dev TSV as gold)"),
      *glue, "The task's labelled TSV (dev.tsv; MNLI: dev_matched.tsv or dev_mismatched.tsv)",
      "One prediction per line, in the gold file's order: a label or label index; "
      "a number for STS-B");
  glue_cmd
      ->add_option("--task", glue->task,
                   "cola, sst2, mrpc, stsb, qqp, mnli (matched), mnli-mm, qnli, rte, wnli; "
                   "reuters-grain, reuters-corn")
      ->required();
  glue_cmd->add_flag(
      "--skip-malformed", glue->skip_malformed,
      "Skip and count gold rows with missing fields or bad labels instead of failing");
  glue_cmd->callback([glue] { score_glue_files(*glue); });
  auto squad = std::make_shared<ScoreOptions>();
  auto* squad_cmd =
      add_files(cmd->add_subcommand("squad", "SQuAD v1.1/v2.0 exact match and F1 (official rules)"),
                *squad, "SQuAD JSON (its version field selects the v1.1 or v2.0 rules)",
                "JSON object {question id: answer text}, \"\" for no answer");
  squad_cmd->callback([squad] { score_squad_files(*squad); });
}

}  // namespace masklm::cli
