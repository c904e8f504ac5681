"""The ``lb`` command.

lb -f FILE [-f FILE …] [-c] [-n WORKERS] [-D] [-p PIDFILE] [-q] [--unsupported warn]
lb demo
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from lb import __version__, log


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lb",
        description="Load balancer: HAProxy-syntax proxying and keepalived-syntax VRRP.",
        epilog="`lb demo` starts a demonstration with its own configuration.",
    )
    p.add_argument(
        "-f",
        dest="files",
        action="append",
        metavar="FILE",
        default=[],
        help="configuration file or directory (HAProxy or keepalived syntax); repeatable",
    )
    p.add_argument("-c", dest="check", action="store_true", help="check the configuration and exit")
    p.add_argument(
        "-n",
        dest="workers",
        type=int,
        metavar="N",
        help="number of worker processes (default: global nbthread, else the CPUs)",
    )
    p.add_argument("-D", dest="daemon", action="store_true", help="run in the background")
    p.add_argument("-p", dest="pidfile", metavar="FILE", help="write the master's pid here")
    p.add_argument("-q", dest="quiet", action="store_true", help="only warnings and alerts")
    p.add_argument(
        "--unsupported",
        choices=("error", "warn"),
        default="error",
        help="what a recognised but not yet supported keyword is (default: error)",
    )
    p.add_argument("-v", "--version", action="version", version=f"lb {__version__}")
    return p


def check(files: list[str], unsupported: str) -> int:
    from lb.config import load_files

    result = load_files(files, unsupported=unsupported)  # type: ignore[arg-type]
    for d in result.diagnostics:
        print(d, file=sys.stderr)
    if result.ok:
        print("Configuration file is valid")
        return 0
    print(f"Fatal errors found in configuration ({len(result.alerts())}).", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    from lb.master.arbiter import Arbiter
    from lb.master.daemon import Daemonizer, write_pidfile
    from lb.master.generation import LoadFailure, load_generation
    from lb.master.privileges import drop_capabilities

    try:
        first, warnings = load_generation(args.files, 1, args.workers, args.unsupported)
    except LoadFailure as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        print("Fatal errors found in configuration.", file=sys.stderr)
        return 1
    for line in warnings:
        print(line, file=sys.stderr)
    g = first.config.global_
    daemonizer = Daemonizer()
    if args.daemon or g.daemon:
        import os

        if os.environ.get("NOTIFY_SOCKET"):
            log.warning("started by systemd (Type=notify): staying in the foreground")
        else:
            daemonizer.detach()
    pidfile = args.pidfile or g.pidfile
    if pidfile:
        write_pidfile(pidfile)
    drop_capabilities()
    arbiter = Arbiter(
        args.files,
        first,
        nworkers=args.workers,
        unsupported=args.unsupported,
        pidfile=pidfile,
        on_ready=daemonizer.report_ready,
    )
    code = asyncio.run(arbiter.run())
    if code:
        daemonizer.report_failure("lb: failed to start; see the log\n")
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        from lb.demo import main as demo_main

        return demo_main(argv[1:])
    args = build_parser().parse_args(argv)
    if not args.files:
        build_parser().error("no configuration: give at least one -f FILE (or run `lb demo`)")
    if args.workers is not None and args.workers < 1:
        build_parser().error("-n needs at least one worker")
    log.set_quiet(args.quiet)
    if args.check:
        return check(args.files, args.unsupported)
    return run(args)
