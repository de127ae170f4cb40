// libFuzzer target: the link parser must never crash, and whatever digest it recovers must
// print back to a strictly valid link that parses to the same digest with no problem.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "regsweep/layout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  regsweep::layout::LinkContent c = regsweep::layout::parse_link(text);
  if (c.digest) {
    regsweep::layout::LinkContent again = regsweep::layout::parse_link(c.digest->str());
    if (!again.digest || *again.digest != *c.digest ||
        again.problem != regsweep::layout::LinkProblem::none) {
      std::abort();
    }
  }
  if (c.problem == regsweep::layout::LinkProblem::none && (!c.digest || text != c.digest->str())) {
    std::abort();
  }
  return 0;
}
