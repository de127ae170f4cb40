// What one stat of a blob's data file costs the kernel on this machine, for a given tree.
//
// Every reader of the layout stats each blob's `data` (its size and time), so this cost, times
// the number of blobs, is paid by any collector. One thread lists every blobs/sha256/<xx>
// directory first, then stats each `<hex>/data` once, relative to its prefix directory as
// regsweep does; only the stats are timed. Run on a warm tree, twice, and read the second.
//
// usage: statcost ROOT      prints "statcost: N blobs, X ns a stat"
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct prefix {
  int fd;
  size_t n;
  char (*names)[65];
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: statcost ROOT\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/docker/registry/v2/blobs/sha256", argv[1]);
  int blobs = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (blobs < 0) {
    perror(path);
    return 1;
  }
  struct prefix prefixes[256];
  size_t np = 0;
  DIR* top = fdopendir(dup(blobs));
  struct dirent* e;
  while (top && (e = readdir(top)) && np < 256) {
    if (e->d_name[0] == '.' || strlen(e->d_name) != 2) {
      continue;
    }
    struct prefix* p = &prefixes[np];
    p->fd = openat(blobs, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (p->fd < 0) {
      continue;
    }
    size_t cap = 1024;
    p->n = 0;
    p->names = malloc(cap * sizeof *p->names);
    DIR* d = fdopendir(dup(p->fd));
    struct dirent* b;
    while (d && (b = readdir(d))) {
      if (strlen(b->d_name) != 64) {
        continue;
      }
      if (p->n == cap) {
        cap *= 2;
        p->names = realloc(p->names, cap * sizeof *p->names);
      }
      memcpy(p->names[p->n++], b->d_name, 65);
    }
    if (d) {
      closedir(d);
    }
    ++np;
  }
  if (top) {
    closedir(top);
  }
  size_t total = 0;
  size_t failed = 0;
  double started = now();
  for (size_t i = 0; i < np; ++i) {
    for (size_t k = 0; k < prefixes[i].n; ++k) {
      char rel[72];
      memcpy(rel, prefixes[i].names[k], 64);
      memcpy(rel + 64, "/data", 6);
      struct stat st;
      if (fstatat(prefixes[i].fd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        ++failed;
      }
      ++total;
    }
  }
  double took = now() - started;
  printf("statcost: %zu blobs, %.0f ns a stat (%zu failed)\n", total,
         total ? took * 1e9 / (double)total : 0.0, failed);
  return 0;
}
