"""Where `deploy render` takes the bus's principals and ACLs from: ONE derivation, the one that
`databus acl` applies to the brokers (databus.security)."""

from __future__ import annotations

from databus.security.acls import implied_acls
from databus.security.principals import bus_principals, component_principal

__all__ = ["bus_principals", "component_principal", "implied_acls"]
