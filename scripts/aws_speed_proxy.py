#!/usr/bin/env python3
"""A loopback proxy that behaves like AWS for speed: our model of AWS's request limits, for benchmarks.

It forwards every request to the emulator (moto), after a fixed latency per call (default 60 ms, as a
call to a nearby AWS region takes), and answers calls over AWS's documented request budgets with the
throttling error the real service returns, instead of forwarding them:

- EC2: a token bucket per region and action, sized by the action's category
  (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html, "Request token bucket sizes
  and refill rates"; the same table src/pacing.rs paces by): non-mutating 100 tokens refilled at 20 a
  second; unfiltered and unpaginated describes 50 at 10; mutating 50 at 5; resource-intensive 50 at 5 each;
  the uncategorized actions their own sizes. Over budget: HTTP 503 `RequestLimitExceeded`, EC2's XML error.
- Lambda: 15 requests a second per region for the control plane together, GetFunction 100 and GetPolicy 15
  of their own (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, "Lambda API
  requests"). Over budget: HTTP 429 `TooManyRequestsException`.
- API Gateway: 10 requests a second, burst 40, per region for every control-plane action of REST and
  HTTP/WebSocket APIs together, and the fixed per-account quotas such as CreateDeployment, one request
  every 5 seconds (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). Over
  budget: HTTP 429 `TooManyRequestsException`.
- IAM: AWS publishes no request rate for IAM's API. This model gives each IAM action one account-wide
  bucket (IAM is global) of EC2's general sizes, 100 at 20 for reads and 50 at 5 for writes: an
  assumption, flagged as one (--iam-read, --iam-write). Over budget: HTTP 400 `Throttling`, the Query
  API's XML error.
- Every other service is forwarded unthrottled, after the same latency.

What it does not model: EC2's resource-rate buckets (RunInstances and the like), the console's share of
the buckets, per-account adjustments AWS grants on request, latency that varies, and any consistency
delay.

It finds the service and region in the SigV4 credential scope of the Authorization header (as AWS and
moto do), and the action in the Query API's `Action=` (form body or URL), in `X-Amz-Target` for JSON
APIs, or from the method and path for REST APIs (Lambda, API Gateway). It counts calls and throttled calls
per region and action: GET /_proxy/stats gives them, with every bucket's size; POST /_proxy/reset zeroes
the counts and refills the buckets.

Usage: aws_speed_proxy.py --upstream http://127.0.0.1:PORT [--port N] [--latency-ms 60]
Prints `listening on http://127.0.0.1:PORT` once it accepts connections.
"""

import argparse
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --- EC2 (ec2-api-throttling.html) -------------------------------------------------------------------

EC2_NON_MUTATING = (100, 20)
EC2_UNFILTERED_NON_MUTATING = (50, 10)
EC2_MUTATING = (50, 5)
EC2_RESOURCE_INTENSIVE = (50, 5)

# "Unfiltered and unpaginated non-mutating actions": a smaller bucket when sent with neither a filter nor
# pagination.
EC2_UNFILTERED_DESCRIBES = {
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
}

EC2_RESOURCE_INTENSIVE_ACTIONS = {
    "AcceptVpcPeeringConnection",
    "AuthorizeSecurityGroupIngress",
    "CancelSpotInstanceRequests",
    "CreateKeyPair",
    "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "RevokeSecurityGroupIngress",
    "RequestSpotInstances",
}

