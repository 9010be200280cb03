#!/bin/sh
# run.sh - runs libnvmm's benchmarks against their raw-KVM baselines and prints one table (make bench).
#
# Usage: sh bench/run.sh [BUILD_DIR]          (default build)
#
# Knobs (environment): BENCH_EXITS (exits per side per loop, 100000),
# BENCH_KICKS (stop kicks per side, 10000), BENCH_MACHINES (128),
# BENCH_ROUNDS (machine rounds, 5), BENCH_STARTS (start-ups per program, 51),
# QEMU (path of qemu-system-x86_64; default: found in PATH),
# QEMU_NVMM (a QEMU built with the NVMM accelerator on this libnvmm;
# default BUILD_DIR/interop/qemu/qemu-system-x86_64, which `make bench`
# builds with interop/run.sh --build), BENCH_QEMU_RUNS (QEMU runs per
# accelerator, 5), BENCH_QEMU_BURSTS (bursts of 1000 OUTs per run, 50).
# Nothing is installed here; a missing QEMU skips its row (not met).

B=${1:-build}
NB=$B/bench/nvbench
EXITS=${BENCH_EXITS:-100000}
KICKS=${BENCH_KICKS:-10000}
MACHINES=${BENCH_MACHINES:-128}
ROUNDS=${BENCH_ROUNDS:-5}
STARTS=${BENCH_STARTS:-51}
QEMU=${QEMU-$(command -v qemu-system-x86_64 2>/dev/null)}
QEMU_NVMM=${QEMU_NVMM-$B/interop/qemu/qemu-system-x86_64}
[ -x "$QEMU_NVMM" ] || QEMU_NVMM=

for f in "$NB" "$B/toyvirt" "$B/bench/raw_boot" "$B/smallkern"; do
	if [ ! -x "$f" ] && [ ! -f "$f" ]; then
		echo "bench: $f is missing; run make B=$B first" >&2
		exit 1
	fi
done

# The raw results stay in the build directory: BENCH_TABLE_ONLY=1 makes
# the table again from them without measuring.
RES=$B/bench-results.txt
# The machines row gets a registry of its own: 128 live machines would
# take every host-wide id from other users of the default registry.
REG=$(mktemp -d /dev/shm/nvbench-reg.XXXXXX 2>/dev/null ||
    mktemp -d "${TMPDIR:-/tmp}/nvbench-reg.XXXXXX") || exit 1
trap 'rm -rf "$REG"' EXIT INT TERM

# ------------------------------------------------------------------------
# Measure.  Each step appends RESULT/SKIP/INFO lines; a failing step
# leaves a FAIL line so that its row shows as not met.
# ------------------------------------------------------------------------

step() {
	key=$1
	shift
	echo "bench: $key ..." >&2
	if ! "$@" >>"$RES"; then
		echo "FAIL $key" >>"$RES"
	fi
}

[ "${BENCH_TABLE_ONLY:-}" = 1 ] || : > "$RES" || exit 1
if [ "${BENCH_TABLE_ONLY:-}" = 1 ]; then
	[ -s "$RES" ] || { echo "bench: no $RES to tabulate" >&2; exit 1; }
elif ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "bench: /dev/kvm cannot be used; nothing measured" >&2
	for k in out mmio state msr stop start_raw start_qemu machines rss qemu_io; do
		echo "FAIL $k" >>"$RES"
	done
else
	step out "$NB" out -n "$EXITS"
	step mmio "$NB" mmio -n "$EXITS"
	step state "$NB" state -n "$EXITS"
	step msr "$NB" msr -n "$EXITS"
	step parts "$NB" parts -n "$EXITS"
	step stop "$NB" stop -n "$KICKS"
	step start "$NB" start -t "$B/toyvirt" -r "$B/bench/raw_boot" \
	    -k "$B/smallkern" -Q "$QEMU" -n "$STARTS"
	step machines env NVMM_REGISTRY_DIR="$REG" "$NB" machines \
	    -n "$MACHINES" -R "$ROUNDS"
	step rss "$NB" rss -t "$B/toyvirt" -r "$B/bench/raw_boot" \
	    -k "$B/smallkern"
	# QEMU loads the libnvmm.so of this build.
	step qemu_io env LD_LIBRARY_PATH="$(cd "$B" && pwd)" "$NB" qemuio \
	    -Q "$QEMU_NVMM" -n "${BENCH_QEMU_RUNS:-5}" \
	    -b "${BENCH_QEMU_BURSTS:-50}"
fi

# ------------------------------------------------------------------------
# Tabulate: rows in a fixed order, ratio = ours / baseline (medians).
# ------------------------------------------------------------------------

