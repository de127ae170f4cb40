#include "regsweep/open.hpp"

#include "store/s3/s3_store.hpp"

namespace regsweep {

Result<OpenedStore> open_store(const RootChoice& root) {
  if (root.s3) {
    return OpenedStore{fs::Fd(), make_s3_store(*root.s3)};
  }
  auto v2 = open_registry(root.root);
  if (!v2) {
    return v2.error();
  }
  auto store = make_fs_store(v2->get(), root.root);
  return OpenedStore{std::move(*v2), std::move(store)};
}

}  // namespace regsweep
