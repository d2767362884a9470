"""Where `deploy render` takes the bus's principals and ACLs from: ONE derivation, the one that
`databus acl` applies to the brokers.

Until issue 14 (`databus.security`) is merged this points at the temporary stand-in; at merge,
replace the import below with
`from databus.security.principals import bus_principals` and
`from databus.security.acls import implied_acls`, and delete `principals_stub.py`.
"""

from __future__ import annotations

from databus.deploy.principals_stub import bus_principals, implied_acls

__all__ = ["bus_principals", "implied_acls"]
