"""How often the map's edit mode predicts what ``apply-edits`` does, on a finished run.

Usage: python scripts/edit_agreement.py OUTDIR [--moves 40] [--seed 1]

Takes the run in OUTDIR (written by ``gridgeo partition``), builds its edit model
(:func:`gridgeo.outputs.editmodel.edit_model`) and draws ``--moves`` single-building moves to a neighbouring
grid: a building whose cell shares an edge with a cell of another grid of its community, moved into
that grid.  Each move is applied alone with :func:`gridgeo.living.edits.apply_edits` (audited), and the
edit mode's prediction, computed as ``edit.js`` computes it (households summed, one piece when the
remaining buildings' cells are connected), is compared with the grids ``apply-edits`` writes: the
households of the source and target grid, and whether each is one piece (status other than
``edited_split``).  Prints the time and size of the model, every disagreement and the totals; exit
status 1 when any prediction disagrees.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from gridgeo.living.edits import EDITED_SPLIT, apply_edits
from gridgeo.outputs.editmodel import edit_model
from gridgeo.result import read_outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    previous = read_outputs(args.outdir)
    start = time.perf_counter()
    model = edit_model(previous)
    took = time.perf_counter() - start
    size = len(json.dumps(model, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    buildings, grids = model["buildings"], model["grids"]
    n = len(buildings["code"])
    pairs = np.asarray(model["adjacency"], dtype=np.int64).reshape(-1, 2)
    print(f"{args.outdir}: {n} buildings, {len(grids['code'])} grids; model in {took:.1f} s, {size / 1e6:.2f} MB of JSON, {len(pairs)} neighbouring pairs")
    graph = csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    grid = np.asarray(buildings["grid"])
    households = np.asarray(buildings["households"])

    def one_piece(members: np.ndarray) -> bool | None:
        if not len(members):
            return None
        return connected_components(graph[members][:, members], directed=False)[0] == 1

    candidates = sorted({(a, grid[b]) for a, b in pairs.tolist() if grid[a] != grid[b]} | {(b, grid[a]) for a, b in pairs.tolist() if grid[a] != grid[b]})
    random.Random(args.seed).shuffle(candidates)
    agree = households_agree = 0
    tried = candidates[: args.moves]
    for mover, target in tried:
        source = grid[mover]
        after = grid.copy()
        after[mover] = target
        code, target_code = buildings["code"][mover], grids["code"][target]
        edited = apply_edits(previous, pd.DataFrame({"building_code": [code], "grid_code": [target_code]}))
        rows = edited.grids.set_index("grid_code")
        same = True
        for g in (source, target):
            members = np.flatnonzero(after == g)
            predicted = (int(households[members].sum()), one_piece(members))
            gc = grids["code"][g]
            if gc not in rows.index:  # emptied and retired: nothing to compare
                continue
            written = (int(rows.loc[gc, "households"]), str(rows.loc[gc, "status"]) != EDITED_SPLIT)
            households_agree += predicted[0] == written[0]
            if predicted != written:
                same = False
                print(f"  {code} -> {target_code}: grid {gc} predicted {predicted}, apply-edits wrote {written}")
        agree += same
    print(f"agreed on {agree} of {len(tried)} moves")
    return 0 if agree == len(tried) else 1


if __name__ == "__main__":
    sys.exit(main())
