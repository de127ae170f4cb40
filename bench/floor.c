/* The floor for a dry run: the least reading any collector on this layout must do. Reads
 * every tag's current link and every revision link once, and every manifest they name once,
 * on one thread, and prints how many of each. Nothing is parsed beyond the link text, nothing
 * is planned: a tool that reads no less cannot be faster than this on the same disk.
 *
 * With --list-blobs it also lists every blob prefix directory (getdents, no stat): the fairer
 * floor, the least any collector must do to know which blobs exist at all.
 *
 * With --calls it also makes the other system calls a regsweep dry run makes to look at
 * everything it reports on: a stat of every blob's data and of every layer link, and a read
 * of every tag history link. Still one thread, nothing parsed or planned: how the kernel's
 * cost of those calls alone grows with the tree.
 *
 * usage: floor [--list-blobs | --calls] <root>    (the registry's rootdirectory; reads <root>/docker/registry/v2)
 * Built and run by bench/run.sh. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { HEX = 64, LINK = 7 + HEX };

static long n_tags, n_revisions, n_manifests, n_bytes, n_stats, n_history, n_listed;
static int calls;      /* --calls */
static int list_blobs; /* --list-blobs */

/* Manifests already read: an open-addressing set of 64-hex-digit names. */
static char (*seen)[HEX];
static size_t seen_cap, seen_len;

static size_t hash(const char *hex) {
  size_t h = 0;
  for (int i = 0; i < 16; ++i) {
    h = h * 16 + (size_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
  }
  return h;
}

static int insert(const char *hex) {
  if (2 * (seen_len + 1) > seen_cap) {
    size_t old_cap = seen_cap;
    char (*old)[HEX] = seen;
    seen_cap = old_cap ? 2 * old_cap : 1 << 16;
    seen = calloc(seen_cap, HEX);
    seen_len = 0;
    for (size_t i = 0; i < old_cap; ++i) {
      if (old[i][0]) {
        insert(old[i]);
      }
    }
    free(old);
  }
  for (size_t i = hash(hex) & (seen_cap - 1);; i = (i + 1) & (seen_cap - 1)) {
    if (!seen[i][0]) {
      memcpy(seen[i], hex, HEX);
      ++seen_len;
      return 1;
    }
    if (memcmp(seen[i], hex, HEX) == 0) {
      return 0;
    }
  }
}

static char buf[1 << 16];

/* Reads a whole file below dirfd; returns its size, or -1. */
static long read_all(int dirfd, const char *path) {
  int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  long total = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    total += n;
  }
  close(fd);
  return total;
}

static int v2;

/* Reads the link at dirfd/path; reads the manifest it names, once. */
static void follow(int dirfd, const char *path) {
  long n = read_all(dirfd, path);
  if (n != LINK || memcmp(buf, "sha256:", 7) != 0) {
    return;
  }
  char hex[HEX + 1];
  memcpy(hex, buf + 7, HEX);
  hex[HEX] = 0;
  if (!insert(hex)) {
    return;
  }
  char data[128];
  snprintf(data, sizeof data, "blobs/sha256/%.2s/%s/data", hex, hex);
  long m = read_all(v2, data);
  if (m >= 0) {
    ++n_manifests;
    n_bytes += m;
  }
}

/* Calls fn(dirfd, name) for each entry of dirfd/path but . and .. */
static void each(int dirfd, const char *path, void (*fn)(int, const char *)) {
  int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  DIR *d = fdopendir(fd);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      fn(fd, e->d_name);
    }
  }
  closedir(d);
}

/* --calls: stats dirfd/<hex>/<leaf>, as the scan stats a blob's data or a layer link. */
static void stat_leaf(int dirfd, const char *hex, const char *leaf) {
  char path[512];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", hex, leaf);
  n_stats += fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void blob(int prefix_fd, const char *hex) { stat_leaf(prefix_fd, hex, "data"); }
static void prefix(int blobs_fd, const char *name) { each(blobs_fd, name, blob); }
static void listed(int prefix_fd, const char *hex) {
  (void)prefix_fd;
  (void)hex;
  ++n_listed;
}
static void list_prefix(int blobs_fd, const char *name) { each(blobs_fd, name, listed); }
static void layer(int layers_fd, const char *hex) { stat_leaf(layers_fd, hex, "link"); }

static void history(int index_fd, const char *hex) {
  char path[512];
  snprintf(path, sizeof path, "%s/link", hex);
  n_history += read_all(index_fd, path) >= 0;
}

static void tag(int tags_fd, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/current/link", name);
  ++n_tags;
  follow(tags_fd, path);
  if (calls) {
    snprintf(path, sizeof path, "%s/index/sha256", name);
    each(tags_fd, path, history);
  }
}

static void revision(int revs_fd, const char *hex) {
  char path[512];
  snprintf(path, sizeof path, "%s/link", hex);
  ++n_revisions;
  follow(revs_fd, path);
}

/* A directory under repositories/: a repository if it holds _manifests; walks deeper. */
static void walk(int parent_fd, const char *name) {
  if (name[0] == '_') {
    return;
  }
  int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  if (calls) {
    each(fd, "_layers/sha256", layer);
  }
  each(fd, "_manifests/tags", tag);
  each(fd, "_manifests/revisions/sha256", revision);
  each(fd, ".", walk);
  close(fd);
}

int main(int argc, char **argv) {
  calls = argc == 3 && strcmp(argv[1], "--calls") == 0;
  list_blobs = argc == 3 && strcmp(argv[1], "--list-blobs") == 0;
  if (argc != 2 + calls + list_blobs) {
    fprintf(stderr, "usage: floor [--list-blobs | --calls] <root>\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/docker/registry/v2", argv[argc - 1]);
  v2 = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (v2 < 0) {
    perror(path);
    return 1;
  }
  if (calls) {
    each(v2, "blobs/sha256", prefix);
  }
  if (list_blobs) {
    each(v2, "blobs/sha256", list_prefix);
  }
  each(v2, "repositories", walk);
  printf("floor: %ld tags, %ld revisions, %ld manifests (%ld bytes) read\n", n_tags,
         n_revisions, n_manifests, n_bytes);
  if (list_blobs) {
    printf("listed: %ld blob directories (getdents, no stat)\n", n_listed);
  }
  if (calls) {
    printf("calls: %ld blob data and layer links stat'ed, %ld tag history links read\n",
           n_stats, n_history);
  }
  return 0;
}
