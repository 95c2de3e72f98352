"""SearchTransitGatewayRoutes' `TransitGatewayAttachments`, which moto 5.2.5 answers empty: it keeps a
static route's attachment as one dict under a key of its own (`transitGatewayAttachments`), which its
serializer does not render as the list the API names.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). The shape as the API reference gives it
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TransitGatewayRoute.html:
"TransitGatewayAttachments - The attachments.", a list of TransitGatewayRouteAttachment, each with
`ResourceId`, `ResourceType` and `TransitGatewayAttachmentId`): a route made with
CreateTransitGatewayRoute to an attachment lists that attachment. hikkonuki reads it to find the VPC a
spoke's traffic for the internet leaves by (src/runner/way_out.rs).

What it leaves out: propagated routes (moto keeps none) and a route to several attachments (ECMP), which
CreateTransitGatewayRoute cannot make.
"""

from moto.ec2.models.transit_gateway_route_tables import TransitGatewayRouteTableBackend


def install():
    """Answers each route's attachment as a one-item list under the API's name."""
    moto_search = TransitGatewayRouteTableBackend.search_transit_gateway_routes

    def search_transit_gateway_routes(self, transit_gateway_route_table_id, filters, max_results=None):
        routes = moto_search(self, transit_gateway_route_table_id, filters, max_results)
        answered = []
        for route in routes:
            route = dict(route)
            attachment = route.pop("transitGatewayAttachments", None)
            if isinstance(attachment, dict):
                route["TransitGatewayAttachments"] = [
                    {
                        "ResourceId": attachment.get("resourceId"),
                        "ResourceType": attachment.get("resourceType"),
                        "TransitGatewayAttachmentId": attachment.get("transitGatewayAttachmentId"),
                    }
                ]
            answered.append(route)
        return answered

    TransitGatewayRouteTableBackend.search_transit_gateway_routes = search_transit_gateway_routes
