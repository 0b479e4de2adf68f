"""Time and peak memory of making the image variants: the service's Pillow code against a libvips anchor.

Run by hand: .venv/bin/python bench/variants.py [--repeats N] [--webp-methods 0,1,2,3,4,5,6]

The service runs at IMAGE_VARIANT_WEBP_METHOD (settings); --webp-methods also runs it at each listed
WebP method (libwebp effort, 0-6), printing time and bytes side by side (how the default was chosen).

Inputs, made once in a temp dir: a 24 MP JPEG (6000x4000, gradient plus noise, quality 90, EXIF
Orientation 6 so both methods must autorotate) and a PNG of about 10 MB (just under the 10 MiB upload
limit). Each (method, input) pair runs in a fresh subprocess so its peak RSS is its own; the peak is
reported above the peak RSS right after imports. libvips runs its own thread pool, Pillow one thread.

pyvips is not a project requirement. For the libvips half, install it into the venv only:
    .venv/bin/pip install pyvips pyvips-binary
Without it the Pillow half still runs.
"""

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[1]
BOXES: dict[str, tuple[int, int]] = {"thumbnail": (256, 256), "medium": (1024, 1024)}
FMT, QUALITY = "WEBP", 80
METHODS = ("pillow", "libvips")
LABELS = {"pillow": "pillow (service)", "libvips": "libvips (anchor)"}


def photo_like(width: int, height: int, sigma: float = 8.0) -> Image.Image:
    """Smooth per-channel gradients plus Gaussian noise: compresses roughly like a real photo."""
    size = (width, height)
    bases = [
        Image.linear_gradient("L").resize(size, Image.Resampling.BICUBIC),
        Image.radial_gradient("L").resize(size, Image.Resampling.BICUBIC),
        Image.linear_gradient("L").rotate(90).resize(size, Image.Resampling.BICUBIC),
    ]
    return Image.merge("RGB", [ImageChops.add(b, Image.effect_noise(size, sigma), 1.0, -128) for b in bases])


def make_inputs(folder: Path) -> list[Path]:
    jpeg, png = folder / "photo_24mp.jpg", folder / "photo_10mb.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display, as a phone held upright writes it
    photo_like(6000, 4000).save(jpeg, "JPEG", quality=90, exif=exif)
    photo_like(2688, 1792).save(png, "PNG")  # ~2.1 bytes/pixel -> ~10 MB
    return [jpeg, png]