# "Uncategorized actions": (maximum capacity, refill per second) each.
EC2_UNCATEGORIZED = {
    "AcceptVpcEndpointConnections": (10, 1),
    "AdvertiseByoipCidr": (1, 0.1),
    "AssignIpv6Addresses": (100, 5),
    "AssignPrivateIpAddresses": (100, 5),
    "AssignPrivateNatGatewayAddress": (10, 1),
    "AssociateCapacityReservationBillingOwner": (1, 0.5),
    "AssociateEnclaveCertificateIamRole": (10, 1),
    "AssociateIamInstanceProfile": (100, 5),
    "AssociateNatGatewayAddress": (10, 1),
    "AttachVerifiedAccessTrustProvider": (10, 2),
    "AuthorizeClientVpnIngress": (5, 2),
    "CancelDeclarativePoliciesReport": (1, 1),
    "CopyImage": (100, 1),
    "CreateClientVpnRoute": (5, 2),
    "CreateCoipCidr": (5, 1),
    "CreateCoipPool": (5, 1),
    "CreateDefaultSubnet": (1, 1),
    "CreateDefaultVpc": (1, 1),
    "CreateLaunchTemplateVersion": (100, 5),
    "CreateNatGateway": (10, 1),
    "CreateNetworkInterface": (100, 5),
    "CreateRestoreImageTask": (50, 0.1),
    "CreateSnapshot": (100, 5),
    "CreateSnapshots": (100, 5),
    "CreateSpotDatafeedSubscription": (50, 3),
    "CreateStoreImageTask": (50, 0.1),
    "CreateSubnetCidrReservation": (5, 1),
    "CreateTags": (100, 10),
    "CreateVerifiedAccessEndpoint": (20, 4),
    "CreateVerifiedAccessGroup": (10, 2),
    "CreateVerifiedAccessInstance": (10, 2),
    "CreateVerifiedAccessTrustProvider": (10, 2),
    "CreateVolume": (100, 5),
    "CreateVpcEndpoint": (4, 0.3),
    "CreateVpcEndpointServiceConfiguration": (10, 1),
    "DeleteClientVpnRoute": (5, 2),
    "DeleteCoipCidr": (5, 1),
    "DeleteCoipPool": (5, 1),
    "DeleteCoipPoolPermission": (5, 1),
    "DeleteNatGateway": (10, 1),
    "DeleteNetworkInterface": (100, 5),
    "DeleteSnapshot": (100, 5),
    "DeleteSpotDatafeedSubscription": (50, 3),
    "DeleteSubnetCidrReservation": (5, 1),
    "DeleteQueuedReservedInstances": (5, 5),
    "DeleteTags": (100, 10),
    "DeleteVerifiedAccessEndpoint": (20, 4),
    "DeleteVerifiedAccessGroup": (10, 2),
    "DeleteVerifiedAccessInstance": (10, 2),
    "DeleteVerifiedAccessTrustProvider": (10, 2),
    "DeleteVolume": (100, 5),
    "DeleteVpcEndpoints": (4, 0.3),
    "DeleteVpcEndpointServiceConfigurations": (10, 1),
    "DeprovisionByoipCidr": (1, 0.1),
    "DeregisterImage": (100, 5),
    "DescribeAggregateIdFormat": (10, 10),
    "DescribeByoipCidrs": (1, 0.5),
    "DescribeCapacityBlockExtensionOfferings": (10, 0.15),
    "DescribeCapacityBlockOfferings": (10, 0.15),
    "DescribeDeclarativePoliciesReports": (5, 5),
    "DescribeHostReservations": (5, 2),
    "DescribeHostReservationOfferings": (5, 2),
    "DescribeIdentityIdFormat": (10, 10),
    "DescribeIdFormat": (10, 10),
    "DescribeInstanceTopology": (1, 1),
    "DescribeMovingAddresses": (1, 1),
    "DescribePrincipalIdFormat": (10, 10),
    "DescribeReservedInstancesOfferings": (10, 10),
    "DescribeSecurityGroupReferences": (20, 5),
    "DescribeSpotDatafeedSubscription": (100, 13),
    "DescribeSpotFleetInstances": (100, 5),
    "DescribeSpotFleetRequestHistory": (100, 5),
    "DescribeSpotFleetRequests": (50, 3),
    "DescribeStaleSecurityGroups": (20, 5),
    "DescribeStoreImageTasks": (50, 0.5),
    "DescribeVerifiedAccessInstanceLoggingConfigurations": (10, 2),
    "DetachVerifiedAccessTrustProvider": (10, 2),
    "DisableFastLaunch": (5, 2),
    "DisableImageBlockPublicAccess": (1, 0.1),
    "DisableSnapshotBlockPublicAccess": (1, 0.1),
    "DisassociateCapacityReservationBillingOwner": (1, 0.5),
    "DisassociateEnclaveCertificateIamRole": (10, 1),
    "DisassociateIamInstanceProfile": (100, 5),
    "DisassociateNatGatewayAddress": (10, 1),
    "EnableFastLaunch": (5, 2),
    "EnableImageBlockPublicAccess": (1, 0.1),
    "EnableSnapshotBlockPublicAccess": (1, 0.1),
    "GetAssociatedEnclaveCertificateIamRoles": (10, 1),
    "GetDeclarativePoliciesReportSummary": (5, 5),
    "GetHostReservationPurchasePreview": (5, 2),
    "ModifyImageAttribute": (100, 5),
    "ModifyInstanceMetadataDefaults": (2, 2),
    "ModifyInstanceMetadataOptions": (100, 5),
    "ModifyLaunchTemplate": (100, 5),
    "ModifyNetworkInterfaceAttribute": (100, 5),
    "ModifySnapshotAttribute": (100, 5),
    "ModifyVerifiedAccessEndpoint": (20, 4),
    "ModifyVerifiedAccessEndpointPolicy": (20, 4),
    "ModifyVerifiedAccessGroup": (10, 2),
    "ModifyVerifiedAccessGroupPolicy": (20, 4),
    "ModifyVerifiedAccessInstance": (10, 2),
    "ModifyVerifiedAccessInstanceLoggingConfiguration": (10, 2),
    "ModifyVerifiedAccessTrustProvider": (10, 2),
    "ModifyVpcEndpoint": (4, 0.3),
    "ModifyVpcEndpointServiceConfiguration": (10, 1),
    "MoveAddressToVpc": (1, 1),
    "ProvisionByoipCidr": (1, 0.1),
    "PurchaseCapacityBlock": (10, 0.15),
    "PurchaseCapacityBlockExtension": (10, 0.15),
    "PurchaseHostReservation": (5, 2),
    "PurchaseReservedInstancesOffering": (5, 5),
    "RejectVpcEndpointConnections": (10, 1),
    "RestoreAddressToClassic": (1, 1),
    "RevokeClientVpnIngress": (5, 2),
    "RunInstances": (5, 2),
    "StartDeclarativePoliciesReport": (1, 1),
    "StartInstances": (5, 2),
    "TerminateInstances": (100, 5),
    "UnassignPrivateIpAddresses": (100, 5),
    "UnassignPrivateNatGatewayAddress": (10, 1),
    "WithdrawByoipCidr": (1, 0.1),
}


