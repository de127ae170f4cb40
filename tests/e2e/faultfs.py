#!/usr/bin/python3
"""A FUSE passthrough that misbehaves on request: the storage faults of the end-to-end tests.

    faultfs.py BACKING MOUNTPOINT RULES LOG

Serves BACKING at MOUNTPOINT (foreground; unmount with `umount MOUNTPOINT`). RULES is a JSON
file, read again whenever it changes, holding a list of rules:

    {"op": "open", "path": "docker/registry/v2/repositories/apps", "fault": "EIO", "count": 1}

* op: getattr (stat and lookup), open, read, readdir, unlink, rmdir, rename.
* path: relative to BACKING, matched whole with fnmatch (so "*" crosses "/").
* fault: an errno name (EIO, ENOENT, EINTR, EACCES, ...), returned instead of doing the
  operation; or, for getattr, "nlink1" (a directory's link count is 1, as on btrfs); for read, "short" (half of what was asked, once per call) and "eof" (nothing:
  the file ends early); for readdir, "dup" (every entry twice), "drop:NAME" (NAME left out),
  "unknown" (every entry typed DT_UNKNOWN) and "cycle:NAME" (an extra directory NAME that is
  the directory itself, so that the tree has no bottom).
* count: how many times the rule fires; absent or null for always.

Without a rule, entries carry their types as a local file system gives them. Every fault that
fires is appended to LOG as "op fault path", so that a test can tell its fault was met. The
kernel caches nothing: entry and attribute timeouts are 0 and file data is read directly.
"""

import errno
import fnmatch
import json
import os
import stat
import sys
import threading

from fusepy import FUSE, FuseOSError, Operations


class Rules:
    def __init__(self, path, log):
        self.path = path
        self.log = log
        self.lock = threading.Lock()
        self.stamp = None
        self.rules = []

    def _reload(self):
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self.stamp:
            return
        self.stamp = stamp
        rules = []
        if stamp is not None:
            with open(self.path) as f:
                text = f.read()
            rules = json.loads(text) if text.strip() else []
        for r in rules:
            r["left"] = r.get("count")
        self.rules = rules

    def take(self, op, path):
        """The fault of the first rule for `op` on `path` that has firings left, or None."""
        with self.lock:
            self._reload()
            for r in self.rules:
                if r["op"] != op or not fnmatch.fnmatchcase(path, r["path"]):
                    continue
                if r["left"] is not None:
                    if r["left"] <= 0:
                        continue
                    r["left"] -= 1
                with open(self.log, "a") as f:
                    f.write("%s %s %s\n" % (op, r["fault"], path))
                return r["fault"]
        return None


def fail_with(fault):
    code = getattr(errno, fault, None)
    if code is None:
        raise SystemExit("faultfs: unknown errno name %r" % fault)
    raise FuseOSError(code)


