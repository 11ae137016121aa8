"""The Layout type: joints plus edges, and everything derived from them."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

MISSING = -1  # index used in joint maps for a joint the source layout does not have


@dataclass(frozen=True)
class Layout:
    """One keypoint layout, written once as joint names, edges and a centre joint.

    Joint names are shared across layouts ("left_wrist" means the same point in COCO-WholeBody and
    in MediaPipe Holistic), so conversions between layouts are derived by name (`index_map`).
    `parts` names index groups such as "body", "left_hand", "right_hand".
    """

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    parts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        v = len(self.joints)
        if len(set(self.joints)) != v:
            raise ValueError(f"layout {self.name!r}: duplicate joint names")
        for a, b in self.edges:
            if not (0 <= a < v and 0 <= b < v) or a == b:
                raise ValueError(f"layout {self.name!r}: bad edge ({a}, {b}) for {v} joints")
        if not 0 <= self.center < v:
            raise ValueError(f"layout {self.name!r}: centre {self.center} out of range")
        for part, idx in self.parts.items():
            if any(not 0 <= i < v for i in idx):
                raise ValueError(f"layout {self.name!r}: part {part!r} has an index out of range")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    # ---- graph structure -------------------------------------------------
    @cached_property
    def neighbours(self) -> tuple[tuple[int, ...], ...]:
        nb: list[list[int]] = [[] for _ in self.joints]
        for a, b in self.edges:
            nb[a].append(b)
            nb[b].append(a)
        return tuple(tuple(n) for n in nb)

    @cached_property
    def hops(self) -> np.ndarray:
        """Hop distance of every joint from the centre (-1 where unreachable)."""
        hop = np.full(self.num_joints, -1, dtype=np.int64)
        hop[self.center] = 0
        queue = deque([self.center])
        while queue:
            u = queue.popleft()
            for w in self.neighbours[u]:
                if hop[w] < 0:
                    hop[w] = hop[u] + 1
                    queue.append(w)
        return hop

    @cached_property
    def parents(self) -> np.ndarray:
        """Breadth-first spanning tree from the centre; the centre is its own parent."""
        parent = np.full(self.num_joints, -1, dtype=np.int64)
        parent[self.center] = self.center
        queue = deque([self.center])
        while queue:
            u = queue.popleft()
            for w in self.neighbours[u]:
                if parent[w] < 0:
                    parent[w] = u
                    queue.append(w)
        return parent

    @property
    def is_connected(self) -> bool:
        return bool((self.hops >= 0).all())

    @cached_property
    def bone_pairs(self) -> tuple[tuple[int, int], ...]:
        """(joint, parent) for every joint; bone = x[joint] - x[parent] (zero at the centre)."""
        return tuple((v, int(p)) for v, p in enumerate(self.parents))

    @cached_property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        """Joints that swap under a left/right mirror, matched by their names."""
        pairs = []
        for i, n in enumerate(self.joints):
            if "left" in n.split("_"):
                other = "_".join("right" if t == "left" else t for t in n.split("_"))
                if other in self.joints:
                    pairs.append((i, self.joints.index(other)))
        return tuple(pairs)

    @cached_property
    def flip_permutation(self) -> np.ndarray:
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def adjacency(self, normalize: bool = True) -> np.ndarray:
        """Spatial-partition adjacency [3, V, V]: self (plus equal-hop links), inward, outward.

        Convention: A[k, v, w] carries joint v into joint w, i.e. y[w] = sum_v x[v] A[k, v, w]
        (the graph-convolution kernel's convention). Normalising makes each column a mean over
        the joint's inputs.
        """
        v = self.num_joints
        a = np.zeros((3, v, v), dtype=np.float32)
        a[0] = np.eye(v, dtype=np.float32)
        hop = self.hops
        for i, j in self.edges:
            if hop[i] == hop[j]:
                a[0, i, j] = a[0, j, i] = 1.0
                continue
            far, near = (i, j) if hop[i] > hop[j] else (j, i)
            a[1, far, near] = 1.0  # inward: towards the centre
            a[2, near, far] = 1.0  # outward: away from it
        if normalize:
            col = a.sum(axis=1, keepdims=True)
            a = np.divide(a, col, out=np.zeros_like(a), where=col > 0)
        return a

    # ---- relations to other layouts ---------------------------------------
    def index_map(self, target: "Layout") -> np.ndarray:
        """For every joint of `target`, its index in this layout (MISSING where absent)."""
        pos = {n: i for i, n in enumerate(self.joints)}
        return np.array([pos.get(n, MISSING) for n in target.joints], dtype=np.int64)

    def part(self, name: str) -> tuple[int, ...]:
        try:
            return self.parts[name]
        except KeyError:
            raise KeyError(f"layout {self.name!r} has no part {name!r} (has {sorted(self.parts)})") from None

    def has_part(self, name: str) -> bool:
        return name in self.parts

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, V={self.num_joints}, edges={len(self.edges)})"