def ec2_bucket(action, params):
    """(bucket name, (burst, rate)) for an EC2 Query call."""
    if action in EC2_UNCATEGORIZED:
        return action, EC2_UNCATEGORIZED[action]
    read_only = action.startswith(("Describe", "Get", "List", "Search"))
    if read_only and action in EC2_UNFILTERED_DESCRIBES and not any(
        name.startswith("Filter.") or name in ("MaxResults", "NextToken") for name in params
    ):
        return action + " unfiltered", EC2_UNFILTERED_NON_MUTATING
    if read_only:
        return action, EC2_NON_MUTATING
    if action in EC2_RESOURCE_INTENSIVE_ACTIONS:
        return action, EC2_RESOURCE_INTENSIVE
    return action, EC2_MUTATING


# --- Lambda (gettingstarted-limits.html) ---------------------------------------------------------------

LAMBDA_CONTROL_PLANE = (15, 15)
LAMBDA_GET_FUNCTION = (100, 100)
LAMBDA_GET_POLICY = (15, 15)

# --- API Gateway (limits.html) --------------------------------------------------------------------------

APIGATEWAY_TOTAL = (40, 10)


def every(requests, seconds):
    return (requests, requests / seconds)


# "API Gateway quotas for creating, deploying and managing an API": per account, not raised.
APIGATEWAY_FIXED = {
    "CreateApiKey": every(5, 1),
    "CreateDeployment": every(1, 5),
    "CreateDocumentationVersion": every(1, 20),
    "CreateDomainName": every(1, 30),
    "CreateResource": every(5, 1),
    "DeleteApiKey": every(5, 1),
    "DeleteDomainName": every(1, 30),
    "DeleteResource": every(5, 1),
    "DeleteRestApi": every(1, 30),
    "GetResources": every(5, 2),
    "ImportDocumentationParts": every(1, 30),
    "PutRestApi": every(1, 1),
    "UpdateAccount": every(1, 20),
    "UpdateDomainName": every(1, 30),
    "UpdateUsagePlan": every(1, 20),
}

