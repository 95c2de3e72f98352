"""Route propagation from a virtual private gateway, which moto 5.2.5 lacks: the two calls, and
`PropagatingVgws` in DescribeRouteTables.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). Added operations, each following its EC2 API reference page:
- EnableVgwRoutePropagation
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableVgwRoutePropagation.html)
- DisableVgwRoutePropagation
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableVgwRoutePropagation.html)
- DescribeRouteTables' `PropagatingVgws` (a list of `{GatewayId}`,
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RouteTable.html), which moto never fills.

What it models:
- Per route table, the set of gateways propagating to it, kept on moto's route-table object, so
  `POST /moto-api/reset` clears it. Both calls answer `Return: true`; enabling twice, or disabling what is
  not enabled, is accepted (the reference names no error for either).
- Unknown route tables (`InvalidRouteTableID.NotFound`) and gateways (`InvalidVpnGatewayID.NotFound`),
  moto's own errors; DryRun (DryRunOperation).
- Enabling needs the gateway attached to the table's VPC. The reference does not say what AWS answers
  otherwise; here it is `Gateway.NotAttached`, EC2's code for a gateway not attached to a VPC.
- A detach from a VPC ends the gateway's propagation to that VPC's tables. The documentation does not
  say what AWS does; this is the case hikkonuki's restore has to repair (it turns propagation back on once
  the gateway is attached again), so the emulator exercises it. The other case (AWS keeping it) is proven
  with mocks (`src/services/network/vgw_detach/tests.rs`).

What it leaves out: any effect on routes (propagated routes are not added to `Routes`), and gateways other
than virtual private gateways.
"""

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.route_tables import RouteTable
from moto.ec2.models.vpn_gateway import VpnGatewayBackend
from moto.ec2.responses import EC2Response


def _propagating(table):
    """The gateways propagating to a route table (a set kept on moto's object)."""
    gateways = getattr(table, "_hikkonuki_propagating_vgws", None)
    if gateways is None:
        gateways = set()
        table._hikkonuki_propagating_vgws = gateways
    return gateways


def _table_and_gateway(response):
    table = response.ec2_backend.get_route_table(response._get_param("RouteTableId"))
    gateway = response.ec2_backend.get_vpn_gateway(response._get_param("GatewayId"))
    return table, gateway


def enable_vgw_route_propagation(self):
    self.error_on_dryrun()
    table, gateway = _table_and_gateway(self)
    attachment = gateway.attachments.get(table.vpc_id)
    if attachment is None or attachment.state != "attached":
        raise EC2ClientError(
            "Gateway.NotAttached",
            f"The virtual private gateway {gateway.id} is not attached to {table.vpc_id}.",
        )
    _propagating(table).add(gateway.id)
    return ActionResult({"Return": True})


def disable_vgw_route_propagation(self):
    self.error_on_dryrun()
    table, gateway = _table_and_gateway(self)
    _propagating(table).discard(gateway.id)
    return ActionResult({"Return": True})


OPERATIONS = [enable_vgw_route_propagation, disable_vgw_route_propagation]


def install():
    """Adds the operations to moto's EC2 responses, `PropagatingVgws` to its route tables, and the end of
    propagation to its detach."""
    for operation in OPERATIONS:
        if hasattr(EC2Response, operation.__name__):
            raise RuntimeError(
                f"moto now implements {operation.__name__}: drop it from hikkonuki's model"
            )
        setattr(EC2Response, operation.__name__, operation)
    if hasattr(RouteTable, "propagating_vgws"):
        raise RuntimeError("moto now lists PropagatingVgws: drop it from hikkonuki's model")
    # moto's serializer reads each member of the API's RouteTable shape as the snake_case attribute.
    RouteTable.propagating_vgws = property(
        lambda table: [{"GatewayId": gateway} for gateway in sorted(_propagating(table))]
    )

    moto_detach = VpnGatewayBackend.detach_vpn_gateway

    def detach_vpn_gateway(backend, vpn_gateway_id, vpc_id):
        detached = moto_detach(backend, vpn_gateway_id, vpc_id)
        for table in backend.route_tables.values():
            if table.vpc_id == vpc_id:
                _propagating(table).discard(vpn_gateway_id)
        return detached

    VpnGatewayBackend.detach_vpn_gateway = detach_vpn_gateway
