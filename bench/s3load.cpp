// Uploads a registry tree from a directory to a bucket, as the registry's s3 driver would
// have written it: every regular file below DIR/docker/registry/v2 becomes the key
// <prefix>/docker/registry/v2/<path>. For benchmarks and tests: generated trees are made on
// disk by scripts/gen-tree and loaded once. Many PUTs in flight (--jobs, default 64).
//
// usage: regsweep_s3load DIR s3://BUCKET[/PREFIX] --s3-endpoint URL [--jobs N] [--create-bucket]
//        keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/s3/client.hpp"

namespace fsys = std::filesystem;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string dir;
  std::string url;
  std::string endpoint;
  int jobs = 64;
  bool create = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--s3-endpoint" && i + 1 < args.size()) {
      endpoint = args[++i];
    } else if (args[i] == "--jobs" && i + 1 < args.size()) {
      jobs = std::atoi(args[++i].c_str());
    } else if (args[i] == "--create-bucket") {
      create = true;
    } else if (dir.empty()) {
      dir = args[i];
    } else {
      url = args[i];
    }
  }
  auto settings = regsweep::parse_s3_url(url);
  const char* key = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (dir.empty() || !settings || endpoint.empty() || key == nullptr || secret == nullptr ||
      jobs < 1) {
    std::cerr << "usage: regsweep_s3load DIR s3://BUCKET[/PREFIX] --s3-endpoint URL [--jobs N] "
                 "[--create-bucket] (keys from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)\n";
    return 2;
  }
  settings->endpoint = endpoint;
  settings->force_path_style = true;
  settings->access_key = key;
  settings->secret_key = secret;
  regsweep::S3Client client(*settings);
  if (create) {
    if (auto s = client.put("", ""); !s) {
      std::cerr << "regsweep_s3load: " << s.error().message << "\n";
    }
  }
  fsys::path v2 = fsys::path(dir) / "docker/registry/v2";
  std::vector<std::string> files;
  for (auto it = fsys::recursive_directory_iterator(v2); it != fsys::recursive_directory_iterator();
       ++it) {
    if (it->is_regular_file() && !it->is_symlink()) {
      files.push_back(fsys::relative(it->path(), v2).string());
    }
  }
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> failed{0};
  std::mutex err_mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < jobs; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < files.size(); i = next++) {
        std::ifstream in(v2 / files[i], std::ios::binary);
        std::stringstream body;
        body << in.rdbuf();
        if (auto s = client.put(settings->key(files[i]), body.str()); !s) {
          ++failed;
          std::lock_guard lock(err_mutex);
          std::cerr << "regsweep_s3load: " << s.error().message << "\n";
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::cout << files.size() - failed.load() << " objects uploaded to " << settings->location()
            << ", " << failed.load() << " failed, " << client.counters().requests << " requests\n";
  return failed.load() == 0 ? 0 : 1;
}
