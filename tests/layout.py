#!/usr/bin/env python3
"""The house's rules, checked on every `make test` (ctest "layout").

Fails, naming each offender, when
  - a C file of ingress/, workers/, shared/ or tools/ is over 450 lines, or a
    Go file of the embedded database (embedded-db/) over 600;
  - a C function is over 100 lines;
  - a file includes a header against the layers' direction (LAYERS below),
    or includes another folder's header by a bare name;
  - mongoc_collection_* or mongoc_cursor_* is called outside workers/sdk/
    and workers/migrate/: the sdk's store is the one door to the database;
  - a package of the embedded database imports one it must not (GO_LAYERS).

There is no waiver list: a rule that does not fit is changed here, in the
open, not skipped for one file.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_C_LINES = 450
MAX_GO_LINES = 600
MAX_FUNCTION_LINES = 100

# Which layer may include which. A layer is a folder; a header is in the
# layer of its folder. `shared` is the ground library and `include` the
# public client API: every C program may use both.
LAYERS = {
    "shared": set(),
    "ingress": set(),
    "workers/query": set(),
    "workers/migrate": {"workers/query"},
    "workers/sdk": {"workers/migrate", "workers/query"},
    "workers/services": {"workers/sdk", "workers/migrate", "workers/query"},
    "workers/runtime": {"workers/services", "workers/sdk", "workers/migrate", "workers/query", "workers/broker"},
    "workers/broker": set(),
    "tools": {"workers/runtime", "workers/services", "workers/sdk", "workers/migrate", "workers/query"},
}
GROUND = {"shared", "include"}
# How a qualified include ("sdk/store.h") is found: from workers/.
WORKERS_ROOTS = ("query", "migrate", "sdk", "services", "runtime", "broker")
DATABASE_DOORS = ("workers/sdk/", "workers/migrate/")
C_FOLDERS = ("ingress", "workers", "shared", "tools")
GO_FOLDERS = ("embedded-db",)
# Which of the embedded database's packages may import which: the wire
# knows no command, the storage no wire and no command.
GO_MODULE = "roost.local/embedded-db"
GO_LAYERS = {
    "embedded-db": {"internal/handler", "internal/storage", "internal/wire"},
    "embedded-db/internal/handler": {"internal/storage", "internal/wire", "internal/query"},
    "embedded-db/internal/storage": {"internal/query"},
    "embedded-db/internal/wire": {"internal/query"},
    "embedded-db/internal/query": set(),
}


def tracked():
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        files = out.split()
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, _, names in os.walk(ROOT):
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
    return [f for f in files if os.path.exists(os.path.join(ROOT, f))]


def layer_of(path):
    """The layer a file (or header) belongs to, or None outside the layers."""
    parts = path.split("/")
    if parts[0] == "workers" and len(parts) > 2:
        return "workers/" + parts[1]
    if parts[0] in ("shared", "ingress", "tools", "include"):
        return parts[0]
    return None


def resolve(src, name):
    """The path of the header `src` includes as "name", or None."""
    here = os.path.dirname(src)
    candidates = [os.path.normpath(os.path.join(here, name))]
    if name.split("/")[0] in WORKERS_ROOTS:
        candidates.append("workers/" + name)
    if src.startswith("ingress/"):  # the ingress's own include root
        candidates.append("ingress/" + name)
    candidates += ["shared/" + name, "include/" + name]
    for c in candidates:
        if os.path.isfile(os.path.join(ROOT, c)):
            return c
    return None


def functions(lines):
    """(name, first line, length) of each function defined at column 0."""
    start = name = None
    for i, line in enumerate(lines):
        if line == "{" and i > 0:
            sig = " ".join(lines[max(0, i - 3) : i])
            m = re.findall(r"([A-Za-z_]\w*)\s*\(", sig)
            if m and not sig.rstrip().endswith(("=", ";")):
                start, name = i, m[0]
        elif line == "}" and start is not None:
            yield name, start + 1, i - start + 1
            start = None


def check(files):
    problems = []
    for f in files:
        path = os.path.join(ROOT, f)
        top = f.split("/")[0]
        if f.endswith(".go") and f.startswith(GO_FOLDERS):
            n = sum(1 for _ in open(path, encoding="utf-8"))
            if n > MAX_GO_LINES:
                problems.append(f"{f}: {n} lines, over {MAX_GO_LINES}: split it by concept")
            allowed = GO_LAYERS.get(os.path.dirname(f))
            for no, line in enumerate(open(path, encoding="utf-8"), 1):
                m = re.match(r'\s*(?:\w+\s+)?"' + re.escape(GO_MODULE) + r'/([^"]+)"', line)
                if m and (allowed is None or m.group(1) not in allowed):
                    problems.append(f"{f}:{no}: imports {m.group(1)}, against the packages' direction (GO_LAYERS)")
            continue
        if not f.endswith((".c", ".h")) or top not in C_FOLDERS:
            continue
        lines = open(path, encoding="utf-8").read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) > MAX_C_LINES:
            problems.append(f"{f}: {len(lines)} lines, over {MAX_C_LINES}: split it by concept")
        for name, first, length in functions(lines):
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{f}:{first}: {name}() is {length} lines, over {MAX_FUNCTION_LINES}")
        mine = layer_of(f)
        for no, line in enumerate(lines, 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if m:
                problems += include_problems(f, no, mine, m.group(1))
            if re.search(r"\bmongoc_(collection|cursor)_\w+\s*\(", line) and not f.startswith(DATABASE_DOORS):
                problems.append(f"{f}:{no}: calls the database directly; go through sdk/store.h")
    return problems


def include_problems(f, no, mine, name):
    target = resolve(f, name)
    if target is None:
        return [f'{f}:{no}: includes "{name}", which is no header of the tree']
    theirs = layer_of(target)
    # A service's files (workers/services/<name>/) see no other service and
    # no table; the tables beside the folders (databases.c) list them all.
    if f.startswith("workers/services/") and target.startswith("workers/services/") and f.count("/") == 3:
        if target.split("/")[2] != f.split("/")[2]:
            return [f'{f}:{no}: includes another service\'s "{name}": services meet over nng']
    if mine is None or theirs == mine or theirs in GROUND:
        if theirs != mine and "/" not in name and theirs not in GROUND:
            return [f'{f}:{no}: includes "{name}" of {theirs}/ by a bare name: qualify it']
        return []
    if theirs not in LAYERS.get(mine, set()):
        return [f'{f}:{no}: includes "{name}" ({theirs}/), which {mine}/ may not: layers go one way']
    if "/" not in name:
        return [f'{f}:{no}: includes "{name}" of {theirs}/ by a bare name: qualify it']
    return []


def main():
    problems = check(tracked())
    for p in problems:
        print("layout: " + p, file=sys.stderr)
    if problems:
        print(f"layout: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("layout: every rule holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
