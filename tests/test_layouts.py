import numpy as np
import pytest

from bharnet.layouts import MISSING, available_layouts, get_layout

REQUIRED = {"coco_wholebody": 133, "mediapipe_holistic": 75, "ntu25": 25, "jhmdb15": 15,
            "coco17": 17, "hand21": 21, "unified": 65}


@pytest.mark.parametrize("name,v", sorted(REQUIRED.items()))
def test_required_layouts_exist(name, v):
    assert get_layout(name).num_joints == v


@pytest.mark.parametrize("name", available_layouts())
def test_graph_is_connected_and_symmetric(name):
    L = get_layout(name)
    assert L.is_connected, name
    raw = L.adjacency(normalize=False)
    np.testing.assert_array_equal(raw[0], raw[0].T)
    np.testing.assert_array_equal(raw[1], raw[2].T)  # inward is outward reversed
    undirected = (raw[1] + raw[2] + raw[0] - np.eye(L.num_joints)) > 0
    assert undirected.sum() == 2 * len(set(map(frozenset, L.edges)))


@pytest.mark.parametrize("name", available_layouts())
def test_normalised_adjacency_columns_average(name):
    A = get_layout(name).adjacency()
    col = A.sum(axis=1)
    assert np.all((np.isclose(col, 1.0)) | (col == 0))
    assert np.allclose(A[0].sum(0), 1.0)  # every joint keeps itself


@pytest.mark.parametrize("name", available_layouts())
def test_bones_form_a_tree_rooted_at_centre(name):
    L = get_layout(name)
    pairs = L.bone_pairs
    assert len(pairs) == L.num_joints
    edges = set(map(frozenset, L.edges))
    for child, parent in pairs:
        if child == L.center:
            assert parent == child
        else:
            assert frozenset((child, parent)) in edges
    # following parents from any joint reaches the centre without cycles
    for v in range(L.num_joints):
        seen, u = set(), v
        while u != L.center:
            assert u not in seen
            seen.add(u)
            u = int(L.parents[u])
    assert len(pairs) - 1 == L.num_joints - 1  # V-1 real bones: a spanning tree


@pytest.mark.parametrize("name", available_layouts())
def test_flip_pairs_are_mirror_names(name):
    L = get_layout(name)
    perm = L.flip_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(L.num_joints))
    for a, b in L.flip_pairs:
        assert L.joints[a].replace("left", "right") == L.joints[b]
    # flipping keeps the edge set
    edges = set(map(frozenset, L.edges))
    assert {frozenset((perm[a], perm[b])) for a, b in L.edges} == edges


def test_slices_and_name_maps():
    wb, mp, uni = get_layout("coco_wholebody"), get_layout("mediapipe_holistic"), get_layout("unified")
    assert wb.part("left_hand") == tuple(range(91, 112))
    assert wb.joints[91] == "left_hand_wrist" and wb.joints[112] == "right_hand_wrist"
    assert mp.part("right_hand") == tuple(range(54, 75))
    m = wb.index_map(uni)
    assert (m != MISSING).all()  # whole-body holds every unified joint
    m = mp.index_map(get_layout("coco17"))
    assert list(m[:3]) == [0, 2, 5] and m[5] == 11 and m[16] == 28
    assert (get_layout("jhmdb15").index_map(get_layout("coco17")) == MISSING).sum() == 5
    with pytest.raises(KeyError, match="unknown layout"):
        get_layout("nope")
    with pytest.raises(KeyError, match="no part"):
        get_layout("jhmdb15").part("left_hand")


def test_unified_links_wrists_to_hands():
    uni = get_layout("unified")
    edges = set(map(frozenset, uni.edges))
    assert frozenset((uni.index("left_wrist"), uni.index("left_hand_wrist"))) in edges
    assert frozenset((uni.index("right_wrist"), uni.index("right_hand_wrist"))) in edges
