#pragma once

// `regsweep du --html FILE`: the usage report as one self-contained HTML page: a treemap of
// the repositories grouped by their name components (area: exclusive, logical or reclaimable
// bytes; colour: the share of the cell gc would free), the sortable table of every
// repository with du's columns and the totals, and the run's facts. No network: styles, the
// script and the data are inline. The page draws itself from the data with a small script;
// every name is data, put on the page as text, never as markup.

#include <cstdint>
#include <string>

#include "regsweep/usage.hpp"

namespace regsweep {

struct HtmlFacts {
  std::string location;      // the root directory or the bucket
  std::string generated_at;  // RFC 3339, UTC; the only part that changes between two runs
  std::int64_t grace_seconds = 0;
  std::string version;  // regsweep's
};

// The page, byte for byte the same for the same usage and facts.
std::string render_usage_html(const Usage& usage, const HtmlFacts& facts);

}  // namespace regsweep
