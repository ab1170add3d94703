"""The environment against the lock, on given versions."""

from {{ cookiecutter.package_name }}.core.lock import canonical, compare_to_lock, parse_lock

LOCK = """# a comment
numpy==2.1.0
Scikit_Learn==1.6.1  # pinned together
torch==2.5.1
uvicorn==0.34.0
"""


def test_names_compare_as_pep_503_says():
    assert canonical("Scikit_Learn") == canonical("scikit.learn") == "scikit-learn"


def test_the_lock_is_read_by_canonical_name():
    assert parse_lock(LOCK) == {
        "numpy": "2.1.0",
        "scikit-learn": "1.6.1",
        "torch": "2.5.1",
        "uvicorn": "0.34.0",
    }


def test_missing_mismatched_and_unpinned_requirements_are_named():
    installed = {"numpy": "2.0.0", "torch": "2.5.1+cu124", "uvicorn": "0.34.0"}
    required = ["numpy>=1.26", "scikit-learn>=1.5", "torch>=2.4", "uvicorn[standard]>=0.30"]

    diff = compare_to_lock([*required, "not-locked>=1"], parse_lock(LOCK), installed)

    assert diff.missing == ["scikit-learn"]
    assert diff.mismatched == [("numpy", "2.0.0", "2.1.0")]
    assert diff.unpinned == ["not-locked"]
    assert diff.checked == ["numpy", "scikit-learn", "torch", "uvicorn", "not-locked"]
    assert diff.broken


def test_a_matching_environment_is_not_broken_and_extra_packages_are_fine():
    installed = {"numpy": "2.1.0", "scikit-learn": "1.6.1", "something-else": "1.0"}

    diff = compare_to_lock(["numpy", "scikit_learn"], parse_lock(LOCK), installed)

    assert not diff.broken
    assert diff.drifted == []


def test_locked_packages_not_required_by_name_are_drifted_when_off_their_pin():
    diff = compare_to_lock(["numpy"], parse_lock(LOCK), {"numpy": "2.1.0", "uvicorn": "0.1"})

    assert not diff.broken
    assert diff.drifted == [("uvicorn", "0.1", "0.34.0")]


def test_a_requirement_with_a_marker_counts_only_where_installed():
    required = ['torch>=2.4; platform_machine == "x86_64"']

    assert compare_to_lock(required, parse_lock(LOCK), {}).checked == []
    assert compare_to_lock(required, parse_lock(LOCK), {"torch": "2.5.0"}).broken
