#include "data/unicode.h"

#include <algorithm>
#include <array>
#include <memory>

#include "runtime/error.h"

namespace masklm::unicode {

namespace {

uint8_t search_flags(char32_t c) {
  const detail::CodepointRange* end = detail::kFlagRanges + detail::kFlagRangeCount;
  const detail::CodepointRange* it = std::upper_bound(
      detail::kFlagRanges, end, c, [](char32_t v, const auto& r) { return v < r.first; });
  if (it == detail::kFlagRanges) return 0;
  --it;
  return c <= it->last ? it->flags : 0;
}

// The Basic Multilingual Plane, looked up directly: tokenizers ask for every character.
const std::array<uint8_t, 0x10000>& bmp_flags() {
  static const auto table = [] {
    auto t = std::make_unique<std::array<uint8_t, 0x10000>>();
    for (char32_t c = 0; c < 0x10000; ++c) (*t)[c] = search_flags(c);
    return t;
  }();
  return *table;
}

bool lookup_mapping(const detail::CodepointMapping* table, size_t count, char32_t c,
                    std::u32string& out) {
  const detail::CodepointMapping* end = table + count;
  const detail::CodepointMapping* it =
      std::lower_bound(table, end, c, [](const auto& m, char32_t v) { return m.code_point < v; });
  if (it == end || it->code_point != c) return false;
  out.clear();
  const std::string_view utf8 = it->utf8;
  for (size_t pos = 0, length = 0; pos < utf8.size(); pos += length)
    out.push_back(decode_utf8(utf8, pos, length));
  return true;
}

// Hangul syllables decompose algorithmically (Unicode 3.12), so they are not in the table.
constexpr char32_t kHangulFirst = 0xAC00, kHangulCount = 11172;
constexpr char32_t kJamoL = 0x1100, kJamoV = 0x1161, kJamoT = 0x11A7;
constexpr char32_t kJamoVCount = 21, kJamoTCount = 28;

// The length of a UTF-8 sequence that starts with `lead`, 0 for a byte that cannot start one.
size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The number of bytes at text[pos] that form a valid prefix of a sequence of `length`
// bytes (the second byte's range depends on the lead, RFC 3629).
size_t valid_prefix(std::string_view text, size_t pos, size_t length) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  size_t n = 1;
  for (; n < length && pos + n < text.size(); ++n) {
    const auto b = static_cast<unsigned char>(text[pos + n]);
    unsigned char low = 0x80, high = 0xBF;
    if (n == 1) {
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    if (b < low || b > high) break;
  }
  return n;
}

}  // namespace

uint8_t flags(char32_t c) { return c < 0x10000 ? bmp_flags()[c] : search_flags(c); }

char32_t decode_utf8(std::string_view text, size_t pos, size_t& length) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  length = sequence_length(lead);
  if (length == 1) return lead;
  MASKLM_CHECK(length != 0 && valid_prefix(text, pos, length) == length,
               "invalid UTF-8 at byte {} of the text (replace invalid bytes before tokenizing)",
               pos);
  char32_t c = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i)
    c = (c << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t length = sequence_length(static_cast<unsigned char>(bytes[pos]));
    const size_t valid = length == 0 ? 0 : valid_prefix(bytes, pos, length);
    if (length != 0 && valid == length) {
      out.append(bytes.substr(pos, length));
      pos += length;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for the maximal invalid subpart
      pos += std::max<size_t>(valid, 1);
    }
  }
  return out;
}

bool strip_accents(char32_t c, std::u32string& out) {
  if (c >= kHangulFirst && c < kHangulFirst + kHangulCount) {
    const char32_t index = c - kHangulFirst;
    out = {kJamoL + index / (kJamoVCount * kJamoTCount),
           kJamoV + (index % (kJamoVCount * kJamoTCount)) / kJamoTCount};
    if (index % kJamoTCount != 0) out.push_back(kJamoT + index % kJamoTCount);
    return true;
  }
  return lookup_mapping(detail::kStripAccents, detail::kStripAccentsCount, c, out);
}

bool lowercase(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    if (c < 'A' || c > 'Z') return false;
    out.assign(1, c + ('a' - 'A'));
    return true;
  }
  return lookup_mapping(detail::kLowercase, detail::kLowercaseCount, c, out);
}

uint8_t surviving_combining_class(char32_t c) {
  const auto* begin = detail::kSurvivingCombiningClasses;
  const auto* end = begin + detail::kSurvivingCombiningClassCount;
  const auto* it =
      std::lower_bound(begin, end, c, [](const auto& m, char32_t v) { return m.code_point < v; });
  return it != end && it->code_point == c ? it->combining_class : 0;
}

}  // namespace masklm::unicode
