/* The floor for a real run's deletions: the least any collector must do to delete what a plan
 * deletes. Reads "PHASE<TAB>PATH" lines (PATH relative to <root>/docker/registry/v2, PHASE any
 * word; a new word starts a new phase), and for each phase removes every PATH (a file is
 * unlinked; a directory is emptied depth-first with unlinkat and removed), on THREADS threads
 * splitting the phase's paths, then calls syncfs once before the next phase. Nothing is read,
 * checked or re-validated: a collector that deletes no less cannot be faster on the same disk.
 *
 * usage: unlink_floor <root> <list> [threads]    (threads: default 2)
 * Prints the files and directories removed. Built and run by bench/realrun.sh. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int v2;
static char **paths;
static size_t n_paths;
static long n_files, n_dirs;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

/* Removes `name` below `at`: unlinks a file, or empties and removes a directory. */
static void remove_tree(int at, const char *name, long *files, long *dirs) {
  if (unlinkat(at, name, 0) == 0) {
    ++*files;
    return;
  }
  if (errno != EISDIR && errno != EPERM) {
    return;
  }
  int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  DIR *d = fdopendir(fd);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      remove_tree(dirfd(d), e->d_name, files, dirs);
    }
  }
  closedir(d);
  if (unlinkat(at, name, AT_REMOVEDIR) == 0) {
    ++*dirs;
  }
}

struct slice {
  size_t begin, end;
};

static void *work(void *arg) {
  struct slice *s = arg;
  long files = 0, dirs = 0;
  for (size_t i = s->begin; i < s->end; ++i) {
    remove_tree(v2, paths[i], &files, &dirs);
  }
  pthread_mutex_lock(&count_lock);
  n_files += files;
  n_dirs += dirs;
  pthread_mutex_unlock(&count_lock);
  return NULL;
}

/* Removes paths[begin, end) on `threads` threads, then syncs the filesystem. */
static void phase(size_t begin, size_t end, int threads) {
  pthread_t t[64];
  struct slice s[64];
  size_t n = end - begin;
  for (int k = 0; k < threads; ++k) {
    s[k].begin = begin + n * (size_t)k / (size_t)threads;
    s[k].end = begin + n * (size_t)(k + 1) / (size_t)threads;
    pthread_create(&t[k], NULL, work, &s[k]);
  }
  for (int k = 0; k < threads; ++k) {
    pthread_join(t[k], NULL);
  }
  if (syncfs(v2) != 0) {
    perror("syncfs");
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: unlink_floor <root> <list> [threads]\n");
    return 2;
  }
  int threads = argc > 3 ? atoi(argv[3]) : 2;
  if (threads < 1 || threads > 64) {
    threads = 2;
  }
  char v2path[4096];
  snprintf(v2path, sizeof v2path, "%s/docker/registry/v2", argv[1]);
  v2 = open(v2path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FILE *list = fopen(argv[2], "r");
  if (v2 < 0 || list == NULL) {
    perror("open");
    return 1;
  }
  size_t cap = 1024;
  char **phase_of = malloc(cap * sizeof *phase_of);
  paths = malloc(cap * sizeof *paths);
  char *line = NULL;
  size_t len = 0;
  while (getline(&line, &len, list) > 0) {
    char *tab = strchr(line, '\t');
    if (tab == NULL) {
      continue;
    }
    *tab = '\0';
    tab[strcspn(tab + 1, "\n") + 1] = '\0';
    if (n_paths == cap) {
      cap *= 2;
      phase_of = realloc(phase_of, cap * sizeof *phase_of);
      paths = realloc(paths, cap * sizeof *paths);
    }
    phase_of[n_paths] = strdup(line);
    paths[n_paths++] = strdup(tab + 1);
  }
  int phases = 0;
  for (size_t begin = 0; begin < n_paths;) {
    size_t end = begin;
    while (end < n_paths && strcmp(phase_of[end], phase_of[begin]) == 0) {
      ++end;
    }
    phase(begin, end, threads);
    ++phases;
    begin = end;
  }
  printf("unlink_floor: %zu paths in %d phases: %ld files and %ld directories removed, %d syncfs\n",
         n_paths, phases, n_files, n_dirs, phases);
  return 0;
}
