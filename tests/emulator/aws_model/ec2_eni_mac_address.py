"""DescribeNetworkInterfaces' `mac-address` filter, which moto 5.2.5 lacks (it answers
FilterNotImplementedError).

OUR MODEL OF AWS, NOT AWS (see ../launch.py). The filter as the API reference names it
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html: "mac-address -
The MAC address of the network interface."): an interface matches when its MAC address is one of the
values. moto already gives each interface a MAC address and answers it as `macAddress`. hikkonuki asks it
to find the interface of the ECS task it runs in (src/runner/ecs.rs).

What it leaves out: case differences (AWS's own answers are lower case; the value is compared as given).
"""

from moto.ec2.models.elastic_network_interfaces import NetworkInterface


def install():
    """Adds the filter to moto's network interfaces."""
    moto_filter_value = NetworkInterface.get_filter_value

    def get_filter_value(eni, filter_name, method_name=None):
        if filter_name == "mac-address":
            return eni.mac_address
        return moto_filter_value(eni, filter_name, method_name)

    NetworkInterface.get_filter_value = get_filter_value
