"""DescribeNetworkInterfaces' filters moto 5.2.5 lacks (it answers FilterNotImplementedError) or reads
only in part.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). The filters as the API reference names them
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html):
- "mac-address - The MAC address of the network interface.": moto already gives each interface a MAC
  address and answers it as `macAddress`. hikkonuki asks it to find the interface of the ECS task it
  runs in (src/runner/ecs.rs).
- "addresses.private-ip-address - The private IPv4 addresses associated with the network interface.":
  every one of them, where moto compares only the primary one.
- "association.public-ip - The address of the Elastic IP address (IPv4) bound to the network
  interface.", and "ipv6-addresses.ipv6-address - An IPv6 address associated with the network
  interface.": moto keeps both and answers them, but filters by neither.
hikkonuki asks the last three to find the network interface of the proxy its calls go through
(src/runner/proxy.rs).

What it leaves out: case differences of MAC addresses (AWS's own answers are lower case; the value is
compared as given).
"""

from moto.ec2.models.elastic_network_interfaces import NetworkInterface


def install():
    """Adds the filters to moto's network interfaces."""
    moto_filter_value = NetworkInterface.get_filter_value

    def get_filter_value(eni, filter_name, method_name=None):
        if filter_name == "mac-address":
            return eni.mac_address
        if filter_name == "addresses.private-ip-address":
            secondary = [entry.get("PrivateIpAddress") for entry in eni.private_ip_addresses or []]
            return [address for address in [eni.private_ip_address, *secondary] if address]
        if filter_name == "association.public-ip":
            return eni.public_ip
        if filter_name == "ipv6-addresses.ipv6-address":
            return list(eni.ipv6_addresses or [])
        return moto_filter_value(eni, filter_name, method_name)

    NetworkInterface.get_filter_value = get_filter_value
