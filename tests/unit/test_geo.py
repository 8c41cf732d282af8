"""bot.geo: shared locations → the nearest service area within the configured radius."""

from __future__ import annotations

import itertools
import math
import re
import shutil
from pathlib import Path

import pytest

from bot.geo import Place, distance_km, load_places, nearest_place, valid_coordinates
from store.configuration.yamlfile import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EAST = Place("E", "东村", "East Village", 30.0, 120.01)
WEST = Place("W", "西村", "West Village", 30.0, 119.99)
PLACES = (EAST, WEST)


def test_distance_known_values() -> None:
    assert distance_km(30.0, 120.0, 30.0, 120.0) == 0
    # one degree of latitude is about 111.2 km anywhere
    assert distance_km(30.0, 120.0, 31.0, 120.0) == pytest.approx(111.19, abs=0.05)
    # a degree of longitude shrinks with cos(latitude)
    assert distance_km(30.0, 120.0, 30.0, 121.0) == pytest.approx(
        111.19 * math.cos(math.radians(30)), abs=0.1
    )
    # Beijing → Shanghai, about 1068 km
    assert distance_km(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1068, rel=0.01)
    assert distance_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371.0088)


def test_distance_is_symmetric() -> None:
    assert distance_km(30.05, 119.46, 30.1, 119.4) == distance_km(30.1, 119.4, 30.05, 119.46)


def test_nearest_within_radius() -> None:
    match = nearest_place(30.0, 120.008, PLACES, radius_km=2)
    assert match is not None
    assert match.place is EAST
    assert match.distance_km == pytest.approx(0.19, abs=0.01)
    west = nearest_place(30.001, 119.992, PLACES, radius_km=2)
    assert west is not None
    assert west.place is WEST


def test_nothing_within_radius() -> None:
    assert nearest_place(30.0, 120.5, PLACES, radius_km=5) is None
    assert nearest_place(30.0, 120.008, (), radius_km=5) is None
    assert nearest_place(30.0, 120.008, PLACES, radius_km=0.1) is None


def test_radius_is_inclusive_and_ties_go_to_the_first() -> None:
    exact = distance_km(30.0, 120.0, EAST.lat, EAST.lon)
    assert nearest_place(30.0, 120.0, PLACES, radius_km=exact) is not None
    tie = nearest_place(30.0, 120.0, PLACES, radius_km=5)
    assert tie is not None
    assert tie.place is EAST
    tie = nearest_place(30.0, 120.0, (WEST, EAST), radius_km=5)
    assert tie is not None
    assert tie.place is WEST


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(math.nan, 120.0), (30.0, math.inf), (91.0, 120.0), (30.0, -181.0)],
)
def test_invalid_coordinates_match_nothing(lat: float, lon: float) -> None:
    assert not valid_coordinates(lat, lon)
    assert nearest_place(lat, lon, PLACES, radius_km=10_000) is None


def test_conf_areas_all_have_plausible_coordinates() -> None:
    places, radius = load_places(ROOT / "conf")
    assert len(places) == 11
    assert 0 < radius <= 10
    # one township: every area within 15 km of every other, none on top of another
    for a, b in itertools.combinations(places, 2):
        assert 0.3 < distance_km(a.lat, a.lon, b.lat, b.lon) < 15, (a.code, b.code)
    # each area's own centre maps to itself
    for place in places:
        match = nearest_place(place.lat, place.lon, places, radius)
        assert match is not None
        assert match.place == place


def test_conf_areas_cover_the_township_without_gaps() -> None:
    places, radius = load_places(ROOT / "conf")
    lats = [p.lat for p in places]
    lons = [p.lon for p in places]
    steps = 20
    for i, j in itertools.product(range(steps + 1), repeat=2):
        lat = min(lats) + (max(lats) - min(lats)) * i / steps
        lon = min(lons) + (max(lons) - min(lons)) * j / steps
        assert nearest_place(lat, lon, places, radius) is not None, (lat, lon)


def _conf_with(tmp_path: Path, old: str, new: str) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    path = conf / "areas.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return conf


def test_areas_without_coordinates_are_skipped(tmp_path: Path) -> None:
    conf = _conf_with(tmp_path, "    lat: 30.0520\n    lon: 119.4610\n", "")
    places, _ = load_places(conf)
    assert "QX01" not in {p.code for p in places}
    assert len(places) == 10


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    lon: 119.4610\n", "", "set both lat and lon"),
        ("lat: 30.0520", "lat: north", "areas[0].lat: expected a number"),
        ("lat: 30.0520", "lat: 95.1", "areas[0].lat: expected degrees between -90 and 90"),
        ("lon: 119.4610", "lon: 190", "areas[0].lon: expected degrees between -180 and 180"),
        ("location_radius_km: 4", "location_radius_km: -1", "location_radius_km"),
        ("location_radius_km: 4", "location_radius_km: far", "location_radius_km"),
    ],
)
def test_bad_coordinates_name_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    conf = _conf_with(tmp_path, old, new)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_places(conf)


def test_default_radius(tmp_path: Path) -> None:
    conf = _conf_with(tmp_path, "location_radius_km: 4\n", "")
    _, radius = load_places(conf)
    assert radius == 4.0
