"""A small cache of the exact searches, keyed by the content of the cell graph they ran on.

The planner, the band repairs and the corridor repairs often put the same
question to the exact searches of :mod:`~gridgeo.partition.proof` and
:mod:`~gridgeo.partition.program`: the same cells (a subgraph built anew each
time, so not the same object) with the same band.  Those searches are pure
functions of the graph's arrays and their arguments, so the answer of the
first call is kept and handed out again.  The key is a digest of every array
the search reads, so a cache hit returns exactly what a new search would
have: the outputs do not depend on the cache, on the order of the
communities or on the number of workers.  Each process keeps its own, of at
most :data:`SIZE` answers per search and at most ``capacity`` units of size
(the connected sets of a search count one each, so a search of 200,000 sets
never pins hundreds of megabytes); the least recently used go first.  A lock
keeps it whole when a Dask worker runs communities in threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from ..cells.adjacency import CellGraph

__all__ = ["graph_key", "Memo", "SIZE"]

SIZE = 64


def graph_key(graph: CellGraph, *arguments, barrier: bool = False) -> bytes:
    """A digest of ``graph``'s households and shared lengths (and barriers when ``barrier``), and ``arguments``.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from gridgeo.cells.adjacency import build_cell_graph
    >>> cells = np.array([shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> a = build_cell_graph(cells, np.array([5, 6, 4]), shapely.centroid(cells))
    >>> b = build_cell_graph(cells, np.array([5, 6, 4]), shapely.centroid(cells))
    >>> graph_key(a, 10, 15) == graph_key(b, 10, 15), graph_key(a, 10, 15) == graph_key(a, 10, 16)
    (True, False)
    """
    digest = hashlib.blake2b(digest_size=20)
    matrices = [graph.shared, graph.barrier] if barrier else [graph.shared]
    digest.update(np.asarray(graph.weight, dtype=np.int64).tobytes())
    for matrix in matrices:
        for array, dtype in ((matrix.indptr, np.int64), (matrix.indices, np.int64), (matrix.data, np.float64)):
            part = np.asarray(array, dtype=dtype)
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part.tobytes())
    digest.update(repr(arguments).encode())
    return digest.digest()


class Memo:
    """The last answers of one search, by :func:`graph_key`: at most ``size`` of them, of ``capacity`` in all.

    Examples
    --------
    >>> memo = Memo(capacity=10)
    >>> memo.get(b"k") is None
    True
    >>> memo.put(b"k", 3)
    >>> memo.get(b"k")
    3
    >>> memo.put(b"big", tuple(range(11)), weight=11)  # larger than the whole capacity: not kept
    >>> memo.get(b"big") is None
    True
    """

    def __init__(self, size: int = SIZE, capacity: int | None = None):
        self.size = size
        self.capacity = capacity
        self.answers: OrderedDict[bytes, tuple[object, int]] = OrderedDict()
        self.held = 0
        self.lock = threading.Lock()

    def get(self, key: bytes):
        """The answer kept for ``key``, or None."""
        with self.lock:
            kept = self.answers.get(key)
            if kept is None:
                return None
            self.answers.move_to_end(key)
            return kept[0]

    def put(self, key: bytes, answer, weight: int = 1) -> None:
        """Keep ``answer`` (not None) for ``key``; ``weight`` is its size against the capacity."""
        if self.capacity is not None and weight > self.capacity:
            return
        with self.lock:
            if key in self.answers:
                self.held -= self.answers.pop(key)[1]
            self.answers[key] = (answer, weight)
            self.held += weight
            while len(self.answers) > self.size or (self.capacity is not None and self.held > self.capacity):
                self.held -= self.answers.popitem(last=False)[1][1]
