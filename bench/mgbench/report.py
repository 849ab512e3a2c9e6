"""RESULTS.md from a results dict (see run.py)."""

from __future__ import annotations

import statistics

KIB, MIB = 1024, 1024 * 1024


def _vals(runs: list[dict], key: str) -> list[float]:
    return [r[key] for r in runs if r.get(key) is not None]


def _med(runs: list[dict], key: str) -> float | None:
    v = _vals(runs, key)
    return statistics.median(v) if v else None


def _fmt(x: float | None, unit: str = "", scale: float = 1.0, digits: int = 1) -> str:
    if x is None:
        return "—"
    return f"{x / scale:,.{digits}f}{unit}"


def _cell(runs: list[dict], key: str, unit: str = "", scale: float = 1.0, digits: int = 1) -> str:
    v = _vals(runs, key)
    if not v:
        return "—"
    m = statistics.median(v)
    if len(v) == 1:
        return _fmt(m, unit, scale, digits)
    return f"{_fmt(m, unit, scale, digits)} ({_fmt(min(v), '', scale, digits)}–{_fmt(max(v), '', scale, digits)})"


def _errors(runs: list[dict]) -> int:
    return sum(int(r.get("errors", 0) or 0) for r in runs)


class Row:
    def __init__(self, workload: str, metric: str, a: list[dict], b: list[dict], key: str, *, unit: str = "",
                 scale: float = 1.0, digits: int = 1, higher_better: bool = True, target: str = "",
                 target_ok=None, bkey: str | None = None, own_target: bool = False) -> None:
        """own_target: the target is about mailgate's value alone (judged even
        when Dovecot's is missing, e.g. idlers it never notified)."""
        self.workload, self.metric = workload, metric
        self.a_cell = _cell(a, key, unit, scale, digits)
        self.b_cell = _cell(b, bkey or key, unit, scale, digits)
        ma, mb = _med(a, key), _med(b, bkey or key)
        self.ratio = (ma / mb) if ma is not None and mb else None
        self.higher_better = higher_better
        self.errors = (_errors(a), _errors(b))
        self.target = target
        self.met = None
        if target_ok is not None and (self.ratio is not None or (own_target and ma is not None)):
            self.met = bool(target_ok(self.ratio, ma, mb)) and self.errors[0] == 0

    def md(self) -> str:
        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}x"
        better = "higher" if self.higher_better else "lower"
        met = "" if self.met is None else ("**met**" if self.met else "**NOT met**")
        errs = f"{self.errors[0]} / {self.errors[1]}"
        return (f"| {self.workload} | {self.metric} ({better} is better) | {self.a_cell} | {self.b_cell} | {ratio} "
                f"| {errs} | {self.target} {met} |")


