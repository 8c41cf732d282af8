"""Service areas and the station (conf/areas.yml): the area kind decides repair commitments."""

from __future__ import annotations

from dataclasses import dataclass

from store.configuration.yamlfile import ConfigError, Node
from store.workflow import AREA_KINDS


@dataclass(frozen=True)
class Station:
    name: str
    name_en: str
    township: str
    county: str


@dataclass(frozen=True)
class AreaConfig:
    code: str
    name: str
    name_en: str
    kind: str
    aliases: tuple[str, ...]


def load_station(root: Node) -> Station:
    station = root["station"]
    return Station(
        name=station["name"].as_str(),
        name_en=station["name_en"].as_str(),
        township=station["township"].as_str(),
        county=station["county"].as_str(),
    )


def load_areas(root: Node) -> tuple[AreaConfig, ...]:
    areas = []
    for node in root["areas"].as_list():
        aliases = node.get("aliases")
        areas.append(
            AreaConfig(
                code=node["code"].as_str(),
                name=node["name"].as_str(),
                name_en=node["name_en"].as_str(),
                kind=node["kind"].choice(AREA_KINDS),
                aliases=tuple(a.as_str() for a in aliases.as_list()) if aliases else (),
            )
        )
    codes = [a.code for a in areas]
    if not areas or len(set(codes)) != len(codes):
        raise ConfigError(f"{root.path}: areas: codes must be present and unique")
    return tuple(areas)
