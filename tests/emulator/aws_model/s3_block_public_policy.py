"""S3 Block Public Access's BlockPublicPolicy: PutBucketPolicy refused for a public policy while it is on.

OUR MODEL OF AWS, NOT AWS. moto 5.2.5 stores the account-level (S3 Control) and bucket-level Block Public
Access settings but enforces neither: it writes any bucket policy. AWS documents that BlockPublicPolicy
"causes Amazon S3 to reject calls to PUT Bucket policy if the specified bucket policy allows public
access" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PublicAccessBlockConfiguration.html
for the account, https://docs.aws.amazon.com/AmazonS3/latest/API/API_PublicAccessBlockConfiguration.html
for the bucket), answering AccessDenied. hikkonuki's resource_policy_deny writes a public bucket's policy
with a deny added (still public: only what a policy grants makes it public), and restore writes the
recorded policy back, so the order of those writes and the account block (s3_public_access_block) matters
on AWS; this model lets the emulator tests show it.

Public, in this model: moto's own verdict, the one its GetBucketPolicyStatus answers (an Allow to `*`, or
AWS `*`, with no Condition;
https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status).
Left out: AWS counts a Condition as making a statement non-public only for fixed values of certain keys
(aws:SourceArn, aws:PrincipalAccount, aws:SourceVpc, ...); here any Condition does. ACLs, access points,
RestrictPublicBuckets and the organization-level setting are not modelled.
"""

from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.models import S3Backend
from moto.s3.utils import bucket_policy_is_public
from moto.s3control.models import s3control_backends


def _blocks_public_policy(backend: S3Backend, bucket_name: str) -> bool:
    bucket = backend.get_bucket(bucket_name)
    if bucket.public_access_block and bucket.public_access_block.block_public_policy:
        return True
    account = s3control_backends[backend.account_id][backend.partition]
    block = account.public_access_block
    return bool(block and block.block_public_policy)


def install():
    original = S3Backend.put_bucket_policy

    def put_bucket_policy(self, bucket_name, policy):
        if bucket_policy_is_public(policy) and _blocks_public_policy(self, bucket_name):
            raise S3AccessDeniedError()
        return original(self, bucket_name, policy)

    S3Backend.put_bucket_policy = put_bucket_policy
