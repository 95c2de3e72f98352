"""Makes moto's server answer faster, without changing any answer. NOT a model of AWS.

moto's server spends about a third of each request on work that does not depend on the request
(profiled with py-spy on the benchmark's apply, moto 5.2.5):
- `backends.list_of_moto_modules()` lists moto's package directory on disk (an `isdir` per service) for
  every request, to route it; the package does not change while the server runs;
- `method_names_from_class()` runs `inspect.getmembers` over the whole responses class for every
  request, to find the action's method; a class's methods do not change either;
- werkzeug writes one log line per request through `logging`, under a lock, to a stream the test
  harness discards;
- `DescribeSecurityGroupRules` with a `group-id` filter copies every rule of the region before
  filtering: restore's one call per security group then costs the whole region each time.

With these answered once (and the request log off), the server does the same work per request, in the
same order, with the same results. Set HIKKONUKI_EMULATOR_REQUEST_LOG=1 to keep werkzeug's request log.
"""

import functools
import logging
import os


def install():
    import moto.backends
    import moto.core.responses

    modules = tuple(moto.backends.list_of_moto_modules())
    # werkzeug_app calls `backends.list_of_moto_modules()` through the module, so the attribute is enough.
    moto.backends.list_of_moto_modules = lambda: modules

    original = moto.core.responses.method_names_from_class
    names_of = functools.cache(lambda clazz: tuple(original(clazz)))
    # responses.py imported the function by name; callers only test membership, and get a fresh list.
    moto.core.responses.method_names_from_class = lambda clazz: list(names_of(clazz))

    if os.environ.get("HIKKONUKI_EMULATOR_REQUEST_LOG") != "1":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # HTTP/1.1 keeps a client's connection open between requests (werkzeug frames every answer with a
    # length or chunks), where HTTP/1.0 costs a connection and a thread per request.
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    MotoRequestHandler.protocol_version = "HTTP/1.1"

    _rules_of_named_groups_only()


def _rules_of_named_groups_only():
    """moto's describe_security_group_rules over the named groups' rules only, when a group-id filter
    names them (and no rule ids are given): the same rules in the same order, as only those can match.
    Anything else (rule ids, no group-id filter, a malformed id, which moto refuses) goes to moto's own."""
    import copy
    import itertools

    from moto.ec2.models.security_groups import SecurityGroupBackend
    from moto.ec2.utils import is_valid_security_group_id

    moto_own = SecurityGroupBackend.describe_security_group_rules

    def describe_security_group_rules(self, sg_rule_ids, filters):
        named = (filters or {}).get("group-id")
        if sg_rule_ids or not named or not all(is_valid_security_group_id(g) for g in named):
            return moto_own(self, sg_rule_ids, filters)
        wanted = set(named)
        rules = [
            copy.copy(rule)
            for vpc_and_group in self.groups.values()
            for group in vpc_and_group.values()
            if group.id in wanted
            for rule in list(itertools.chain(group.egress_rules, group.ingress_rules))
        ]
        for rule in rules:
            if rule.from_port is None:
                rule.from_port = -1
            if rule.to_port is None:
                rule.to_port = -1
        return [rule for rule in rules if rule.matches_filters(filters)]

    SecurityGroupBackend.describe_security_group_rules = describe_security_group_rules