# REST APIs name their actions by method and path. The ones the budgets tell apart, as (method, path
# pattern, action); any other call is named `METHOD /path` with identifiers replaced by `{}`.
REST_ACTIONS = {
    "lambda": [
        ("GET", r"^/[\d-]+/functions/?$", "ListFunctions"),
        ("GET", r"^/[\d-]+/functions/[^/]+/?$", "GetFunction"),
        ("GET", r"^/[\d-]+/functions/[^/]+/policy/?$", "GetPolicy"),
        ("POST", r"^/[\d-]+/functions/[^/]+/invocations/?$", "Invoke"),
    ],
    "apigateway": [
        ("GET", r"^/restapis/?$", "GetRestApis"),
        ("POST", r"^/restapis/[^/]+/deployments/?$", "CreateDeployment"),
        ("GET", r"^/restapis/[^/]+/resources/?$", "GetResources"),
        ("POST", r"^/restapis/[^/]+/resources/[^/]+/?$", "CreateResource"),
        ("DELETE", r"^/restapis/[^/]+/resources/[^/]+/?$", "DeleteResource"),
        ("DELETE", r"^/restapis/[^/]+/?$", "DeleteRestApi"),
        ("PUT", r"^/restapis/[^/]+/?$", "PutRestApi"),
        ("POST", r"^/apikeys/?$", "CreateApiKey"),
        ("DELETE", r"^/apikeys/[^/]+/?$", "DeleteApiKey"),
        ("PATCH", r"^/account/?$", "UpdateAccount"),
        ("PATCH", r"^/usageplans/[^/]+/?$", "UpdateUsagePlan"),
        ("POST", r"^/domainnames/?$", "CreateDomainName"),
        ("DELETE", r"^/domainnames/[^/]+/?$", "DeleteDomainName"),
        ("PATCH", r"^/domainnames/[^/]+/?$", "UpdateDomainName"),
        ("POST", r"^/restapis/[^/]+/documentation/versions/?$", "CreateDocumentationVersion"),
        ("PUT", r"^/restapis/[^/]+/documentation/parts/?$", "ImportDocumentationParts"),
    ],
}


def rest_action(service, method, path):
    for want, pattern, action in REST_ACTIONS.get(service, []):
        if method == want and re.match(pattern, path):
            return action
    segments = [s for s in path.split("/") if s]
    # Keep the collection names, replace what looks like an identifier.
    named = [s if re.fullmatch(r"[a-z]+", s) else "{}" for s in segments]
    return f"{method} /" + "/".join(named)


class Bucket:
    def __init__(self, burst, rate, now):
        self.burst, self.rate = float(burst), float(rate)
        self.tokens, self.updated = self.burst, now

    def refill(self, now):
        # Never backwards: a one-token bucket a hair short of its token throttles a call it should admit.
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = max(self.updated, now)


