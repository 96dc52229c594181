"""Worked example 4: many scenes on Dask, stacked into a Zarr time-series cube.

    python docs/examples/04_many_scenes_cube.py [SCENE ...] [--out OUT_DIR]

Each SCENE is a scene folder, an MTL file or URL, or a STAC item (JSON file or URL)
of one path/row. The scenes run as tasks on a Dask ``LocalCluster`` (one worker here;
``scheduler="tcp://host:8786"`` sends them to a running cluster instead), each into
``OUT_DIR/<scene id>.tif`` with one line of ``OUT_DIR/manifest.csv``; then the
outputs are stacked on their common grid into ``OUT_DIR/cube.zarr`` (time, y, x) and
the time series of the centre pixel is printed. From the shell:

    pix2lst batch physics scenes/*/ -o out --workers 1 --cube out/cube.zarr

Without arguments the example makes two "dates" from the embedded sample: the sample
itself and a copy whose MTL says it was acquired 16 days later (same pixels). That
shows the mechanics only; give two real acquisitions of one path/row for a real
series (e.g. April and July, as the published workflow compares).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from pix2lst.batch import PhysicsOptions, open_cube, run
from pix2lst.data import sample_scene_path


def two_dates() -> list[Path]:
    """The sample, and a copy relabelled as acquired 16 days later (same pixels)."""
    root = Path(tempfile.mkdtemp(prefix="pix2lst-dates-"))
    first = root / "first"
    shutil.copytree(sample_scene_path(), first)
    second = root / "second"
    shutil.copytree(sample_scene_path(), second)
    mtl = second / "test_MTL.txt"
    text = mtl.read_text()
    text = text.replace("DATE_ACQUIRED = 2015-08-04", "DATE_ACQUIRED = 2015-08-20")
    text = text.replace("LC80200392015216LGN00", "LC80200392015232LGN00")
    mtl.write_text(text)
    return [first, second]


def main(scenes: list[Path | str], out_dir: Path) -> None:
    rows = run(
        scenes, out_dir, "physics", workers=1, options=PhysicsOptions(mask_clouds=True),
        cube=out_dir / "cube.zarr", overwrite=True,
    )  # fmt: skip
    for row in rows:
        print(f"{row.status:7s} {row.output} ({row.seconds:.1f} s)")
    cube = open_cube(out_dir / "cube.zarr")
    lst = cube["lst"]
    y, x = lst.sizes["y"] // 2, lst.sizes["x"] // 2
    print(f"cube {dict(lst.sizes)}, units {lst.attrs.get('units')}")
    for t, value in zip(lst["time"].values, lst[:, y, x].values, strict=True):
        print(f"  {str(t)[:10]}  centre pixel {value:.2f} K")


if __name__ == "__main__":
    args = sys.argv[1:]
    out = Path("example-output/04")
    if "--out" in args:
        i = args.index("--out")
        out = Path(args[i + 1])
        del args[i : i + 2]
    main(list(args) or two_dates(), out)
