// SQuAD v1.1 and v2.0 datasets: articles -> paragraphs -> questions with their answers.
// v2.0 adds unanswerable questions (is_impossible, no answers). Keys the readers here do not
// use (v2.0's plausible_answers, extra metadata some copies carry) are ignored, as the
// official evaluation scripts ignore them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace masklm {

enum class SquadVersion { V1_1, V2_0 };

struct SquadAnswer {
  std::string text;
  int64_t answer_start = 0;  // character offset into the context, as the JSON gives it
};

struct SquadQuestion {
  std::string id, question;
  std::vector<SquadAnswer> answers;  // empty for an unanswerable v2.0 question
  bool is_impossible = false;
};

struct SquadParagraph {
  std::string context;
  std::vector<SquadQuestion> questions;
};

struct SquadArticle {
  std::string title;
  std::vector<SquadParagraph> paragraphs;
};

struct SquadDataset {
  SquadVersion version = SquadVersion::V1_1;
  std::vector<SquadArticle> articles;

  int64_t num_questions() const;
};

// The version comes from the file's "version" ("1.1", "v2.0"); without one, a file with any
// is_impossible key is v2.0. Errors name the file and the JSON path of the bad value
// (data[0].paragraphs[3].qas[1].id).
SquadDataset read_squad(const std::filesystem::path& path);

}  // namespace masklm
