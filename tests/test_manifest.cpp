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
  // The sha512 layer is left out: only the config and the sha256 layer are blobs.
  ASSERT_EQ(out.manifest->blobs.size(), 2U);
  EXPECT_EQ(out.manifest->blobs[0].hex(), hex);
  EXPECT_EQ(out.manifest->blobs[1].hex(), std::string(64, 'b'));
  EXPECT_EQ(out.manifest->foreign.size(), 1U);
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

// Go's encoding/json (the registry's and its clients') matches keys case-insensitively and
// takes the last of duplicates; simdjson matches exactly and takes the first. At every level
// the parser reads, both forms make the manifest unreadable.
TEST(Manifest, KeysGoReadsDifferentlyMakeTheManifestUnreadable) {
  const std::string hex(64, 'a');
  const std::string digest = "\"sha256:" + hex + "\"";
  const std::string layer =
      R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,"digest":)" + digest +
      "}";
  const std::string config =
      R"({"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":)" + digest +
      "}";
  // Each template holds `@` where a key regsweep reads stands, and `#` for its value.
  struct Level {
    const char* where;
    std::string key;
    std::string value;
    std::string json;  // with '@' for the key and '#' for the value
  };
  const std::string oci =
      R"("schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json")";
  const std::string index =
      R"("schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json")";
  const std::string child =
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":)" + digest +
      R"(,"platform":{"os":"linux","architecture":"amd64"}})";
  const std::vector<Level> levels = {
      {"manifest mediaType", "mediaType", R"("application/vnd.oci.image.manifest.v1+json")",
       R"({"schemaVersion":2,"@":#,"config":)" + config + R"(,"layers":[]})"},
      {"manifest schemaVersion", "schemaVersion", "2",
       R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","@":#,"config":)" + config +
           R"(,"layers":[]})"},
      {"manifest artifactType", "artifactType", R"("application/x")",
       "{" + oci + R"(,"@":#,"config":)" + config + R"(,"layers":[]})"},
      {"manifest config", "config", config, "{" + oci + R"(,"@":#,"layers":[]})"},
      {"manifest layers", "layers", "[" + layer + "]",
       "{" + oci + R"(,"config":)" + config + R"(,"@":#})"},
      {"manifest subject", "subject", config,
       "{" + oci + R"(,"config":)" + config + R"(,"layers":[],"@":#})"},
      {"index manifests", "manifests", "[" + child + "]", "{" + index + R"(,"@":#})"},
      {"schema1 fsLayers", "fsLayers", R"([{"blobSum":)" + digest + "}]",
       R"({"schemaVersion":1,"name":"a","tag":"b","architecture":"amd64","@":#})"},
      {"descriptor digest", "digest", digest,
       "{" + oci +
           R"(,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"@":#},"layers":[]})"},
      {"descriptor urls", "urls", R"(["http://example.invalid/x"])",
       "{" + oci + R"(,"config":)" + config +
           R"(,"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,"digest":)" +
           digest + R"(,"@":#}]})"},
      {"descriptor platform", "platform", R"({"os":"linux","architecture":"amd64"})",
       "{" + index +
           R"(,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":)" +
           digest + R"(,"@":#}]})"},
      {"platform os", "os", R"("linux")",
       "{" + index +
           R"(,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":)" +
           digest + R"(,"platform":{"architecture":"amd64","@":#}}]})"},
      {"schema1 blobSum", "blobSum", digest,
       R"({"schemaVersion":1,"name":"a","tag":"b","architecture":"amd64","fsLayers":[{"@":#}]})"},
  };
  auto fill = [](std::string json, const std::string& keys_and_values) {
    std::size_t at = json.find("\"@\":#");
    return json.replace(at, 5, keys_and_values);
  };
  auto upper_first = [](std::string key) {
    key[0] = static_cast<char>(key[0] - 'a' + 'A');
    return key;
  };
  ManifestParser parser;
  for (const Level& l : levels) {
    SCOPED_TRACE(l.where);
    // The template itself is a good manifest.
    std::string good = fill(l.json, "\"" + l.key + "\":" + l.value);
    ParseOutcome ok = parser.parse(good);
    ASSERT_TRUE(ok.manifest) << ok.error << "\n" << good;
    // Given twice.
    std::string twice =
        fill(l.json, "\"" + l.key + "\":" + l.value + ",\"" + l.key + "\":" + l.value);
    ParseOutcome dup = parser.parse(twice);
    EXPECT_FALSE(dup.manifest) << twice;
    EXPECT_NE(dup.error.find("given twice"), std::string::npos) << dup.error;
    // Alone, in another case, and beside the right spelling.
    std::string variant = upper_first(l.key);
    for (const std::string& keys :
         {"\"" + variant + "\":" + l.value,
          "\"" + l.key + "\":" + l.value + ",\"" + variant + "\":" + l.value}) {
      std::string text = fill(l.json, keys);
      ParseOutcome out = parser.parse(text);
      EXPECT_FALSE(out.manifest) << text;
      EXPECT_NE(out.error.find("'" + variant + "'"), std::string::npos) << out.error;
    }
  }
  // The two non-ASCII code points Go folds to ASCII letters, and an escaped key.
  for (const std::string& key : {std::string("layer\xC5\xBF"), std::string("\xE2\x84\xAA") + "ey",
                                 std::string("la\\u0079ers")}) {
    std::string text =
        "{" + oci + R"(,"config":)" + config + R"(,"layers":[],")" + key + R"(":[]})";
    ParseOutcome out = parser.parse(text);
    if (key.find("ey") != std::string::npos) {
      EXPECT_TRUE(out.manifest) << "'\\u212Aey' folds to 'key', which regsweep does not read";
    } else {
      EXPECT_FALSE(out.manifest) << text;
    }
  }
  // Keys regsweep does not read may repeat, in any case: annotations are a map.
  std::string annotated =
      "{" + oci + R"(,"config":)" + config +
      R"(,"layers":[],"annotations":{"a":"1","a":"2","A":"3"},"Annotations":{}})";
  EXPECT_TRUE(parser.parse(annotated).manifest);
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