def render(res: dict) -> str:
    W = res["workloads"]
    sz = res["sizes"]
    out: list[str] = []
    out.append("# mailgate vs Dovecot: benchmark results\n")
    only = res.get("only")
    only_txt = f" --only {','.join(only)}" if only and res.get("partial") else ""
    out.append(f"- Run: {res['started']}, **{res['mode']} mode** (`python3 bench/run.py"
               f"{' --quick' if res['mode'] == 'quick' else ''}{only_txt}`), {res.get('wall_seconds', 0) / 60:.1f} min")
    out.append(f"- Machine: {res['machine']}")
    loads = [float(l.split()[0]) for _, l in res.get("loads", [])]
    load_txt = f"; during the workloads 1-min load {min(loads):.2f}–{max(loads):.2f}" if loads else ""
    out.append(f"- Load (1/5/15 min): before {res['load_before']}, after {res.get('load_after')}{load_txt} "
               "(2 shared cores; other engineers' test runs were active: read ratios, not absolute numbers)")
    out.append(f"- Sizes: {sz}")
    out.append("- Setup: both servers on 127.0.0.1, plaintext ports (TLS only in the TLS IDLE row), same 500 "
               "users with the same argon2id hash (m=19 MiB, t=2, p=1), same generated corpus, fsync on "
               "(mailgate: blob fsync + SQLite synchronous=FULL; Dovecot 2.3.19 maildir, mail_fsync=optimized). "
               "Each workload runs against mailgate then Dovecot, repeated (A B A B); cells are "
               "median (min–max). Ratio = mailgate / Dovecot of the medians.")
    lmtp = res.get("lmtp_mailgate")
    out.append("")
    summary_at = len(out)
    rows: list[Row] = []
    for c in sz["mix_clients"]:
        k = f"mix{c}"
        if k in W:
            tgt = ">= 1.0x, 0 errors" if c == 50 else ""
            rows.append(Row(f"1. IMAP mix, {c} clients", "ops/s (all commands)", W[k]["mailgate"], W[k]["dovecot"],
                            "ops_per_s", target=tgt, target_ok=(lambda r, a, b: r >= 1.0) if c == 50 else None))
    for n in sz["idle"]:
        k = f"idle{n}"
        if k not in W:
            continue
        d = W[k]
        for peer, label in (("dovecot-hib", "Dovecot+hibernate"), ("dovecot", "Dovecot")):
            if not d.get(peer):
                continue
            big = n >= 10000 and peer == "dovecot-hib"
            rows.append(Row(f"2. IDLE {n} vs {label}", "RSS per idle connection", d["mailgate"], d[peer],
                            "rss_per_conn", unit=" KiB", scale=KIB, higher_better=False,
                            target="<= 1.0x" if big else "", target_ok=(lambda r, a, b: r <= 1.0) if big else None))
            rows.append(Row(f"2. IDLE {n} vs {label}", "PSS per idle connection", d["mailgate"], d[peer],
                            "pss_per_conn", unit=" KiB", scale=KIB, higher_better=False))
            rows.append(Row(f"2. IDLE {n} vs {label}", "s until all idlers saw EXISTS", d["mailgate"], d[peer],
                            "notify_all", unit=" s", digits=3, higher_better=False,
                            target="mailgate <= 1 s" if big else "",
                            target_ok=(lambda r, a, b: a <= 1.0) if big else None, own_target=True))
    for k in [k for k in W if k.endswith("-tls")]:
        d = W[k]
        rows.append(Row(f"2. IDLE {k[4:-4]} TLS vs Dovecot+hibernate", "RSS per idle connection", d["mailgate"],
                        d["dovecot-hib"], "rss_per_conn", unit=" KiB", scale=KIB, higher_better=False))
        rows.append(Row(f"2. IDLE {k[4:-4]} TLS vs Dovecot+hibernate", "s until all idlers saw EXISTS",
                        d["mailgate"], d["dovecot-hib"], "notify_all", unit=" s", digits=3, higher_better=False))
    if "sync" in W:
        d = W["sync"]
        rows.append(Row(f"3. header-first sync, {sz['sync']} msgs", "header FETCH msgs/s", d["mailgate"],
                        d["dovecot"], "headers_msgs_per_s", digits=0, target=">= 1.0x",
                        target_ok=lambda r, a, b: r >= 1.0))
        rows.append(Row(f"3. header-first sync, {sz['sync']} msgs", "BODY.PEEK[] msgs/s", d["mailgate"],
                        d["dovecot"], "bodies_msgs_per_s", digits=0, target=">= 1.0x",
                        target_ok=lambda r, a, b: r >= 1.0))
        rows.append(Row(f"3. header-first sync, {sz['sync']} msgs", "BODY.PEEK[] MB/s", d["mailgate"],
                        d["dovecot"], "bodies_mb_per_s"))
    if "pop3" in W:
        d = W["pop3"]
        rows.append(Row(f"4. POP3 download, {sz['pop3']} msgs", "msgs/s (login..QUIT)", d["mailgate"], d["dovecot"],
                        "msgs_per_s", digits=0, target=">= 1.0x", target_ok=lambda r, a, b: r >= 1.0))
        rows.append(Row(f"4. POP3 download, {sz['pop3']} msgs", "MB/s", d["mailgate"], d["dovecot"], "mb_per_s"))
    if "lmtp" in W:
        d = W["lmtp"]
        if d["mailgate"]:
            rows.append(Row(f"5. LMTP delivery, {sz['delivery']} msgs", "msgs/s", d["mailgate"], d["dovecot"],
                            "msgs_per_s", digits=0, target=">= 1.0x", target_ok=lambda r, a, b: r >= 1.0))
        else:
            rows.append(Row(f"5. LMTP delivery, {sz['delivery']} msgs", "msgs/s (mailgate LMTP: PENDING)", [],
                            d["dovecot"], "msgs_per_s", digits=0, target=">= 1.0x (pending)"))
    if "append" in W:
        d = W["append"]
        rows.append(Row(f"5b. delivery by IMAP APPEND, {sz['delivery']} msgs, 4 conns", "msgs/s", d["mailgate"],
                        d["dovecot"], "msgs_per_s", digits=0))
    for k, n in (("large", sz["large"]), ("large_small", sz["sync"])):
        if k not in W:
            continue
        d = W[k]
        main = k == "large"
        rows.append(Row(f"6. large folder, {n} msgs", "SELECT s", d["mailgate"], d["dovecot"], "select_s", digits=3,
                        higher_better=False, target="<= 2.0x" if main else "",
                        target_ok=(lambda r, a, b: r <= 2.0) if main else None))
        rows.append(Row(f"6. large folder, {n} msgs", "UID FETCH 1:* (FLAGS) s", d["mailgate"], d["dovecot"],
                        "flags_s", digits=3, higher_better=False, target="<= 2.0x" if main else "",
                        target_ok=(lambda r, a, b: r <= 2.0) if main else None))
        rows.append(Row(f"6. large folder, {n} msgs", "UID SEARCH UNSEEN s", d["mailgate"], d["dovecot"],
                        "search_s", digits=3, higher_better=False))
        rows.append(Row(f"6. large folder, {n} msgs", "peak RSS over idle", d["mailgate"], d["dovecot"],
                        "peak_over_base", unit=" MiB", scale=MIB, higher_better=False))
        rows.append(Row(f"6. large folder, {n} msgs", "peak RSS, all processes", d["mailgate"], d["dovecot"],
                        "peak_rss", unit=" MiB", scale=MIB, higher_better=False))
    if "startup" in W:
        d = W["startup"]
        rows.append(Row("7. start-up", "s to first greeting", d["mailgate"], d["dovecot"], "startup_s", digits=2,
                        higher_better=False))
        rows.append(Row("7. start-up", "idle RSS, all processes", d["mailgate"], d["dovecot"], "idle_rss",
                        unit=" MiB", scale=MIB, higher_better=False))
        rows.append(Row("7. start-up", "idle PSS, all processes", d["mailgate"], d["dovecot"], "idle_pss",
                        unit=" MiB", scale=MIB, higher_better=False))
    if rows:  # a run of the proxy workload only has no mailgate/Dovecot rows
        out[summary_at:summary_at] = ["## Summary\n",
                                      "| workload | metric | mailgate | Dovecot | ratio | errors mg / dc | target |",
                                      "| --- | --- | --- | --- | --- | --- | --- |"]
    out += [r.md() for r in rows]
    if "large" in W and "large_small" in W:
        a = _med(W["large"]["mailgate"], "peak_over_base")
        b = _med(W["large_small"]["mailgate"], "peak_over_base")
        if a is not None and b is not None:
            ok = a <= max(2 * b, b + 8 * MIB)
            out.append(f"\nTarget \"peak RSS independent of folder size\" (mailgate peak over idle: "
                       f"{b / MIB:.1f} MiB at {sz['sync']} messages, {a / MIB:.1f} MiB at {sz['large']}): "
                       f"**{'met' if ok else 'NOT met'}** — it grows "
                       f"{(a - b) / max(1, sz['large'] - sz['sync']):.0f} bytes per message.")
    if lmtp is False:
        out.append("\nmailgate's LMTP listener did not answer during this run (src/mailgate/smtp/ is being "
                   "built): the LMTP row is pending; `bench/mgbench/w_bulk.py:lmtp_deliver` is ready and runs "
                   "as soon as the port answers with 220. Row 5b compares delivery through IMAP APPEND meanwhile.")
    if "proxy" in W:
        out += _proxy_section(W["proxy"], sz)
    # per-command latency of the mix
    mixes = [k for k in W if k.startswith("mix")]
    if mixes:
        out.append("\n## IMAP mix: mean latency per command (ms, median over runs)\n")
        cmds = list(W[mixes[0]]["mailgate"][0]["mean_ms"].keys()) if W[mixes[0]]["mailgate"] else []
        out.append("| clients | server | " + " | ".join(cmds) + " |")
        out.append("|---|---|" + "---|" * len(cmds))
        for k in mixes:
            for s in ("mailgate", "dovecot"):
                runs = W[k][s]
                vals = []
                for c in cmds:
                    v = [r["mean_ms"].get(c) for r in runs if r["mean_ms"].get(c) is not None]
                    vals.append(f"{statistics.median(v):.1f}" if v else "—")
                out.append(f"| {k[3:]} | {s} | " + " | ".join(vals) + " |")
        out.append("\nEvery iteration runs each command once (MOVE/COPY counts COPY+STORE \\Deleted as one "
                   "step), so ops/s per command equals iterations/s; the latencies above show where each server "
                   "spends its time. LOGIN is dominated by the argon2id check on both servers.")
    # idle details
    idles = [k for k in W if k.startswith("idle")]
    if idles:
        out.append("\n## IDLE details\n")
        out.append("| case | server | held | RSS/conn KiB | PSS/conn KiB | processes | open s | EXISTS p50 s "
                   "| p99 s | all s | missed |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for k in idles:
            for s, runs in W[k].items():
                for r in runs:
                    out.append(f"| {k} | {s} | {r['held']}/{r['n']} | {_fmt(r['rss_per_conn'], '', KIB)} | "
                               f"{_fmt(r['pss_per_conn'], '', KIB)} | {r['processes']} | {r['open_seconds']:.1f} | "
                               f"{_fmt(r['notify_p50'], '', 1, 3)} | {_fmt(r['notify_p99'], '', 1, 3)} | "
                               f"{_fmt(r['notify_all'], '', 1, 3)} | {r['missed']} |")
    # profiles
    for title, prof in res.get("profiles", {}).items():
        out.append(f"\n## Profile of mailgate: {title}\n")
        out.append(f"py-spy (`--nonblocking --threads`, idle samples left out), {prof['samples']} busy samples "
                   "of the server process. Self = the function was on top of the stack; inclusive = anywhere on "
                   "it (mailgate functions only). Percentages are of the thread group's busy samples. The event "
                   "loop thread is what bounds a single-process server; the other threads run outside the GIL "
                   "part of the time.\n")
        for gname, g in prof["groups"].items():
            if g["share"] < 0.02:
                continue
            out.append(f"**{gname}**: {100 * g['share']:.0f}% of busy samples\n")
            out.append("| self % | function | | inclusive % | function |")
            out.append("|---|---|---|---|---|")
            k = 12 if gname.startswith("event") else 6
            for i in range(k):
                a = g["self"][i] if i < len(g["self"]) else None
                b = g["inclusive"][i] if i < len(g["inclusive"]) else None
                out.append(f"| {f'{100 * a[1]:.1f}' if a else ''} | {f'`{a[0]}`' if a else ''} | | "
                           f"{f'{100 * b[1]:.1f}' if b else ''} | {f'`{b[0]}`' if b else ''} |")
            out.append("")
    # errors and notes
    samples = []
    for k, d in W.items():
        for s, runs in d.items():
            for r in runs:
                for e in r.get("error_samples", [])[:3]:
                    samples.append(f"- {k} / {s}: `{e}`")
    if samples:
        out.append("\n## Response errors (samples)\n")
        out += samples[:40]
    for s, errs in res.get("server_errors", {}).items():
        if errs:
            out.append(f"\n## {s} log errors (first lines)\n")
            out += [f"    {e[:300]}" for e in errs[:15]]
    if res.get("notes"):
        out.append("\n## Notes\n")
        out += [f"- {n}" for n in res["notes"]]
    return "\n".join(out) + "\n"


def _proxy_section(d: dict, sz: dict) -> list[str]:
    """Workload 8: mailgate only (no Dovecot in this comparison)."""
    fe, direct = d.get("frontend", []), d.get("direct", [])
    clients = (fe or direct or [{}])[0].get("clients", 50)
    out = ["\n## 8. Proxy overhead: mailgate frontend -> backend vs single process (no Dovecot)\n",
           f"The IMAP mix (workload 1) at {clients} clients, {sz['mix_seconds']} s per run, against the same "
           "data: `mailgate serve` (one process, role all) vs `serve --role frontend` + `serve --role backend` "
           "(two processes on the same 2 cores; the frontend checks the login, then splices the connection over "
           "TLS to the backend's ProxyTargetPort; the frontend's `[store] url` is the backend's SQLite store). "
           "Each server starts fresh and gets an uncounted 3 s warm-up; direct and frontend alternate (A B A B). "
           "Ratio = frontend / direct of the medians.\n",
           "| workload | metric | through frontend | direct | ratio | errors fe / direct | target |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    row = Row(f"8. proxy overhead, IMAP mix {clients} clients", "mix ops/s through frontend / direct", fe, direct,
              "ops_per_s", target=">= 0.8x", target_ok=lambda r, a, b: r >= 0.8)
    row.met = None if row.ratio is None else row.ratio >= 0.8  # the ratio only: errors are listed beside it
    out.append(row.md())
    out.append(Row(f"8. proxy overhead, IMAP mix {clients} clients", "RSS after the run, all processes", fe, direct,
                   "rss_after", unit=" MiB", scale=MIB, higher_better=False).md())
    if _errors(fe) or _errors(direct):
        out.append(f"\n**Response errors: {_errors(fe)} through the frontend, {_errors(direct)} direct** (samples "
                   "below): an error ends that client's iteration, so both throughputs count fewer ops; the ratio "
                   "compares like with like only while the error rates are similar.")
    cmds = list(fe[0]["mean_ms"].keys()) if fe else []
    if cmds:
        out.append("\nMean latency per command (ms, median over runs):\n")
        out.append("| server | " + " | ".join(cmds) + " |")
        out.append("|---|" + "---|" * len(cmds))
        for label, runs in (("through frontend", fe), ("direct", direct)):
            vals = []
            for c in cmds:
                v = [r["mean_ms"].get(c) for r in runs if r["mean_ms"].get(c) is not None]
                vals.append(f"{statistics.median(v):.1f}" if v else "—")
            out.append(f"| {label} | " + " | ".join(vals) + " |")
    return out


_BEGIN, _END = "<!-- partial run: {key} -->", "<!-- /partial run: {key} -->"


def merge_partial(previous: str, res: dict) -> str:
    """A run of some workloads only (`--only`): its report becomes a section
    of RESULTS.md, after the last complete run's, replacing an earlier section
    of the same mode and workloads; the complete run's table stays as it was."""
    key = f"{res['mode']} {','.join(res.get('only', []))}"
    body = render(res).splitlines()
    title = (f"## {res.get('title') or 'Partial run'}: {', '.join(res.get('only', []))} ({res['started']}, {res['mode']} mode, "
             f"`python3 bench/run.py{' --quick' if res['mode'] == 'quick' else ''} "
             f"--only {','.join(res.get('only', []))}`)")
    lines = [title, ""]
    for line in body[1:]:  # the H1 goes; headings move one level down
        lines.append("#" + line if line.startswith("## ") else line)
    section = "\n".join([_BEGIN.format(key=key), *lines, _END.format(key=key)]) + "\n"
    begin, end = _BEGIN.format(key=key), _END.format(key=key)
    if begin in previous and end in previous:
        head, rest = previous.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        return head + section + ("\n" + tail if tail else "")
    return previous.rstrip("\n") + "\n\n" + section
