#include "train/finetune_start.h"

#include <optional>

#include "model/hf_config.h"
#include "runtime/error.h"
#include "train/checkpoint.h"

namespace masklm {

namespace fs = std::filesystem;

FineTuneStart load_finetune_start(const fs::path& checkpoint, const fs::path& tokenizer) {
  FineTuneStart s;
  s.checkpoint = fs::absolute(checkpoint).lexically_normal();
  const std::optional<fs::path> tokenizer_path =
      tokenizer.empty() ? find_run_tokenizer(s.checkpoint) : std::optional<fs::path>(tokenizer);
  MASKLM_CHECK(
      tokenizer_path.has_value(),
      "no tokenizer.json in {}, its run directory or its dataset manifest (pass --tokenizer FILE)",
      s.checkpoint.string());
  s.tokenizer = Tokenizer::load(*tokenizer_path);
  s.config = read_hf_config(s.checkpoint / "config.json");
  MASKLM_CHECK(s.tokenizer->vocab_size() <= s.config.vocab_size,
               "tokenizer {} has {} tokens, the model only {}", tokenizer_path->string(),
               s.tokenizer->vocab_size(), s.config.vocab_size);
  return s;
}

}  // namespace masklm
