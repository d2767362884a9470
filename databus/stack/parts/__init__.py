"""The servers the local stack can start; `PARTS` maps each name to its class."""

from databus.stack.part import Part
from databus.stack.parts.kafka import KafkaPart
from databus.stack.parts.mariadb import MariaDBPart
from databus.stack.parts.postgres import PostgresPart
from databus.stack.parts.registry import RegistryPart

PARTS: dict[str, type[Part]] = {
    part.name: part for part in (KafkaPart, RegistryPart, PostgresPart, MariaDBPart)
}
DEFAULT_PARTS = ("kafka", "registry")
DATABASE_PARTS = ("postgres", "mariadb")
