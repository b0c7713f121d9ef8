"""Matching profiles: the shipped ones load; a wrong one names the file, the key and the fix."""

from __future__ import annotations

import pytest

from transforms.resolve.profile import DEFAULT_PROFILE, ProfileError, load_profile


def test_the_shipped_profiles_load():
    chinese, latin = load_profile(), load_profile("latin_person")
    assert chinese.name == "chinese_resident" and chinese.id_anchored and load_profile(DEFAULT_PROFILE) == chinese
    assert latin.name == "latin_person" and not latin.id_anchored
    assert {"name", "birth_date"} <= set(latin.columns())


def test_an_unknown_comparison_kind_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(DEFAULT_PROFILE.read_text(encoding="utf-8").replace("kind: birth_date", "kind: birthday"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"bad\.yaml.*comparisons\.3\.kind"):
        load_profile(path)


def test_a_review_threshold_above_the_match_threshold_is_refused(tmp_path):
    path = tmp_path / "thresholds.yaml"
    path.write_text(DEFAULT_PROFILE.read_text(encoding="utf-8").replace("review_threshold: 0.5", "review_threshold: 0.99"), encoding="utf-8")
    with pytest.raises(ProfileError, match="review_threshold .* must not exceed threshold"):
        load_profile(path)


def test_a_missing_profile_lists_the_shipped_ones(tmp_path):
    with pytest.raises(ProfileError, match="chinese_resident, latin_person"):
        load_profile(tmp_path / "nope.yaml")


def test_broken_yaml_says_so(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(path)


def test_a_link_requirement_must_name_a_level_of_a_comparison(tmp_path):
    path = tmp_path / "requires.yaml"
    path.write_text(DEFAULT_PROFILE.read_text(encoding="utf-8").replace("at_least: same pinyin (homophone)", "at_least: sounds alike"),
                    encoding="utf-8")
    with pytest.raises(ProfileError, match="comparison 'name' has no level 'sounds alike'; its levels: null, exact name"):
        load_profile(path)


def test_a_provided_condition_must_name_a_level_too(tmp_path):
    path = tmp_path / "provided.yaml"
    path.write_text(DEFAULT_PROFILE.read_text(encoding="utf-8").replace("at_least: given name only", "at_least: nearly"), encoding="utf-8")
    with pytest.raises(ProfileError, match="comparison 'name' has no level 'nearly'"):
        load_profile(path)
