#!/usr/bin/env python3
"""The benchmark under AWS's limits (issue 16): hikkonuki and Cloud Custodian, in one run, each on a
freshly seeded emulator behind scripts/aws_speed_proxy.py (our model of AWS's request budgets, plus a
fixed latency per call). Run it with scripts/bench-aws-speed.sh, which builds and sets the paths.

For each account size (REGIONSxVPCSxGROUPS, default 4x3x20) it measures:
- Cloud Custodian (the policy in scripts/custodian-policy.yml, revoking security-group rules open to the
  world): time to finish, calls, throttled calls, rules it left open, peak memory.
- hikkonuki with pacing on (its defaults): plan, then apply (time to seal, time to finish, calls,
  throttled calls, failed cuts, peak memory), then restore (time, calls, throttled calls).
- The lower bound for hikkonuki's apply from its call mix and the buckets: for each bucket the apply drew
  on, (calls - burst) / refill rate when the calls exceed the burst, plus one call's latency; the bound
  is the largest. Apply's own drift checks are in the mix.
- Where apply's time went, from the proxy's timeline: the time from its first write (the first call that
  is not a Describe, Get, List or Lookup, nor an HTTP GET or HEAD) to its last call's answer, against the
  same bound. What comes before the first write (reading the plan, the account and drift checks) is
  mostly the emulator answering region-wide describes, which it does far slower than AWS.
- The time from the first call on the bound's own bucket to the last call's answer, against the bound:
  how closely apply keeps its busiest bucket busy once it is in use. Before that call come the steps the
  safety sequence runs one after the other (the checks, the evidence, the sealing cuts), which the bound
  leaves out.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(command, env, cwd, log):
    """Runs a command to completion: (wall seconds, exit status, peak RSS in MiB, output)."""
    started = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    with open(log) as out:
        text = out.read()
    return wall, process.returncode, usage.ru_maxrss / 1024.0, text


class Emulator:
    """moto behind the speed proxy, as scripts/emulator.sh starts it."""

    def __init__(self, python, latency_ms, work):
        self.python, self.work = python, work
        port = subprocess.check_output(
            [python, "-c", 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'],
            text=True,
        ).strip()
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
        self.moto = subprocess.Popen(
            [python, os.path.join(ROOT, "tests/emulator/launch.py"), "-H", "127.0.0.1", "-p", port],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        else:
            raise SystemExit("the emulator did not start")
        self.proxy = subprocess.Popen(
            [python, os.path.join(ROOT, "scripts/aws_speed_proxy.py"), "--upstream", self.url,
             "--latency-ms", str(latency_ms), "--log-throttled"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "proxy.log"), "a"), text=True,
        )
        line = self.proxy.stdout.readline()
        self.proxy_url = line.strip().removeprefix("listening on ")

    def stats(self):
        return json.load(urllib.request.urlopen(self.proxy_url + "/_proxy/stats"))

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.proxy_url + "/_proxy/reset", method="POST", data=b""))

    def stop(self):
        for process in (self.proxy, self.moto):
            process.terminate()
            process.wait()


def open_rules(python, endpoint, regions, env):
    """Security-group rules still open to the world, read from the emulator itself."""
    script = """
import sys, boto3
endpoint, regions = sys.argv[1], sys.argv[2].split(",")
count = 0
for region in regions:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=region)
    for page in ec2.get_paginator("describe_security_group_rules").paginate():
        for rule in page["SecurityGroupRules"]:
            if rule.get("CidrIpv4") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                count += 1
