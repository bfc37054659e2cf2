"""Copy a release to the app servers and restart the service."""

from __future__ import annotations

import argparse
import subprocess

SERVERS = ["app1.shopfront.internal", "app2.shopfront.internal"]


def deploy(version: str, servers: list[str]) -> None:
    for host in servers:
        print(f"deploying {version} to {host}")
        subprocess.run(["rsync", "-az", "--delete", "build/", f"{host}:/srv/shopfront/"], check=True)
        subprocess.run(f"ssh {host} 'sudo systemctl restart shopfront@{version}'", shell=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("version")
    parser.add_argument("--host", action="append", help="deploy to this host only (repeatable)")
    args = parser.parse_args()
    deploy(args.version, args.host or SERVERS)


if __name__ == "__main__":
    main()
