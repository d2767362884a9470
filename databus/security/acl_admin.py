"""Make the broker's ACLs what the topology implies: plan (a difference) and apply (idempotent).

Only the bus principals' ACLs are managed; with a topic prefix, only those on names under the
prefix (plus any still implied), so that tenants and tests sharing a broker leave each other be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from databus.security.acls import AclRule, PatternType
from databus.security.acls import ResourceType as RuleResource
from databus.security.client import KafkaSecurity, secured

TIMEOUT = 30.0
_RESOURCES: dict[str, ResourceType] = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "cluster": ResourceType.BROKER,
    "transactional_id": ResourceType.TRANSACTIONAL_ID,
}
_RULE_RESOURCES: dict[ResourceType, RuleResource] = {v: k for k, v in _RESOURCES.items()}  # type: ignore[misc]


@dataclass(frozen=True)
class AclPlan:
    """What `apply` would create and delete."""

    create: tuple[AclRule, ...]
    delete: tuple[AclRule, ...]
    kept: int

    @property
    def empty(self) -> bool:
        return not self.create and not self.delete

    def as_dict(self) -> dict[str, object]:
        return {
            "create": [rule.__dict__ for rule in self.create],
            "delete": [rule.__dict__ for rule in self.delete],
            "kept": self.kept,
        }


def _operation(name: str) -> AclOperation:
    return AclOperation[re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()]


def _operation_name(op: AclOperation) -> str:
    return "".join(part.capitalize() for part in op.name.split("_"))


def to_binding(rule: AclRule) -> AclBinding:
    """The confluent-kafka form of `rule`."""
    return AclBinding(
        _RESOURCES[rule.resource_type],
        rule.name,
        ResourcePatternType[rule.pattern_type.upper()],
        f"User:{rule.principal}",
        rule.host,
        _operation(rule.operation),
        AclPermissionType.ALLOW,
    )


def to_rule(binding: AclBinding) -> AclRule | None:
    """Our form of an allow binding for a `User:` principal; None for anything else."""
    if binding.permission_type != AclPermissionType.ALLOW:
        return None
    if not binding.principal.startswith("User:") or binding.restype not in _RULE_RESOURCES:
        return None
    pattern: PatternType = (
        "prefixed" if binding.resource_pattern_type == ResourcePatternType.PREFIXED else "literal"
    )
    return AclRule(
        principal=binding.principal.removeprefix("User:"),
        resource_type=_RULE_RESOURCES[binding.restype],
        pattern_type=pattern,
        name=binding.name,
        operation=_operation_name(AclOperation(binding.operation)),
        host=binding.host,
    )


class AclAdmin:
    """Reads and changes the broker's ACLs as the admin principal."""

    def __init__(self, bootstrap: str, security: KafkaSecurity | None = None) -> None:
        self.admin = AdminClient(secured({"bootstrap.servers": bootstrap}, security))

    def held(self) -> frozenset[AclRule]:
        """Every allow rule of a `User:` principal the broker holds."""
        everything = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]
            ResourcePatternType.ANY,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        bindings = self.admin.describe_acls(everything, request_timeout=TIMEOUT).result()
        return frozenset(r for r in map(to_rule, bindings) if r is not None)

    def plan(
        self, implied: frozenset[AclRule], principals: set[str], topic_prefix: str = ""
    ) -> AclPlan:
        """The difference between `implied` and what the broker holds for `principals`."""
        held = {
            rule
            for rule in self.held()
            if rule.principal in principals
            and (rule in implied or not topic_prefix or rule.name.startswith(topic_prefix))
        }
        return AclPlan(
            create=tuple(sorted(implied - held)),
            delete=tuple(sorted(held - implied)),
            kept=len(held & implied),
        )

    def apply(self, plan: AclPlan) -> None:
        """Create and delete what `plan` says; raises on the first refusal."""
        if plan.create:
            futures = self.admin.create_acls(
                [to_binding(r) for r in plan.create], request_timeout=TIMEOUT
            )
            for future in futures.values():
                future.result()
        if plan.delete:
            filters = [_exact_filter(r) for r in plan.delete]
            for future in self.admin.delete_acls(filters, request_timeout=TIMEOUT).values():
                future.result()


def _exact_filter(rule: AclRule) -> AclBindingFilter:
    binding = to_binding(rule)
    return AclBindingFilter(
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )
