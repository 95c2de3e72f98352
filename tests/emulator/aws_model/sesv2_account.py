"""SES v2 account-level sending: the switch `ses_sending_pause` turns off, and the mail it stops.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). moto 5.2.5 has no route for `/v2/email/account` (HTTP 404
with an HTML page), so hikkonuki could not read or pause a region's SES sending on the emulator. Added
operations, each following its SES API v2 reference page:
- GetAccount, `GET /v2/email/account`
  (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetAccount.html): SendingEnabled,
  ProductionAccessEnabled, EnforcementStatus, SendQuota (Max24HourSend, MaxSendRate, SentLast24Hours) and
  DedicatedIpAutoWarmupEnabled.
- PutAccountSendingAttributes, `PUT /v2/email/account/sending` with `{"SendingEnabled": bool}`
  (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutAccountSendingAttributes.html): an empty
  200 answer.
- SendEmail while sending is off answers SendingPausedException, "the account's ability to send email is
  currently paused" (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html, Errors),
  so a test can show what the pause stops. Otherwise moto's own SendEmail runs.

What it models:
- State per account and region, kept on moto's SES v1 backend (where moto's SES v2 keeps its identities
  too), so `POST /moto-api/reset` clears it.
- The default, chosen on purpose: every account and region starts as a new AWS account does, sending on,
  in the sandbox (ProductionAccessEnabled false, with the sandbox quota of 200 messages a day at 1 a
  second, as GetAccount's ProductionAccessEnabled describes it) and HEALTHY. hikkonuki proposes a pause
  where sending is on and production access is on or an email identity exists; so the demo account, which
  verifies an identity in its first region only, gets a pause proposal there and none in its other region,
  where nothing could be sent.
- A request without SendingEnabled changes nothing (the reference marks it optional and does not say).

What it leaves out: enforcement by AWS (EnforcementStatus is always HEALTHY: PROBATION and SHUTDOWN, and
AWS refusing to resume a shut-down account, are tested with aws-smithy-mocks in
src/services/mail/ses_sending_pause.rs); leaving the sandbox (PutAccountDetails and its review, Details);
SuppressionAttributes, VdmAttributes and the other account settings; SES v1's GetAccountSendingEnabled and
UpdateAccountSendingEnabled; SendEmail refusals for the sandbox or for quotas; BadRequestException and
TooManyRequestsException.
"""

import json

from moto.core.exceptions import JsonRESTError
from moto.ses.models import ses_backends
from moto.sesv2 import urls
from moto.sesv2.responses import SESV2Response

ROUTES = ["{0}/v2/email/account$", "{0}/v2/email/account/sending$"]


class SendingPausedException(JsonRESTError):
    code = 400

    def __init__(self):
        super().__init__(
            "SendingPausedException",
            "The message can't be sent because the account's ability to send email is currently paused.",
        )


class _Account:
    """One account's SES sending in one region."""

    def __init__(self):
        self.sending_enabled = True
        self.production_access_enabled = False
        self.enforcement_status = "HEALTHY"


def _account(response):
    backend = ses_backends[response.current_account][response.region]
    account = getattr(backend, "_hikkonuki_account", None)
    if account is None:
        account = _Account()
        backend._hikkonuki_account = account
    return account


def get_account(self):
    account = _account(self)
    sent = ses_backends[self.current_account][self.region].sent_message_count
    return json.dumps(
        {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": account.enforcement_status,
            "ProductionAccessEnabled": account.production_access_enabled,
            "SendQuota": {
                "Max24HourSend": 200.0,
                "MaxSendRate": 1.0,
                "SentLast24Hours": float(sent),
            },
            "SendingEnabled": account.sending_enabled,
        }
    )


def put_account_sending_attributes(self):
    body = json.loads(self.body or "{}")
    if "SendingEnabled" in body:
        _account(self).sending_enabled = bool(body["SendingEnabled"])
    return json.dumps({})


_moto_send_email = SESV2Response.send_email


def send_email(self):
    if not _account(self).sending_enabled:
        raise SendingPausedException()
    return _moto_send_email(self)


def install():
    """Adds the account routes to moto's SES v2 server app and the operations to its responses (moto
    dispatches a REST request to the method named after the operation the path and method make)."""
    for operation in (get_account, put_account_sending_attributes):
        if hasattr(SESV2Response, operation.__name__):
            raise RuntimeError(
                f"moto now implements {operation.__name__}: drop it from hikkonuki's model"
            )
        setattr(SESV2Response, operation.__name__, operation)
    SESV2Response.send_email = send_email
    for route in ROUTES:
        urls.url_paths[route] = SESV2Response.dispatch
