"""EC2's `DryRun` on the calls `apply --check` asks about, where moto 5.2.5 ignores the flag and makes the
change.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). Every EC2 API reference page documents the parameter the
same way: "Checks whether you have the required permissions for the action, without actually making the
request, and provides an error response. If you have the required permissions, the error response is
DryRunOperation. Otherwise, it is UnauthorizedOperation." For each call below (each page at
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_<Operation>.html), a request with
`DryRun=true` is answered `DryRunOperation` and changes nothing, through moto's own `error_on_dryrun`.
moto knows no permissions, so it never answers `UnauthorizedOperation`: that answer is proven with mocks.

Calls: CreateNetworkAclEntry, DeleteRoute, DetachVpnGateway, ModifyVpcEndpoint, DeleteVpcEndpoints,
ModifyImageAttribute (DetachInternetGateway, ModifySnapshotAttribute and the security-group revokes
already honour the flag in moto).
"""

import functools

from moto.ec2.responses import EC2Response

CALLS = [
    "create_network_acl_entry",
    "delete_route",
    "detach_vpn_gateway",
    "modify_vpc_endpoint",
    "delete_vpc_endpoints",
    "modify_image_attribute",
]


def _dry_run_first(call):
    @functools.wraps(call)
    def answer(self):
        self.error_on_dryrun()
        return call(self)

    return answer


def install():
    """Wraps each call so that a dry run is answered before moto acts on it."""
    for name in CALLS:
        call = getattr(EC2Response, name, None)
        if call is None:
            raise RuntimeError(f"moto no longer has {name}: review hikkonuki's dry-run model")
        setattr(EC2Response, name, _dry_run_first(call))