class FaultFS(Operations):
    use_ns = True

    def __init__(self, backing, rules):
        self.backing = backing
        self.rules = rules

    def _real(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def _fault(self, op, path):
        """The fault to act on, for those that are no errno; raises the errno of the others."""
        fault = self.rules.take(op, self._canonical(path))
        if fault is None or not fault.isupper():
            return fault
        fail_with(fault)
        return None

    def _canonical(self, path):
        return path.lstrip("/")

    @staticmethod
    def _attrs(st):
        keys = ("st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns",
                "st_mtime_ns", "st_ctime_ns")
        out = {k: getattr(st, k) for k in keys}
        for k in ("st_atime", "st_mtime", "st_ctime"):
            out[k] = out.pop(k + "_ns")
        return out

    def getattr(self, path, fh=None):
        fault = self._fault("getattr", path)
        try:
            attrs = self._attrs(os.lstat(self._real(path)))
        except OSError as e:
            raise FuseOSError(e.errno)
        if fault == "nlink1" and stat.S_ISDIR(attrs["st_mode"]):
            attrs["st_nlink"] = 1  # as btrfs: no count of subdirectories
        return attrs

    def readlink(self, path):
        return os.readlink(self._real(path))

    def readdir(self, path, fh):
        fault = self._fault("readdir", path) or ""
        real = self._real(path)
        try:
            names = sorted(os.listdir(real))
        except OSError as e:
            raise FuseOSError(e.errno)
        out = []
        for name in [".", ".."] + names:
            if fault.startswith("drop:") and name == fault[5:]:
                continue
            attrs = None
            if fault != "unknown" and name not in (".", ".."):
                try:
                    attrs = {"st_mode": stat.S_IFMT(os.lstat(os.path.join(real, name)).st_mode)}
                except OSError:
                    attrs = None
            out.append((name, attrs, 0))
            if fault == "dup" and name not in (".", ".."):
                out.append((name, attrs, 0))
        if fault.startswith("cycle:"):
            out.append((fault[6:], {"st_mode": stat.S_IFDIR}, 0))
        return out


    def open(self, path, flags):
        self._fault("open", path)
        try:
            return os.open(self._real(path), flags | os.O_NOFOLLOW)
        except OSError as e:
            raise FuseOSError(e.errno)

    def create(self, path, mode, fi=None):
        try:
            return os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        except OSError as e:
            raise FuseOSError(e.errno)

    def read(self, path, size, offset, fh):
        fault = self._fault("read", path)
        if fault == "eof":
            return b""
        if fault == "short":
            size = max(1, size // 2)
        try:
            return os.pread(fh, size, offset)
        except OSError as e:
            raise FuseOSError(e.errno)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        os.truncate(self._real(path), length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def fsync(self, path, datasync, fh):
        os.fsync(fh)
        return 0

    def fsyncdir(self, path, datasync, fh):
        return 0

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except OSError as e:
            raise FuseOSError(e.errno)

    def unlink(self, path):
        self._fault("unlink", path)
        return self._call(os.unlink, self._real(path))

    def rmdir(self, path):
        self._fault("rmdir", path)
        return self._call(os.rmdir, self._real(path))

    def mkdir(self, path, mode):
        return self._call(os.mkdir, self._real(path), mode)

    def rename(self, old, new):
        self._fault("rename", old)
        return self._call(os.rename, self._real(old), self._real(new))

    def link(self, target, source):
        return self._call(os.link, self._real(source), self._real(target))

    def symlink(self, target, source):
        return self._call(os.symlink, source, self._real(target))

    def chmod(self, path, mode):
        return self._call(os.chmod, self._real(path), mode)

    def chown(self, path, uid, gid):
        return self._call(os.lchown, self._real(path), uid, gid)

    def utimens(self, path, times=None):
        if times is None:
            return self._call(lambda: os.utime(self._real(path), follow_symlinks=False))
        return self._call(lambda: os.utime(self._real(path), ns=times, follow_symlinks=False))

    def statfs(self, path):
        st = os.statvfs(self._real(path))
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize",
                                            "f_favail", "f_ffree", "f_files", "f_flag",
                                            "f_frsize", "f_namemax")}


class CyclingFS(FaultFS):
    """FaultFS whose "cycle:NAME" entries resolve: a path through NAME is its directory again,
    and rules match that directory by the path without the NAMEs (so the cycle goes on)."""

    def _cycles(self):
        with self.rules.lock:
            self.rules._reload()
            return [(r["path"], r["fault"][6:]) for r in self.rules.rules
                    if r["op"] == "readdir" and r["fault"].startswith("cycle:")]

    def _canonical(self, path):
        cycles = self._cycles()
        kept = []
        for p in [p for p in path.split("/") if p]:
            if any(name == p and fnmatch.fnmatchcase("/".join(kept), where)
                   for where, name in cycles):
                continue
            kept.append(p)
        return "/".join(kept)

    def _real(self, path):
        canonical = self._canonical(path)
        return os.path.join(self.backing, canonical) if canonical else self.backing


def main():
    if len(sys.argv) != 5:
        raise SystemExit("usage: faultfs.py BACKING MOUNTPOINT RULES LOG")
    backing, mountpoint, rules, log = sys.argv[1:]
    fs = CyclingFS(os.path.abspath(backing), Rules(os.path.abspath(rules), os.path.abspath(log)))
    FUSE(fs, mountpoint, foreground=True, nothreads=False, allow_other=True, use_ino=False,
         entry_timeout=0, attr_timeout=0, negative_timeout=0, direct_io=True)


if __name__ == "__main__":
    main()
