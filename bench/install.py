"""What a user pays to install and start Wayline: the default install beside `wayline[all]`.

    python bench/install.py [--variants default,all] [--skip-stock]

For each variant, in a fresh venv under a temporary folder, from this checkout (not editable):

- `pip install <checkout>[extras]` wall time, the venv's size on disk, its package count, and
  whether torch, triton or any `nvidia-*` / `cuda-*` package came in;
- cold start: `wayline serve` on a fresh DATA_DIR until `GET /health` answers 200 (process
  start, imports, migrations), best of three; then the server's RSS once idle (after 2 s);
- the first embedding in that venv (loads the bundled model, builds and caches its graph),
  which also proves the installed package carries the model's files.

`[all]` (postgres, redis, torch) is what the default install was before 0.3.0, when
sentence-transformers came with the bundled model's weights: the ratio default/all is the
saving. This machine's pip reads a local folder of CPU wheels and a constraints file (see
`pip config list`), so it also shows what a *stock* machine resolves: a dry run with pip's
configuration and PIP_FIND_LINKS removed, against the public index (`--skip-stock` offline).

Goals (issue 11): venv ≤ 400 MB, cold start ≤ 2 s, idle RSS ≤ 150 MiB, no torch/CUDA on a stock
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "triton", "nvidia-", "cuda-", "sentence-transformers", "transformers")


def heavy(names: list[str]) -> list[str]:
    return sorted(n for n in names if n == "torch" or n.startswith(HEAVY))


def size_mb(folder: Path) -> float:
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cold_start(venv: Path, work: Path) -> tuple[float, float]:
    """Seconds from exec to a 200 from /health, and the idle RSS (MiB) two seconds later."""
    import httpx

    data = work / f"data-{time.monotonic_ns()}"
    port = free_port()
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "DATA_DIR": str(data),
        "WEBUI_SECRET_KEY": "bench-install-secret-0123456789abcdef",
        "HOME": str(work),
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(venv / "bin" / "wayline"), "serve", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("wayline serve exited before answering /health")
            if time.perf_counter() - start > 60:
                raise RuntimeError("no /health within 60 s")
            time.sleep(0.02)
        ready = time.perf_counter() - start
        time.sleep(2)
        return ready, rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


FIRST_EMBEDDING = """
import sys, tempfile, time
from pathlib import Path
from typing import Any
from wayline.embeddings.local import LocalEmbedder
t0 = time.perf_counter()
vector = LocalEmbedder("", cache_dir=Path(tempfile.mkdtemp())).encode_sync(["hello"])[0]
assert len(vector) == 384 and "torch" not in sys.modules
print(time.perf_counter() - t0)
"""


def install(variant: str, work: Path) -> dict[str, Any]:
    venv = work / f"venv-{variant}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    target = str(ROOT) if variant == "default" else f"{ROOT}[{variant}]"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "-q", "--upgrade", "pip"], check=True)
    before = size_mb(venv)
    t0 = time.perf_counter()
    subprocess.run([*pip, "install", "-q", target], check=True)
    wall = time.perf_counter() - t0
    listed = subprocess.run(
        [*pip, "list", "--format=json"], check=True, capture_output=True, text=True
    ).stdout
    names = [p["name"].lower() for p in json.loads(listed)]
    starts = [cold_start(venv, work) for _ in range(3)]
    first_embedding = float(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", FIRST_EMBEDDING],
            check=True,
            capture_output=True,
            text=True,
            cwd=work,
        ).stdout
    )
    return {
        "wall_s": wall,
        "venv_mb": size_mb(venv) - before,  # what the install added to a bare venv
        "packages": len(names),
        "heavy": heavy(names),
        "start_s": min(s for s, _ in starts),
        "start_all_s": [round(s, 2) for s, _ in starts],
        "idle_rss_mib": statistics.median(r for _, r in starts),
        "first_embedding_s": first_embedding,
    }


def stock_resolution(variant: str, work: Path) -> dict[str, Any]:
    """What `pip install` resolves on a machine without this one's wheel folder and constraints."""
    report = work / f"stock-{variant}.json"
    target = str(ROOT) if variant == "default" else f"{ROOT}[{variant}]"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--dry-run",
            "--ignore-installed",
            "--report",
            str(report),
            target,
        ],
        check=True,
        env=env,
        cwd=work,
    )
    items = json.loads(report.read_text())["install"]
    names = [i["metadata"]["name"].lower() for i in items]
    return {"packages": len(names), "heavy": heavy(names)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--variants", default="default,all")
    ap.add_argument("--skip-stock", action="store_true")
    args = ap.parse_args()
    variants = args.variants.split(",")
    with tempfile.TemporaryDirectory(prefix="wayline-install-") as tmp:
        work = Path(tmp)
        results = {v: install(v, work) for v in variants}
        stock = {} if args.skip_stock else {v: stock_resolution(v, work) for v in variants}
    print(
        f"\n{'variant':8} {'install s':>9} {'venv MB':>8} {'pkgs':>5} {'start s':>8} "
        f"{'idle RSS':>9} {'1st embed s':>11}  heavy packages"
    )
    for v, r in results.items():
        print(
            f"{v:8} {r['wall_s']:9.1f} {r['venv_mb']:8.0f} {r['packages']:5} "
            f"{r['start_s']:8.2f} {r['idle_rss_mib']:7.0f}Mi {r['first_embedding_s']:11.2f}  "
            f"{', '.join(r['heavy']) or '—'}"
            f"   (starts {r['start_all_s']})"
        )
    for v, found in stock.items():
        print(
            f"stock machine, {v}: {found['packages']} packages; "
            f"heavy: {', '.join(found['heavy']) or '—'}"
        )
    if "default" in results and "all" in results:
        d, a = results["default"], results["all"]
        ratios = {
            key: d[key] / a[key]
            for key in (
                "venv_mb",
                "wall_s",
                "packages",
                "start_s",
                "idle_rss_mib",
                "first_embedding_s",
            )
        }
        print("default/all: " + ", ".join(f"{k} ×{x:.2f}" for k, x in ratios.items()))


if __name__ == "__main__":
    main()
