// libFuzzer target: the manifest parser must never crash, hang or leak on any input, and a
// manifest it accepts must have a kind.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "regsweep/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static regsweep::ManifestParser parser;
  regsweep::ParseOutcome out =
      parser.parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (out.manifest && out.manifest->kind == regsweep::ManifestKind::unknown) {
    std::abort();
  }
  if (!out.manifest && out.error.empty()) {
    std::abort();
  }
  return 0;
}