class Limits:
    """AWS's buckets as this proxy models them, their counts, and the decision per call."""

    def __init__(self, iam_read, iam_write, log_throttled=False):
        self.iam_read, self.iam_write = iam_read, iam_write
        self.log_throttled = log_throttled
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.buckets = {}
            self.calls = {}
            self.throttled = {}
            self.bucket_calls = {}
            self.timeline = []

    def record(self, key, received, answered):
        """One call's time at the proxy: when it arrived and how long the emulator took to answer it."""
        with self.lock:
            self.timeline.append((received, key, answered))

    def budgets(self, service, region, action, params):
        """Every (bucket key, (burst, rate)) the call draws one token from."""
        if service == "ec2":
            name, limit = ec2_bucket(action, params)
            return [(f"{region}/ec2:{name}", limit)]
        if service == "lambda":
            if action == "Invoke":
                return []
            if action == "GetFunction":
                return [(f"{region}/lambda:GetFunction", LAMBDA_GET_FUNCTION)]
            if action == "GetPolicy":
                return [(f"{region}/lambda:GetPolicy", LAMBDA_GET_POLICY)]
            return [(f"{region}/lambda:control-plane", LAMBDA_CONTROL_PLANE)]
        if service in ("apigateway", "apigatewayv2"):
            budgets = []
            if service == "apigateway" and action in APIGATEWAY_FIXED:
                budgets.append((f"account/apigateway:{action}", APIGATEWAY_FIXED[action]))
            budgets.append((f"{region}/apigateway:control-plane", APIGATEWAY_TOTAL))
            return budgets
        if service == "iam":
            read = action.startswith(("Get", "List"))
            return [(f"global/iam:{action}", self.iam_read if read else self.iam_write)]
        return []

    def admit(self, service, region, action, params):
        """Counts the call and takes a token from each of its buckets; False when one is empty (then
        none is taken, as AWS rejects the request whole)."""
        budgets = self.budgets(service, region, action, params)
        key = f"{region}/{service}:{action}"
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            now = time.monotonic()
            buckets = []
            for name, (burst, rate) in budgets:
                bucket = self.buckets.get(name)
                if bucket is None:
                    bucket = self.buckets[name] = Bucket(burst, rate, now)
                bucket.refill(now)
                buckets.append(bucket)
            if all(bucket.tokens >= 1.0 for bucket in buckets):
                for (name, _), bucket in zip(budgets, buckets):
                    bucket.tokens -= 1.0
                    self.bucket_calls[name] = self.bucket_calls.get(name, 0) + 1
                return True
            self.throttled[key] = self.throttled.get(key, 0) + 1
            if self.log_throttled:
                tokens = ", ".join(f"{name} {bucket.tokens:.6f}" for (name, _), bucket in zip(budgets, buckets))
                print(f"{time.time():.3f} throttled {key} ({tokens})", file=sys.stderr, flush=True)
            return False

    def stats(self):
        with self.lock:
            return {
                "calls": dict(sorted(self.calls.items())),
                "throttled": dict(sorted(self.throttled.items())),
                "total_calls": sum(self.calls.values()),
                "total_throttled": sum(self.throttled.values()),
                # Per call admitted: [seconds since the first call arrived, region/service:action,
                # seconds the emulator took]. Where a run's time went: the emulator, or waiting.
                "timeline": [
                    [round(received - self.timeline[0][0], 4), key, round(answered, 4)]
                    for received, key, answered in self.timeline
                ],
                "buckets": {
                    # calls: the calls the bucket admitted.
                    name: {"burst": b.burst, "per_second": b.rate, "calls": self.bucket_calls.get(name, 0)}
                    for name, b in sorted(self.buckets.items())
                },
            }


CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