print(count)
"""
    return int(subprocess.check_output([python, "-c", script, endpoint, ",".join(regions)], env=env, text=True))


def lower_bound(stats, latency):
    """(seconds, bucket) the busiest bucket needs for the calls it admitted."""
    best = (latency, "none")
    for name, bucket in stats["buckets"].items():
        need = max(0.0, (bucket["calls"] - bucket["burst"]) / bucket["per_second"]) + latency
        if need > best[0]:
            best = (need, name)
    return best


READ = re.compile(r"^(Describe|Get|List|Lookup)|^(GET|HEAD) ")


def from_first_write(stats, latency):
    """Seconds from the first write's arrival at the proxy to the last call's answer (None: no write)."""
    timeline = stats.get("timeline", [])
    writes = [at for at, key, _ in timeline if not READ.search(key.split(":", 1)[1])]
    if not writes:
        return None
    return max(at + answered + latency for at, _, answered in timeline) - min(writes)


def from_bucket_start(stats, latency, bucket):
    """Seconds from the first call drawing on `bucket` (`REGION/service:Action`) to the last answer."""
    timeline = stats.get("timeline", [])
    action = bucket.split(" ", 1)[0]
    starts = [at for at, key, _ in timeline if key == action]
    if not starts:
        return None
    return max(at + answered + latency for at, _, answered in timeline) - min(starts)


def number(pattern, text, default=None):
    match = re.search(pattern, text)
    return float(match.group(1)) if match else default


def seed(args, emulator, size, env, work):
    regions, vpcs, groups = size
    out = subprocess.run(
        [args.benchmark, "--seed-only", "--regions", str(regions), "--vpcs", str(vpcs), "--groups", str(groups)],
        env=dict(env, AWS_ENDPOINT_URL=emulator.url), cwd=work, check=True, capture_output=True, text=True,
    )
    return out.stdout.strip().split(",")


def custodian(args, size, env, work):
    emulator = Emulator(args.python, args.latency_ms, work)
    try:
        regions = seed(args, emulator, size, env, work)
        emulator.reset()
        flags = [flag for region in regions for flag in ("--region", region)]
        wall, status, rss, text = run(
            [os.path.join(args.c7n_venv, "bin/custodian"), "run", "--cache-period", "0", "-s",
             os.path.join(work, "c7n-out"), *flags, os.path.join(ROOT, "scripts/custodian-policy.yml")],
            dict(env, AWS_ENDPOINT_URL=emulator.proxy_url), work, os.path.join(work, "c7n.log"),
        )
        stats = emulator.stats()
        left = open_rules(args.python, emulator.url, regions, env)
        errors = len(re.findall(r"(?im)^.*\b(error|exception)\b", text))
        return {"wall": wall, "status": status, "rss": rss, "calls": stats["total_calls"],
                "throttled": stats["total_throttled"], "open_left": left, "log_errors": errors}
    finally:
        emulator.stop()


def hikkonuki(args, size, env, work):
    emulator = Emulator(args.python, args.latency_ms, work)
    try:
        regions = seed(args, emulator, size, env, work)
        region_list = ",".join(regions)
        # moto builds each service's backend per region on first use (seconds; AWS has no such cost):
        # one plan straight at the emulator first, unmeasured.
        subprocess.run([args.bin, "plan", "--regions", region_list, "--out", "warm-up.yaml", "--no-pacing"],
                       env=dict(env, AWS_ENDPOINT_URL=emulator.url), cwd=work, check=True, capture_output=True)
        through = dict(env, AWS_ENDPOINT_URL=emulator.proxy_url)
        emulator.reset()
        result = {}
        wall, status, rss, text = run([args.bin, "plan", "--regions", region_list, "--out", "plan.yaml", "--stats"],
                                      through, work, os.path.join(work, "plan.log"))
        if status != 0:
            raise SystemExit(f"plan failed:\n{text}")
        plan_stats = emulator.stats()
        result["plan"] = {"wall": wall, "rss": rss, "calls": plan_stats["total_calls"],
                          "throttled": plan_stats["total_throttled"],
                          "cuts": number(r"Plan: (\d+)", text) or number(r"(\d+) cuts?\b", text, 0)}
        emulator.reset()
        wall, status, rss, text = run([args.bin, "apply", "plan.yaml", "--yes", "--stats"], through, work,
                                      os.path.join(work, "apply.log"))
        apply_stats = emulator.stats()
        with open(os.path.join(work, "apply-proxy-stats.json"), "w") as out:
            json.dump(apply_stats, out, indent=1)
        apply_bound = lower_bound(apply_stats, args.latency_ms / 1000.0)
        failed_lines = [line for line in text.splitlines() if line.strip().startswith("failed:")]
        result["apply"] = {
            "wall": wall, "status": status, "rss": rss,
            "sealed": number(r"Time to seal: ([\d.]+)", text),
            "stats_calls": number(r"AWS calls: (\d+)", text),
            "calls": apply_stats["total_calls"], "throttled": apply_stats["total_throttled"],
            "failed": number(r"(\d+) failed", text, len(failed_lines)),
            "failed_by_throttling": sum(1 for line in failed_lines
                                        if re.search(r"(?i)throttl|RequestLimitExceeded|TooManyRequests", line)),
            "bound": apply_bound,
            "from_first_write": from_first_write(apply_stats, args.latency_ms / 1000.0),
            "from_bucket_start": from_bucket_start(apply_stats, args.latency_ms / 1000.0, apply_bound[1]),
            "open_left": open_rules(args.python, emulator.url, regions, env),
        }
        if args.skip_restore:
            return result
        emulator.reset()
        wall, status, rss, text = run([args.bin, "restore", "plan.rollback.yaml", "--yes", "--stats"], through,
                                      work, os.path.join(work, "restore.log"))
        restore_stats = emulator.stats()
        with open(os.path.join(work, "restore-proxy-stats.json"), "w") as out:
            json.dump(restore_stats, out, indent=1)
        result["restore"] = {"wall": wall, "status": status, "rss": rss, "calls": restore_stats["total_calls"],
                             "throttled": restore_stats["total_throttled"],
                             "failed": number(r"(\d+) failed", text, 0),
                             "bound": lower_bound(restore_stats, args.latency_ms / 1000.0)}
        return result
    finally:
        emulator.stop()


def main():
    # Stopped from outside: stop the emulators and proxies too (the `finally` blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="4x3x20", help="REGIONSxVPCSxGROUPS,… (default 4x3x20)")
    parser.add_argument("--latency-ms", type=float, default=60.0)
    parser.add_argument("--bin", required=True, help="the hikkonuki binary")
    parser.add_argument("--benchmark", required=True, help="the benchmark example (seeds the account)")
    parser.add_argument("--python", required=True, help="the moto venv's python")
    parser.add_argument("--c7n-venv", required=True)
    parser.add_argument("--skip-custodian", action="store_true")
    parser.add_argument("--skip-restore", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directories (logs)")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    env = dict(os.environ)
    rows = []
    for size in sizes:
        work = tempfile.mkdtemp(prefix="bench-aws-speed-")
        with open(os.path.join(work, "aws-config"), "w"):
            pass
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.path.join(work, "aws-config"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(work, "aws-config"), AWS_EC2_METADATA_DISABLED="true")
        print(f"== {size[0]} regions × {size[1]} VPCs × {size[2]} groups (work dir {work})", file=sys.stderr, flush=True)
        c7n = None if args.skip_custodian else custodian(args, size, env, work)
        hk = hikkonuki(args, size, env, work)
        rows.append((size, c7n, hk))
        print(json.dumps({"size": size, "custodian": c7n, "hikkonuki": hk}), file=sys.stderr, flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"Through scripts/aws_speed_proxy.py ({args.latency_ms:g} ms a call, AWS's documented buckets); "
          "hikkonuki with pacing on (its defaults).\n")
    print("| account | tool | time to seal | time to finish | calls (throttled) | failed | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for (regions, vpcs, groups), c7n, hk in rows:
        account = f"{regions} × {vpcs} × {groups}"
        a, r, p = hk["apply"], hk.get("restore"), hk["plan"]
        bound, bucket = a["bound"]
        sealed = f"{a['sealed']:.2f} s" if a["sealed"] is not None else "no sealing cut"
        print(f"| {account} ({p['cuts']:.0f} cuts) | hikkonuki plan | | {p['wall']:.1f} s | {p['calls']} ({p['throttled']}) | | {p['rss']:.0f} MiB |")
        writes = a.get("from_first_write")
        span = f"; from the first write {writes:.1f} s: {writes / bound:.2f}×" if writes else ""
        busiest = a.get("from_bucket_start")
        span += f"; from the bucket's first call {busiest:.1f} s: {busiest / bound:.2f}×" if busiest else ""
        print(f"| | hikkonuki apply | {sealed} | {a['wall']:.1f} s (bound {bound:.1f} s, {bucket}: {a['wall'] / bound:.2f}×{span}) "
              f"| {a['calls']} ({a['throttled']}) | {a['failed']:.0f} cuts, {a['failed_by_throttling']} by throttling; "
              f"{a['open_left']} open rules left | {a['rss']:.0f} MiB |")
        if r is None:
            r = {"wall": float("nan"), "bound": (float("nan"), "not measured"), "calls": "-", "throttled": "-",
                 "failed": float("nan"), "rss": float("nan")}
        rbound, rbucket = r["bound"]
        rratio = f": {r['wall'] / rbound:.2f}×" if rbound == rbound and rbound else ""
        print(f"| | hikkonuki restore | | {r['wall']:.1f} s (bound {rbound:.1f} s, {rbucket}{rratio}) | {r['calls']} ({r['throttled']}) "
              f"| {r['failed']:.0f} | {r['rss']:.0f} MiB |")
        if c7n:
            ratio = f"; hikkonuki sealed at {a['sealed'] / c7n['wall']:.3f}× its finish" if a["sealed"] else ""
            print(f"| | Cloud Custodian | | {c7n['wall']:.1f} s{ratio} | {c7n['calls']} ({c7n['throttled']}) "
                  f"| {c7n['open_left']} open rules left, {c7n['log_errors']} error lines | {c7n['rss']:.0f} MiB |")


if __name__ == "__main__":
    main()
