#!/usr/bin/env python3
"""mailgate vs Dovecot, side by side. See bench/README.md.

    python3 bench/run.py [--quick] [--only mix,idle,sync,pop3,delivery,large,startup,proxy]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mgbench import profile, proc, report, w_bulk, w_idle, w_mix  # noqa: E402
from mgbench.preload import create_default_folders, preload_imap  # noqa: E402
from mgbench.servers import Dovecot, Mailgate, MailgateProxied, user  # noqa: E402

WORKLOADS = ("mix", "sync", "pop3", "large", "delivery", "idle", "startup", "proxy")
PROXY_CLIENTS = 50  # proxy overhead: the IMAP mix at this many clients
PROXY_WARMUP_S = 3  # each server start is followed by an uncounted mix run this long
CORPUS_VERSION = 1

# mailboxes: user1..10 mix, 11 idle, 12 sync, 13 pop3, 14..23 delivery, 24 large
MIX_MAILBOXES = 10
IDLE_USER, SYNC_USER, POP_USER, BIG_USER = user(11), user(12), user(13), user(24)
DELIVERY_USERS = [user(i) for i in range(14, 24)]
N_USERS = 500
SHORT_REPEATS = 9  # A B rounds of the short workloads (sync, POP3), after one uncounted round each

SIZES = {
    "full": {"mix_clients": (10, 50, 100), "mix_seconds": 20, "idle": (1000, 10000), "idle_nohib_max": 1000,
             "idle_tls": 1000, "sync": 10000, "pop3": 5000, "delivery": 5000, "large": 100000, "repeats": 2},
    "quick": {"mix_clients": (10, 50, 100), "mix_seconds": 8, "idle": (200, 1000), "idle_nohib_max": 1000,
              "idle_tls": 200, "sync": 2000, "pop3": 1000, "delivery": 1000, "large": 20000, "repeats": 2},
}


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def raise_limits() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Dovecot's IDLE uses one inotify instance per imap process; the kernel
    # default (128 per user) silently turns IDLE into 30 s polling.
    try:
        path = Path("/proc/sys/fs/inotify/max_user_instances")
        if int(path.read_text()) < 20000:
            path.write_text("20000")
    except OSError as exc:
        log(f"warning: cannot raise fs.inotify.max_user_instances ({exc}); Dovecot IDLE may poll")


def preload(mg: Mailgate, dc: Dovecot, sz: dict, workdir: Path, fresh: bool) -> None:
    manifest = {"version": CORPUS_VERSION, "sync": sz["sync"], "pop3": sz["pop3"], "large": sz["large"],
                "users": N_USERS, "mix": MIX_MAILBOXES}
    mfile = workdir / "manifest.json"
    if not fresh and mfile.exists() and json.loads(mfile.read_text()) == manifest \
            and mg.data.exists() and dc.dir.exists():
        log("reusing the preloaded servers in " + str(workdir) + " (--fresh to rebuild)")
        return
    mfile.unlink(missing_ok=True)
    jobs = [*w_mix.preload_jobs(MIX_MAILBOXES),
            (SYNC_USER, "INBOX", "sync", range(sz["sync"]), False),
            (POP_USER, "INBOX", "pop", range(sz["pop3"]), False),
            (BIG_USER, "INBOX", "big", range(sz["large"]), True)]
    log(f"setting up {N_USERS} users on both servers")
    mg.setup(N_USERS)
    dc.setup(N_USERS)
    log(f"preloading mailgate ({sum(len(j[3]) for j in jobs)} messages, mailgate.delivery.deliver)")
    log(f"  done in {mg.preload(jobs):.0f} s")
    dc.start("preload")
    log("creating Dovecot's default folders for the mix mailboxes")
    create_default_folders(dc, [w_mix.mix_user(m) for m in range(MIX_MAILBOXES)] + [IDLE_USER])
    log("preloading Dovecot over IMAP APPEND (fsync off during the preload only)")
    # split the big folder's preload? No: UID order must follow corpus order.
    log(f"  done in {preload_imap(dc, jobs):.0f} s")
    dc.stop()
    mfile.write_text(json.dumps(manifest))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for development")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    ap.add_argument("--workdir", default="/tmp/mgbench", help="servers' data (kept for reuse)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the servers' data")
    ap.add_argument("--repeats", type=int, help="A B rounds per workload (default 2)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--overwrite", action="store_true",
                    help="with --only: replace RESULTS.md and results-MODE.json (default: a partial run "
                         "writes results-MODE-WORKLOADS.json and adds/replaces its own section in RESULTS.md)")
    ap.add_argument("--title", default="", help="heading of a partial run's section in RESULTS.md")
    args = ap.parse_args()
    mode = "quick" if args.quick else "full"
    sz = dict(SIZES[mode])
    if args.repeats:
        sz["repeats"] = args.repeats
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        print(f"unknown workloads: {', '.join(unknown)} (known: {', '.join(WORKLOADS)})", file=sys.stderr)
        return 2
    partial = set(only) != set(WORKLOADS) and not args.overwrite
    workdir = Path(args.workdir) / mode
    workdir.mkdir(parents=True, exist_ok=True)
    if not Dovecot.available():
        print("Dovecot is missing: apt-get install -y dovecot-imapd dovecot-pop3d dovecot-lmtpd", file=sys.stderr)
        return 2
    raise_limits()
    results: dict = {"mode": mode, "sizes": sz, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                     "machine": proc.machine(), "load_before": proc.loadavg(), "loads": [], "workloads": {},
                     "notes": [], "profiles": {}}
    t_start = time.monotonic()
    mg, dc = Mailgate(workdir), Dovecot(workdir)
    if (workdir / "mailgate" / "data").exists():
        # keep mailgate's ports from the previous run (they are in its store)
        saved = workdir / "mailgate-ports.json"
        if saved.exists():
            mg.ports = json.loads(saved.read_text())
    preload(mg, dc, sz, workdir, args.fresh)
    (workdir / "mailgate-ports.json").write_text(json.dumps(mg.ports))
    servers = (mg, dc)
    R = sz["repeats"]
    # The sync and POP3 runs take seconds each, and one noisy second moved
    # their median by a third with two rounds: they get more.
    R_SHORT = max(R, SHORT_REPEATS)
    W = results["workloads"]

    def note_load(label: str) -> None:
        results["loads"].append((label, proc.loadavg()))

    try:
        mg.start()
        dc.start()
        results["lmtp_mailgate"] = mg.lmtp_available
        # --- 1. IMAP mix
        if "mix" in only:
            expect = w_mix.Expect(MIX_MAILBOXES)
            for clients in sz["mix_clients"]:
                key = f"mix{clients}"
                W[key] = {"mailgate": [], "dovecot": []}
                for r in range(R):
                    for s in servers:
                        note_load(f"{key} {s.name} {r}")
                        res = asyncio.run(w_mix.run(s, clients, sz["mix_seconds"], MIX_MAILBOXES, expect,
                                                    f"{int(time.time())}{r}"))
                        res["cpu_s"] = None
                        W[key][s.name].append(res)
                        log(f"mix {clients:>3} clients {s.name:8}: {res['ops_per_s']:7.1f} ops/s, "
                            f"{res['errors']} errors")
        # --- 8. proxy overhead: the mix through a frontend vs the single process
        if "proxy" in only:
            px = MailgateProxied(mg)
            mg.stop()
            px.prepare()
            expect = w_mix.Expect(MIX_MAILBOXES)
            W["proxy"] = {"frontend": [], "direct": []}
            try:
                for r in range(R):
                    for label, s in (("direct", mg), ("frontend", px)):
                        # a fresh start each time, then an uncounted warm-up
                        s.start()
                        asyncio.run(w_mix.run(s, PROXY_CLIENTS, PROXY_WARMUP_S, MIX_MAILBOXES, expect,
                                              f"w{int(time.time())}{r}"))
                        note_load(f"proxy {label} {r}")
                        res = asyncio.run(w_mix.run(s, PROXY_CLIENTS, sz["mix_seconds"], MIX_MAILBOXES, expect,
                                                    f"{int(time.time())}{r}"))
                        mem = s.rss()
                        res["rss_after"], res["processes"] = mem.rss, mem.processes
                        W["proxy"][label].append(res)
                        log(f"proxy mix {PROXY_CLIENTS} clients {label:8}: {res['ops_per_s']:7.1f} ops/s, "
                            f"{res['errors']} errors, RSS {mem.rss / 2**20:.0f} MiB in {mem.processes} processes")
                        s.stop()
            finally:
                results["server_errors_proxy"] = px.errors_logged()[:30]
                px.stop()
                mg.stop()
                mg.start()
        # --- 3. header-first sync
        if "sync" in only:
            check = w_bulk.Checker("sync", sz["sync"])
            W["sync"] = {"mailgate": [], "dovecot": []}
            for s in servers:  # uncounted: the files come back into the page cache for both
                asyncio.run(w_bulk.header_sync(s, SYNC_USER, check))
            for r in range(R_SHORT):
                for s in servers:
                    note_load(f"sync {s.name} {r}")
                    res = asyncio.run(w_bulk.header_sync(s, SYNC_USER, check))
                    W["sync"][s.name].append(res)
                    log(f"sync {s.name:8}: headers {res['headers_msgs_per_s']:.0f} msg/s, bodies "
                        f"{res['bodies_mb_per_s']:.1f} MB/s, {res['errors']} errors")
            del check
        # --- 4. POP3
        if "pop3" in only:
            check = w_bulk.Checker("pop", sz["pop3"])
            W["pop3"] = {"mailgate": [], "dovecot": []}
            for s in servers:  # uncounted warm-up, as for the sync
                asyncio.run(w_bulk.pop3_download(s, POP_USER, check))
            for r in range(R_SHORT):
                for s in servers:
                    note_load(f"pop3 {s.name} {r}")
                    res = asyncio.run(w_bulk.pop3_download(s, POP_USER, check))
                    W["pop3"][s.name].append(res)
                    log(f"pop3 {s.name:8}: {res['msgs_per_s']:.0f} msg/s {res['mb_per_s']:.1f} MB/s, "
                        f"{res['errors']} errors")
            del check
        # --- 6. large folder (and the sync folder, to see how peak RSS scales)
        if "large" in only:
            for key, address, n in (("large", BIG_USER, sz["large"]), ("large_small", SYNC_USER, sz["sync"])):
                W[key] = {"mailgate": [], "dovecot": []}
                for r in range(R):
                    for s in servers:
                        # a fresh server: its peak RSS then reflects this folder only
                        # (a Python process keeps freed memory for reuse)
                        s.stop()
                        s.start()
                        note_load(f"{key} {s.name} {r}")
                        res = asyncio.run(w_bulk.large_folder(s, address, n))
                        W[key][s.name].append(res)
                        log(f"{key} {n} {s.name:8}: SELECT {res['select_s'] * 1000:.0f} ms, FLAGS "
                            f"{res['flags_s'] * 1000:.0f} ms, SEARCH {res['search_s'] * 1000:.0f} ms, peak +"
                            f"{res['peak_over_base'] / 2**20:.1f} MiB, {res['errors']} errors")
        # --- 5. delivery
        if "delivery" in only:
            W["lmtp"] = {"mailgate": [], "dovecot": []}
            W["append"] = {"mailgate": [], "dovecot": []}
            for r in range(R):
                for s in servers:
                    note_load(f"delivery {s.name} {r}")
                    if s.lmtp_available:
                        res = asyncio.run(w_bulk.lmtp_deliver(s, DELIVERY_USERS, f"lmtp{int(time.time())}",
                                                              sz["delivery"]))
                        W["lmtp"][s.name].append(res)
                        log(f"lmtp {s.name:8}: {res['msgs_per_s']:.0f} msg/s, {res['errors']} errors")
                    res = asyncio.run(w_bulk.append_deliver(s, DELIVERY_USERS, f"apd{int(time.time())}",
                                                            sz["delivery"]))
                    W["append"][s.name].append(res)
                    log(f"append {s.name:8}: {res['msgs_per_s']:.0f} msg/s, {res['errors']} errors")
        # --- profiles of mailgate (separate runs, not in the figures)
        if not args.no_profile and profile.available() and ("mix" in only or "large" in only):
            pid = mg.pids()[0]
            if "mix" in only:
                out = workdir / "profile-mix50.txt"
                spy = profile.start(pid, out, sz["mix_seconds"] + 2)
                asyncio.run(w_mix.run(mg, 50, sz["mix_seconds"], MIX_MAILBOXES, w_mix.Expect(MIX_MAILBOXES),
                                      f"p{int(time.time())}"))
                spy.wait(timeout=120)
                if out.exists():
                    results["profiles"]["IMAP mix, 50 clients"] = profile.summarize(out)
            if "large" in only:
                out = workdir / "profile-large.txt"
                spy = profile.start(pid, out, 600)

                async def repeat_large() -> None:
                    for _ in range(3):
                        await w_bulk.large_folder(mg, BIG_USER, sz["large"])
                asyncio.run(repeat_large())
                spy.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
                spy.wait(timeout=60)
                if out.exists():
                    results["profiles"][f"large folder ({sz['large']} messages) x3"] = profile.summarize(out)
            log("profiles done")
        # --- 2. IDLE fan-out
        if "idle" in only:
            dc.stop()
            variants = [(mg, "", False), (dc, "", False), (dc, "hibernate", False)]
            for n in sz["idle"]:
                for s, var, tls in variants:
                    if s is dc and var == "" and n > sz["idle_nohib_max"]:
                        results["notes"].append(
                            f"IDLE {n}: Dovecot without hibernation not run (one imap process per connection; "
                            f"~0.5 MiB PSS each would need ~{n // 2000} GiB on a shared box)")
                        continue
                    key = f"idle{n}" + ("-hib" if var else "")
                    reps = 1 if n >= 5000 else R
                    W.setdefault(f"idle{n}", {"mailgate": [], "dovecot": [], "dovecot-hib": []})
                    for r in range(reps):
                        if s is dc:
                            dc.start(var)
                        else:  # fresh: a Python heap grown by earlier workloads hides new allocations
                            mg.stop()
                            mg.start()
                        note_load(f"{key} {s.name} {r}")
                        try:
                            res = asyncio.run(w_idle.run(s, n, IDLE_USER, tls=tls, settle=9 if var else 2))
                        except Exception as exc:  # keep going: record it
                            results["notes"].append(f"{key} {s.name}: failed: {exc!r}")
                            log(f"{key} {s.name}: failed: {exc!r}")
                            if s is dc:
                                dc.stop()
                            continue
                        W[f"idle{n}"]["dovecot-hib" if var else s.name].append(res)
                        log(f"idle {n} {s.name}{'-' + var if var else ''}: held {res['held']}, "
                            f"{(res['rss_per_conn'] or 0) / 1024:.1f} KiB RSS/conn, "
                            f"{(res['pss_per_conn'] or 0) / 1024:.1f} KiB PSS/conn, all notified in "
                            f"{res['notify_all']} s, open errors {res['open_errors']}")
                        if s is dc:
                            dc.stop()
            # TLS, separately
            n = sz["idle_tls"]
            W[f"idle{n}-tls"] = {"mailgate": [], "dovecot": [], "dovecot-hib": []}
            for s, var in ((mg, ""), (dc, "hibernate")):
                if s is dc:
                    dc.start(var)
                else:
                    mg.stop()
                    mg.start()
                note_load(f"idle-tls {s.name}")
                try:
                    res = asyncio.run(w_idle.run(s, n, IDLE_USER, tls=True, settle=9 if var else 2))
                except Exception as exc:
                    results["notes"].append(f"idle TLS {s.name}: failed: {exc!r}")
                    log(f"idle TLS {s.name}: failed: {exc!r}")
                    if s is dc:
                        dc.stop()
                    continue
                W[f"idle{n}-tls"]["dovecot-hib" if var else s.name].append(res)
                log(f"idle TLS {n} {s.name}{'-' + var if var else ''}: "
                    f"{(res['rss_per_conn'] or 0) / 1024:.1f} KiB RSS/conn, notified in {res['notify_all']} s")
                if s is dc:
                    dc.stop()
            dc.start()
        # --- 7. start-up and idle RSS
        if "startup" in only:
            W["startup"] = {"mailgate": [], "dovecot": []}
            for r in range(R + 1):
                for s in servers:
                    s.stop()
                    note_load(f"startup {s.name} {r}")
                    seconds = s.start()
                    time.sleep(3)
                    mem = s.rss()
                    W["startup"][s.name].append({"startup_s": seconds, "idle_rss": mem.rss, "idle_pss": mem.pss,
                                                 "processes": mem.processes})
                    log(f"startup {s.name}: {seconds:.2f} s, idle RSS {mem.rss / 2**20:.1f} MiB "
                        f"({mem.processes} processes)")
    except Exception:
        results["notes"].append("run aborted: " + traceback.format_exc()[-2000:])
        log(traceback.format_exc())
    finally:
        results["server_errors"] = {"mailgate": mg.errors_logged()[:30], "dovecot": dc.errors_logged()[:30]}
        if "server_errors_proxy" in results:
            results["server_errors"]["mailgate frontend/backend"] = results.pop("server_errors_proxy")
        mg.stop()
        dc.stop()
    results["load_after"] = proc.loadavg()
    results["wall_seconds"] = time.monotonic() - t_start
    results["only"] = only
    results["partial"] = partial
    results["title"] = args.title
    out = Path(args.results)
    if partial:
        # keep the last complete run's table: this run gets its own section
        (HERE / f"results-{mode}-{'+'.join(only)}.json").write_text(json.dumps(results, indent=1, default=str))
        previous = out.read_text() if out.exists() else ""
        out.write_text(report.merge_partial(previous, results))
    else:
        (HERE / f"results-{mode}.json").write_text(json.dumps(results, indent=1, default=str))
        out.write_text(report.render(results))
    log(f"wrote {args.results} ({results['wall_seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