def throttling_error(service):
    """(status, headers, body) of the real service's answer to a call over its budget."""
    request_id = str(uuid.uuid4())
    if service == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded'
            "</Code><Message>Request limit exceeded.</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return 503, {"Content-Type": "text/xml;charset=UTF-8"}, body
    if service == "iam":
        body = (
            '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
            "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 400, {"Content-Type": "text/xml"}, body
    if service == "lambda":
        body = json.dumps(
            {"Reason": "CallerRateLimitExceeded", "Type": "User", "message": "Rate exceeded"}
        )
        return 429, {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": "TooManyRequestsException",
            "Retry-After": "1",
        }, body
    # API Gateway (REST and v2).
    return 429, {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": "TooManyRequestsException",
    }, json.dumps({"message": "Too Many Requests"})


HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aws-speed-proxy"
    # Small answers leave at once, as AWS's do: with Nagle's algorithm on, an answer's last segment waited
    # for the client's delayed ACK (40 ms on Linux) on some kept-alive connections, time no AWS call takes.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # quiet: the counts say what happened
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def identify(self, body):
        """(service, region, action, query parameters) of the call."""
        scope = CREDENTIAL_SCOPE.search(self.headers.get("Authorization", ""))
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if scope is None:
            # Presigned URLs carry the scope in the query.
            credential = query.get("X-Amz-Credential", [""])[0].split("/")
            region, service = (credential[2], credential[3]) if len(credential) >= 4 else ("global", "unknown")
        else:
            region, service = scope.group(1), scope.group(2)
        params = dict(query)
        content_type = self.headers.get("Content-Type", "")
        if "x-www-form-urlencoded" in content_type and body:
            params.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        target = self.headers.get("X-Amz-Target")
        if "Action" in params:
            action = params["Action"][0]
        elif target:
            action = target.rsplit(".", 1)[-1]
        else:
            action = rest_action(service, self.command, url.path)
        if service == "iam":
            region = "global"
        return service, region, action, params

    def handle_any(self):
        if self.path.startswith("/_proxy/"):
            return self.control()
        body = self.read_body()
        service, region, action, params = self.identify(body)
        received = time.monotonic()
        time.sleep(self.server.latency)
        if not self.server.limits.admit(service, region, action, params):
            status, headers, payload = throttling_error(service)
            return self.answer(status, headers, payload.encode())
        connection = self.server.upstream_connection()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.server.limits.record(f"{region}/{service}:{action}", received, time.monotonic() - received - self.server.latency)
                break
            except (http.client.HTTPException, OSError) as error:
                # A kept-alive connection the emulator closed: once more on a new one.
                self.server.drop_upstream_connection()
                connection = self.server.upstream_connection()
                if attempt == 2:
                    message = f"the emulator did not answer: {error}\n".encode()
                    return self.answer(502, {"Content-Type": "text/plain"}, message)
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        self.answer(response.status, headers, payload)

    def answer(self, status, headers, payload):
        self.send_response(status)
        for name, value in headers.items() if isinstance(headers, dict) else headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def control(self):
        if self.command == "GET" and self.path.startswith("/_proxy/stats"):
            return self.answer(200, {"Content-Type": "application/json"}, json.dumps(self.server.limits.stats()).encode())
        if self.command == "POST" and self.path.startswith("/_proxy/reset"):
            self.read_body()
            self.server.limits.reset()
            return self.answer(200, {"Content-Type": "application/json"}, b"{}")
        self.answer(404, {"Content-Type": "text/plain"}, b"unknown proxy path\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Clients open many connections at once (one per worker); the default backlog of 5 refuses some.
    request_queue_size = 256

    def __init__(self, address, upstream, latency, limits):
        super().__init__(address, Proxy)
        url = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = url.hostname, url.port or 80
        self.latency = latency
        self.limits = limits
        self.local = threading.local()

    def upstream_connection(self):
        """One keep-alive connection to the emulator per handler thread."""
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                self.upstream_host, self.upstream_port, timeout=300
            )
        return connection

    def drop_upstream_connection(self):
        connection = getattr(self.local, "connection", None)
        if connection is not None:
            connection.close()
            self.local.connection = None


def limit(text):
    burst, rate = text.split(":")
    return (float(burst), float(rate))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free one)")
    parser.add_argument("--latency-ms", type=float, default=60.0, help="added to every call (default 60)")
    parser.add_argument("--iam-read", type=limit, default=(100, 20), help="BURST:RATE (assumed; default 100:20)")
    parser.add_argument("--iam-write", type=limit, default=(50, 5), help="BURST:RATE (assumed; default 50:5)")
    parser.add_argument("--log-throttled", action="store_true", help="print each throttled call on stderr")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), args.upstream, args.latency_ms / 1000.0, Limits(args.iam_read, args.iam_write, args.log_throttled))
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
