#pragma once

// Figures for people, the same in every report (gc's and du's text, du --html).

#include <cstdint>
#include <string>

namespace regsweep {

// "1.5 MiB": bytes below 1 KiB exactly ("900 B"), else one decimal in binary units.
std::string human_bytes(std::uint64_t bytes);

}  // namespace regsweep
