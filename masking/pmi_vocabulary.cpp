#include "masking/pmi_vocabulary.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/error.h"

namespace masklm {

namespace {
constexpr const char* kMagic = "masklm-pmi-vocab";
constexpr int kVersion = 1;
}  // namespace

PmiVocabulary::PmiVocabulary(std::vector<PmiNgram> ngrams) : ngrams_(std::move(ngrams)) {
  for (const PmiNgram& g : ngrams_) {
    const auto n = static_cast<int32_t>(g.ids.size());
    MASKLM_CHECK(2 <= n && n <= kMaxNgram, "PMI n-grams have 2 to {} tokens, got {}", kMaxNgram, n);
    for (int32_t id : g.ids) MASKLM_CHECK(id >= 0, "PMI n-gram has a negative token id {}", id);
    lookup_.insert(NgramKey::of(g.ids));
    max_n_ = std::max(max_n_, n);
  }
}

bool PmiVocabulary::contains(std::span<const int32_t> tokens) const {
  return tokens.size() <= static_cast<size_t>(kMaxNgram) && lookup_.count(NgramKey::of(tokens)) > 0;
}

int32_t PmiVocabulary::longest_match(std::span<const int32_t> ids, size_t pos, size_t end) const {
  const size_t longest = std::min(end - pos, static_cast<size_t>(max_n_));
  for (size_t n = longest; n >= 2; --n)
    if (contains(ids.subspan(pos, n))) return static_cast<int32_t>(n);
  return 0;
}

void PmiVocabulary::save(const std::filesystem::path& path) const {
  std::ofstream out(path);
  MASKLM_CHECK(out.good(), "cannot write the PMI vocabulary {}", path.string());
  out << kMagic << ' ' << kVersion << '\n';
  for (const PmiNgram& g : ngrams_) {
    out << fmt::format("{:.17g} {}", g.score, g.count);
    for (int32_t id : g.ids) out << ' ' << id;
    out << '\n';
  }
  out.flush();
  MASKLM_CHECK(out.good(), "writing the PMI vocabulary {} failed", path.string());
}

PmiVocabulary PmiVocabulary::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  MASKLM_CHECK(in.good(), "cannot open the PMI vocabulary {}", path.string());
  std::string magic;
  int version = 0;
  in >> magic >> version;
  MASKLM_CHECK(magic == kMagic && version == kVersion,
               "{} is not a masklm PMI vocabulary (version {})", path.string(), kVersion);
  std::vector<PmiNgram> ngrams;
  std::string line;
  std::getline(in, line);  // rest of the header line
  for (int64_t line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    PmiNgram g;
    fields >> g.score >> g.count;
    for (int32_t id; fields >> id;) g.ids.push_back(id);
    MASKLM_CHECK(!fields.fail() || fields.eof(), "{}:{}: expected '<score> <count> <id>...'",
                 path.string(), line_no);
    MASKLM_CHECK(g.ids.size() >= 2, "{}:{}: an n-gram needs at least 2 token ids", path.string(),
                 line_no);
    ngrams.push_back(std::move(g));
  }
  return PmiVocabulary(std::move(ngrams));
}

}  // namespace masklm
