"""One id per demo run: its consumer groups are `demo<id>-<the component's default group>`, so
the monitor (`--group-prefix demo<id>-`) maps them to the topology's connections."""

from __future__ import annotations

import time

RUN = int(time.time())
GROUP_PREFIX = f"demo{RUN}-"
