"""Shared locations → service areas: the nearest village (or community) within a radius.

The coordinates are the `lat`/`lon` of each area in conf/areas.yml and the radius its
`location_radius_km`. Pure functions, no I/O except `load_places`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from store.configuration.yamlfile import ConfigError, Node, read_yaml

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG); the haversine error is well under 1% at township scale."""
DEFAULT_RADIUS_KM = 4.0


@dataclass(frozen=True, slots=True)
class Place:
    """A service area with the coordinates of its centre (WGS 84 degrees)."""

    code: str
    name: str
    name_en: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Match:
    place: Place
    distance_km: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) between two points in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def valid_coordinates(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def nearest_place(
    lat: float, lon: float, places: tuple[Place, ...] | list[Place], radius_km: float
) -> Match | None:
    """The closest place no farther than `radius_km`, or None (also for invalid coordinates).

    Ties go to the place listed first, so the result never depends on float noise in ordering.
    """
    if not valid_coordinates(lat, lon) or radius_km < 0:
        return None
    best: Match | None = None
    for place in places:
        d = distance_km(lat, lon, place.lat, place.lon)
        if d <= radius_km and (best is None or d < best.distance_km):
            best = Match(place, d)
    return best


def _coordinate(node: Node, key: str, limit: float) -> float:
    value = node[key].value
    if isinstance(value, bool) or not isinstance(value, int | float):
        node[key].fail("a number of degrees")
    number = float(value)
    if not math.isfinite(number) or not -limit <= number <= limit:
        node[key].fail(f"degrees between -{limit:g} and {limit:g}")
    return number


def load_places(conf_dir: Path) -> tuple[tuple[Place, ...], float]:
    """The areas of `conf_dir/areas.yml` that have coordinates, and the matching radius (km).

    Areas without `lat`/`lon` are skipped (a shared location then never maps to them); an area
    with only one of the two, or with an impossible value, is a configuration error.
    """
    root = read_yaml(conf_dir / "areas.yml")
    places: list[Place] = []
    for node in root["areas"].as_list():
        has_lat, has_lon = node.get("lat") is not None, node.get("lon") is not None
        if not has_lat and not has_lon:
            continue
        if has_lat != has_lon:
            raise ConfigError(f"{node.path}: {node.key}: set both lat and lon, or neither")
        places.append(
            Place(
                code=node["code"].as_str(),
                name=node["name"].as_str(),
                name_en=node["name_en"].as_str(),
                lat=_coordinate(node, "lat", 90),
                lon=_coordinate(node, "lon", 180),
            )
        )
    radius = DEFAULT_RADIUS_KM
    radius_node = root.get("location_radius_km")
    if radius_node is not None:
        value = radius_node.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1000:
            radius_node.fail("a distance in km between 0 and 1000")
        radius = float(value)
    return tuple(places), radius
