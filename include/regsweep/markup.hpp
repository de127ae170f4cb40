#pragma once

// Text put into XML (an object store's request bodies) or HTML (du --html).

#include <string>
#include <string_view>

namespace regsweep {

// `text` with &, <, >, " and ' as character references (' as &#39;, which XML and HTML both
// read): safe in element text and in quoted attributes of either.
std::string markup_escape(std::string_view text);

}  // namespace regsweep
