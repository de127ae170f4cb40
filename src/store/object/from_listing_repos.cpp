// The listing scan's keys below `repositories/` (listing_state.hpp).

#include "store/object/listing_state.hpp"

namespace regsweep::listing_detail {

using namespace scan_detail;  // NOLINT(google-build-using-namespace): the scan's own helpers

void ListingScan::repository_key(const Listed& o) {
  auto c = split_key(o.key);
  std::size_t r = layout::repository_end(c);
  std::string name = join_parts(c, 1, r);
  if (r + 1 >= c.size()) {
    // An object where a namespace, repository or reserved directory would be.
    std::string owner = r == c.size() ? join_parts(c, 1, c.size() - 1) : name;
    report(FindingKind::unknown_entry, o.key, owner,
           "'" + o.key + "' is not part of the registry layout; ignored");
    return;
  }
  std::string rdir = join_parts(c, 0, r + 1);
  if (!layout::is_repo_marker(c[r])) {
    report(FindingKind::unknown_entry, rdir, name,
           "'" + rdir + "' is not part of the registry layout; ignored");
    return;
  }
  if (name.empty()) {
    report(FindingKind::unknown_entry, rdir, "",
           "'" + rdir + "' belongs to no repository; ignored");
    return;
  }
  for (std::size_t i = 1; i < r; ++i) {
    if (!layout::is_valid_repo_component(c[i])) {
      std::string path = join_parts(c, 0, i + 1);
      report(FindingKind::invalid_name, path, name,
             "'" + path + "' is not a valid repository name component; scanned anyway");
    }
  }
  PendingRepo& p = repo_named(name);
  std::vector<std::string_view> rest(c.begin() + static_cast<std::ptrdiff_t>(r) + 1, c.end());
  if (c[r] == layout::k_layers) {
    p.repo.has_layers = true;
    layer_or_revision(o, rest, rdir, p, LinkDir::layers);
  } else if (c[r] == layout::k_manifests) {
    p.repo.has_manifests = true;
    manifests_key(o, rest, rdir, p);
  } else {
    p.repo.has_uploads = true;
    upload_key(o, rest, rdir, p);
  }
}

}  // namespace regsweep::listing_detail
