#!/usr/bin/env bash
# Run fio profiles against an NBD export and print one summary table. See fio-profiles/README.md.
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
PERFORMANCE=(randwrite-4k-qd1 randwrite-4k-qd32 randread-4k-qd1 randread-4k-qd32 seqwrite-128k mixed-70-30 dedup-50)

usage() {
  cat <<USAGE
usage: fio-profiles/run.sh URI [PROFILE ...]

  URI       NBD URI of the export, e.g. nbd://127.0.0.1:10809/vol1
  PROFILE   job file name in fio-profiles/ with or without .fio (default: the performance
            profiles: ${PERFORMANCE[*]})
            also: verify-crc32c

environment (defaults small enough for CI):
  FIO_SIZE=64m        range each job covers (must fit in the export)
  FIO_RUNTIME=10      seconds per time-based job
  FIO_OUTPUT_DIR=DIR  keep fio's JSON and log output there (default: a temporary directory, removed)

prints one table on stdout: profile, op, IOPS, MiB/s, completion latency p50/p99/p99.9 in µs,
errors; exit status 1 when any fio run fails, 2 on wrong usage.
USAGE
}

if [ $# -lt 1 ]; then usage >&2; exit 2; fi
case "$1" in -h|--help) usage; exit 0 ;; esac
URI="$1"; shift
case "$URI" in
  nbd://*|nbds://*|nbd+unix://*|nbds+unix://*) ;;
  *) echo "run.sh: '$URI' is not an NBD URI (nbd://HOST:PORT/EXPORT)" >&2; exit 2 ;;
esac

profiles=("$@")
[ ${#profiles[@]} -eq 0 ] && profiles=("${PERFORMANCE[@]}")
for i in "${!profiles[@]}"; do
  p="${profiles[$i]%.fio}"; p="${p##*/}"
  if [ ! -f "$DIR/$p.fio" ]; then
    known="$(cd "$DIR" && ls -- *.fio | sed 's/\.fio$//' | tr '\n' ' ')"
    echo "run.sh: unknown profile '${profiles[$i]}' (profiles: ${known% })" >&2
    exit 2
  fi
  profiles[$i]="$p"
done
for tool in fio python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done

export AFASIM_NBD_URI="$URI"
export FIO_SIZE="${FIO_SIZE:-64m}"
export FIO_RUNTIME="${FIO_RUNTIME:-10}"
if [ -n "${FIO_OUTPUT_DIR:-}" ]; then
  OUT="$FIO_OUTPUT_DIR"; mkdir -p "$OUT"
else
  OUT="$(mktemp -d "${TMPDIR:-/tmp}/afasim-fio.XXXXXX")"
  trap 'rm -rf "$OUT"' EXIT
fi

results=()
failed=0
for p in "${profiles[@]}"; do
  echo "[run.sh] $p against $URI (size $FIO_SIZE, runtime ${FIO_RUNTIME}s)" >&2
  rm -f "$OUT/$p.json"
  rc=0
  # from OUT: fio leaves files (e.g. verify state) in its working directory
  (cd "$OUT" && fio --output-format=json --output="$OUT/$p.json" "$DIR/$p.fio") >"$OUT/$p.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "run.sh: $p: fio exited with status $rc; its last output lines:" >&2
    tail -n 15 "$OUT/$p.log" | sed 's/^/  /' >&2
  fi
  results+=("$p=$rc")
done

python3 - "$OUT" "${results[@]}" <<'PY'
import json, os, sys

out_dir, results = sys.argv[1], sys.argv[2:]
header = ["profile", "op", "IOPS", "MiB/s", "clat_p50_us", "clat_p99_us", "clat_p99.9_us", "errors"]
rows = []

def us(percentiles, key):
    value = (percentiles or {}).get(key)
    return "-" if value is None else "%.0f" % (value / 1000.0)

for result in results:
    profile, rc = result.rsplit("=", 1)
    path = os.path.join(out_dir, profile + ".json")
    jobs = []
    try:
        with open(path) as f:
            text = f.read()
        # fio may print notes before the document; start at the first '{'
        jobs = json.loads(text[text.index("{"):]).get("jobs", [])
    except (OSError, ValueError) as e:
        pass
    measured = [j for j in jobs if j.get("jobname") != "prefill"]
    if not measured:
        rows.append([profile, "-", "-", "-", "-", "-", "-", "fio exit %s, no results" % rc])
        continue
    for job in measured:
        name = profile if job.get("jobname") == profile else profile + "/" + job.get("jobname", "?")
        errors = []
        if job.get("error"):
            errors.append("errno %d" % job["error"])
        if job.get("total_err"):
            errors.append("%d I/O errors" % job["total_err"])
        if rc != "0":
            errors.append("fio exit %s" % rc)
        verify = "verify" in job.get("job options", {})
        printed = False
        for op in ("write", "read", "trim") if verify else ("read", "write", "trim"):
            stats = job.get(op) or {}
            if not stats.get("total_ios"):
                continue
            pct = (stats.get("clat_ns") or {}).get("percentile")
            label = "verify" if op == "read" and verify else op
            rows.append([name, label, "%.0f" % stats.get("iops", 0), "%.1f" % (stats.get("bw_bytes", 0) / 1048576.0),
                         us(pct, "50.000000"), us(pct, "99.000000"), us(pct, "99.900000"),
                         ", ".join(errors) or "0"])
            printed = True
        if not printed:
            rows.append([name, "-", "0", "0.0", "-", "-", "-", ", ".join(errors) or "no I/O"])

numeric = {2, 3, 4, 5, 6}
widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
for r in [header] + rows:
    cells = [r[i].rjust(widths[i]) if i in numeric else r[i].ljust(widths[i]) for i in range(len(r))]
    print("  ".join(cells).rstrip())
PY

exit "$failed"