# Where this ran: the KVM host kind (nvmmctl identify says it) and whether
# that KVM is the emulated AMD-V test machine's.
kind=$("$B/nvmmctl" identify 2>/dev/null | sed -n 's/^nvmm: Backend Linux KVM on \(.*\); .*/\1/p')
where="this host"
[ "${VM_GUEST:-}" = 1 ] && where="the AMD-V test machine (QEMU TCG, emulated: only ratios count)"
awk -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" -v host="$(uname -r)" \
    -v kind="${kind:-unknown}" -v where="$where" '
BEGIN {
	nrow = split("out mmio state msr stop start_raw start_qemu machines rss qemu_io", order, " ")
	title["out"] = "OUT loop, run+assist_io"
	title["mmio"] = "MMIO read loop, run+assist_mem"
	title["state"] = "OUT loop + getstate/setstate GPRS"
	title["msr"] = "RDMSR as toyvirt (get/setstate)"
	title["stop"] = "nvmm_vcpu_stop latency"
	title["start_raw"] = "start-up: toyvirt vs raw_boot"
	title["start_qemu"] = "start-up: toyvirt vs QEMU microvm"
	title["machines"] = "128 machines: create..destroy"
	title["rss"] = "toyvirt RSS beyond guest RAM"
	title["qemu_io"] = "QEMU port-I/O loop: nvmm vs kvm"
	goal["out"] = 1.03; goal["mmio"] = 1.03; goal["state"] = 1.05
	goal["msr"] = 1.05; goal["stop"] = 1.1; goal["start_raw"] = 1.1
	goal["start_qemu"] = 1 / 15; goal["machines"] = 1.1; goal["rss"] = 2048
	goal["qemu_io"] = 1.5
	gtext["start_qemu"] = "<=1/15"; gtext["rss"] = "<=2048KiB"
	gtext["stop"] = "p99<=1.10"
	base["start_qemu"] = "qemu"
}
$1 == "RESULT" && !($2 in title) { extra[nextra++] = $2 }
$1 == "RESULT" { have[$2] = 1; o50[$2] = $3; o99[$2] = $4; on[$2] = $5
	b50[$2] = $6; b99[$2] = $7; bn[$2] = $8; unit[$2] = $9 }
$1 == "SKIP" { skip[$2] = $0; sub(/^SKIP [^ ]* /, "", skip[$2]) }
$1 == "FAIL" { fail[$2] = 1 }
$1 == "FAIL" && $2 == "start" { fail["start_raw"] = fail["start_qemu"] = 1 }
$1 == "INFO" { info[ninfo++] = substr($0, 6) }
function cell(a, b, u) { return sprintf("%.2f/%.2f %s", a, b, u) }
END {
	printf("libnvmm benchmarks, %s, kernel %s, KVM on %s, in %s (ratio = ours/baseline medians)\n", date, host, kind, where)
	printf("%-34s %-22s %-22s %-15s %-16s %-10s %s\n", "measure", "ours p50/p99",
	    "baseline p50/p99", "samples", "ratio", "goal", "met?")
	met = 0
	for (i = 1; i <= nrow; i++) {
		k = order[i]
		g = (k in gtext) ? gtext[k] : sprintf("<=%.2f", goal[k])
		if (!(k in have)) {
			why = (k in skip) ? "skipped" : "failed"
			printf("%-34s %-22s %-22s %-15s %-16s %-10s %s\n", title[k], why, "-", "-", "-", g, "no")
			continue
		}
		r = (b50[k] > 0) ? o50[k] / b50[k] : 999
		r99 = (b99[k] > 0) ? o99[k] / b99[k] : 999
		if (k == "rss") {
			ok = o50[k] <= goal[k]
			rt = sprintf("%.3f", r)
			oc = sprintf("%d KiB", o50[k]); bc = sprintf("%d KiB", b50[k])
			sm = "1+1"
		} else {
			ok = r <= goal[k] + 1e-9
			rt = sprintf("%.3f", r)
			if (k == "stop") {	# the goal is on p99
				ok = r99 <= goal[k] + 1e-9
				rt = sprintf("%.3f p99 %.3f", r, r99)
			}
			oc = cell(o50[k], o99[k], unit[k]); bc = cell(b50[k], b99[k], unit[k])
			sm = on[k] "+" bn[k]
		}
		met += ok
		printf("%-34s %-22s %-22s %-15s %-16s %-10s %s\n", title[k], oc, bc, sm, rt, g, ok ? "yes" : "no")
	}
	for (i = 0; i < nextra; i++) {
		k = extra[i]
		printf("note: %s (no goal): ours %s, baseline %s, %s+%s samples, ratio %.3f\n",
		    k, cell(o50[k], o99[k], unit[k]), cell(b50[k], b99[k], unit[k]),
		    on[k], bn[k], b50[k] > 0 ? o50[k] / b50[k] : 999)
	}
	for (k in skip)
		printf("note: %s skipped: %s\n", k, skip[k])
	for (i = 0; i < ninfo; i++)
		printf("note: %s\n", info[i])
	printf("bench: %d of %d goals met\n", met, nrow)
}' "$RES"
