#include "links.hpp"

#include "regsweep/layout.hpp"

namespace regsweep::scan_detail {

void parse_into(LinkRead& out, std::string_view text) {
  layout::LinkContent content = layout::parse_link(text);
  out.digest = content.digest;
  if (content.problem != layout::LinkProblem::none) {
    out.problem = std::string(layout::describe(content.problem));
  }
}

}  // namespace regsweep::scan_detail