def maxrss_mb() -> float:
    """Peak RSS of this process so far, in MB.

    On Linux ru_maxrss survives fork+exec, so a fresh child starts at its parent's peak (here the
    parent built a 24 MP image): VmHWM, the high-water mark of this process's own memory, is read
    instead. ru_maxrss (KiB on Linux) is the fallback elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pillow_job(webp_method: int | None = None) -> Callable[[Path], dict[str, bytes]]:
    os.environ["DB_NAME"] = ""
    os.environ["DATABASE_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File

    from images.processing import render_variants

    Image.init()  # load every format plugin now, so it counts as import, not as work
    method = settings.IMAGE_VARIANT_WEBP_METHOD if webp_method is None else webp_method

    def run(path: Path) -> dict[str, bytes]:
        with open(path, "rb") as fh:  # uploads over 2.5 MB reach the service as temp files on disk
            return render_variants(File(fh), BOXES, FMT, QUALITY, webp_method=method)

    return run


def libvips_job() -> Callable[[Path], dict[str, bytes]]:
    import pyvips

    pyvips.cache_set_max(0)  # no operation cache: every repeat must really decode and resize
    # keep="none" replaced strip=True in libvips 8.15 (strip still works there, but is deprecated).
    no_meta = {"keep": "none"} if pyvips.at_least_libvips(8, 15) else {"strip": True}

    def run(path: Path) -> dict[str, bytes]:
        # Each box straight from the source, the natural libvips way: thumbnail() picks shrink-on-load
        # per box (JPEG DCT scaling; none exists for PNG) and autorotates by EXIF Orientation.
        return {
            name: pyvips.Image.thumbnail(str(path), w, height=h, size="down").webpsave_buffer(Q=QUALITY, **no_meta)
            for name, (w, h) in BOXES.items()
        }

    return run


def measure_one(method: str, path: Path, repeats: int) -> dict:
    """Child process: time `repeats` runs, then report peak RSS above the post-import baseline."""
    if method.startswith("pillow"):
        run = pillow_job(int(method.split(":")[1]) if ":" in method else None)
    else:
        run = libvips_job()
    baseline = maxrss_mb()
    times, out = [], {}
    for _ in range(repeats):
        start = time.perf_counter()
        out = run(path)
        times.append(time.perf_counter() - start)
    peak_extra = maxrss_mb() - baseline
    variants = {}
    for name, data in out.items():
        with Image.open(io.BytesIO(data)) as img:
            meta = sorted(k for k in ("exif", "icc_profile", "xmp") if k in img.info)
            variants[name] = {"bytes": len(data), "size": img.size, "meta": meta}
    return {"median": statistics.median(times), "min": min(times), "peak_extra_mb": peak_extra, "variants": variants}


def run_child(method: str, path: Path, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--one", method, str(path), "--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{method} on {path.name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--webp-methods", default="", help="also run the service at these WebP methods, e.g. 0,4,6")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "INPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], Path(args.one[1]), args.repeats)))
        return

    methods = list(METHODS)
    sweep = [int(m) for m in args.webp_methods.split(",") if m.strip()]
    try:
        import pyvips

        print(f"pyvips {pyvips.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}")
    except (ImportError, OSError) as exc:
        methods.remove("libvips")
        print(f"pyvips unavailable ({exc}); libvips half skipped. Install: .venv/bin/pip install pyvips pyvips-binary")
    print(
        f"Pillow {Image.__version__}; {args.repeats} repeats per pair, {os.cpu_count()} CPUs; "
        f"boxes {BOXES}, {FMT} Q{QUALITY}"
    )

    with tempfile.TemporaryDirectory(prefix="bench_variants_") as tmp:
        inputs = make_inputs(Path(tmp))
        for path in inputs:
            with Image.open(path) as img:
                print(f"input {path.name}: {path.stat().st_size / 1e6:.2f} MB, {img.width}x{img.height} {img.format}")
        print()
        header = (
            f"{'input':<16} {'method':<18} {'median s':>9} {'min s':>8} {'peak+MB':>8}  variants (bytes, WxH, metadata)"
        )
        print(header)
        print("-" * len(header))
        for path in inputs:
            results = {m: run_child(m, path, args.repeats) for m in methods}
            for m, r in results.items():
                vs = ", ".join(
                    f"{n} {v['bytes']} B {v['size'][0]}x{v['size'][1]}{' ' + '+'.join(v['meta']) if v['meta'] else ''}"
                    for n, v in sorted(r["variants"].items())
                )
                print(
                    f"{path.name:<16} {LABELS[m]:<18} {r['median']:>9.3f} {r['min']:>8.3f} "
                    f"{r['peak_extra_mb']:>8.1f}  {vs}"
                )
            if len(results) == 2:
                p, v = results["pillow"], results["libvips"]
                mem = f"{p['peak_extra_mb'] / v['peak_extra_mb']:.2f}x" if v["peak_extra_mb"] > 0 else "n/a"
                print(f"{path.name:<16} {'pillow/libvips':<18} {p['median'] / v['median']:>8.2f}x {'':>8} {mem:>8}")
        if sweep:
            print("\nWebP method sweep (the service's code at each method; libvips at its default effort 4)")
            head = f"{'input':<16} {'method':>6} {'median s':>9} {'bytes':>9} {'vs m4 time':>11} {'vs m4 bytes':>12}"
            print(head)
            print("-" * len(head))
            for path in inputs:
                runs = {m: run_child(f"pillow:{m}", path, args.repeats) for m in sweep}
                base = runs.get(4)
                for m, r in runs.items():
                    total = sum(v["bytes"] for v in r["variants"].values())
                    rel_t = f"{r['median'] / base['median']:.2f}x" if base else ""
                    rel_b = f"{total / sum(v['bytes'] for v in base['variants'].values()):.3f}x" if base else ""
                    print(f"{path.name:<16} {m:>6} {r['median']:>9.3f} {total:>9} {rel_t:>11} {rel_b:>12}")


if __name__ == "__main__":
    main()
