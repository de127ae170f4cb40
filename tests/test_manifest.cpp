#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "regsweep/manifest.hpp"

namespace regsweep {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(REGSWEEP_FIXTURES) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Digest d(const char* hex) {
  return *parse_hex(hex);
}

struct KindCase {
  const char* file;
  ManifestKind kind;
  std::size_t blobs;
  std::size_t children;
  bool subject;
};

TEST(Manifest, EveryKindFromRealSamples) {
  const std::vector<KindCase> table = {
      {"oci-manifest.json", ManifestKind::oci_manifest, 3, 0, false},
      {"oci-manifest-no-mediatype.json", ManifestKind::oci_manifest, 3, 0, false},
      {"oci-index.json", ManifestKind::oci_index, 0, 2, false},
      {"oci-index-no-mediatype.json", ManifestKind::oci_index, 0, 2, false},
      {"oci-index-subject.json", ManifestKind::oci_index, 0, 2, true},
      {"oci-artifact-subject.json", ManifestKind::oci_manifest, 2, 0, true},
      {"docker-manifest-list.json", ManifestKind::docker_manifest_list, 0, 2, false},
      {"docker-schema2.json", ManifestKind::docker_schema2, 3, 0, false},
      {"docker-schema1-unsigned.json", ManifestKind::docker_schema1, 2, 0, false},
      {"docker-schema1-signed.json", ManifestKind::docker_schema1, 2, 0, false},
  };
  ManifestParser parser;
  for (const auto& c : table) {
    ParseOutcome out = parser.parse(fixture(c.file));
    ASSERT_TRUE(out.manifest) << c.file << ": " << out.error;
    EXPECT_EQ(out.manifest->kind, c.kind) << c.file;
    EXPECT_EQ(out.manifest->blobs.size(), c.blobs) << c.file;
    EXPECT_EQ(out.manifest->children.size(), c.children) << c.file;
    EXPECT_EQ(out.manifest->subject.has_value(), c.subject) << c.file;
  }
}

TEST(Manifest, Schema2ReferencesConfigThenLayers) {
  ManifestParser parser;
  auto out = parser.parse(fixture("docker-schema2.json"));
  ASSERT_TRUE(out.manifest);
  EXPECT_EQ(out.manifest->blobs[0],
            d("869a1784bc1867df5b6feeb73f646db15f8dce4fd85b2e808f47f65d6dcf468a"));
  EXPECT_EQ(out.manifest->blobs[1],
            d("d0dbc3b3495b1b27f2f91ddc18732e4d7b3f417156ec923c8fd48950b7ed9fd4"));
  EXPECT_EQ(out.manifest->blobs[2],
            d("e05ad55269e3216fae05594226a43d99ea4ddeed0fb01d1be90380f3568dd117"));
}

TEST(Manifest, ListChildrenAndPlatforms) {
  ManifestParser parser;
  auto out = parser.parse(fixture("docker-manifest-list.json"));
  ASSERT_TRUE(out.manifest);
  EXPECT_EQ(out.manifest->children[0],
            d("8606469c2b67a09bf9ea2f0ca25a1fd6a42b5b787bd336134d5f92e02ac8cfa6"));
  EXPECT_EQ(out.manifest->platforms, (std::vector<std::string>{"linux/amd64", "linux/arm64"}));
}

TEST(Manifest, ArtifactSubjectAndEmptyConfig) {
  ManifestParser parser;
  auto out = parser.parse(fixture("oci-artifact-subject.json"));
  ASSERT_TRUE(out.manifest);
  EXPECT_EQ(out.manifest->artifact_type, "application/vnd.dev.sigstore.bundle.v0.3+json");
  EXPECT_EQ(out.manifest->blobs[0],
            d("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"));
  EXPECT_EQ(*out.manifest->subject, sha256_of(fixture("oci-manifest.json")));
}

TEST(Manifest, ForeignLayersAndOtherAlgorithmsAreCounted) {
  ManifestParser parser;
  std::string hex(64, 'a');
  auto out = parser.parse(
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
      R"("config":{"digest":"sha256:)" +
      hex +
      R"("},"layers":[)"
      R"({"digest":"sha256:)" +
      std::string(64, 'b') +
      R"(","urls":["https://example.invalid/x"]},)"
      R"({"digest":"sha512:)" +
      hex + hex + R"("}]})");
  ASSERT_TRUE(out.manifest) << out.error;
  EXPECT_EQ(out.manifest->blobs.size(), 2U);
  EXPECT_EQ(out.manifest->foreign_digests, 1);
}

TEST(Manifest, RejectsAndKeepsMentionedDigests) {
  std::string hex(64, 'c');
  std::string deep(5000, '[');
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"schemaVersion":2,"mediaType":"application/x-unknown","layers":[{"digest":"sha256:)" +
           hex + R"("}]})",
       "unknown media type"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
       R"("config":{"digest":"sha256:)" +
           hex + R"("},"layers":[{"digest":"sha256:XYZ"}]})",
       "invalid digest"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
       R"("config":{"digest":"sha256:)" +
           hex + R"("},"layers":[{"dig)",
       "not valid JSON"},
      {std::string(R"({"schemaVersion":2,"x":"\xff\xfe sha256:)") + hex + "\"}", "not valid JSON"},
      {deep, "not valid JSON"},
      {R"({"schemaVersion":3})", "unsupported schemaVersion"},
      {R"({"schemaVersion":2,"config":{"digest":"sha256:)" + hex + R"("},"manifests":[]})",
       "neither"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"})",
       "no config"},
  };
  ManifestParser parser;
  for (const auto& [text, why] : table) {
    ParseOutcome out = parser.parse(text);
    EXPECT_FALSE(out.manifest) << text.substr(0, 80);
    EXPECT_NE(out.error.find(why), std::string::npos) << out.error;
    if (text.find("sha256:" + hex) != std::string::npos) {
      ASSERT_EQ(out.mentioned.size(), 1U) << text.substr(0, 80);
      EXPECT_EQ(out.mentioned[0].hex(), hex);
    }
  }
}

TEST(Manifest, ParserIsReusable) {
  ManifestParser parser;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(parser.parse(fixture("oci-index.json")).manifest);
    EXPECT_FALSE(parser.parse("{").manifest);
  }
}

}  // namespace
}  // namespace regsweep
