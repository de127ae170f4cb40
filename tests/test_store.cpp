// The filesystem store: what the stages ask of storage, answered from a directory tree
// without following a symbolic link or waiting on a FIFO.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "regsweep/collect.hpp"
#include "regsweep/fsck.hpp"
#include "regsweep/layout.hpp"
#include "regsweep/store.hpp"
#include "temp_registry.hpp"

namespace regsweep {
namespace {

std::map<std::string, std::uint64_t> listed(Store& store, const std::string& prefix,
                                            Status* status = nullptr) {
  std::map<std::string, std::uint64_t> out;
  Status s = list_objects(store, prefix, [&](const StoreObject& o) {
    EXPECT_GT(o.mtime_ns, 0);
    out[o.key] = o.size;
  });
  if (status != nullptr) {
    *status = s;
  } else {
    EXPECT_TRUE(s) << s.error().message;
  }
  return out;
}

TEST(FsStore, ListsEveryObjectWithItsSize) {
  test::TempRegistry reg;
  Digest layer = reg.put_layer("r", "layer", 1000);
  reg.tag("r", "v", reg.put_image("r", {layer}));
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  auto store = make_fs_store(v2->get(), reg.root());
  EXPECT_EQ(store->location(), reg.root());
  auto blobs = listed(*store, "blobs");
  EXPECT_EQ(blobs.at(layout::blob_data(layer)), 1000U);
  for (const auto& [key, size] : blobs) {
    EXPECT_EQ(key.substr(0, 13), "blobs/sha256/") << key;
  }
  auto repos = listed(*store, "repositories/r");
  EXPECT_EQ(repos.at(layout::layer_link("r", layer)), 71U);  // "sha256:" + 64 hex digits
  EXPECT_EQ(repos.at(layout::tag_current_link("r", "v")), 71U);
  auto all = listed(*store, "");
  EXPECT_EQ(all.size(), blobs.size() + repos.size());
}

TEST(FsStore, AListingThatMeetsASymlinkIsAnErrorNamingIt) {
  test::TempRegistry reg;
  reg.tag("r", "v", reg.put_image("r", {}));
  test::TempRegistry elsewhere;
  elsewhere.put_blob("not ours");
  reg.symlink(elsewhere.v2() + "/blobs/sha256", "repositories/r/_layers/sha256/evil");
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  auto store = make_fs_store(v2->get());
  Status s = ok_status();
  auto got = listed(*store, "repositories", &s);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("repositories/r/_layers/sha256/evil"), std::string::npos)
      << s.error().message;
  for (const auto& [key, size] : got) {
    EXPECT_EQ(key.find("evil"), std::string::npos) << key;
  }
}

TEST(FsStore, ReadsAndStreamsOnlyPlainFiles) {
  test::TempRegistry reg;
  std::string bytes(3 << 20, 'x');  // three chunks
  Digest d = reg.put_blob(bytes);
  auto v2 = open_registry(reg.root());
  ASSERT_TRUE(v2);
  auto store = make_fs_store(v2->get());
  auto hashed = hash_object(*store, layout::blob_data(d));
  ASSERT_TRUE(hashed) << hashed.error().message;
  EXPECT_EQ(*hashed, d);
  EXPECT_FALSE(store->read(layout::blob_data(d), 1024));  // over the limit
  auto small = store->read(layout::blob_data(reg.put_blob("small")), 1024);
  ASSERT_TRUE(small);
  EXPECT_EQ(*small, "small");

  // A FIFO where a blob's data belongs: refused at once, never waited on.
  Digest f = reg.put_blob("fifo");
  reg.remove(layout::blob_data(f));
  ASSERT_EQ(::mkfifo((reg.v2() + "/" + layout::blob_data(f)).c_str(), 0600), 0);
  EXPECT_FALSE(hash_object(*store, layout::blob_data(f)));
  EXPECT_FALSE(store->read(layout::blob_data(f), 1024));
  // A symlink to a file outside the tree: refused.
  Digest l = reg.put_blob("link");
  reg.remove(layout::blob_data(l));
  reg.symlink("/etc/hostname", layout::blob_data(l));
  EXPECT_FALSE(hash_object(*store, layout::blob_data(l)));
  EXPECT_FALSE(store->read(layout::blob_data(l), 1024));
}

}  // namespace
}  // namespace regsweep
