"""GetFunctionConfiguration's `VpcConfig.VpcId`, which moto 5.2.5 answers as a fixed `vpc-123abc`
whatever the function's subnets are.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). The field as the API reference gives it
(https://docs.aws.amazon.com/lambda/latest/api/API_VpcConfigResponse.html: "VpcId - The ID of the
VPC."): the VPC of the function's subnets, read from moto's EC2 in the function's account and region.
hikkonuki reads it to judge the VPC a Lambda function it runs in sits in (src/runner/lambda.rs).

What it leaves out: subnets EC2 does not know (moto keeps the configuration as given; AWS refuses it
with InvalidParameterValueException), which keep moto's answer.
"""

from moto.awslambda.models import LambdaFunction
from moto.ec2.models import ec2_backends


def install():
    """Answers the VPC of the function's first subnet."""
    moto_vpc_config = LambdaFunction.vpc_config

    def vpc_config(function):
        config = moto_vpc_config.fget(function)
        if not config or not config.get("SubnetIds"):
            return config
        try:
            subnet = ec2_backends[function.account_id][function.region].get_subnet(
                config["SubnetIds"][0]
            )
        except Exception:  # noqa: BLE001 (a subnet EC2 does not know keeps moto's answer)
            return config
        config = dict(config)
        config["VpcId"] = subnet.vpc_id
        return config

    LambdaFunction.vpc_config = property(vpc_config)
